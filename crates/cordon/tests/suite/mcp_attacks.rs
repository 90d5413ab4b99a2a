//! `cordon mcp` against a hostile server (tests/mcp/liar.js) and a hostile client:
//! lying annotations, tools slipped in through list_changed, look-alike names, id
//! collisions, batches, oversized and malformed messages, servers that hang or die.

use super::common::cordon;
use super::gateway::pending_id;
use super::mcp_client::{Client, liar, place, text};
use serde_json::{Value, json};
use std::path::Path;

const LIAR: &str = r#"
[task]
name = "mcp-liar"

[tools]
allow = [
  "liar.delete_volume", "liar.read_notes", "liar.add_tool", "liar.slow", "liar.hang",
  "liar.crash", "liar.run_query", "liar.get_status",
]

[tools.args."liar.run_query"]
sql = { classify = "sql" }
"#;

fn start(place: &super::mcp_client::Place, args: &[&str], env: &[(&str, &str)]) -> Client {
    Client::start(&place.home, &place.workspace, &[], args, &liar(), env)
}

/// How often the liar saw each tool called.
fn calls(client: &mut Client, id: i64) -> Value {
    let answer = client.call(id, "get_status", json!({}));
    serde_json::from_str(&text(&answer)).unwrap()
}

fn approval_id(answer: &Value) -> String {
    answer["result"]["_meta"]["dev.cordon/verdict"]["approval_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn read_only_hint_on_delete_does_not_help_and_one_approval_lets_exactly_one_call_through() {
    let place = place(LIAR);
    let mut client = start(&place, &[], &[]);
    client.initialize("2025-11-25");
    client.tool_names(1);

    let args = json!({"id": "vol_prod_7f3"});
    let asked = client.call(10, "delete_volume", args.clone());
    assert_eq!(asked["result"]["isError"], true, "{asked}");
    let id = approval_id(&asked);
    assert!(id.starts_with("ap_"), "{asked}");
    let said = text(&asked);
    assert!(said.starts_with("confirmation_required"), "{said}");
    assert!(said.contains(&format!("cordon approve {id}")), "{said}");
    assert_eq!(
        calls(&mut client, 11).get("delete_volume"),
        None,
        "never reached the server"
    );

    let approved = std::process::Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(["approve", &id, "--as", "alice"])
        .env("CORDON_HOME", &place.home)
        .output()
        .unwrap();
    assert!(approved.status.success(), "{approved:?}");

    // The retry carries a new request id; the approval is for the call, not the id.
    let through = client.call(12, "delete_volume", args.clone());
    assert_eq!(
        text(&through),
        "delete_volume called 1 times with {\"id\":\"vol_prod_7f3\"}"
    );
    let again = client.call(13, "delete_volume", args);
    assert!(text(&again).starts_with("confirmation_required"), "{again}");
    assert_ne!(approval_id(&again), id, "single use");
    assert_eq!(calls(&mut client, 14)["delete_volume"], 1);

    // destructiveHint is believed: it only makes a call more guarded.
    let notes = client.call(15, "read_notes", json!({}));
    assert!(text(&notes).starts_with("confirmation_required"), "{notes}");
    client.finish();
}

#[test]
fn in_hold_mode_a_destructive_call_waits_for_a_human_while_the_session_goes_on() {
    let place = place(&format!("{LIAR}\n[approval]\nmode = \"hold\"\n"));
    let mut client = start(&place, &[], &[]);
    client.initialize("2025-11-25");
    client.tool_names(1);

    let args = json!({"id": "vol_prod_7f3"});
    client.send(&json!({"jsonrpc": "2.0", "id": 10, "method": "tools/call",
        "params": {"name": "delete_volume", "arguments": args}}));
    let id = pending_id(&place.home);
    // The held call has no answer yet, and other calls are served meanwhile.
    assert_eq!(calls(&mut client, 11).get("delete_volume"), None);
    assert!(
        client.seen.iter().all(|m| m["id"] != 10),
        "{:?}",
        client.seen
    );

    let approved = cordon(
        &place.home,
        Path::new("/"),
        &["approve", &id, "--as", "alice"],
        None,
    );
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    let through = client.answer(&json!(10));
    assert_eq!(
        text(&through),
        "delete_volume called 1 times with {\"id\":\"vol_prod_7f3\"}"
    );

    // Held again on a new approval; a human's refusal is the tool error, with the
    // reason, and the server never sees the call.
    client.send(&json!({"jsonrpc": "2.0", "id": 12, "method": "tools/call",
        "params": {"name": "delete_volume", "arguments": args}}));
    let second = pending_id(&place.home);
    assert_ne!(second, id);
    let denied = cordon(
        &place.home,
        Path::new("/"),
        &["deny", &second, "--reason", "one deletion was enough"],
        None,
    );
    assert_eq!(denied.code, 0, "{}", denied.stderr);
    let refused = client.answer(&json!(12));
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    assert!(
        text(&refused).contains("one deletion was enough"),
        "{refused}"
    );
    assert_eq!(calls(&mut client, 13)["delete_volume"], 1);
    client.finish();
}

#[test]
fn a_tool_added_through_list_changed_stays_hidden_and_every_page_is_filtered() {
    let place = place(
        r#"
[task]
name = "mcp-pages"

[tools]
allow = ["liar.delete_volume", "liar.add_tool", "liar.run_query", "liar.get_status"]
"#,
    );
    let mut client = start(&place, &[], &[]);
    client.initialize("2025-11-25");
    let first = client.request(1, "tools/list", json!({}));
    let page: Vec<&str> = first["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        page,
        ["delete_volume", "add_tool"],
        "read_notes hidden on page 1"
    );
    assert_eq!(first["result"]["nextCursor"], "page-2");
    assert_eq!(
        client.tool_names(2),
        ["delete_volume", "add_tool", "run_query", "get_status"]
    );

    client.call(10, "add_tool", json!({}));
    let changed = client.request(11, "ping", json!({}));
    assert!(changed.get("result").is_some());
    assert!(
        client
            .seen
            .iter()
            .any(|m| m["method"] == "notifications/tools/list_changed"),
        "the notification is passed on: {:?}",
        client.seen
    );
    let names = client.tool_names(12);
    assert!(!names.contains(&"secret_tool".to_owned()), "{names:?}");
    let secret = client.call(20, "secret_tool", json!({}));
    assert_eq!(
        text(&secret),
        "MCP error -32602: Tool secret_tool not found"
    );
    assert_eq!(calls(&mut client, 21).get("secret_tool"), None);
    client.finish();
}

#[test]
fn look_alike_tool_names_are_unknown_and_never_reach_the_server() {
    let place = place(LIAR);
    let mut client = start(&place, &[], &[]);
    client.initialize("2025-11-25");
    for (id, name) in [
        (10, "DELETE_VOLUME"),
        (11, "delete_volume\u{200b}"),
        (12, "dеlete_volume"), // Cyrillic е
        (13, "delete_volume "),
        (14, "../delete_volume"),
        (15, "liar.delete_volume"),
    ] {
        let answer = client.call(id, name, json!({"id": "v"}));
        assert_eq!(
            text(&answer),
            format!("MCP error -32602: Tool {name} not found"),
            "{name:?}: {answer}"
        );
    }
    let seen = calls(&mut client, 20);
    assert_eq!(
        seen.as_object().unwrap().len(),
        1,
        "only get_status: {seen}"
    );
    client.finish();
}

#[test]
fn sql_arguments_are_read_by_the_sql_classifier() {
    let place = place(LIAR);
    let mut client = start(&place, &[], &[]);
    client.initialize("2025-11-25");
    let select = client.call(10, "run_query", json!({"sql": "SELECT id FROM users"}));
    assert!(
        text(&select).starts_with("run_query called 1 times"),
        "{select}"
    );
    let drop = client.call(11, "run_query", json!({"sql": "DROP TABLE users"}));
    assert!(text(&drop).starts_with("confirmation_required"), "{drop}");
    let hidden = client.call(
        12,
        "run_query",
        json!({"sql": "SELECT 1; DELETE FROM users"}),
    );
    assert!(
        text(&hidden).starts_with("confirmation_required"),
        "{hidden}"
    );
    assert_eq!(calls(&mut client, 13)["run_query"], 1);
    client.finish();
}

#[test]
fn ids_are_the_proxys_own_so_a_reused_id_cannot_confuse_answers() {
    let place = place(LIAR);
    let mut client = start(&place, &[], &[]);
    client.initialize("2025-11-25");
    client.send(
        &json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "slow"}}),
    );
    client.send(&json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list"}));
    let refused = client.next();
    assert_eq!(refused["id"], 7);
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already in use")
    );
    let slow = client.answer(&json!(7));
    assert!(text(&slow).starts_with("slow called 1 times"), "{slow}");

    let pong = client.request(8, "ping", json!({}));
    assert_eq!(pong["id"], 8);
    assert!(pong["result"]["seenId"].is_number(), "{pong}");
    let texty = client.request(9, "ping", json!({}));
    assert_ne!(texty["result"]["seenId"], pong["result"]["seenId"]);
    // The same id again, once its request is answered, is fine.
    let reused = client.request(7, "ping", json!({}));
    assert!(reused.get("result").is_some(), "{reused}");
    client.finish();
}

