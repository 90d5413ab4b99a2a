//! `cordon install-hook` / `uninstall-hook`: cordon's entry merged into an agent's
//! settings file without disturbing anything else in it.
//!
//! The file is read as JSON, changed in memory and written back atomically (a temporary
//! file renamed over it), so a crash leaves either the old or the new file. A file that
//! is not valid JSON is never touched. Installing twice replaces cordon's entry rather
//! than adding a second; uninstalling removes only entries whose command runs
//! `cordon … hook <agent>`.

use crate::agents::Agent;
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum InstallError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON ({source}); fix or move it, cordon will not overwrite it")]
    NotJson {
        path: String,
        source: serde_json::Error,
    },
    #[error(
        "{path}: `{key}` is {found}, expected an object or array; cordon will not overwrite it"
    )]
    Shape {
        path: String,
        key: String,
        found: &'static str,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{agent} has no {scope} settings file")]
    NoScope {
        agent: &'static str,
        scope: &'static str,
    },
}

/// Which settings file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The user's own settings (every project).
    User,
    /// The project's shared settings, usually committed.
    Project,
    /// The project's personal settings (Claude Code's `settings.local.json`).
    Local,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Project => "project",
            Scope::Local => "local",
        }
    }
}

/// Where `agent` keeps its hooks for `scope`.
pub fn settings_path(
    agent: Agent,
    scope: Scope,
    user_home: &Path,
    project: &Path,
) -> Result<PathBuf, InstallError> {
    let (dir, file) = match agent {
        Agent::Claude => (".claude", "settings.json"),
        Agent::Cursor => (".cursor", "hooks.json"),
        Agent::Gemini => (".gemini", "settings.json"),
        Agent::Codex => (".codex", "hooks.json"),
    };
    Ok(match scope {
        Scope::User => user_home.join(dir).join(file),
        Scope::Project => project.join(dir).join(file),
        Scope::Local if agent == Agent::Claude => project.join(dir).join("settings.local.json"),
        Scope::Local => {
            return Err(InstallError::NoScope {
                agent: agent.name(),
                scope: scope.name(),
            });
        }
    })
}

fn agent_word(agent: Agent) -> &'static str {
    match agent {
        Agent::Claude => "claude",
        Agent::Cursor => "cursor",
        Agent::Gemini => "gemini",
        Agent::Codex => "codex",
    }
}

/// The events (and, where the host has matchers, the tools) cordon hooks.
fn entries(agent: Agent, command: &str) -> Vec<(&'static str, Value)> {
    match agent {
        Agent::Claude => vec![(
            "PreToolUse",
            json!({
                "matcher": "Bash|Read|Write|Edit|MultiEdit|NotebookEdit|Grep|Glob|LS|mcp__.*",
                "hooks": [{ "type": "command", "command": command, "timeout": 10 }],
            }),
        )],
        Agent::Codex => vec![(
            "PreToolUse",
            json!({
                "hooks": [{ "type": "command", "command": command, "timeout": 10 }],
            }),
        )],
        Agent::Gemini => vec![(
            "BeforeTool",
            json!({
                "matcher": ".*",
                "hooks": [{ "type": "command", "command": command, "timeout": 10000 }],
            }),
        )],
        Agent::Cursor => [
            "beforeShellExecution",
            "beforeMCPExecution",
            "beforeReadFile",
        ]
        .into_iter()
        .map(|event| {
            (
                event,
                json!({ "command": command, "timeout": 10, "failClosed": true }),
            )
        })
        .collect(),
    }
}

/// True for a hook entry (or matcher group) that runs cordon's hook for `agent`.
fn is_cordons(entry: &Value, agent: Agent) -> bool {
    let marker = format!(" hook {}", agent_word(agent));
    let runs_cordon = |command: &str| command.contains("cordon") && command.contains(&marker);
    if let Some(command) = entry.get("command").and_then(Value::as_str) {
        return runs_cordon(command);
    }
    entry
        .get("hooks")
        .and_then(Value::as_array)
        .is_some_and(|hooks| {
            !hooks.is_empty()
                && hooks.iter().all(|h| {
                    h.get("command")
                        .and_then(Value::as_str)
                        .is_some_and(runs_cordon)
                })
        })
}

