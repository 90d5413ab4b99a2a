//! `cordon mcp` in front of the reference servers from npm, driven by the scripted
//! client and by the MCP inspector's CLI.

use super::mcp_client::{Client, bin, peers, place, text};
use serde_json::{Value, json};
use std::process::Command;

const EVERYTHING: &str = r#"
[task]
name = "mcp-everything"

[tools]
allow = ["everything.echo", "everything.get-sum", "everything.no-such-tool"]
"#;

fn everything(place: &super::mcp_client::Place) -> Client {
    Client::start(
        &place.home,
        &place.workspace,
        &[],
        &[],
        &[bin("mcp-server-everything")],
        &[],
    )
}

#[test]
fn everything_lists_only_declared_tools_and_an_undeclared_one_is_unknown() {
    let place = place(EVERYTHING);
    let mut client = everything(&place);
    let hello = client.initialize("2025-11-25");
    assert_eq!(hello["result"]["protocolVersion"], "2025-11-25");
    assert_eq!(hello["id"], 0, "the client's own id comes back");

    let mut names = client.tool_names(1);
    names.sort();
    assert_eq!(names, ["echo", "get-sum"], "get-env & co. do not exist");

    // get-env is on the server, hidden; no-such-tool is declared but not on it, so the
    // server's own answer is what an unknown tool gets. They must read alike.
    let hidden = client.call(10, "get-env", json!({}));
    let missing = client.call(11, "no-such-tool", json!({}));
    assert_eq!(hidden["result"]["isError"], true, "{hidden}");
    let mut expected = missing.clone();
    expected["id"] = json!(10);
    expected["result"]["content"][0]["text"] =
        json!(text(&missing).replace("no-such-tool", "get-env"));
    assert_eq!(
        hidden["result"], expected["result"],
        "a hidden tool answers exactly like a missing one"
    );
    assert!(text(&missing).contains("not found"), "{missing}");
    assert!(
        !hidden.to_string().contains("cordon"),
        "nothing says a gate refused it: {hidden}"
    );

    let echoed = client.call(12, "echo", json!({"message": "through cordon"}));
    assert_eq!(text(&echoed), "Echo: through cordon", "{echoed}");
    let sum = client.call(13, "get-sum", json!({"a": 2, "b": 40}));
    assert!(text(&sum).contains("42"), "{sum}");

    let (code, stderr) = client.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("everything.TOOL"), "{stderr}");

    // Every call is on record with the OpenTelemetry names.
    let audit = audit_text(&place.home);
    for needle in [
        "\"gen_ai.tool.name\":\"get-env\"",
        "\"gen_ai.tool.name\":\"echo\"",
        "\"mcp.method.name\":\"tools/call\"",
        "\"mcp.method.name\":\"tools/list\"",
        "\"jsonrpc.request.id\":\"12\"",
        "\"mcp.session.id\"",
        "tools.allow",
    ] {
        assert!(audit.contains(needle), "audit lacks {needle}:\n{audit}");
    }
}

/// Everything written under the audit directory of `home`.
pub fn audit_text(home: &std::path::Path) -> String {
    let mut all = String::new();
    let mut stack = vec![home.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                all.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    all
}

#[test]
fn filesystem_paths_must_stay_in_the_workspace_even_where_the_server_would_allow_them() {
    let place = place(
        r#"
[task]
name = "mcp-filesystem"

[tools]
allow = ["filesystem.read_text_file", "filesystem.list_allowed_directories"]

[tools.args."filesystem.*"]
path = { within = "workspace" }
"#,
    );
    let root = place.workspace.parent().unwrap().to_path_buf();
    let outside = root.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "the production token").unwrap();
    std::fs::write(place.workspace.join("notes.txt"), "inside notes").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), place.workspace.join("link.txt"))
        .unwrap();

    // The server itself may read all of `root`: only cordon's constraint stands between.
    let mut client = Client::start(
        &place.home,
        &place.workspace,
        &[],
        &[],
        &[bin("mcp-server-filesystem"), root.display().to_string()],
        &[],
    );
    client.initialize("2025-06-18");
    let names = client.tool_names(1);
    assert_eq!(
        {
            let mut n = names.clone();
            n.sort();
            n
        },
        ["list_allowed_directories", "read_text_file"],
        "write_file, move_file & co. are hidden"
    );

    let inside = client.call(
        10,
        "read_text_file",
        json!({"path": place.workspace.join("notes.txt")}),
    );
    assert_eq!(text(&inside), "inside notes", "{inside}");

    let escaped = client.call(
        12,
        "read_text_file",
        json!({"path": outside.join("secret.txt")}),
    );
    assert_eq!(escaped["result"]["isError"], true, "{escaped}");
    assert!(
        text(&escaped).contains("must stay inside the workspace"),
        "{escaped}"
    );
    assert!(!escaped.to_string().contains("production token"));

    for sneaky in [
        format!("{}/../outside/secret.txt", place.workspace.display()),
        place.workspace.join("link.txt").display().to_string(),
    ] {
        let answer = client.call(13, "read_text_file", json!({ "path": sneaky }));
        assert!(
            text(&answer).contains("must stay inside the workspace"),
            "{sneaky}: {answer}"
        );
    }
    let missing = client.call(14, "read_text_file", json!({}));
    assert!(text(&missing).contains("is missing"), "{missing}");
    client.finish();
}

#[test]
fn the_mcp_inspector_cli_sees_the_filtered_server() {
    let place = place(EVERYTHING);
    // inspector-cli 1.0.3 finds its own package.json through `../package.json` of the
    // working directory (a bug of the package); give it one there.
    let root = place.workspace.parent().unwrap();
    std::fs::write(root.join("package.json"), "{}").unwrap();
    let config = root.join("mcp.json");
    std::fs::write(
        &config,
        json!({"mcpServers": {"guarded": {
            "command": env!("CARGO_BIN_EXE_cordon"),
            "args": ["mcp", bin("mcp-server-everything")],
            "env": {"CORDON_HOME": place.home},
        }}})
        .to_string(),
    )
    .unwrap();
    let inspect = |extra: &[&str]| -> (bool, String) {
        let out = Command::new(bin("mcp-inspector-cli"))
            .args(["--cli", "--config"])
            .arg(&config)
            .args(["--server", "guarded"])
            .args(extra)
            .current_dir(&place.workspace)
            .env("CORDON_HOME", &place.home)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let json_start = stdout.find('{').unwrap_or(0);
        (out.status.success(), stdout[json_start..].to_owned())
    };
    let (ok, listed) = inspect(&["--method", "tools/list"]);
    assert!(ok, "{listed}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["echo", "get-sum"]);

    let (ok, echoed) = inspect(&[
        "--method",
        "tools/call",
        "--tool-name",
        "echo",
        "--tool-arg",
        "message=from the inspector",
    ]);
    assert!(ok, "{echoed}");
    assert!(echoed.contains("Echo: from the inspector"), "{echoed}");

    let (_, hidden) = inspect(&["--method", "tools/call", "--tool-name", "get-env"]);
    assert!(hidden.contains("Tool get-env not found"), "{hidden}");
    assert!(!hidden.contains("PATH"), "no environment leaked: {hidden}");
    let _ = peers();
}
