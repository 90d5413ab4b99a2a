//! `cordon approvals --watch` as a script would read it: one line per arrival and per
//! decision.

use super::approval_gate::{MANIFEST, answer, approval_id, cordon, env, start_hook};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn watch_prints_each_arrival_in_plain_words_and_each_decision() {
    let env = env(MANIFEST);
    let mut watcher = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(["approvals", "--watch", "--interval", "100ms"])
        .current_dir(&env.project)
        .env("CORDON_HOME", &env.cordon_home)
        .env_remove("CORDON_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines, received) = mpsc::channel();
    let stdout = watcher.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let next = |want: &str| -> String {
        loop {
            let line = received
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no line containing {want:?}"));
            if line.contains(want) {
                return line;
            }
        }
    };
    next("no pending approvals");

    let (_, reason) = answer(start_hook(&env, "rm -rf /srv/data")).unwrap();
    let id = approval_id(&reason);
    let arrival = next(&id);
    assert!(
        arrival.contains("DELETE /srv/data via a shell command — task fix-domains, asked "),
        "{arrival}"
    );
    assert!(arrival.contains(", expires "), "{arrival}");

    let (code, _, err) = cordon(&env, &["approve", &id, "--as", "alice"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(next(&id), format!("{id}  approved by alice"));

    let (_, reason) = answer(start_hook(&env, "rm -rf /srv/other")).unwrap();
    let second = approval_id(&reason);
    next(&second);
    let (code, _, err) = cordon(&env, &["deny", &second, "--as", "bob", "--reason", "no"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(next(&second), format!("{second}  denied by bob: no"));

    let _ = watcher.kill();
    let _ = watcher.wait();
}
