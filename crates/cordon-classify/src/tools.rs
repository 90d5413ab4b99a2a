//! Agent tool calls that are not shell commands: file tools (Read, Write, Edit, Grep…)
//! and MCP tools. A hook sees these as structured input, so there is nothing to parse;
//! what matters is which path is touched and what the tool's name and arguments say.

use crate::engine::Engine;
use crate::paths::is_block_device;
use crate::sql::{Flavor, judge_sql};
use crate::{Effect, Finding, ShellContext, classify_shell, secrets};
use serde_json::Value;

/// How an agent's file tool touches a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAccess {
    /// The tool returns the file's content (Read, Grep, NotebookRead).
    Read,
    /// The tool creates or overwrites the file (Write, Edit, MultiEdit, NotebookEdit).
    Write,
    /// The tool lists names only (Glob, LS): names are not secrets.
    List,
}

/// Files whose change would switch off or rewrite cordon's own controls: the agents'
/// hook settings, the capability declaration, git hooks and config that run code on the
/// host. Paths are matched on their last components, so this holds in any checkout.
const CONTROL_FILES: &[(&str, &str)] = &[
    // Shell start-up files run whatever they hold in every new shell of the user's,
    // outside any sandbox, wherever the home directory is.
    (".bashrc", "a file your shell runs at every start"),
    (".bash_profile", "a file your shell runs at every login"),
    (".bash_login", "a file your shell runs at every login"),
    (".profile", "a file your shell runs at every login"),
    (".zshrc", "a file your shell runs at every start"),
    (".zshenv", "a file your shell runs at every start"),
    (".zprofile", "a file your shell runs at every login"),
    (
        ".claude/settings.json",
        "Claude Code's settings, where cordon's hook is installed",
    ),
    (
        ".claude/settings.local.json",
        "Claude Code's settings, where cordon's hook is installed",
    ),
    (
        ".cursor/hooks.json",
        "Cursor's hooks, where cordon's hook is installed",
    ),
    (
        ".gemini/settings.json",
        "Gemini CLI's settings, where cordon's hook is installed",
    ),
    (
        ".codex/hooks.json",
        "Codex's hooks, where cordon's hook is installed",
    ),
    (
        ".codex/config.toml",
        "Codex's configuration, which enables its hooks",
    ),
    ("cordon.toml", "the task's capability declaration"),
    (
        ".git/config",
        "git's configuration, which can make git run programs",
    ),
];

/// Directories whose files run on the host or hold cordon's state.
const CONTROL_DIRS: &[(&str, &str)] = &[
    (".git/hooks", "git hooks, which run on every commit"),
    (".claude/hooks", "Claude Code hook scripts"),
    (".cursor/hooks", "Cursor hook scripts"),
];

/// What a file tool call would do. Plain reads and listings of ordinary files give no
/// finding; a secret read, a write (with its path, so policy can tell the workspace
/// from elsewhere) and a change to a control file do.
pub fn classify_file_access(access: FileAccess, path: &str, ctx: &ShellContext) -> Vec<Finding> {
    let engine = Engine::new(ctx);
    let Some(abs) = engine.places.resolve_text(path).abs else {
        return vec![finding(
            Effect::Unknown,
            format!("the path `{path}` cannot be resolved"),
            None,
        )];
    };
    let home = engine.places.home.as_deref();
    match access {
        FileAccess::List => Vec::new(),
        FileAccess::Read => match secret_file_or_glob(&abs, home) {
            Some(what) => vec![finding(
                Effect::SecretRead,
                format!("reads {abs}, {what}"),
                Some(abs),
            )],
            None => Vec::new(),
        },
        FileAccess::Write => {
            if is_block_device(&abs) {
                return vec![finding(
                    Effect::Destroy,
                    format!("overwrites the disk device {abs}"),
                    Some(abs),
                )];
            }
            if let Some(what) = control_file(&abs) {
                return vec![finding(
                    Effect::Unknown,
                    format!("changes {abs}, {what}; an agent must not rewrite its own controls"),
                    Some(abs),
                )];
            }
            let place = if engine.places.writable(&abs) {
                ""
            } else {
                " outside the workspace"
            };
            vec![finding(
                Effect::Write,
                format!("writes {abs}{place}"),
                Some(abs),
            )]
        }
    }
}

/// A path, or a glob over paths (Grep's `glob: ".env*"`), that names secret files. A
/// glob is tried with its wildcards standing for nothing and for a key-like word, so
/// `.env*` and `*.key` both count.
fn secret_file_or_glob(abs: &str, home: Option<&str>) -> Option<&'static str> {
    if !crate::paths::has_glob(abs) {
        return secrets::secret_file(abs, home);
    }
    ["", "key"].iter().find_map(|filler| {
        let candidate: String = abs.replace("**", filler).replace(['*', '?'], filler);
        secrets::secret_file(&candidate, home)
    })
}

fn control_file(abs: &str) -> Option<&'static str> {
    for (suffix, what) in CONTROL_FILES {
        if abs.ends_with(&format!("/{suffix}")) {
            return Some(what);
        }
    }
    for (dir, what) in CONTROL_DIRS {
        if abs.contains(&format!("/{dir}/")) {
            return Some(what);
        }
    }
    None
}

fn finding(effect: Effect, reason: String, path: Option<String>) -> Finding {
    Finding {
        effect,
        command: String::new(),
        reason,
        path,
        host: None,
        target: None,
    }
}

