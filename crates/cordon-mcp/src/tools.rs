//! An MCP tool, listed or called, turned into the actions policy judges. Pure code
//! apart from resolving symlinks of constrained paths.
//!
//! A tool is named `server.tool` for policy (`[tools] allow`), its calls are the
//! operation `mcp.tool.server.tool`, and the effect comes from the name and the
//! arguments (cordon-classify), raised by the server's annotations but never lowered:
//! annotations are hints from an untrusted server, so `readOnlyHint: true` on
//! `delete_volume` changes nothing, while `destructiveHint: true` makes any tool a
//! destroy.

use cordon_classify::{Finding, ShellContext, classify_tool_call, graphql_request_fields};
use cordon_core::manifest::{
    ArgConstraint, Language, LoadedManifest, Manifest, PathArea, absolutize,
};
use cordon_core::{Action, Effect, Gate};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The name policy knows a tool by.
pub fn qualified(server: &str, tool: &str) -> String {
    format!("{server}.{tool}")
}

/// What a tool call would do.
#[derive(Debug)]
pub enum Reading {
    /// One action per thing the call would do, each with the classifier's reason.
    Actions(Vec<(Action, String)>),
    /// An argument breaks a declared constraint: refused before policy is asked.
    Violation { action: Box<Action>, reason: String },
}

/// The action a listing stands for: the tool judged by its name and annotations alone,
/// which is all that is known before it is called.
pub fn listing_action(server: &str, tool: &Value, ctx: &ShellContext) -> Option<Action> {
    let name = tool.get("name")?.as_str()?;
    let annotations = tool.get("annotations");
    let findings = with_annotations(classify_tool_call(name, &json!({}), ctx), name, annotations);
    let effect = strongest(&findings).unwrap_or(Effect::Read);
    Some(call_action(server, name, effect).with_detail(format!("list {}", qualified(server, name))))
}

/// Reads a `tools/call`: constraints first, then the classifier, then annotations.
pub fn read_call(
    manifest: &LoadedManifest,
    server: &str,
    name: &str,
    arguments: &Value,
    annotations: Option<&Value>,
) -> Reading {
    let call = Call {
        server,
        name,
        arguments,
        annotations,
    };
    read_with(
        &manifest.manifest,
        Some(manifest),
        &shell_context(manifest),
        &call,
    )
}

/// Reads a `tools/call` to a server elsewhere (reached over the network, through the
/// gateway): the same constraints and classifier, but its paths are not this
/// machine's, so a path argument reads as outside the workspace and a `within`
/// constraint cannot be shown to hold (it is broken).
pub fn read_remote_call(
    manifest: &Manifest,
    server: &str,
    name: &str,
    arguments: &Value,
) -> Reading {
    let elsewhere = ShellContext {
        cwd: "/".into(),
        workspace: "/nonexistent/remote-mcp-server".into(),
        home: "/nonexistent/remote-mcp-server".into(),
    };
    let call = Call {
        server,
        name,
        arguments,
        annotations: None,
    };
    read_with(manifest, None, &elsewhere, &call)
}

struct Call<'a> {
    server: &'a str,
    name: &'a str,
    arguments: &'a Value,
    annotations: Option<&'a Value>,
}

