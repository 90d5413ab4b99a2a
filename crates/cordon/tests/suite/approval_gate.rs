//! The approval gate end to end, as the incident write-ups state the check: an agent's
//! GraphQL `volumeDelete` against a real (local) upstream is held for a human, exactly
//! one identical call goes through after a signed approval, the next asks again, and a
//! racing pair cannot share one approval. The "agent" here is what Claude Code does:
//! run the tool only when the hook does not refuse or ask.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Env {
    _dir: tempfile::TempDir,
    pub home: PathBuf,
    pub cordon_home: PathBuf,
    pub project: PathBuf,
}

pub fn env(manifest: &str) -> Env {
    // Not under /tmp: the classifier rightly treats /tmp as scratch space.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let home = dir.path().join("home");
    let project = home.join("src/app");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("cordon.toml"), manifest).unwrap();
    Env {
        home,
        cordon_home: dir.path().join("cordon-home"),
        project,
        _dir: dir,
    }
}

/// A stand-in for the provider's API: counts the requests that reach it.
pub struct Upstream {
    pub port: u16,
    pub hits: Arc<AtomicUsize>,
}

pub fn upstream() -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            counter.fetch_add(1, Ordering::SeqCst);
            let reply = r#"{"data":{"volumeDelete":true}}"#;
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    Upstream { port, hits }
}

fn hook_command(env: &Env) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cordon"));
    command
        .args(["hook", "claude"])
        .current_dir(&env.project)
        .env("CORDON_HOME", &env.cordon_home)
        .env("HOME", &env.home)
        .env("USER", "agent")
        .env("NO_COLOR", "1")
        .env_remove("CORDON_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

pub fn start_hook(env: &Env, command: &str) -> Child {
    let payload = json!({
        "session_id": "s1",
        "transcript_path": "/dev/null",
        "cwd": env.project,
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_use_id": "toolu_1",
        "tool_input": { "command": command },
    });
    let mut child = hook_command(env).spawn().unwrap();
    let _ = child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.to_string().as_bytes());
    child
}

/// The hook's answer: `None` for no opinion, else Claude's permissionDecision and reason.
pub fn answer(child: Child) -> Option<(String, String)> {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        return None;
    }
    let v: Value = serde_json::from_str(&text).unwrap();
    let output = &v["hookSpecificOutput"];
    Some((
        output["permissionDecision"].as_str().unwrap().to_owned(),
        output["permissionDecisionReason"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    ))
}

/// What Claude Code does with a tool call: ask the hook, run it unless refused or
/// held for a human. Returns the hook's decision.
fn agent_runs(env: &Env, command: &str) -> (String, String) {
    let decision = answer(start_hook(env, command));
    let (verdict, reason) = decision.unwrap_or(("none".to_owned(), String::new()));
    if verdict == "allow" || verdict == "none" {
        let status = Command::new("bash")
            .args(["-c", command])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{command}");
    }
    (verdict, reason)
}

pub fn cordon(env: &Env, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(args)
        .current_dir(&env.project)
        .env("CORDON_HOME", &env.cordon_home)
        .env("HOME", &env.home)
        .env("NO_COLOR", "1")
        .env_remove("CORDON_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn approval_id(reason: &str) -> String {
    let start = reason.find("ap_").expect("an approval id in the reason");
    reason[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

pub const MANIFEST: &str = "[task]\nname = \"fix-domains\"\n[network]\nallow = [\"127.0.0.1\"]\n";

pub fn volume_delete(port: u16) -> String {
    format!(
        r#"curl -sf -X POST http://127.0.0.1:{port}/graphql -H 'content-type: application/json' -d '{{"query":"mutation {{ volumeDelete(volumeId: \"vol_prod_7f3\") }}"}}'"#
    )
}

#[test]
fn a_destroy_call_waits_for_a_signed_approval_and_passes_exactly_once() {
    let env = env(MANIFEST);
    let upstream = upstream();
    let call = volume_delete(upstream.port);

    let (verdict, reason) = agent_runs(&env, &call);
    assert_eq!(verdict, "ask", "{reason}");
    assert!(reason.contains("volumeDelete"), "{reason}");
    let id = approval_id(&reason);
    assert_eq!(
        upstream.hits.load(Ordering::SeqCst),
        0,
        "held before approval"
    );

    // Asking again before a human decides files nothing new and sends nothing.
    let (verdict, reason) = agent_runs(&env, &call);
    assert_eq!(
        (verdict.as_str(), approval_id(&reason)),
        ("ask", id.clone())
    );
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 0);

    let (code, out, err) = cordon(
        &env,
        &["approve", &id, "--as", "alice", "--note", "checked"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("approved {id}")), "{out}");

    let (verdict, reason) = agent_runs(&env, &call);
    assert_eq!(verdict, "allow", "{reason}");
    assert!(reason.contains("alice"), "{reason}");
    assert_eq!(
        upstream.hits.load(Ordering::SeqCst),
        1,
        "exactly one call went through"
    );

    let (verdict, reason) = agent_runs(&env, &call);
    assert_eq!(verdict, "ask", "the approval is used up");
    assert_ne!(approval_id(&reason), id);
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 1);
}

#[test]
fn two_racing_calls_cannot_both_use_one_approval() {
    let env = env(MANIFEST);
    let upstream = upstream();
    let call = volume_delete(upstream.port);
    let (_, reason) = agent_runs(&env, &call);
    let id = approval_id(&reason);
    let (code, _, err) = cordon(&env, &["approve", &id, "--as", "alice"]);
    assert_eq!(code, 0, "{err}");

    let racers: Vec<Child> = (0..4).map(|_| start_hook(&env, &call)).collect();
    let verdicts: Vec<String> = racers
        .into_iter()
        .filter_map(answer)
        .map(|(verdict, _)| verdict)
        .collect();
    let allowed = verdicts.iter().filter(|v| *v == "allow").count();
    assert_eq!(allowed, 1, "{verdicts:?}");
    assert_eq!(verdicts.len(), 4, "every racer got an answer: {verdicts:?}");
}

#[test]
fn a_refusal_reaches_the_agent_with_its_reason() {
    let env = env(MANIFEST);
    let upstream = upstream();
    let call = volume_delete(upstream.port);
    let (_, reason) = agent_runs(&env, &call);
    let id = approval_id(&reason);
    let (code, _, err) = cordon(
        &env,
        &[
            "deny",
            &id,
            "--as",
            "bob",
            "--reason",
            "that is the production volume",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (verdict, reason) = agent_runs(&env, &call);
    assert_eq!(verdict, "deny");
    assert!(reason.contains("that is the production volume"), "{reason}");
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 0);
}
