use cordon_classify::FileAccess;
use cordon_hook::{Agent, HookError, ToolCall, parse};
use serde_json::json;

fn call(agent: Agent, payload: serde_json::Value) -> ToolCall {
    parse(agent, payload.to_string().as_bytes()).unwrap().call
}

#[test]
fn codex_argv_is_quoted_so_the_classifier_reads_the_same_words() {
    let parsed = call(
        Agent::Codex,
        json!({"tool_name": "Bash", "tool_input": {"command": ["bash", "-lc", "rm -rf 'my dir' && echo it's"]}}),
    );
    assert_eq!(
        parsed,
        ToolCall::Shell {
            command: r"bash -lc 'rm -rf '\''my dir'\'' && echo it'\''s'".to_owned()
        }
    );
}

#[test]
fn apply_patch_touches_every_file_it_names() {
    let patch = "*** Begin Patch\n*** Add File: a.rs\n+x\n*** Update File: src/b.rs\n*** Move to: src/c.rs\n*** Delete File: d.rs\n*** End Patch";
    let parsed = call(
        Agent::Codex,
        json!({"tool_name": "apply_patch", "tool_input": {"command": patch}}),
    );
    let ToolCall::Files { access, .. } = parsed else {
        panic!("{parsed:?}")
    };
    let paths: Vec<&str> = access.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(paths, ["a.rs", "src/b.rs", "src/c.rs", "d.rs"]);
    assert!(access.iter().all(|(a, _)| *a == FileAccess::Write));
}

#[test]
fn mcp_names_split_only_when_well_formed() {
    let parsed = call(
        Agent::Claude,
        json!({"tool_name": "mcp__github__delete_repo", "tool_input": {"repo": "a/b"}}),
    );
    assert!(
        matches!(parsed, ToolCall::Mcp { ref server, ref tool, .. } if server == "github" && tool == "delete_repo")
    );
    for name in ["mcp__", "mcp__github__", "mcp____x", "mcp_github_x"] {
        let parsed = call(Agent::Claude, json!({"tool_name": name, "tool_input": {}}));
        assert!(
            matches!(parsed, ToolCall::Other { .. }),
            "{name}: {parsed:?}"
        );
    }
}

#[test]
fn cursor_sends_mcp_input_as_a_string() {
    let parsed = call(
        Agent::Cursor,
        json!({"hook_event_name": "beforeMCPExecution", "tool_name": "run_sql",
               "tool_input": "{\"sql\": \"DROP TABLE t\"}", "workspace_roots": ["/w"]}),
    );
    assert_eq!(
        parsed,
        ToolCall::Mcp {
            server: "unknown".to_owned(),
            tool: "run_sql".to_owned(),
            arguments: json!({"sql": "DROP TABLE t"}),
        }
    );
    let request = parse(
        Agent::Cursor,
        json!({"hook_event_name": "beforeReadFile", "file_path": "/w/.env", "workspace_roots": ["/w"]})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(request.cwd.as_deref(), Some(std::path::Path::new("/w")));
    assert!(!request.can_ask);
}

#[test]
fn grep_globs_are_judged_as_paths_under_the_searched_directory() {
    let parsed = call(
        Agent::Claude,
        json!({"tool_name": "Grep", "tool_input": {"pattern": "x", "path": "/w/", "glob": "*.pem"}}),
    );
    let ToolCall::Files { access, .. } = parsed else {
        panic!()
    };
    assert_eq!(access[1].1, "/w/*.pem");
}

#[test]
fn malformed_input_names_what_is_wrong() {
    let err = |agent, text: &str| parse(agent, text.as_bytes()).unwrap_err().to_string();
    assert!(matches!(
        parse(Agent::Claude, b"{\"tool_name\": 3}"),
        Err(HookError::WrongType {
            field: "tool_name",
            ..
        })
    ));
    assert!(err(Agent::Claude, r#"{"tool_name":"Bash","tool_input":{}}"#).contains("`command`"));
    assert!(
        err(
            Agent::Gemini,
            r#"{"tool_name":"read_file","tool_input":{}}"#
        )
        .contains("absolute_path")
    );
    assert!(err(Agent::Cursor, r#"{"command":"ls"}"#).contains("hook_event_name"));
    assert!(err(Agent::Codex, "[]").contains("not a JSON object"));
}

#[test]
fn claude_can_ask_only_in_interactive_permission_modes() {
    for (mode, expected) in [
        ("default", true),
        ("acceptEdits", true),
        ("plan", true),
        ("bypassPermissions", false),
        ("dontAsk", false),
        ("auto", false),
        ("something-new", false),
    ] {
        let request = parse(
            Agent::Claude,
            json!({"tool_name": "Bash", "tool_input": {"command": "ls"}, "permission_mode": mode})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(request.can_ask, expected, "{mode}");
    }
}
