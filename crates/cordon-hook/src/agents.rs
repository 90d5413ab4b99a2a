//! Each host's pre-tool hook protocol: what arrives on stdin, what must go out.
//!
//! Host quirks decide the answer's shape. All four hosts run the tool when a hook
//! crashes or prints something they do not understand, so a failure inside cordon is
//! answered with an explicit deny in the host's own format, never with silence. Hosts
//! that cannot ask a human (Gemini, Codex, Cursor's file reads, Claude outside its
//! interactive permission modes) get `deny` carrying the approval instructions instead.

use crate::call::{ToolCall, mcp_name, patch_paths};
use crate::judge::Judgement;
use cordon_classify::FileAccess;
use cordon_core::Decision;
use serde_json::{Map, Value, json};
use std::path::PathBuf;
use thiserror::Error;

/// The agents whose pre-tool hooks cordon speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {
    Claude,
    Cursor,
    Gemini,
    Codex,
}

impl Agent {
    pub fn name(self) -> &'static str {
        match self {
            Agent::Claude => "Claude Code",
            Agent::Cursor => "Cursor",
            Agent::Gemini => "Gemini CLI",
            Agent::Codex => "Codex",
        }
    }
}

#[derive(Debug, Error)]
pub enum HookError {
    #[error("the hook input is not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("the hook input is not a JSON object")]
    NotObject,
    #[error("the hook input has no `{0}` field")]
    Missing(&'static str),
    #[error("the hook input's `{field}` is {found}, expected {expected}")]
    WrongType {
        field: &'static str,
        found: &'static str,
        expected: &'static str,
    },
}

/// A tool call as the host described it.
#[derive(Debug, Clone, PartialEq)]
pub struct HookRequest {
    pub call: ToolCall,
    /// Where the host says the tool runs.
    pub cwd: Option<PathBuf>,
    /// Whether this host, in this mode, can put a question to a human.
    pub can_ask: bool,
}

/// What the hook process writes and how it exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookResponse {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: u8,
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn string<'a>(object: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, HookError> {
    match object.get(field) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(HookError::WrongType {
            field,
            found: kind(other),
            expected: "a string",
        }),
        None => Err(HookError::Missing(field)),
    }
}

fn optional_string<'a>(object: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    object.get(field).and_then(Value::as_str)
}

/// `tool_input`: an object, or (Cursor's MCP calls) a string holding one.
fn tool_input(object: &Map<String, Value>) -> Result<Value, HookError> {
    match object.get("tool_input") {
        None | Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(Value::String(text)) => {
            Ok(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone())))
        }
        Some(value) => Ok(value.clone()),
    }
}

/// Parses the host's stdin.
pub fn parse(agent: Agent, input: &[u8]) -> Result<HookRequest, HookError> {
    let value: Value = serde_json::from_slice(input)?;
    let Value::Object(object) = value else {
        return Err(HookError::NotObject);
    };
    let cwd = optional_string(&object, "cwd").map(PathBuf::from);
    match agent {
        Agent::Claude | Agent::Codex => {
            let name = string(&object, "tool_name")?;
            let input = tool_input(&object)?;
            let mode = optional_string(&object, "permission_mode").unwrap_or("default");
            let can_ask =
                agent == Agent::Claude && matches!(mode, "default" | "acceptEdits" | "plan");
            Ok(HookRequest {
                call: claude_call(name, &input)?,
                cwd,
                can_ask,
            })
        }
        Agent::Gemini => {
            let name = string(&object, "tool_name")?;
            let input = tool_input(&object)?;
            Ok(HookRequest {
                call: gemini_call(name, &input)?,
                cwd,
                can_ask: false,
            })
        }
        Agent::Cursor => {
            let event = string(&object, "hook_event_name")?;
            let cwd = cwd.or_else(|| {
                object
                    .get("workspace_roots")
                    .and_then(Value::as_array)
                    .and_then(|roots| roots.first())
                    .and_then(Value::as_str)
                    .map(PathBuf::from)
            });
            let (call, can_ask) = match event {
                "beforeShellExecution" => (
                    ToolCall::Shell {
                        command: string(&object, "command")?.to_owned(),
                    },
                    true,
                ),
                "beforeMCPExecution" => (
                    ToolCall::Mcp {
                        server: "unknown".to_owned(),
                        tool: string(&object, "tool_name")?.to_owned(),
                        arguments: tool_input(&object)?,
                    },
                    true,
                ),
                "beforeReadFile" => (
                    ToolCall::Files {
                        tool: "Read".to_owned(),
                        access: vec![(FileAccess::Read, string(&object, "file_path")?.to_owned())],
                    },
                    false,
                ),
                other => (
                    ToolCall::Other {
                        tool: other.to_owned(),
                    },
                    false,
                ),
            };
            Ok(HookRequest { call, cwd, can_ask })
        }
    }
}

