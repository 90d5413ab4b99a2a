//! MCP servers in sandboxes of their own: `cordon mcp --sandbox`, a server cordon.toml
//! declares in `[mcp.servers]`, and the same declared server reached from inside
//! `cordon run`. The server (tests/mcp/fetcher.py) reports what it can reach; the
//! Railway mock outside is the provider, and its log shows what really arrived.

use super::gateway::{Peer, TOKEN, railway_serving};
use super::mcp_client::{Client, peers, text};
use serde_json::json;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};

struct Place {
    _dir: tempfile::TempDir,
    cordon_home: PathBuf,
    /// The user's home, with a key the server must not read.
    home: PathBuf,
    ws: PathBuf,
    log: PathBuf,
    railway: Peer,
}

fn place() -> Place {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let base = dir.path().canonicalize().unwrap();
    let home = base.join("home");
    let ws = base.join("ws");
    fs::create_dir_all(home.join(".ssh")).unwrap();
    fs::write(home.join(".ssh/id_ed25519"), "PRIVATE KEY 7f3").unwrap();
    fs::create_dir_all(&ws).unwrap();
    fs::write(ws.join("notes.txt"), "shared notes\n").unwrap();
    fs::write(ws.join(".env"), "DB_PASSWORD=hunter2-7f3\n").unwrap();
    // In the workspace, so every sandbox can run it without a read grant.
    fs::copy(peers().join("fetcher.py"), ws.join("fetcher.py")).unwrap();
    let log = base.join("railway.jsonl");
    fs::write(&log, "").unwrap();
    let (_, railway) = railway_serving(&base, &log, false);
    fs::write(
        ws.join("cordon.toml"),
        r#"
[task]
name = "mcp-sandboxed"

# The agent's own host; not the server's.
[network]
allow = ["allowed.test"]

[network.resolve]
"backboard.railway.com" = "127.0.0.1"
"allowed.test" = "127.0.0.1"

[[credential]]
name = "railway"
source = "env:RAILWAY_TOKEN"
env_var = "RAILWAY_TOKEN"
hosts = ["backboard.railway.com"]
allow = ["http.GET"]

[tools]
allow = ["fetcher.*", "loose.*"]

[mcp.servers.fetcher]
command = ["python3", "fetcher.py"]
credentials = ["railway"]
"#,
    )
    .unwrap();
    Place {
        _dir: dir,
        cordon_home: base.join("cordon-home"),
        home,
        ws,
        log,
        railway,
    }
}

impl Place {
    fn env(&self) -> Vec<(&str, String)> {
        vec![
            ("HOME", self.home.display().to_string()),
            ("RAILWAY_TOKEN", TOKEN.to_owned()),
        ]
    }

    fn mcp(&self, mcp_args: &[&str], server: &[String]) -> Client {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Client::start(&self.cordon_home, &self.ws, &[], mcp_args, server, &env)
    }

    fn provider_saw(&self) -> String {
        fs::read_to_string(&self.log).unwrap()
    }

    fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.railway.port)
    }
}

#[test]
fn a_declared_server_gets_its_own_grants_and_nothing_of_the_agents() {
    let place = place();
    let mut client = place.mcp(&["--server", "fetcher"], &[]);
    client.initialize("2025-11-25");
    assert!(
        client.stderr().contains("runs sandboxed as task"),
        "{}",
        client.stderr()
    );

    // Its credential, as a phantom; the real token is added on the way out.
    let phantom = text(&client.call(1, "env", json!({"name": "RAILWAY_TOKEN"})));
    assert!(!phantom.is_empty() && phantom != TOKEN, "{phantom}");
    let whoami = text(&client.call(
        2,
        "fetch",
        json!({"url": place.url("backboard.railway.com", "/whoami"), "bearer_env": "RAILWAY_TOKEN"}),
    ));
    assert!(whoami.starts_with("200 "), "{whoami}");
    assert!(
        !whoami.contains(TOKEN),
        "the real token came back: {whoami}"
    );
    assert!(place.provider_saw().contains(&format!("Bearer {TOKEN}")));

    // The agent's host is not the server's, and nothing else is reachable.
    let agents = text(&client.call(
        3,
        "fetch",
        json!({"url": place.url("allowed.test", "/volumes")}),
    ));
    assert!(agents.starts_with("403 "), "{agents}");
    let direct = text(&client.call(4, "fetch", json!({"url": "http://93.184.216.34/"})));
    assert!(!direct.starts_with("200"), "{direct}");

    // Secrets stay hidden; the workspace is a copy whose changes wait for review.
    let notes = text(&client.call(5, "read", json!({"path": place.ws.join("notes.txt")})));
    assert_eq!(notes, "shared notes\n");
    let env_file = text(&client.call(6, "read", json!({"path": place.ws.join(".env")})));
    assert!(!env_file.contains("hunter2"), "{env_file}");
    let key = text(&client.call(
        7,
        "read",
        json!({"path": place.home.join(".ssh/id_ed25519")}),
    ));
    assert!(!key.contains("PRIVATE KEY"), "{key}");
    let wrote = text(&client.call(
        8,
        "write",
        json!({"path": place.ws.join("out.txt"), "text": "from the server"}),
    ));
    assert_eq!(wrote, "ok");
    let outside = text(&client.call(
        9,
        "write",
        json!({"path": place.home.join("planted"), "text": "x"}),
    ));
    assert!(outside.starts_with("error"), "{outside}");
    let (code, stderr) = client.finish();
    assert_eq!(code, 0, "{stderr}");

    assert!(
        !place.ws.join("out.txt").exists(),
        "the real workspace changed"
    );
    assert!(!place.home.join("planted").exists());
    let diff = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .arg("diff")
        .env("CORDON_HOME", &place.cordon_home)
        .output()
        .unwrap();
    let diff = String::from_utf8_lossy(&diff.stdout);
    assert!(
        diff.contains("out.txt") && diff.contains("from the server"),
        "{diff}"
    );
}

