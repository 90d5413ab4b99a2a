use super::common::cordon;

const MANIFEST: &str = r#"
[task]
name = "fix-staging-domains"
environment = "staging"
[[credential]]
name = "railway"
source = "env:RAILWAY_TOKEN"
hosts = ["backboard.railway.com"]
allow = ["graphql.query.*", "graphql.mutation.customDomainCreate"]
[[resource]]
kind = "railway.volume"
id = "vol_prod_7f3"
environment = "production"
"#;

const VOLUME_DELETE: &str = r#"{"gate":"http","operation":"graphql.mutation.volumeDelete","effect":"destroy",
 "credential":"railway","host":"backboard.railway.com",
 "target":{"kind":"railway.volume","id":"vol_prod_7f3"}}"#;

#[test]
fn explain_shows_the_verdict_and_the_policies_that_made_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cordon.toml"), MANIFEST).unwrap();
    let run = cordon(dir.path(), dir.path(), &["explain"], Some(VOLUME_DELETE));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("verdict:  deny"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("credential.railway.scope  (from manifest [[credential]] railway)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("forbid(principal, action, resource)"),
        "{}",
        run.stdout
    );
    // explain records nothing.
    assert!(!dir.path().join("audit").exists());
}

#[test]
fn explain_json_has_decision_reasons_and_policies() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cordon.toml"), MANIFEST).unwrap();
    std::fs::write(dir.path().join("a.json"), VOLUME_DELETE).unwrap();
    let run = cordon(
        dir.path(),
        dir.path(),
        &["explain", "--json", "a.json"],
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["action"]["target"]["environment"], "production");
    let ids: Vec<&str> = v["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "credential.railway.environment",
            "credential.railway.scope",
            "task.environment"
        ]
    );
}

#[test]
fn explain_rejects_a_malformed_action_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let run = cordon(
        dir.path(),
        dir.path(),
        &["explain"],
        Some(r#"{"gate":"http","operation":"x","effect":"obliterate"}"#),
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("stdin: not an action"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("obliterate"), "{}", run.stderr);
    let run = cordon(
        dir.path(),
        dir.path(),
        &["explain"],
        Some(r#"{"gate":"http","operation":"x","effect":"read","hostt":"a"}"#),
    );
    assert!(
        run.stderr.contains("unknown field `hostt`"),
        "{}",
        run.stderr
    );
}