/// `local`: the task, when the server runs on this machine (paths are checked against
/// its workspace); `None` for a server elsewhere.
fn read_with(
    manifest: &Manifest,
    local: Option<&LoadedManifest>,
    ctx: &ShellContext,
    call: &Call<'_>,
) -> Reading {
    let Call {
        server,
        name,
        arguments,
        annotations,
    } = *call;
    let full = qualified(server, name);
    let detail = format!("{full} {arguments}");
    let mut classified: Option<Vec<Finding>> = None;
    let mut path: Option<String> = None;
    for (glob, constraints) in &manifest.tools.args {
        if !cordon_core::manifest::Glob(glob.clone()).matches(&full) {
            continue;
        }
        for (argument, constraint) in constraints {
            match check(local, ctx, name, arguments.get(argument), constraint) {
                Checked::Fine => {}
                Checked::Path(p) => path = path.or(Some(p)),
                Checked::Classified(findings) => {
                    classified.get_or_insert_with(Vec::new).extend(findings);
                }
                Checked::Broken(why) => {
                    return Reading::Violation {
                        action: Box::new(
                            call_action(server, name, Effect::Unknown).with_detail(detail),
                        ),
                        reason: format!(
                            "argument `{argument}` of tool `{full}` breaks the task's [tools.args.\"{glob}\"] constraint: {why}"
                        ),
                    };
                }
            }
        }
    }
    let mut findings = classify_tool_call(name, arguments, ctx);
    if let Some(classified) = classified {
        // A declared language speaks for the call instead of the tool's name.
        findings.retain(|f| !f.reason.starts_with(&format!("the tool `{name}`")));
        findings.extend(classified);
    }
    let findings = with_annotations(findings, name, annotations);
    let mut actions: Vec<(Action, String)> = findings
        .into_iter()
        .map(|finding| {
            let mut action = call_action(server, name, finding.effect).with_detail(&detail);
            action.path = finding.path.or_else(|| path.clone());
            action.target = finding.target;
            (action, finding.reason)
        })
        .collect();
    if actions.is_empty() {
        let mut action = call_action(server, name, Effect::Read).with_detail(&detail);
        action.path = path;
        actions.push((action, format!("the tool `{name}` reads")));
    }
    Reading::Actions(actions)
}

/// A call of `name` on `server` as policy sees it.
pub fn call_action(server: &str, name: &str, effect: Effect) -> Action {
    let full = qualified(server, name);
    Action::new(Gate::Mcp, format!("mcp.tool.{full}"), effect).with_tool(full)
}

pub fn shell_context(manifest: &LoadedManifest) -> ShellContext {
    let workspace = manifest.workspace();
    ShellContext {
        cwd: workspace.clone(),
        workspace,
        home: std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from),
    }
}

fn strongest(findings: &[Finding]) -> Option<Effect> {
    findings
        .iter()
        .map(|f| f.effect)
        .max_by_key(|e| cordon_classify::danger(*e))
}

/// Annotations only ever add a finding. `destructiveHint: true` is taken at its word;
/// `readOnlyHint` and `idempotentHint` are never believed, and absent hints (whose
/// spec defaults say "destructive") leave the classifier's reading alone.
fn with_annotations(
    mut findings: Vec<Finding>,
    name: &str,
    annotations: Option<&Value>,
) -> Vec<Finding> {
    let destructive = annotations
        .and_then(|a| a.get("destructiveHint"))
        .and_then(Value::as_bool)
        == Some(true);
    if destructive {
        findings.push(Finding {
            effect: Effect::Destroy,
            command: String::new(),
            reason: format!("the server says the tool `{name}` is destructive (destructiveHint)"),
            path: None,
            host: None,
            target: None,
        });
    }
    findings
}

enum Checked {
    Fine,
    /// A path constraint held; the absolute path is the action's.
    Path(String),
    Classified(Vec<Finding>),
    Broken(String),
}