#[test]
fn an_undeclared_server_under_sandbox_has_no_network_and_no_credentials() {
    let place = place();
    let server = vec!["python3".to_owned(), "fetcher.py".to_owned()];
    let mut client = place.mcp(&["--sandbox", "--server", "loose"], &server);
    client.initialize("2025-11-25");
    assert_eq!(
        text(&client.call(1, "env", json!({"name": "RAILWAY_TOKEN"}))),
        ""
    );
    let railway = text(&client.call(
        2,
        "fetch",
        json!({"url": place.url("backboard.railway.com", "/whoami")}),
    ));
    assert!(railway.starts_with("403 "), "{railway}");
    let (code, stderr) = client.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("no network and no credentials"), "{stderr}");
    assert!(
        !place.provider_saw().contains("/whoami"),
        "{}",
        place.provider_saw()
    );
}

/// `cordon run -- sh -c script` in the workspace.
fn run(place: &Place, script: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(["run", "--no-tty", "--", "sh", "-c", script])
        .current_dir(&place.ws)
        .envs(place.env())
        .env("CORDON_HOME", &place.cordon_home)
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

#[test]
fn inside_cordon_run_the_agent_reaches_the_declared_server_but_not_its_credential() {
    let place = place();
    let requests = [
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "fetch", "arguments": {
                "url": place.url("backboard.railway.com", "/whoami"), "bearer_env": "RAILWAY_TOKEN"}}}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "undeclared_tool", "arguments": {}}}),
    ];
    let lines: String = requests.iter().map(|r| format!("{r}\n")).collect();
    fs::write(place.ws.join("requests.jsonl"), lines).unwrap();
    let (code, stdout, stderr) = run(
        &place,
        &format!(
            r#"
            echo "agent_token=${{RAILWAY_TOKEN:-none}}"
            echo "agent_fetch=$(curl -sS -m 10 -o /dev/null -w '%{{http_code}}' {})"
            (cat requests.jsonl; sleep 3) | cordon mcp --server fetcher
            "#,
            place.url("backboard.railway.com", "/whoami")
        ),
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    // The credential is the server's alone: the agent has no phantom of it, and the
    // gateway does not carry the agent to its host.
    assert!(stdout.contains("agent_token=none"), "{stdout}");
    assert!(stdout.contains("agent_fetch=403"), "{stdout}\n{stderr}");
    let answers: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let answer = |id: i64| {
        answers
            .iter()
            .find(|a| a["id"] == id)
            .unwrap_or_else(|| panic!("no answer {id} in {stdout}\n{stderr}"))
    };
    let fetched = text(answer(1));
    assert!(fetched.starts_with("200 "), "{fetched}");
    assert!(!fetched.contains(TOKEN), "{fetched}");
    assert_eq!(
        text(answer(2)),
        "MCP error -32602: Tool undeclared_tool not found"
    );
    let saw = place.provider_saw();
    assert_eq!(saw.matches("/whoami").count(), 1, "{saw}");
    assert!(saw.contains(&format!("Bearer {TOKEN}")), "{saw}");
}

#[test]
fn an_agent_cannot_start_declared_servers_without_bound() {
    let place = place();
    let (code, stdout, stderr) = run(
        &place,
        r#"python3 - <<'PY'
import os, socket, time
host, port = os.environ["CORDON_MCP_SERVERS"].split("=")[1].split(":")
held = [socket.create_connection((host, int(port))) for _ in range(8)]
time.sleep(1.5)
extra = socket.create_connection((host, int(port)))
extra.settimeout(5)
try:
    print("ninth=closed" if extra.recv(1) == b"" else "ninth=open")
except socket.timeout:
    print("ninth=open")
# The first eight are still served.
held[0].settimeout(0.5)
try:
    print("first=open" if held[0].recv(1) != b"" else "first=closed")
except socket.timeout:
    print("first=open")
PY"#,
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("ninth=closed"), "{stdout}\n{stderr}");
    assert!(stdout.contains("first=open"), "{stdout}\n{stderr}");
    assert!(stderr.contains("8 sessions are open"), "{stderr}");
}
