use super::*;

fn scan(ws: &Path, patterns: &[&str]) -> Vec<String> {
    let mut found: Vec<String> = workspace_secrets(ws, patterns, &[])
        .unwrap()
        .into_iter()
        .map(|p| p.strip_prefix(ws).unwrap().display().to_string())
        .collect();
    found.sort();
    found
}

#[test]
fn default_patterns_find_env_files_keys_and_certificates_at_any_depth() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path();
    for file in [
        ".env",
        "app/.env.local",
        "certs/server.pem",
        "config/master.key",
        "deploy/id_ed25519",
        "deploy/id_ed25519.pub",
        "src/id_map.rs",
        "src/main.rs",
        "target/debug/.env",
        "node_modules/x/.env",
    ] {
        let path = ws.join(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "x").unwrap();
    }
    fs::write(
        ws.join("src/id_backup.txt"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\n",
    )
    .unwrap();
    assert_eq!(
        scan(ws, &[]),
        [
            ".env",
            "app/.env.local",
            "certs/server.pem",
            "config/master.key",
            "deploy/id_ed25519",
            "src/id_backup.txt",
        ]
    );
}

#[test]
fn manifest_patterns_are_gitignore_like() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path();
    for file in [
        "secrets.toml",
        "a/secrets.toml",
        "conf/prod.yaml",
        "b/conf/prod.yaml",
    ] {
        let path = ws.join(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "x").unwrap();
    }
    assert_eq!(
        scan(ws, &["secrets.toml", "conf/*.yaml"]),
        ["a/secrets.toml", "conf/prod.yaml", "secrets.toml"]
    );
    let absolute = format!("{}/b/conf/*.yaml", ws.display());
    assert_eq!(scan(ws, &[&absolute]), ["b/conf/prod.yaml"]);
    assert!(workspace_secrets(ws, &["/etc/*.conf"], &[]).is_err());
}

#[test]
fn hard_links_to_hidden_files_are_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let outside = dir.path().join("ssh");
    fs::create_dir_all(&ws).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::write(ws.join(".env"), "SECRET").unwrap();
    fs::hard_link(ws.join(".env"), ws.join("innocent.txt")).unwrap();
    fs::write(outside.join("key"), "SECRET").unwrap();
    fs::hard_link(outside.join("key"), ws.join("notes.md")).unwrap();
    let mut found: Vec<String> = workspace_secrets(&ws, &[], &[outside])
        .unwrap()
        .into_iter()
        .map(|p| p.strip_prefix(&ws).unwrap().display().to_string())
        .collect();
    found.sort();
    assert_eq!(found, [".env", "innocent.txt", "notes.md"]);
}
