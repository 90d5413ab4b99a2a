//! Secrets inside the workspace (`**/.env*`, `*.pem`, `*.key`, `id_*` keys, hard links
//! to them): every way to read one inside the sandbox fails or reads nothing.

use std::fs;
use std::os::unix::fs::symlink;

use cordon_sandbox::{Sandbox, default_hidden_paths, workspace_secrets};

use super::support::Env;

const SECRET: &str = "REAL-SECRET";

/// A workspace holding secrets, links to them made before the run, and a symlink to
/// another project under the home directory that holds a `.env` of its own.
fn planted() -> Env {
    let env = Env::new();
    let ws = &env.workspace;
    fs::write(ws.join(".env"), format!("API_KEY={SECRET}\n")).unwrap();
    fs::create_dir_all(ws.join("config/certs")).unwrap();
    fs::write(ws.join("config/certs/server.pem"), SECRET).unwrap();
    fs::write(ws.join("config/master.key"), SECRET).unwrap();
    fs::write(ws.join("config/id_ed25519"), SECRET).unwrap();
    fs::write(ws.join("config/settings.toml"), "ok = true\n").unwrap();
    symlink(ws.join(".env"), ws.join("env-link")).unwrap();
    symlink(".env", ws.join("relative-link")).unwrap();
    fs::hard_link(ws.join(".env"), ws.join("notes.txt")).unwrap();
    fs::hard_link(env.home.join(".ssh/id_ed25519"), ws.join("deploy-notes.md")).unwrap();
    let other = env.home.join("other-project");
    fs::create_dir_all(&other).unwrap();
    fs::write(other.join(".env.production"), SECRET).unwrap();
    symlink(&other, ws.join("shared")).unwrap();
    env
}

fn sandbox(env: &Env, script: &str, patterns: &[&str]) -> Sandbox {
    let hidden = default_hidden_paths(&env.home, &env.cordon_home);
    let secrets = workspace_secrets(&env.workspace, patterns, &hidden).unwrap();
    env.sandbox(script).hide_all(secrets)
}

fn assert_unreadable(env: &Env, script: &str) {
    let (_, out) = env.run_sandbox(sandbox(env, script, &[]));
    assert!(!out.contains(SECRET), "`{script}` read a secret: {out}");
}

#[test]
fn workspace_secret_files_read_empty() {
    let env = planted();
    for path in [
        ".env",
        "config/certs/server.pem",
        "config/master.key",
        "config/id_ed25519",
    ] {
        assert_unreadable(&env, &format!("cat {path}"));
    }
    let (code, out) = env.run_sandbox(sandbox(&env, "cat config/settings.toml", &[]));
    assert_eq!(
        (code, out.as_str()),
        (0, "ok = true\n"),
        "other files stay readable"
    );
}

#[test]
fn symlinks_to_secrets_read_empty_old_and_new() {
    let env = planted();
    assert_unreadable(&env, "cat env-link");
    assert_unreadable(&env, "cat relative-link");
    assert_unreadable(&env, "ln -s .env new-link && cat new-link");
    assert_unreadable(
        &env,
        "ln -s config/certs new-dir-link && cat new-dir-link/server.pem",
    );
    assert_unreadable(&env, "cat shared/.env.production");
}

#[test]
fn hard_links_to_secrets_read_empty_and_new_ones_fail() {
    let env = planted();
    assert_unreadable(&env, "cat notes.txt");
    assert_unreadable(&env, "cat deploy-notes.md");
    let (_, out) = env.run_sandbox(sandbox(
        &env,
        "ln .env fresh-link && echo linked; cat fresh-link",
        &[],
    ));
    assert!(
        !out.contains("linked"),
        "a hard link to a covered file must fail: {out}"
    );
    assert!(!out.contains(SECRET), "{out}");
}

#[test]
fn proc_root_copies_renames_and_deletes_do_not_reach_secrets() {
    let env = planted();
    let ws = env.workspace.display();
    assert_unreadable(&env, &format!("cat /proc/self/root{ws}/.env"));
    assert_unreadable(&env, &format!("cat /proc/1/root{ws}/.env"));
    assert_unreadable(&env, "cp .env /tmp/copy; cat /tmp/copy");
    assert_unreadable(&env, "mv .env moved; cat moved");
    assert_unreadable(&env, "rm -f .env; cat .env");
    assert_unreadable(
        &env,
        "tar cf - . 2>/dev/null | tar xf - -C /tmp && cat /tmp/.env /tmp/notes.txt",
    );
    assert_unreadable(&env, &format!("grep -r REAL . /proc/self/root{ws}"));
    // The covered file is still covered after the attempts above.
    let (_, out) = env.run_sandbox(sandbox(
        &env,
        "mv config moved-config; cat moved-config/master.key",
        &[],
    ));
    assert!(!out.contains(SECRET), "{out}");
    assert!(
        fs::read_to_string(env.workspace.join(".env"))
            .unwrap()
            .contains(SECRET),
        "the real file is intact"
    );
}

#[test]
fn manifest_patterns_hide_more() {
    let env = planted();
    fs::write(env.workspace.join("config/prod.yaml"), SECRET).unwrap();
    let (_, out) = env.run_sandbox(sandbox(&env, "cat config/prod.yaml", &[]));
    assert!(
        out.contains(SECRET),
        "without the pattern the file is visible: {out}"
    );
    let (_, out) = env.run_sandbox(sandbox(&env, "cat config/prod.yaml", &["*.yaml"]));
    assert!(!out.contains(SECRET), "{out}");
}