/// Verbs in a tool's name that destroy what they touch.
const DESTROY_VERBS: &[&str] = &[
    "delete",
    "del",
    "remove",
    "rm",
    "drop",
    "destroy",
    "purge",
    "truncate",
    "wipe",
    "erase",
    "terminate",
    "kill",
    "revoke",
    "uninstall",
    "unpublish",
    "prune",
    "flush",
    "reset",
    "rollback",
    "overwrite",
];

/// Verbs that publish or deploy: visible to the world, not undone by deleting.
const PUBLISH_VERBS: &[&str] = &["publish", "deploy", "release", "promote"];

/// Verbs that only look.
const READ_VERBS: &[&str] = &[
    "get",
    "list",
    "ls",
    "read",
    "search",
    "fetch",
    "find",
    "describe",
    "show",
    "view",
    "browse",
    "lookup",
    "resolve",
    "inspect",
    "count",
    "stat",
    "explain",
    "status",
    "diff",
    "log",
    "logs",
    "query",
    "select",
    "navigate",
    "snapshot",
    "screenshot",
    "download",
    "info",
    "check",
    "validate",
    "preview",
    "watch",
    "whoami",
];

/// Splits `deleteVolume`, `delete_volume`, `delete-volume` into lower-case words.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for ch in name.chars() {
        if !ch.is_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if ch.is_uppercase() && previous_lower && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        previous_lower = ch.is_lowercase() || ch.is_ascii_digit();
        current.extend(ch.to_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// What an MCP tool call would do, from the tool's name and its arguments. `tool` is the
/// tool's own name (without the `mcp__server__` prefix a host adds). The name speaks for
/// the call unless an argument says worse: a SQL string is read by the SQL classifier,
/// a shell command by the shell classifier, `force: true` turns an update destructive.
pub fn classify_tool_call(tool: &str, arguments: &Value, ctx: &ShellContext) -> Vec<Finding> {
    let name_words = words(tool);
    let has = |verbs: &[&str]| name_words.iter().any(|w| verbs.contains(&w.as_str()));
    let mut findings = Vec::new();
    let by_name = if has(DESTROY_VERBS) {
        finding(
            Effect::Destroy,
            format!("the tool `{tool}` deletes or destroys what it is given"),
            None,
        )
    } else if has(PUBLISH_VERBS) {
        finding(
            Effect::Publish,
            format!("the tool `{tool}` publishes or deploys"),
            None,
        )
    } else if name_words
        .first()
        .is_some_and(|w| READ_VERBS.contains(&w.as_str()))
    {
        finding(Effect::Read, format!("the tool `{tool}` reads"), None)
    } else {
        finding(
            Effect::Write,
            format!("the tool `{tool}` may change things"),
            None,
        )
    };
    findings.push(by_name);
    judge_arguments(tool, arguments, ctx, &mut findings, 0);
    findings.retain(|f| f.effect != Effect::Read || f.path.is_some());
    findings
}

/// Arguments deeper than this are not looked into; tool arguments are shallow in
/// practice and a deep document is an attacker's, which the name verdict still covers.
const MAX_ARGUMENT_DEPTH: usize = 8;

fn judge_arguments(
    tool: &str,
    value: &Value,
    ctx: &ShellContext,
    findings: &mut Vec<Finding>,
    depth: usize,
) {
    if depth > MAX_ARGUMENT_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                let key_words = words(key);
                let is = |names: &[&str]| key_words.iter().any(|w| names.contains(&w.as_str()));
                match item {
                    Value::String(text)
                        if is(&["sql", "statement"])
                            || is(&["query"]) && !searches(tool) && parses_as_sql(text) =>
                    {
                        {
                            let verdict = judge_sql(text, Flavor::Generic);
                            if verdict.effect != Effect::Read {
                                findings.push(finding(
                                    verdict.effect,
                                    format!("`{tool}` runs SQL that {}", verdict.reason),
                                    None,
                                ));
                            }
                        }
                    }
                    Value::String(text) if is(&["command", "cmd", "script", "shell"]) => {
                        let classification = classify_shell(text, ctx);
                        findings.extend(classification.findings.into_iter().map(|mut f| {
                            f.reason = format!("`{tool}` runs `{text}`: {}", f.reason);
                            f
                        }));
                    }
                    Value::Bool(true) if is(&["force"]) => findings.push(finding(
                        Effect::Destroy,
                        format!("`{tool}` is called with `{key}: true`, which can overwrite history or data"),
                        None,
                    )),
                    _ => judge_arguments(tool, item, ctx, findings, depth + 1),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                judge_arguments(tool, item, ctx, findings, depth + 1);
            }
        }
        _ => {}
    }
}

/// A search tool's `query` is words to look for (`search_issues`, `find_docs`), even when
/// the words happen to parse as SQL (`delete button broken` does).
fn searches(tool: &str) -> bool {
    words(tool).first().is_some_and(|w| {
        matches!(
            w.as_str(),
            "search" | "find" | "lookup" | "browse" | "get" | "list" | "fetch" | "resolve"
        )
    })
}

/// A `query` argument is as often search words as SQL; only text the SQL parser reads
/// as SQL is judged as SQL, so `query: "delete button broken"` stays a search.
fn parses_as_sql(text: &str) -> bool {
    sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::GenericDialect {}, text)
        .is_ok_and(|statements| !statements.is_empty())
}