fn check(
    local: Option<&LoadedManifest>,
    ctx: &ShellContext,
    tool: &str,
    value: Option<&Value>,
    constraint: &ArgConstraint,
) -> Checked {
    let Some(value) = value else {
        return Checked::Broken("it is missing, and a constrained argument must be given".into());
    };
    let Some(text) = value.as_str() else {
        return Checked::Broken(format!("it must be a string, not `{value}`"));
    };
    match constraint {
        ArgConstraint::Equals(expected) if text == expected => Checked::Fine,
        ArgConstraint::Equals(expected) => {
            Checked::Broken(format!("it must be `{expected}`, not `{text}`"))
        }
        ArgConstraint::OneOf(allowed) if allowed.iter().any(|a| a == text) => Checked::Fine,
        ArgConstraint::OneOf(allowed) => Checked::Broken(format!(
            "it must be one of {}, not `{text}`",
            allowed
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        ArgConstraint::Matches(glob) if glob.matches(text) => Checked::Fine,
        ArgConstraint::Matches(glob) => {
            Checked::Broken(format!("it must match `{}`, not `{text}`", glob.0))
        }
        ArgConstraint::Within(area) => match local {
            Some(manifest) => within(manifest, *area, text),
            None => Checked::Broken(format!(
                "`{text}` is a path on a server elsewhere, which cordon cannot show to be inside the workspace"
            )),
        },
        ArgConstraint::Classify(language) => {
            Checked::Classified(classify(tool, *language, text, ctx))
        }
    }
}

fn classify(tool: &str, language: Language, text: &str, ctx: &ShellContext) -> Vec<Finding> {
    let finding = |effect: Effect, reason: String| Finding {
        effect,
        command: String::new(),
        reason,
        path: None,
        host: None,
        target: None,
    };
    match language {
        // The classifier reads SQL under `sql` and shell under `command`, whatever the
        // tool called the argument.
        Language::Sql => {
            let mut found = classify_tool_call(tool, &json!({ "sql": text }), ctx);
            found.retain(|f| !f.reason.starts_with(&format!("the tool `{tool}`")));
            if found.is_empty() {
                found.push(finding(
                    Effect::Read,
                    format!("`{tool}` runs SQL that reads"),
                ));
            }
            found
        }
        Language::Shell => {
            let classification = cordon_classify::classify_shell(text, ctx);
            let mut found = classification.findings;
            if found.is_empty() {
                found.push(finding(
                    Effect::Read,
                    format!("`{tool}` runs `{text}`, which reads"),
                ));
            }
            found
        }
        Language::Graphql => {
            let body = json!({ "query": text }).to_string();
            match graphql_request_fields(body.as_bytes()) {
                Ok(fields) => {
                    let mutates = fields
                        .iter()
                        .any(|f| matches!(f.kind, cordon_classify::OperationKind::Mutation));
                    let destroys = fields.iter().any(|f| f.looks_destructive());
                    let effect = if destroys {
                        Effect::Destroy
                    } else if mutates {
                        Effect::Write
                    } else {
                        Effect::Read
                    };
                    vec![finding(
                        effect,
                        format!("`{tool}` sends GraphQL that does {effect}"),
                    )]
                }
                Err(e) => vec![finding(
                    Effect::Unknown,
                    format!("`{tool}` sends GraphQL cordon cannot read ({e})"),
                )],
            }
        }
    }
}

/// A path argument stays inside its area both as written and as the file system
/// resolves it (a symlink inside the workspace pointing out of it is outside).
fn within(manifest: &LoadedManifest, area: PathArea, text: &str) -> Checked {
    let workspace = manifest.workspace();
    let mut roots = vec![workspace.clone()];
    if area == PathArea::Writable {
        roots.extend(
            manifest
                .manifest
                .filesystem
                .write
                .iter()
                .map(|p| manifest.resolve_path(p)),
        );
        roots.extend([PathBuf::from("/tmp"), PathBuf::from("/var/tmp")]);
    }
    let lexical = absolutize(&workspace, text);
    let resolved = resolve_existing(&lexical);
    let inside = |path: &Path| {
        roots
            .iter()
            .any(|root| path.starts_with(root) || path.starts_with(resolve_existing(root)))
    };
    let area_name = match area {
        PathArea::Workspace => "the workspace",
        PathArea::Writable => "the writable set",
    };
    if inside(&lexical) && inside(&resolved) {
        Checked::Path(lexical.display().to_string())
    } else {
        let shown = if resolved == lexical {
            format!("`{}`", lexical.display())
        } else {
            format!("`{}` (really `{}`)", lexical.display(), resolved.display())
        };
        Checked::Broken(format!(
            "it must stay inside {area_name} ({}); {shown} is outside",
            roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// The path with its longest existing prefix resolved through symlinks.
fn resolve_existing(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut current = path.to_path_buf();
    loop {
        if let Ok(real) = current.canonicalize() {
            let mut out = real;
            out.extend(rest.iter().rev());
            return out;
        }
        match (current.file_name().map(ToOwned::to_owned), current.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                current = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::panic,
    clippy::unwrap_used,
    reason = "a failing test fails loudly"
)]
#[path = "tools_tests.rs"]
mod tests;
