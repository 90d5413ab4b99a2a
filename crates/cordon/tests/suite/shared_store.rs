//! A team's shared PostgreSQL store through the real binary: a hooked agent on one
//! machine files an approval, a person on another lists and decides it with `--store`.
//! Each "machine" is its own `$CORDON_HOME`; the server is the test binary's own.

use super::approval_gate::{
    MANIFEST, answer, approval_id, env, start_hook, upstream, volume_delete,
};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;

/// `cordon --store URL ARGS…` on another machine (`home`).
fn elsewhere(home: &Path, url: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(["--store", url])
        .args(args)
        .current_dir("/")
        .env("CORDON_HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("CORDON_LOG")
        .env_remove("CORDON_STORE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn copy_keys(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("keys")).unwrap();
    for file in ["approval.key", "approval.pub"] {
        std::fs::copy(from.join("keys").join(file), to.join("keys").join(file)).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    for (path, mode) in [
        (to.to_path_buf(), 0o700),
        (to.join("keys"), 0o700),
        (to.join("keys/approval.key"), 0o600),
        (to.join("keys/approval.pub"), 0o600),
    ] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

#[test]
fn a_person_on_another_machine_decides_from_the_shared_postgres_queue() {
    let url = super::pg_server::fresh_database();
    let env = env(&format!("store = \"{url}\"\n{MANIFEST}"));
    let upstream = upstream();
    let call = volume_delete(upstream.port);
    let (verdict, reason) = answer(start_hook(&env, &call)).unwrap();
    assert_eq!(verdict, "ask", "{reason}");
    let id = approval_id(&reason);
    assert!(
        !env.cordon_home.join("cordon.db").exists(),
        "the hook used SQLite, not the manifest's store"
    );

    // Another machine with its own key sees the request...
    let stranger = tempfile::tempdir().unwrap();
    let (code, out, err) = elsewhere(stranger.path(), &url, &["approvals"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&id) && out.contains("volumeDelete"), "{out}");
    // ...but a decision signed with a key the gate does not hold is not an approval.
    let (code, _, err) = elsewhere(stranger.path(), &url, &["approve", &id, "--as", "mallory"]);
    assert_eq!(code, 0, "{err}");
    let (verdict, reason) = answer(start_hook(&env, &call)).unwrap();
    assert_eq!(verdict, "ask", "{reason}");
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 0);

    // The gate said so, and filed a new request (named last in its reasons).
    assert!(
        reason.contains(&id) && reason.contains("do not verify"),
        "{reason}"
    );
    let new_id = approval_id(&reason[reason.rfind("ap_").unwrap()..]);
    assert_ne!(new_id, id);
    let id = new_id;
    // A teammate whose machine holds the installation's key pair approves the new
    // request; exactly one identical call goes through.
    let teammate = tempfile::tempdir().unwrap();
    let teammate_home = teammate.path().join("cordon");
    copy_keys(&env.cordon_home, &teammate_home);
    let (code, _, err) = elsewhere(&teammate_home, &url, &["approve", &id, "--as", "alice"]);
    assert_eq!(code, 0, "{err}");
    let (verdict, reason) = answer(start_hook(&env, &call)).unwrap();
    assert_eq!(verdict, "allow", "{reason}");
    let status = Command::new("bash")
        .args(["-c", &call])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 1);
    let (verdict, _) = answer(start_hook(&env, &call)).unwrap();
    assert_eq!(verdict, "ask", "the approval is used up");

    // The shared audit index names the task for every machine.
    let (code, out, err) = elsewhere(&teammate_home, &url, &["approvals", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("fix-domains"), "{out}");
}

#[test]
fn a_store_that_is_not_postgres_or_a_file_is_refused_with_the_forms_it_takes() {
    let home = tempfile::tempdir().unwrap();
    let (code, _, err) = elsewhere(home.path(), "mysql://root@db/cordon", &["approvals"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("postgres://"), "{err}");
    let (code, _, err) = elsewhere(
        home.path(),
        "postgres://cordon:hunter2@127.0.0.1:1/cordon",
        &["approvals"],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("PostgreSQL") && !err.contains("hunter2"),
        "{err}"
    );
}
