use super::*;
use crate::judge::PolicyOnly;
use cordon_core::manifest::{LoadedManifest, Manifest};

fn judge() -> Arc<dyn crate::Judge> {
    let text = "[task]\nname = \"t\"\n[tools]\nallow = [\"s.echo\", \"s.delete_*\"]\n";
    Arc::new(
        PolicyOnly::new(LoadedManifest {
            manifest: Manifest::parse(text, "cordon.toml").unwrap(),
            path: None,
            base_dir: std::env::temp_dir(),
            extra_policies: Vec::new(),
        })
        .unwrap(),
    )
}

fn options() -> Options {
    Options {
        server: "s".into(),
        unknown_tool: UnknownTool::JsonRpc,
        max_message: 1 << 20,
        request_timeout: Duration::from_secs(5),
        session_id: "test".into(),
    }
}

fn line(value: Value) -> Frame {
    Frame::Line(value.to_string().into_bytes())
}

#[test]
fn an_answer_to_a_request_nobody_made_is_dropped() {
    let judge = judge();
    let mut session = Session::new(judge, options());
    let out = session.from_server(line(
        json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": [{"name": "secret"}]}}),
    ));
    assert!(matches!(out.as_slice(), [Out::Note(_)]), "{out:?}");
}

#[test]
fn a_list_answer_is_filtered_and_carries_the_clients_id() {
    let judge = judge();
    let mut session = Session::new(judge, options());
    let now = Instant::now();
    let out = session.from_client(
        line(json!({"jsonrpc": "2.0", "id": "x", "method": "tools/list"})),
        now,
    );
    let Some(Out::ToServer(sent)) = out.first() else {
        panic!("forwarded: {out:?}");
    };
    let proxy_id = sent["id"].clone();
    let out = session.from_server(line(
        json!({"jsonrpc": "2.0", "id": proxy_id, "result": {"tools": [
            {"name": "echo"}, {"name": "get_env"}, {"name": "delete_all"}
        ]}}),
    ));
    let Some(Out::ToClient(answer)) = out.first() else {
        panic!("answered: {out:?}");
    };
    assert_eq!(answer["id"], "x");
    assert_eq!(
        answer["result"]["tools"],
        json!([{"name": "echo"}, {"name": "delete_all"}])
    );
    assert_eq!(session.pending(), 0);
}

#[test]
fn an_undeclared_call_is_answered_here_and_never_forwarded() {
    let judge = judge();
    let mut session = Session::new(judge, options());
    let out = session.from_client(
        line(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "get_env"}})),
        Instant::now(),
    );
    assert_eq!(
        out,
        vec![Out::ToClient(
            json!({"jsonrpc": "2.0", "id": 3, "error": {"code": -32602, "message": "Unknown tool: get_env"}})
        )]
    );
}

#[test]
fn a_call_sent_without_an_id_is_dropped_not_forwarded_unjudged() {
    // Found by the mcp_session fuzz target: `tools/call` with its id left out parsed
    // as a notification and went to the server without a decision.
    let mut session = Session::new(judge(), options());
    let now = Instant::now();
    for method in ["tools/call", "resources/read", "initialize"] {
        let out = session.from_client(
            line(json!({"jsonrpc": "2.0", "method": method, "params": {"name": "get_env"}})),
            now,
        );
        assert!(
            out.iter().all(|o| !matches!(o, Out::ToServer(_))),
            "{method}: {out:?}"
        );
        assert!(matches!(out.as_slice(), [Out::Note(_)]), "{out:?}");
    }
    // Real notifications still go through.
    let out = session.from_client(
        line(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})),
        now,
    );
    assert!(matches!(out.as_slice(), [Out::ToServer(_)]), "{out:?}");
}
