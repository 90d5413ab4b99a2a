//! A scripted MCP client: `cordon mcp -- SERVER` as a child, one JSON-RPC message per
//! line each way, and the real servers from npm (tests/mcp, installed with `npm ci`
//! on first use when scripts/test has not done it already).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(30);

/// tests/mcp, with its node_modules installed.
pub fn peers() -> PathBuf {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/mcp");
            if !dir.join("node_modules/.bin/mcp-inspector-cli").exists() {
                let status = Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(&dir)
                    .status()
                    .expect("npm runs (Node 20 and npm are needed for the MCP tests)");
                assert!(status.success(), "npm ci in {} failed", dir.display());
            }
            dir.canonicalize().unwrap()
        })
        .clone()
}

pub fn bin(name: &str) -> String {
    peers()
        .join("node_modules/.bin")
        .join(name)
        .display()
        .to_string()
}

pub fn liar() -> Vec<String> {
    vec![
        "node".to_owned(),
        peers().join("liar.js").display().to_string(),
    ]
}

pub struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    /// Notifications and server requests seen while waiting for answers.
    pub seen: Vec<Value>,
}

impl Client {
    /// `cordon [global…] mcp [mcp_args…] -- server…` in `cwd`.
    pub fn start(
        home: &Path,
        cwd: &Path,
        global: &[&str],
        mcp_args: &[&str],
        server: &[String],
        env: &[(&str, &str)],
    ) -> Client {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cordon"));
        command
            .args(global)
            .arg("mcp")
            .args(mcp_args)
            .arg("--")
            .args(server)
            .current_dir(cwd)
            .env("CORDON_HOME", home)
            .env_remove("CORDON_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("cordon runs");
        let stdout = child.stdout.take().unwrap();
        let stderr_pipe = child.stderr.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines() {
                let Ok(line) = line else { return };
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        Client {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            seen: Vec::new(),
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn send_raw(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    pub fn send(&mut self, message: &Value) {
        self.send_raw(&message.to_string());
    }

    /// The next line on stdout, which must be JSON (nothing else may appear there).
    pub fn next(&mut self) -> Value {
        match self.lines.recv_timeout(PATIENCE) {
            Ok(line) => serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout carried a line that is not JSON ({e}): {line}")),
            Err(RecvTimeoutError::Timeout) => {
                panic!("no message within {PATIENCE:?}; stderr:\n{}", self.stderr())
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!("cordon mcp closed stdout; stderr:\n{}", self.stderr())
            }
        }
    }

    /// The answer to `id`, keeping whatever came before it in `seen`.
    pub fn answer(&mut self, id: &Value) -> Value {
        loop {
            let message = self.next();
            if message.get("id") == Some(id) && message.get("method").is_none() {
                return message;
            }
            self.seen.push(message);
        }
    }

    pub fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.answer(&json!(id))
    }

    pub fn initialize(&mut self, version: &str) -> Value {
        let answer = self.request(
            0,
            "initialize",
            json!({
                "protocolVersion": version,
                "capabilities": {},
                "clientInfo": {"name": "cordon-test", "version": "1"},
            }),
        );
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        answer
    }

    pub fn call(&mut self, id: i64, tool: &str, arguments: Value) -> Value {
        self.request(
            id,
            "tools/call",
            json!({"name": tool, "arguments": arguments}),
        )
    }

    /// Every page of tools/list, names only.
    pub fn tool_names(&mut self, first_id: i64) -> Vec<String> {
        let mut names = Vec::new();
        let mut cursor: Option<Value> = None;
        let mut id = first_id;
        loop {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let answer = self.request(id, "tools/list", params);
            id += 1;
            let result = &answer["result"];
            for tool in result["tools"].as_array().expect("a tool list") {
                names.push(tool["name"].as_str().unwrap().to_owned());
            }
            match result.get("nextCursor") {
                Some(next) if !next.is_null() => cursor = Some(next.clone()),
                _ => return names,
            }
        }
    }

    /// Closes stdin and waits for cordon to exit: its exit code and stderr.
    pub fn finish(mut self) -> (i32, String) {
        drop(self.stdin.take());
        let status = wait_for(&mut self.child);
        // Give the stderr thread a moment to drain.
        std::thread::sleep(Duration::from_millis(100));
        (status, self.stderr())
    }

    pub fn wait_exit(mut self) -> (i32, String) {
        let status = wait_for(&mut self.child);
        std::thread::sleep(Duration::from_millis(100));
        (status, self.stderr())
    }
}

fn wait_for(child: &mut Child) -> i32 {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "cordon mcp did not exit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text of a tool result's first content item.
pub fn text(answer: &Value) -> String {
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A private CORDON_HOME and a workspace holding `manifest` as cordon.toml.
pub struct Place {
    _dir: tempfile::TempDir,
    pub home: PathBuf,
    pub workspace: PathBuf,
}

pub fn place(manifest: &str) -> Place {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let home = root.join("home");
    let workspace = root.join("ws");
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::write(workspace.join("cordon.toml"), manifest).unwrap();
    Place {
        _dir: dir,
        home,
        workspace,
    }
}