#[test]
fn batches_malformed_and_oversized_messages_get_errors_and_the_session_goes_on() {
    let place = place(LIAR);
    let mut client = start(&place, &["--max-message", "300"], &[]);
    client.initialize("2025-11-25");
    client.send_raw(r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_volume","arguments":{"id":"v"}}}]"#);
    let batch = client.next();
    assert_eq!(
        (batch["id"].clone(), batch["error"]["code"].clone()),
        (Value::Null, json!(-32600))
    );
    client.send_raw("{\"jsonrpc\":\"2.0\",\"id\":2,");
    assert_eq!(client.next()["error"]["code"], -32700);
    client.send_raw(&format!(
        r#"{{"jsonrpc":"2.0","id":3,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(1000)
    ));
    let big = client.next();
    assert_eq!(big["error"]["code"], -32600);
    assert!(
        big["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--max-message"),
        "{big}"
    );
    client.send_raw(r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#);
    assert_eq!(client.next()["error"]["code"], -32600);
    assert_eq!(calls(&mut client, 5).get("delete_volume"), None);
    let (code, stderr) = client.finish();
    assert_eq!(code, 0);
    assert!(
        stderr.contains("refused from the client: JSON-RPC batches"),
        "{stderr}"
    );
}

#[test]
fn a_hanging_server_times_out_and_a_dying_one_fails_what_waits() {
    let place = place(LIAR);
    let mut client = start(&place, &["--request-timeout", "1"], &[]);
    client.initialize("2025-11-25");
    let started = std::time::Instant::now();
    let hung = client.call(10, "hang", json!({}));
    assert_eq!(hung["error"]["code"], -32001, "{hung}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(
        client
            .request(11, "ping", json!({}))
            .get("result")
            .is_some()
    );

    let crashed = client.call(12, "crash", json!({}));
    assert_eq!(crashed["error"]["code"], -32000, "{crashed}");
    let (code, stderr) = client.wait_exit();
    assert_ne!(code, 0);
    assert!(stderr.contains("closed its output"), "{stderr}");
    assert!(
        stderr.contains("did not answer `tools/call` within 1s"),
        "{stderr}"
    );
}

#[test]
fn protocol_versions_outside_both_eras_are_refused_clearly() {
    let place = place(LIAR);
    let mut old = start(&place, &[], &[("LIAR_VERSION", "2024-11-05")]);
    let refused = old.initialize("2025-11-25");
    assert_eq!(
        refused["error"]["message"], "Unsupported protocol version",
        "{refused}"
    );
    assert!(
        refused["error"]["data"]["supported"]
            .to_string()
            .contains("2025-06-18")
    );
    drop(old);

    let mut client = start(&place, &[], &[]);
    // A client asking for a revision without a handshake is offered the latest one.
    let offered = client.initialize("2026-07-28");
    assert_eq!(
        offered["result"]["protocolVersion"], "2025-11-25",
        "{offered}"
    );
    let stateless = client.request(
        1,
        "tools/list",
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                         "io.modelcontextprotocol/clientCapabilities": {}}}),
    );
    assert!(stateless["result"]["tools"].is_array(), "{stateless}");
    let future = client.request(
        2,
        "tools/list",
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2099-01-01"}}),
    );
    assert_eq!(future["error"]["code"], -32602, "{future}");
    let (code, stderr) = client.finish();
    assert_eq!(code, 0);
    assert!(stderr.contains("proposed 2025-11-25"), "{stderr}");
}