fn input_string(input: &Value, field: &'static str) -> Result<String, HookError> {
    match input.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(HookError::WrongType {
            field,
            found: kind(other),
            expected: "a string",
        }),
        None => Err(HookError::Missing(field)),
    }
}

fn files(tool: &str, access: FileAccess, path: String) -> ToolCall {
    ToolCall::Files {
        tool: tool.to_owned(),
        access: vec![(access, path)],
    }
}

/// Claude Code's (and Codex's) tool names and inputs.
fn claude_call(name: &str, input: &Value) -> Result<ToolCall, HookError> {
    if let Some((server, tool)) = mcp_name(name) {
        return Ok(ToolCall::Mcp {
            server,
            tool,
            arguments: input.clone(),
        });
    }
    Ok(match name {
        "Bash" | "shell" | "local_shell" | "exec_command" => ToolCall::Shell {
            command: shell_command(input)?,
        },
        "apply_patch" => ToolCall::Files {
            tool: name.to_owned(),
            access: patch_paths(&input_string(input, "command").or_else(|_| {
                input_string(input, "patch").or_else(|_| input_string(input, "input"))
            })?),
        },
        "Read" | "NotebookRead" => files(name, FileAccess::Read, file_path(input)?),
        "Write" | "Edit" | "MultiEdit" => files(name, FileAccess::Write, file_path(input)?),
        "NotebookEdit" => files(
            name,
            FileAccess::Write,
            input_string(input, "notebook_path")?,
        ),
        "Grep" => search(name, input, FileAccess::Read),
        "Glob" | "LS" => search(name, input, FileAccess::List),
        other => ToolCall::Other {
            tool: other.to_owned(),
        },
    })
}

/// Codex sends its shell command as a string or as an argv array.
fn shell_command(input: &Value) -> Result<String, HookError> {
    match input.get("command") {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(argv)) => {
            let words: Vec<String> = argv
                .iter()
                .map(|w| w.as_str().map(shell_quote).unwrap_or_default())
                .collect();
            Ok(words.join(" "))
        }
        Some(other) => Err(HookError::WrongType {
            field: "command",
            found: kind(other),
            expected: "a string",
        }),
        None => Err(HookError::Missing("command")),
    }
}

/// Quotes one argv word so the classifier reads the argv exactly.
fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn file_path(input: &Value) -> Result<String, HookError> {
    input_string(input, "file_path")
}

/// Grep/Glob: the directory searched (default: where the agent is). Grep's `glob`
/// filter can aim it at secret files inside the workspace.
fn search(name: &str, input: &Value, access: FileAccess) -> ToolCall {
    let mut paths = Vec::new();
    let base = input.get("path").and_then(Value::as_str).unwrap_or(".");
    paths.push((access, base.to_owned()));
    if access == FileAccess::Read {
        for field in ["glob", "pattern_glob", "include"] {
            if let Some(glob) = input.get(field).and_then(Value::as_str) {
                paths.push((access, format!("{}/{glob}", base.trim_end_matches('/'))));
            }
        }
    }
    ToolCall::Files {
        tool: name.to_owned(),
        access: paths,
    }
}

