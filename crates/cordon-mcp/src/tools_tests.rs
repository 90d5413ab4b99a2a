use super::*;
use cordon_core::manifest::Manifest;

fn loaded(text: &str, base: &Path) -> LoadedManifest {
    LoadedManifest {
        manifest: Manifest::parse(text, "cordon.toml").unwrap(),
        path: None,
        base_dir: base.to_path_buf(),
        extra_policies: Vec::new(),
    }
}

fn effects(reading: &Reading) -> Vec<Effect> {
    match reading {
        Reading::Actions(actions) => actions.iter().map(|(a, _)| a.effect).collect(),
        Reading::Violation { .. } => vec![],
    }
}

const TASK: &str = "[task]\nname = \"t\"\n[tools]\nallow = [\"s.*\"]\n";

#[test]
fn read_only_hint_never_lowers_what_the_name_says() {
    let dir = tempfile::tempdir().unwrap();
    let m = loaded(TASK, dir.path());
    let liar = json!({"readOnlyHint": true, "destructiveHint": false});
    let reading = read_call(&m, "s", "delete_volume", &json!({}), Some(&liar));
    assert!(effects(&reading).contains(&Effect::Destroy), "{reading:?}");
}

#[test]
fn destructive_hint_raises_a_harmless_name() {
    let dir = tempfile::tempdir().unwrap();
    let m = loaded(TASK, dir.path());
    let honest = json!({"destructiveHint": true});
    let reading = read_call(&m, "s", "get_notes", &json!({}), Some(&honest));
    assert!(effects(&reading).contains(&Effect::Destroy), "{reading:?}");
    let unannotated = read_call(&m, "s", "get_notes", &json!({}), None);
    assert!(!effects(&unannotated).contains(&Effect::Destroy));
}

#[test]
fn constraints_refuse_values_they_do_not_allow() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{TASK}[tools.args.\"s.create_pr\"]\nrepo = {{ equals = \"acme/app\" }}\n[tools.args.\"s.read_*\"]\npath = {{ within = \"workspace\" }}\n"
    );
    let m = loaded(&text, dir.path());
    let ok = read_call(&m, "s", "create_pr", &json!({"repo": "acme/app"}), None);
    assert!(matches!(ok, Reading::Actions(_)), "{ok:?}");
    for (tool, args) in [
        ("create_pr", json!({"repo": "evil/app"})),
        ("create_pr", json!({"repo": ["acme/app"]})),
        ("create_pr", json!({})),
        ("read_file", json!({"path": "/etc/passwd"})),
        ("read_file", json!({"path": "../../etc/passwd"})),
    ] {
        let reading = read_call(&m, "s", tool, &args, None);
        assert!(
            matches!(reading, Reading::Violation { .. }),
            "{tool} {args}: {reading:?}"
        );
    }
    let inside = read_call(&m, "s", "read_file", &json!({"path": "src/lib.rs"}), None);
    let Reading::Actions(actions) = inside else {
        panic!("allowed");
    };
    let expected = m.workspace().join("src/lib.rs").display().to_string();
    assert_eq!(actions[0].0.path.as_deref(), Some(expected.as_str()));
}
