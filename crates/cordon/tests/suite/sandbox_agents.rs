//! Agent profiles: real Claude Code (tests/agents, from npm) under `cordon run` with no
//! more manifest than a pin of its API host to a local mock of the Messages API
//! (tests/mocks/anthropic.py). The agent must work (its configuration writable, its
//! model reachable, even in a read-only task) and must not hold its real key or change
//! the host's configuration.

use super::common::Run;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

const REAL_KEY: &str = "sk-ant-api03-real-key-7f3";
const REPLY: &str = "MOCK-REPLY-7f3";

/// Claude Code's native binary, installed by `npm ci` in tests/agents (the test
/// command does it; so does the first test to need it).
fn claude() -> PathBuf {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/agents")
                .canonicalize()
                .unwrap();
            let native = dir.join("node_modules/@anthropic-ai/claude-code-linux-x64/claude");
            if !native.exists() {
                let status = Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(&dir)
                    .status()
                    .expect("npm runs (Node and npm are needed for the agent tests)");
                assert!(status.success(), "npm ci in {} failed", dir.display());
            }
            assert!(
                native.exists(),
                "npm ci did not install {}",
                native.display()
            );
            native
        })
        .clone()
}

struct Mock {
    child: Child,
    port: u16,
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Place {
    _dir: tempfile::TempDir,
    home: PathBuf,
    cordon_home: PathBuf,
    ws: PathBuf,
    log: PathBuf,
    mock: Mock,
}

fn place() -> Place {
    let claude = claude();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let base = dir.path().canonicalize().unwrap();
    let home = base.join("home");
    let ws = base.join("ws");
    fs::create_dir_all(&home).unwrap();
    fs::create_dir_all(&ws).unwrap();
    // The user's Claude Code state, which lives beside its directory.
    fs::write(
        home.join(".claude.json"),
        r#"{"numStartups": 5, "hasCompletedOnboarding": true}"#,
    )
    .unwrap();
    fs::write(ws.join("README.md"), "# app\n").unwrap();
    let log = base.join("anthropic.jsonl");
    fs::write(&log, "").unwrap();
    let mut child = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/mocks/anthropic.py"))
        .arg("--log")
        .arg(&log)
        .args(["--reply", REPLY])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the Anthropic mock");
    let (port, _) = super::gateway::port_after(child.stdout.take().unwrap(), "127.0.0.1:");
    // Only what a test needs beyond the profile: the agent's binary, and its API
    // host pinned to the mock.
    fs::write(
        ws.join("cordon.toml"),
        format!(
            r#"
[task]
name = "agent"

[filesystem]
read = [{:?}]

[network.resolve]
"api.anthropic.com" = "127.0.0.1"
"#,
            claude.parent().unwrap().display().to_string()
        ),
    )
    .unwrap();
    Place {
        _dir: dir,
        home,
        cordon_home: base.join("cordon-home"),
        ws,
        log,
        mock: Mock { child, port },
    }
}

impl Place {
    fn run(&self, flags: &[&str], command: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_cordon"))
            .arg("run")
            .arg("--no-tty")
            .args(flags)
            .arg("--")
            .args(command)
            .current_dir(&self.ws)
            .env("HOME", &self.home)
            .env("CORDON_HOME", &self.cordon_home)
            .env("ANTHROPIC_API_KEY", REAL_KEY)
            .env(
                "ANTHROPIC_BASE_URL",
                format!("http://api.anthropic.com:{}", self.mock.port),
            )
            // Keep the run to the one request the test is about.
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env_remove("CORDON_LOG")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn claude(&self, flags: &[&str], prompt: &str) -> Run {
        let claude = claude().display().to_string();
        self.run(flags, &[&claude, "-p", prompt])
    }

    /// Runs `claude -p prompt` and checks that the model's answer came back.
    fn claude_answers(&self, flags: &[&str], prompt: &str) {
        let answered = self.claude(flags, prompt);
        assert_eq!(answered.code, 0, "{}\n{}", answered.stdout, answered.stderr);
        assert!(
            answered.stdout.contains(REPLY),
            "{}\n{}",
            answered.stdout,
            answered.stderr
        );
    }

    fn model_saw(&self) -> Vec<serde_json::Value> {
        fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Every file under the host's `~/.claude`, relative.
    fn host_config(&self) -> Vec<String> {
        fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
            for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                out.push(path.strip_prefix(root).unwrap().display().to_string());
                if path.is_dir() {
                    walk(&path, root, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.home.join(".claude"), &self.home, &mut out);
        out
    }
}

#[test]
fn claude_code_runs_in_the_sandbox_with_a_phantom_key_and_a_private_configuration() {
    let place = place();
    place.claude_answers(&[], "say hi");

    // The model got the real key, on the way out; the agent only ever held a phantom.
    let messages: Vec<_> = place
        .model_saw()
        .into_iter()
        .filter(|r| r["path"].as_str().unwrap_or("").starts_with("/v1/messages"))
        .collect();
    assert!(!messages.is_empty());
    for request in &messages {
        let key = format!("{} {}", request["x_api_key"], request["authorization"]);
        assert!(key.contains(REAL_KEY), "{request}");
    }
    let inside = place.run(
        &["--profile", "claude"],
        &[
            "sh",
            "-c",
            r#"echo "key=$ANTHROPIC_API_KEY"; echo "config=$CLAUDE_CONFIG_DIR"
               cat "$CLAUDE_CONFIG_DIR/.claude.json" >/dev/null && echo seeded=yes
               echo '{"hooks":{"Stop":[{"hooks":[{"type":"command","command":"touch /tmp/pwned"}]}]}}' > ~/.claude/settings.json && echo planted=yes"#,
        ],
    );
    assert_eq!(inside.code, 0, "{}\n{}", inside.stdout, inside.stderr);
    let key = inside
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("key="))
        .unwrap();
    assert!(!key.is_empty() && key != REAL_KEY, "{key}");
    assert!(
        inside
            .stdout
            .contains(&format!("config={}", place.home.join(".claude").display())),
        "{}",
        inside.stdout
    );
    assert!(inside.stdout.contains("seeded=yes"), "{}", inside.stdout);
    // Writable inside, and the host's copy never changed: a hook planted there would
    // run unsandboxed the next time the user starts Claude Code.
    assert!(inside.stdout.contains("planted=yes"), "{}", inside.stderr);
    assert_eq!(place.host_config(), Vec::<String>::new());
    let host_state = fs::read_to_string(place.home.join(".claude.json")).unwrap();
    assert!(host_state.contains("\"numStartups\": 5"), "{host_state}");
}

#[test]
fn a_read_only_task_still_reaches_the_model_but_nothing_else_that_writes() {
    let place = place();
    place.claude_answers(&["--read-only"], "why does the build fail?");

    // Another POST to the same API (a file upload) is a write, refused in a
    // read-only task even with the agent's own key; so is an inference path written
    // so that the server would resolve it elsewhere.
    let port = place.mock.port;
    let refused = place.run(
        &["--read-only", "--profile", "claude"],
        &[
            "sh",
            "-c",
            &format!(
                r#"for path in /v1/files /v1/messages/../files; do
                     curl -s -o /dev/null -w "%{{http_code}} " -X POST -H "x-api-key: $ANTHROPIC_API_KEY" \
                       --path-as-is -d '{{}}' "http://api.anthropic.com:{port}$path"
                   done"#
            ),
        ],
    );
    assert_eq!(
        refused.stdout.trim(),
        "403 403",
        "{}\n{}",
        refused.stdout,
        refused.stderr
    );
    assert!(
        place
            .model_saw()
            .iter()
            .all(|r| !r["path"].as_str().unwrap_or("").contains("files")),
        "{:?}",
        place.model_saw()
    );
}

#[test]
fn without_a_profile_the_model_api_is_not_reachable() {
    let place = place();
    let refused = place.claude(&["--profile", "none"], "say hi");
    assert!(!refused.stdout.contains(REPLY), "{}", refused.stdout);
    assert!(
        place.model_saw().is_empty(),
        "the model was reached without the profile: {:?}",
        place.model_saw()
    );
}
