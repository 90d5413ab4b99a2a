//! The copy-on-write workspace, the read-only rest, and hidden secrets.

use std::fs;

use super::support::{Env, exists};

#[test]
fn the_workspace_is_visible_and_writes_land_in_the_upper_dir() {
    let env = Env::new();
    let ws = env.workspace.display();
    let (code, out) = env.run(&format!(
        "cd {ws} && cat README.md && echo new > new.txt && echo changed >> README.md && mkdir -p deep/er && echo x > deep/er/f && pwd"
    ));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("real readme"), "{out}");
    assert!(out.contains(&ws.to_string()), "{out}");
    assert_eq!(
        fs::read_to_string(env.upper().join("new.txt")).unwrap(),
        "new\n"
    );
    assert_eq!(
        fs::read_to_string(env.upper().join("README.md")).unwrap(),
        "real readme\nchanged\n"
    );
    assert!(exists(&env.upper().join("deep/er/f")));
    assert_eq!(
        fs::read_to_string(env.workspace.join("README.md")).unwrap(),
        "real readme\n"
    );
    assert!(!exists(&env.workspace.join("new.txt")));
    assert!(!exists(&env.workspace.join("deep")));
}

#[test]
fn the_default_working_directory_is_the_workspace() {
    let env = Env::new();
    let (code, out) = env.run("pwd");
    assert_eq!(code, 0);
    assert_eq!(out.trim(), env.workspace.display().to_string());
}

#[test]
fn deleting_workspace_files_inside_leaves_the_real_ones() {
    let env = Env::new();
    let ws = env.workspace.display();
    let (code, out) = env.run(&format!(
        "rm -rf {ws}/src {ws}/README.md && test ! -e {ws}/src && ls -A {ws} | wc -l"
    ));
    assert_eq!((code, out.trim()), (0, "0"), "{out}");
    assert_eq!(
        fs::read_to_string(env.workspace.join("src/main.rs")).unwrap(),
        "fn main() {}\n"
    );
    assert!(exists(&env.workspace.join("README.md")));
}

#[test]
fn writing_outside_the_workspace_fails_and_leaves_the_host_unchanged() {
    let env = Env::new();
    let home = env.home.display();
    let targets = [
        "/etc/cordon-escape".to_owned(),
        "/etc/passwd".to_owned(),
        "/usr/cordon-escape".to_owned(),
        "/cordon-escape".to_owned(),
        format!("{home}/.bashrc"),
        format!("{home}/cordon-escape"),
        format!("{}/cordon-escape", env.out_dir.display()),
        format!("{}/upper/injected", env.task.display()),
    ];
    let script: String = targets
        .iter()
        .map(|t| format!("(echo pwned >> {t}) 2>/dev/null && echo WROTE {t}; touch {t} 2>/dev/null && echo TOUCHED {t}; "))
        .collect();
    let (_, out) = env.run(&script);
    assert!(!out.contains("WROTE") && !out.contains("TOUCHED"), "{out}");
    assert!(!exists(std::path::Path::new("/etc/cordon-escape")));
    assert!(!exists(std::path::Path::new("/cordon-escape")));
    assert_eq!(
        fs::read_to_string(env.home.join(".bashrc")).unwrap(),
        "# rc\n"
    );
    assert!(!exists(&env.home.join("cordon-escape")));
    assert!(!exists(&env.upper().join("injected")));
    assert!(!fs::read_to_string("/etc/passwd").unwrap().contains("pwned"));
}

#[test]
fn tmp_is_private_and_writable() {
    let env = Env::new();
    let marker = env.out_dir.parent().unwrap().join("host-marker");
    fs::write(&marker, "host").unwrap();
    let host_tmp_marker =
        std::env::temp_dir().join(format!("cordon-host-marker-{}", std::process::id()));
    fs::write(&host_tmp_marker, "host").unwrap();
    let (code, out) = env.run(&format!(
        "echo hi > /tmp/inside && cat /tmp/inside && test ! -e {} && test ! -e {} && echo private",
        marker.display(),
        host_tmp_marker.display()
    ));
    fs::remove_file(&host_tmp_marker).unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("hi") && out.contains("private"), "{out}");
    assert!(!exists(&std::env::temp_dir().join("inside")));
}

#[test]
fn writable_paths_are_writable_and_reach_the_host() {
    let env = Env::new();
    let shared = env.out_dir.join("shared");
    fs::create_dir_all(&shared).unwrap();
    let sandbox = env
        .sandbox(&format!("echo ok > {}/result", shared.display()))
        .writable(&shared);
    let (code, out) = env.run_sandbox(sandbox);
    assert_eq!(code, 0, "{out}");
    assert_eq!(fs::read_to_string(shared.join("result")).unwrap(), "ok\n");
}

#[test]
fn hidden_secrets_are_empty_or_absent() {
    let env = Env::new();
    let home = env.home.display();
    let ch = env.cordon_home.display();
    let (_, out) = env.run(&format!(
        "cat {home}/.aws/credentials; ls -A {home}/.aws; cat {home}/.ssh/id_ed25519; cat {home}/.netrc; \
         cat {ch}/keys/approval.key; ls -AR {ch}; cat {home}/.bashrc; \
         cat /proc/1/root{home}/.aws/credentials; cat /proc/self/root{home}/.netrc; \
         grep -r REAL-SECRET {home} /proc/self/mountinfo 2>/dev/null; echo done"
    ));
    assert!(!out.contains("REAL-SECRET"), "{out}");
    assert!(
        out.contains("# rc"),
        "the rest of the home stays readable: {out}"
    );
    assert!(out.contains("done"), "{out}");
}

#[test]
fn a_symlink_to_a_secret_does_not_reveal_it() {
    let env = Env::new();
    // One planted in the real repository before the task, one made inside.
    std::os::unix::fs::symlink(
        env.home.join(".aws/credentials"),
        env.workspace.join("planted"),
    )
    .unwrap();
    let ws = env.workspace.display();
    let home = env.home.display();
    let (_, out) = env.run(&format!(
        "ln -s {home}/.aws/credentials {ws}/made; ln -s {home}/.ssh {ws}/sshdir; \
         cat {ws}/planted {ws}/made {ws}/sshdir/id_ed25519; \
         ln {home}/.netrc {ws}/hard 2>&1; cat {ws}/hard; \
         cp -r {home}/.aws {ws}/copy; cat {ws}/copy/credentials; echo done"
    ));
    assert!(!out.contains("REAL-SECRET"), "{out}");
    assert!(out.contains("done"), "{out}");
}
