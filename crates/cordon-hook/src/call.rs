//! One agent tool call, whatever the host called it, and the actions it would take.

use cordon_classify::{
    FileAccess, Finding, ShellContext, classify_file_access, classify_shell, classify_tool_call,
};
use cordon_core::{Action, Effect, Gate};
use serde_json::Value;
use std::path::Path;

/// What the agent asked its host to do, in the host's own words reduced to what cordon
/// judges.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolCall {
    /// A shell command line (Claude's Bash, Cursor's beforeShellExecution, Gemini's
    /// run_shell_command, Codex's Bash).
    Shell { command: String },
    /// A file tool: Read, Write, Edit, Grep, Glob…; `paths` may hold several (MultiEdit
    /// has one, a patch may touch many).
    Files {
        tool: String,
        access: Vec<(FileAccess, String)>,
    },
    /// An MCP tool: `server` is the host's name for the MCP server (`unknown` when the
    /// host does not say), `tool` the tool's own name.
    Mcp {
        server: String,
        tool: String,
        arguments: Value,
    },
    /// Anything else the host hooks (TodoWrite, WebSearch, Task…): nothing to judge
    /// beyond recording that it happened.
    Other { tool: String },
}

impl ToolCall {
    /// The operation name policy and the audit log see.
    pub fn operation(&self) -> String {
        match self {
            ToolCall::Shell { .. } => "shell.exec".to_owned(),
            ToolCall::Files { tool, .. } => format!("file.{}", tool.to_ascii_lowercase()),
            ToolCall::Mcp { .. } => "mcp.tools/call".to_owned(),
            ToolCall::Other { tool } => format!("tool.{tool}"),
        }
    }

    /// The text a human approving this call reads, and that an approval is bound to.
    pub fn detail(&self) -> String {
        match self {
            ToolCall::Shell { command } => command.clone(),
            ToolCall::Files { tool, access } => {
                let paths: Vec<&str> = access.iter().map(|(_, p)| p.as_str()).collect();
                format!("{tool} {}", paths.join(" "))
            }
            ToolCall::Mcp {
                server,
                tool,
                arguments,
            } => format!("{server}.{tool} {arguments}"),
            ToolCall::Other { tool } => tool.clone(),
        }
    }

    /// What the classifier finds in this call.
    pub fn findings(&self, context: &ShellContext, cordon_home: &Path) -> Vec<Finding> {
        match self {
            ToolCall::Shell { command } => classify_shell(command, context).findings,
            ToolCall::Files { access, .. } => {
                let mut findings = Vec::new();
                for (kind, path) in access {
                    findings.extend(classify_file_access(*kind, path, context));
                    if *kind == FileAccess::Write {
                        guard_cordon_home(path, context, cordon_home, &mut findings);
                    }
                }
                findings
            }
            ToolCall::Mcp {
                tool, arguments, ..
            } => classify_tool_call(tool, arguments, context),
            ToolCall::Other { .. } => Vec::new(),
        }
    }

    /// One action per finding, or one read when the classifier found nothing. Reads and
    /// writes keep no host: the network allowlist is the sandbox's and the gateway's to
    /// enforce, and a hook that asked about every `curl` of a docs page would be
    /// switched off. Destroy, exfiltrate and publish keep theirs, so policy can name it.
    pub fn actions(&self, findings: &[Finding]) -> Vec<Action> {
        let operation = self.operation();
        let detail = self.detail();
        let tool = match self {
            ToolCall::Mcp { server, tool, .. } => Some(format!("{server}.{tool}")),
            _ => None,
        };
        let gate = match self {
            ToolCall::Mcp { .. } => Gate::Mcp,
            _ => Gate::Hook,
        };
        let base = |effect: Effect| {
            let mut action = Action::new(gate, operation.as_str(), effect).with_detail(&detail);
            action.tool.clone_from(&tool);
            action
        };
        if findings.is_empty() {
            return vec![base(Effect::Read)];
        }
        findings
            .iter()
            .map(|finding| {
                let mut action = base(finding.effect);
                action.path.clone_from(&finding.path);
                if !matches!(finding.effect, Effect::Read | Effect::Write) {
                    action.host.clone_from(&finding.host);
                }
                action.target.clone_from(&finding.target);
                action
            })
            .collect()
    }
}

/// Approvals and the audit log live in cordon's home; an agent writing there could
/// approve its own requests or rewrite history.
fn guard_cordon_home(
    path: &str,
    context: &ShellContext,
    cordon_home: &Path,
    findings: &mut Vec<Finding>,
) {
    let absolute = if Path::new(path).is_absolute() {
        Path::new(path).to_path_buf()
    } else {
        context.cwd.join(path)
    };
    if absolute.starts_with(cordon_home) {
        findings.push(Finding {
            effect: Effect::Unknown,
            command: String::new(),
            reason: format!(
                "writes {}, inside cordon's own state (approvals and audit log); an agent must not rewrite its own controls",
                absolute.display()
            ),
            path: Some(absolute.display().to_string()),
            host: None,
            target: None,
        });
    }
}

/// Splits a host's `mcp__server__tool` name; `None` for anything else.
pub fn mcp_name(name: &str) -> Option<(String, String)> {
    let rest = name.strip_prefix("mcp__")?;
    let (server, tool) = rest.split_once("__")?;
    if server.is_empty() || tool.is_empty() {
        return None;
    }
    Some((server.to_owned(), tool.to_owned()))
}

/// The files an `apply_patch` envelope (Codex) touches.
pub fn patch_paths(patch: &str) -> Vec<(FileAccess, String)> {
    let mut paths = Vec::new();
    for line in patch.lines() {
        let line = line.trim_start();
        for marker in [
            "*** Add File: ",
            "*** Update File: ",
            "*** Delete File: ",
            "*** Move to: ",
        ] {
            if let Some(path) = line.strip_prefix(marker) {
                paths.push((FileAccess::Write, path.trim().to_owned()));
            }
        }
    }
    paths
}
