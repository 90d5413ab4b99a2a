use super::common::cordon;

#[test]
fn init_then_check_passes() {
    let dir = tempfile::tempdir().unwrap();
    let run = cordon(dir.path(), dir.path(), &["init"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(dir.path().join("cordon.toml").is_file());
    let run = cordon(dir.path(), dir.path(), &["policy", "check"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("ok: "), "{}", run.stdout);
    assert!(
        run.stdout.contains("task `my-task` in `staging`"),
        "{}",
        run.stdout
    );
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cordon.toml"), "# mine\n").unwrap();
    let run = cordon(dir.path(), dir.path(), &["init"], None);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("cordon.toml")).unwrap(),
        "# mine\n"
    );
    let run = cordon(dir.path(), dir.path(), &["init", "--force"], None);
    assert_eq!(run.code, 0);
    assert!(
        std::fs::read_to_string(dir.path().join("cordon.toml"))
            .unwrap()
            .contains("[task]")
    );
}

#[test]
fn a_misspelt_table_is_reported_with_file_line_and_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cordon.toml"),
        "[task]\nname = \"t\"\n\n[[credentails]]\nname = \"railway\"\n",
    )
    .unwrap();
    let run = cordon(
        dir.path(),
        dir.path(),
        &["policy", "check", "cordon.toml"],
        None,
    );
    assert_eq!(run.code, 1);
    insta::assert_snapshot!(run.stderr, @r#"
      × cordon.toml:4:3: unknown key `credentails`
       ╭─[cordon.toml:4:3]
     3 │ 
     4 │ [[credentails]]
       ·   ─────┬─────
       ·        ╰── here
     5 │ name = "railway"
       ╰────
      help: did you mean `credential`?
    "#);
}

#[test]
fn a_bad_value_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        "[task]\nname = \"t\"\nttl = \"soon\"\n",
    )
    .unwrap();
    let run = cordon(dir.path(), dir.path(), &["policy", "check", "c.toml"], None);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("`soon` is not a duration"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("task.ttl"), "{}", run.stderr);
    assert!(run.stderr.contains("c.toml:3:7"), "{}", run.stderr);
}

#[test]
fn a_broken_cedar_include_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cordon.toml"),
        "[task]\nname = \"t\"\n[policy]\ninclude = [\"team.cedar\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("team.cedar"),
        "forbid(principal, action, resource) when { context.hots == \"x\" };",
    )
    .unwrap();
    let run = cordon(dir.path(), dir.path(), &["policy", "check"], None);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("team.cedar"), "{}", run.stderr);
    assert!(run.stderr.contains("hots"), "{}", run.stderr);
}

#[test]
fn check_without_a_manifest_uses_the_default_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let run = cordon(dir.path(), dir.path(), &["policy", "check"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("built-in default profile"),
        "{}",
        run.stdout
    );
}

#[test]
fn check_can_print_the_compiled_cedar() {
    let dir = tempfile::tempdir().unwrap();
    let run = cordon(dir.path(), dir.path(), &["init"], None);
    assert_eq!(run.code, 0);
    let run = cordon(
        dir.path(),
        dir.path(),
        &["policy", "check", "--cedar"],
        None,
    );
    assert!(
        run.stdout.contains("@id(\"network.allow\")"),
        "{}",
        run.stdout
    );
    let run = cordon(dir.path(), dir.path(), &["policy", "schema"], None);
    assert!(run.stdout.contains("namespace Cordon"));
}
