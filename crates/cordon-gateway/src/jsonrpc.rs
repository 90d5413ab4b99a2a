//! MCP over HTTP (JSON-RPC 2.0 in a `POST` body), read as the MCP gate reads it.
//!
//! An agent that reaches an MCP server's Streamable HTTP endpoint through the gateway,
//! rather than through `cordon mcp`, still gets `[tools] allow` and the classifier: a
//! `tools/call` is the action `mcp.tool.HOST.TOOL` with `tool = "HOST.TOOL"` (the
//! server is named by its host), its effect from the tool's name and arguments, so a
//! tool not declared is refused like an unknown one and a destructive one needs a
//! human. Other methods are reads of the server (`mcp.initialize`, `mcp.tools/list`);
//! the listing itself is not filtered here (`cordon mcp --upstream` does that).

use cordon_classify::{ShellContext, classify_tool_call, danger};
use cordon_core::{Action, Effect};
use serde_json::Value;

/// The actions of a JSON-RPC request body, when it is one; `None` otherwise. A body
/// that claims JSON-RPC but holds a `tools/call` without a tool name reads as one
/// unknown call, which policy refuses or asks about.
pub(crate) fn read_jsonrpc(
    host: &str,
    body: &[u8],
    base: &dyn Fn(String, Effect) -> Action,
) -> Option<Vec<Action>> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let messages: Vec<&Value> = match &value {
        Value::Array(items) if !items.is_empty() => items.iter().collect(),
        Value::Object(_) => vec![&value],
        _ => return None,
    };
    if !messages
        .iter()
        .all(|m| m.get("jsonrpc").and_then(Value::as_str) == Some("2.0"))
    {
        return None;
    }
    // Other JSON-RPC APIs (an Ethereum node, a language server) are plain POSTs to
    // policy, as they were: only a body that speaks MCP is read as MCP.
    if !messages.iter().any(|m| {
        m.get("method")
            .and_then(Value::as_str)
            .is_some_and(is_mcp_method)
    }) {
        return None;
    }
    Some(
        messages
            .into_iter()
            .map(|message| read_message(host, message, base))
            .collect(),
    )
}

fn read_message(host: &str, message: &Value, base: &dyn Fn(String, Effect) -> Action) -> Action {
    let method = message.get("method").and_then(Value::as_str);
    match method {
        Some("tools/call") => {
            let params = message.get("params");
            let name = params.and_then(|p| p.get("name")).and_then(Value::as_str);
            let arguments = params
                .and_then(|p| p.get("arguments"))
                .cloned()
                .unwrap_or(Value::Object(serde_json::Map::new()));
            let Some(name) = name else {
                return base("mcp.tools/call".to_owned(), Effect::Unknown)
                    .with_detail(format!("tools/call on {host} names no tool"));
            };
            // The server's paths are not this machine's: every path argument reads
            // as outside the workspace, the more guarded reading.
            let elsewhere = ShellContext {
                cwd: "/".into(),
                workspace: "/nonexistent/remote-mcp-server".into(),
                home: "/nonexistent/remote-mcp-server".into(),
            };
            let findings = classify_tool_call(name, &arguments, &elsewhere);
            let effect = findings
                .iter()
                .map(|f| f.effect)
                .max_by_key(|e| danger(*e))
                .unwrap_or(Effect::Read);
            let tool = format!("{host}.{name}");
            base(format!("mcp.tool.{tool}"), effect)
                .with_tool(tool.clone())
                .with_detail(format!("{tool} {arguments}"))
        }
        Some(method) if is_mcp_method(method) => base(format!("mcp.{method}"), Effect::Read)
            .with_detail(format!("MCP {method} on {host}")),
        // A method MCP does not have, batched with ones it does: what the plain
        // reading of the POST would have said.
        Some(method) => base("http.POST".to_owned(), Effect::Write)
            .with_detail(format!("JSON-RPC {method} on {host}")),
        // A response or an error sent by the client (to a server's request): no action
        // of its own.
        None => base("mcp.response".to_owned(), Effect::Read)
            .with_detail(format!("an MCP response sent to {host}")),
    }
}

/// The methods of the Model Context Protocol other than `tools/call` (judged on its
/// own): lifecycle, listings and reads, notifications and the server's requests the
/// client answers. None of them changes anything on the server.
fn is_mcp_method(method: &str) -> bool {
    matches!(
        method,
        "initialize" | "ping" | "tools/call" | "server/discover" | "completion/complete"
    ) || [
        "tools/",
        "resources/",
        "prompts/",
        "notifications/",
        "logging/",
        "sampling/",
        "elicitation/",
        "roots/",
    ]
    .iter()
    .any(|prefix| method.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cordon_core::Gate;

    fn base(operation: String, effect: Effect) -> Action {
        Action::new(Gate::Http, operation, effect)
    }

    #[test]
    fn a_tool_call_is_named_by_host_and_tool_and_judged_by_the_classifier() {
        let body = br#"[
            {"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_issue","arguments":{"id":3}}},
            {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_repository","arguments":{"repo":"acme/app"}}},
            {"jsonrpc":"2.0","id":3,"method":"tools/list"},
            {"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"arguments":{}}}
        ]"#;
        let actions = read_jsonrpc("mcp.acme.test", body, &base).unwrap();
        let seen: Vec<(&str, Effect, Option<&str>)> = actions
            .iter()
            .map(|a| (a.operation.as_str(), a.effect, a.tool.as_deref()))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "mcp.tool.mcp.acme.test.get_issue",
                    Effect::Read,
                    Some("mcp.acme.test.get_issue")
                ),
                (
                    "mcp.tool.mcp.acme.test.delete_repository",
                    Effect::Destroy,
                    Some("mcp.acme.test.delete_repository")
                ),
                ("mcp.tools/list", Effect::Read, None),
                ("mcp.tools/call", Effect::Unknown, None),
            ]
        );
    }

    #[test]
    fn other_json_rpc_apis_stay_plain_posts() {
        assert!(
            read_jsonrpc(
                "eth.test",
                br#"{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x00"]}"#,
                &base
            )
            .is_none()
        );
        // Batched with MCP, a foreign method reads as the POST it is: a write.
        let actions = read_jsonrpc(
            "h",
            br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"eth_sendRawTransaction"}]"#,
            &base,
        )
        .unwrap();
        assert_eq!(actions[1].operation, "http.POST");
        assert_eq!(actions[1].effect, Effect::Write);
    }

    #[test]
    fn what_is_not_json_rpc_is_left_to_the_other_readings() {
        for body in [
            &br#"{"query":"{ me { id } }"}"#[..],
            br#"{"jsonrpc":"1.0","method":"tools/call"}"#,
            br#"[]"#,
            b"not json",
        ] {
            assert!(read_jsonrpc("h", body, &base).is_none());
        }
    }
}