/// Gemini CLI's tool names and inputs.
fn gemini_call(name: &str, input: &Value) -> Result<ToolCall, HookError> {
    if let Some((server, tool)) = mcp_name(name) {
        return Ok(ToolCall::Mcp {
            server,
            tool,
            arguments: input.clone(),
        });
    }
    let path = |fields: &[&'static str]| -> Result<String, HookError> {
        for field in fields {
            if let Some(Value::String(s)) = input.get(*field) {
                return Ok(s.clone());
            }
        }
        Err(HookError::Missing(
            fields.first().copied().unwrap_or("path"),
        ))
    };
    Ok(match name {
        "run_shell_command" => ToolCall::Shell {
            command: input_string(input, "command")?,
        },
        "write_file" | "replace" | "edit" => files(
            name,
            FileAccess::Write,
            path(&["file_path", "absolute_path", "path"])?,
        ),
        "read_file" => files(
            name,
            FileAccess::Read,
            path(&["absolute_path", "file_path", "path"])?,
        ),
        "read_many_files" => {
            let mut access = Vec::new();
            for field in ["paths", "include"] {
                if let Some(Value::Array(items)) = input.get(field) {
                    access.extend(
                        items
                            .iter()
                            .filter_map(Value::as_str)
                            .map(|p| (FileAccess::Read, p.to_owned())),
                    );
                }
            }
            ToolCall::Files {
                tool: name.to_owned(),
                access,
            }
        }
        "search_file_content" | "grep" | "grep_search" => search(name, input, FileAccess::Read),
        "glob" | "list_directory" => search(name, input, FileAccess::List),
        other => ToolCall::Other {
            tool: other.to_owned(),
        },
    })
}

/// The words the agent reads back: what happened and what to do instead.
fn agent_message(judgement: &Judgement, can_ask: bool) -> String {
    let mut text = match judgement.decision {
        Decision::Deny => "cordon denied this".to_owned(),
        Decision::Confirm if can_ask => "cordon needs a human to approve this".to_owned(),
        Decision::Confirm => {
            "cordon needs a human to approve this, and this host cannot ask here, so it is denied for now"
                .to_owned()
        }
        Decision::Allow => "cordon allowed this".to_owned(),
    };
    if let Some(target) = &judgement.target {
        text.push_str(&format!(" ({} {target})", judgement.effect));
    }
    text.push_str(": ");
    text.push_str(&judgement.reasons.join("; "));
    if judgement.decision == Decision::Confirm && !can_ask {
        if let Some(id) = &judgement.approval_id
            && !judgement.reasons.iter().any(|r| r.contains(id.as_str()))
        {
            text.push_str(&format!(
                "; ask your user to approve it with `cordon approve {id}`, then retry the identical call"
            ));
        }
    } else if judgement.decision == Decision::Deny && judgement.approval_id.is_none() {
        text.push_str(
            "; do not try another way around it: tell your user what you wanted to do and why",
        );
    }
    text
}

/// The host's answer for a judgement.
pub fn render(agent: Agent, judgement: &Judgement, can_ask: bool) -> HookResponse {
    let approved = judgement.decision == Decision::Allow && judgement.approval_id.is_some();
    // Harmless calls get no opinion: the host's own permission rules still apply.
    if judgement.decision == Decision::Allow && !approved {
        let stdout = match agent {
            Agent::Cursor => "{}\n".to_owned(),
            Agent::Claude | Agent::Gemini | Agent::Codex => String::new(),
        };
        return ok(stdout);
    }
    let ask = judgement.decision == Decision::Confirm && can_ask;
    let message = agent_message(judgement, can_ask);
    let decision = if approved {
        "allow"
    } else if ask {
        "ask"
    } else {
        "deny"
    };
    let output = match agent {
        Agent::Claude => json!({
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": decision,
                "permissionDecisionReason": message,
            }
        }),
        // Codex accepts only deny; anything else makes the hook fail and the tool run.
        Agent::Codex if approved => return ok(String::new()),
        Agent::Codex => json!({
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": message,
            }
        }),
        Agent::Cursor => json!({
            "permission": decision,
            "user_message": message,
            "agent_message": message,
        }),
        Agent::Gemini if approved => return ok(String::new()),
        Agent::Gemini => json!({
            "decision": "deny",
            "reason": message,
        }),
    };
    ok(format!("{output}\n"))
}

fn ok(stdout: String) -> HookResponse {
    HookResponse {
        stdout,
        stderr: String::new(),
        exit_code: 0,
    }
}

/// The answer when cordon could not judge at all (unreadable input, no manifest, a
/// store it cannot open): deny, in the host's format, with the reason on stderr too.
pub fn render_failure(agent: Agent, reason: &str) -> HookResponse {
    let message = format!("cordon could not decide ({reason}); denied because cordon fails closed");
    let output = match agent {
        Agent::Claude | Agent::Codex => json!({
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": message,
            }
        }),
        Agent::Cursor => json!({
            "permission": "deny",
            "user_message": message,
            "agent_message": message,
        }),
        Agent::Gemini => json!({ "decision": "deny", "reason": message }),
    };
    HookResponse {
        stdout: format!("{output}\n"),
        stderr: format!("{message}\n"),
        exit_code: 0,
    }
}