/// The shell command a host runs: cordon's absolute path, quoted, and its arguments.
pub fn hook_command(cordon: &Path, agent: Agent, policy: Option<&Path>) -> String {
    let mut command = format!(
        "{} hook {}",
        quote(&cordon.display().to_string()),
        agent_word(agent)
    );
    if let Some(policy) = policy {
        command.push_str(&format!(
            " --policy {}",
            quote(&policy.display().to_string())
        ));
    }
    command
}

fn quote(text: &str) -> String {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn read_settings(path: &Path) -> Result<Map<String, Value>, InstallError> {
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
        Err(source) => {
            return Err(InstallError::Read {
                path: shown,
                source,
            });
        }
    };
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(InstallError::Shape {
            path: shown,
            key: "(top level)".to_owned(),
            found: json_kind(&other),
        }),
        Err(source) => Err(InstallError::NotJson {
            path: shown,
            source,
        }),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Writes `settings` to `path` atomically, keeping the old file's permissions.
fn write_settings(path: &Path, settings: &Map<String, Value>) -> Result<(), InstallError> {
    let shown = path.display().to_string();
    let error = |source| InstallError::Write {
        path: shown.clone(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(error)?;
    let mut text =
        serde_json::to_string_pretty(settings).map_err(|e| error(std::io::Error::other(e)))?;
    text.push('\n');
    let mut temporary = tempfile::NamedTempFile::new_in(dir).map_err(error)?;
    temporary.write_all(text.as_bytes()).map_err(error)?;
    if let Ok(metadata) = std::fs::metadata(path) {
        std::fs::set_permissions(temporary.path(), metadata.permissions()).map_err(error)?;
    }
    temporary.as_file().sync_all().map_err(error)?;
    temporary.persist(path).map_err(|e| error(e.error))?;
    Ok(())
}

fn object_at<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
    path: &Path,
) -> Result<&'a mut Map<String, Value>, InstallError> {
    let value = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    let found = json_kind(value);
    value.as_object_mut().ok_or_else(|| InstallError::Shape {
        path: path.display().to_string(),
        key: key.to_owned(),
        found,
    })
}

fn array_at<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
    path: &Path,
) -> Result<&'a mut Vec<Value>, InstallError> {
    let value = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    let found = json_kind(value);
    value.as_array_mut().ok_or_else(|| InstallError::Shape {
        path: path.display().to_string(),
        key: format!("hooks.{key}"),
        found,
    })
}

/// What an install or uninstall changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added,
    Replaced,
    Removed(usize),
    Unchanged,
}

/// Merges cordon's hook into the settings file at `path`.
pub fn install(path: &Path, agent: Agent, command: &str) -> Result<Change, InstallError> {
    let mut settings = read_settings(path)?;
    if agent == Agent::Cursor && !settings.contains_key("version") {
        settings.insert("version".to_owned(), json!(1));
    }
    let hooks = object_at(&mut settings, "hooks", path)?;
    let mut replaced = false;
    for (event, entry) in entries(agent, command) {
        let list = array_at(hooks, event, path)?;
        let before = list.len();
        list.retain(|existing| !is_cordons(existing, agent));
        replaced |= list.len() != before;
        list.push(entry);
    }
    write_settings(path, &settings)?;
    Ok(if replaced {
        Change::Replaced
    } else {
        Change::Added
    })
}

/// Removes cordon's hook from the settings file at `path`, leaving everything else.
pub fn uninstall(path: &Path, agent: Agent) -> Result<Change, InstallError> {
    if !path.exists() {
        return Ok(Change::Unchanged);
    }
    let mut settings = read_settings(path)?;
    let Some(Value::Object(hooks)) = settings.get_mut("hooks") else {
        return Ok(Change::Unchanged);
    };
    let mut removed = 0;
    let events: Vec<String> = hooks.keys().cloned().collect();
    for event in events {
        let Some(Value::Array(list)) = hooks.get_mut(&event) else {
            continue;
        };
        let before = list.len();
        list.retain(|entry| !is_cordons(entry, agent));
        removed += before - list.len();
        if list.is_empty() && before > 0 {
            hooks.remove(&event);
        }
    }
    if removed == 0 {
        return Ok(Change::Unchanged);
    }
    if hooks.is_empty() {
        settings.remove("hooks");
    }
    write_settings(path, &settings)?;
    Ok(Change::Removed(removed))
}
