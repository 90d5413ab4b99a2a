//! `cordon.toml`: one file per task that says what an agent may touch.
//!
//! Every struct denies unknown fields, and every value that has a format is parsed in
//! its own `Deserialize` impl, so the toml parser attaches the offending span to each
//! error and nothing is ever silently ignored. docs/manifest.md documents each key;
//! keep the two in step.

mod discover;
mod error;
mod values;

pub use discover::{
    DEFAULT_PROFILE, INIT_TEMPLATE, MANIFEST_FILE, ManifestSource, discover, load_file,
};
pub use error::ManifestError;
pub use values::{CredentialSource, Glob, HostPattern, Injection, Pin, StoreUrl, Ttl, WebhookUrl};

use crate::action::Effect;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// A PostgreSQL store shared by a team (`store = "postgres://…"`, before the first
    /// table); without it, SQLite under `$CORDON_HOME`.
    #[serde(default)]
    pub store: Option<StoreUrl>,
    pub task: TaskSection,
    #[serde(default)]
    pub filesystem: FilesystemSection,
    #[serde(default)]
    pub network: NetworkSection,
    #[serde(default, rename = "credential")]
    pub credentials: Vec<Credential>,
    #[serde(default, rename = "resource")]
    pub resources: Vec<Resource>,
    #[serde(default)]
    pub tools: ToolsSection,
    #[serde(default)]
    pub mcp: McpSection,
    #[serde(default)]
    pub git: GitSection,
    #[serde(default)]
    pub approval: ApprovalSection,
    #[serde(default)]
    pub audit: AuditSection,
    #[serde(default)]
    pub policy: PolicySection,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSection {
    pub name: Spanned<TaskName>,
    #[serde(default)]
    pub environment: Option<Spanned<Environment>>,
    #[serde(default)]
    pub ttl: Ttl,
    /// Diagnosis mode: every effect but `read` is denied at every gate.
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesystemSection {
    #[serde(default)]
    pub workspace: Option<String>,
    #[serde(default)]
    pub read: Vec<String>,
    #[serde(default)]
    pub write: Vec<String>,
    #[serde(default)]
    pub hide: Vec<Glob>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    #[serde(default)]
    pub allow: Vec<HostPattern>,
    #[serde(default, rename = "rule")]
    pub rules: Vec<NetworkRule>,
    /// Pins a host name to an address (and optionally a port), like curl's
    /// `--resolve`; the one way to point a name at loopback (local mocks in tests and
    /// demos).
    #[serde(default)]
    pub resolve: BTreeMap<String, Pin>,
    /// Hosts whose HTTPS the gateway carries unread, judged by host only: clients
    /// that pin certificates. No credential is injected there.
    #[serde(default)]
    pub tunnel_only: Vec<HostPattern>,
    /// Requests that do more than their method says (a `POST` that deletes), declared
    /// by the user who knows the API.
    #[serde(default, rename = "route")]
    pub routes: Vec<NetworkRoute>,
    /// An agent's model API: requests that only ask the model (a prompt in, text out),
    /// read as `model.inference` with effect `read`, so a read-only task can still
    /// think. Not a manifest key: `cordon run`'s agent profiles set it, each entry a
    /// host and exact POST paths.
    #[serde(skip)]
    pub inference: Vec<NetworkRoute>,
}

/// A kind of request whose effect is at least `effect`, whatever its method says.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkRoute {
    pub host: HostPattern,
    #[serde(default)]
    pub methods: Vec<HttpMethod>,
    #[serde(default)]
    pub paths: Vec<Glob>,
    pub effect: EffectName,
}

impl NetworkRoute {
    /// Whether a request (upper-case `method`, `path` without the query) is one.
    pub fn matches(&self, host: &str, method: &str, path: &str) -> bool {
        self.host.matches(host)
            && (self.methods.is_empty() || self.methods.iter().any(|m| m.0 == method))
            && (self.paths.is_empty() || self.paths.iter().any(|p| p.matches(path)))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkRule {
    pub host: HostPattern,
    #[serde(default)]
    pub methods: Vec<HttpMethod>,
    #[serde(default)]
    pub paths: Vec<Glob>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    pub name: Spanned<Identifier>,
    pub source: CredentialSource,
    pub hosts: Vec<HostPattern>,
    #[serde(default)]
    pub inject: Option<Injection>,
    /// Operation globs this credential may be used for; empty means none.
    #[serde(default)]
    pub allow: Vec<Glob>,
    /// The environment the credential's account belongs to; defaults to the task's.
    #[serde(default)]
    pub environment: Option<Environment>,
    /// Variable inside the sandbox that carries the phantom token; defaults to the
    /// variable named by an `env:` source.
    #[serde(default)]
    pub env_var: Option<Identifier>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    pub kind: Identifier,
    pub id: Spanned<String>,
    pub environment: Environment,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolsSection {
    /// `server.tool` globs; a tool not matched does not exist for the agent.
    #[serde(default)]
    pub allow: Vec<Glob>,
    /// Argument constraints, keyed by tool glob, then argument name.
    #[serde(default)]
    pub args: BTreeMap<String, BTreeMap<String, ArgConstraint>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpSection {
    /// MCP servers cordon starts in sandboxes of their own, by name (their tools are
    /// `NAME.TOOL` in `[tools]`).
    #[serde(default)]
    pub servers: BTreeMap<String, McpServer>,
}

/// One MCP server's profile: what its own sandbox grants, apart from the agent's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServer {
    /// The command that starts it, speaking MCP over stdio.
    pub command: Spanned<Vec<String>>,
    /// Hosts its sandbox's gateway lets it reach (its credentials' hosts too).
    #[serde(default)]
    pub hosts: Vec<HostPattern>,
    /// Paths it may read beyond the workspace and the system.
    #[serde(default)]
    pub read: Vec<String>,
    /// Paths it may write beyond its copy of the workspace.
    #[serde(default)]
    pub write: Vec<String>,
    /// `[[credential]]` names it gets as phantom tokens. A credential named here is
    /// the server's alone: the agent's own sandbox does not carry it.
    #[serde(default)]
    pub credentials: Vec<Spanned<Identifier>>,
}

/// Whether `name` can name an MCP server: its tools are `name.tool`, so no dots, and
/// it becomes part of file and variable names.
pub fn is_server_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum ArgConstraint {
    /// The argument must equal this string.
    Equals(String),
    /// The argument must be one of these strings.
    OneOf(Vec<String>),
    /// The argument must match this glob.
    Matches(Glob),
    /// The argument is a path that must stay inside the named area.
    Within(PathArea),
    /// The argument is classified as this language, and the result is the call's effect.
    Classify(Language),
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PathArea {
    Workspace,
    Writable,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Sql,
    Shell,
    Graphql,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSection {
    #[serde(default = "default_require")]
    pub require: Vec<EffectName>,
    #[serde(default = "one")]
    pub approvers: Approvers,
    /// Distinct approvers for actions on production-tagged resources.
    #[serde(default = "one")]
    pub production_approvers: Approvers,
    #[serde(default = "default_approval_ttl")]
    pub ttl: Ttl,
    #[serde(default)]
    pub mode: ApprovalMode,
    #[serde(default)]
    pub webhooks: Vec<Webhook>,
    /// Where `cordon ui` is reachable for the people notified; webhook payloads link
    /// to `page_url/approvals/ID`.
    #[serde(default)]
    pub page_url: Option<WebhookUrl>,
}

impl Default for ApprovalSection {
    fn default() -> Self {
        ApprovalSection {
            require: default_require(),
            approvers: one(),
            production_approvers: one(),
            ttl: default_approval_ttl(),
            mode: ApprovalMode::default(),
            webhooks: Vec::new(),
            page_url: None,
        }
    }
}

fn default_require() -> Vec<EffectName> {
    [
        Effect::Destroy,
        Effect::Publish,
        Effect::SecretRead,
        Effect::Unknown,
    ]
    .into_iter()
    .map(EffectName)
    .collect()
}

fn one() -> Approvers {
    Approvers(1)
}

fn default_approval_ttl() -> Ttl {
    Ttl(std::time::Duration::from_secs(15 * 60))
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalMode {
    /// Answer `confirmation_required` at once; the agent retries after approval.
    #[default]
    Ask,
    /// Hold the request open until a human decides or the approval expires.
    Hold,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub url: WebhookUrl,
    /// Unset: `slack` for hooks.slack.com, else `json`.
    #[serde(default)]
    pub format: Option<WebhookFormat>,
}

impl Webhook {
    /// The payload this entry gets.
    pub fn format(&self) -> WebhookFormat {
        self.format.unwrap_or_else(|| {
            let rest = self.url.0.split_once("://").map_or("", |(_, r)| r);
            let host = rest.split(['/', ':', '?', '#']).next().unwrap_or("");
            if host.eq_ignore_ascii_case("hooks.slack.com") {
                WebhookFormat::Slack
            } else {
                WebhookFormat::Json
            }
        })
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    #[default]
    Json,
    Slack,
}

impl WebhookFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Json => "json",
            WebhookFormat::Slack => "slack",
        }
    }
}

/// Branches protected when `[git] protected` is not set.
pub const DEFAULT_PROTECTED_REFS: &[&str] = &["main", "master", "release/*", "production"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitSection {
    /// Refs whose every update through the gateway needs a human: a push request
    /// cannot show a fast-forward from a force-push, so an update of one of these is
    /// read as the worse. Replaces [`DEFAULT_PROTECTED_REFS`] when set.
    #[serde(default = "default_protected_refs")]
    pub protected: Vec<Glob>,
}

impl Default for GitSection {
    fn default() -> Self {
        GitSection {
            protected: default_protected_refs(),
        }
    }
}

fn default_protected_refs() -> Vec<Glob> {
    DEFAULT_PROTECTED_REFS
        .iter()
        .map(|r| Glob((*r).to_owned()))
        .collect()
}

impl GitSection {
    /// Whether a ref is protected, matched by its full name (`refs/heads/main`) or
    /// its short one (`main`).
    pub fn is_protected(&self, full_name: &str, short_name: &str) -> bool {
        self.protected
            .iter()
            .any(|p| p.matches(full_name) || p.matches(short_name))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    #[serde(default)]
    pub sync: SyncPolicy,
}

/// When the audit writer calls fdatasync.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SyncPolicy {
    /// Every group of records is on disk before any of their verdicts is returned.
    #[default]
    Batch,
    /// Records are written (safe from a crash of cordon) before the verdict, and flushed
    /// to disk by the operating system in its own time (lost only if the machine dies).
    Os,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    /// Extra Cedar policy files, relative to the manifest.
    #[serde(default)]
    pub include: Vec<String>,
}

/// Task and credential names: what audit files and policy ids are made of.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Identifier(pub String);

/// The task name doubles as the audit chain's file name, so it is an [`Identifier`].
pub type TaskName = Identifier;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectName(pub Effect);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approvers(pub u8);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpMethod(pub String);

/// A manifest that parsed and validated, with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedManifest {
    pub manifest: Manifest,
    /// Where it was read from; `None` for the built-in default profile.
    pub path: Option<PathBuf>,
    /// The directory relative paths are resolved against.
    pub base_dir: PathBuf,
    /// Raw Cedar policies from `[policy] include`, as (file, text).
    pub extra_policies: Vec<(PathBuf, String)>,
}

impl LoadedManifest {
    pub fn task_name(&self) -> &str {
        &self.manifest.task.name.get_ref().0
    }

    pub fn environment(&self) -> Option<&str> {
        self.manifest
            .task
            .environment
            .as_ref()
            .map(|e| e.get_ref().0.as_str())
    }

    /// The workspace as an absolute path.
    pub fn workspace(&self) -> PathBuf {
        let ws = self.manifest.filesystem.workspace.as_deref().unwrap_or(".");
        absolutize(&self.base_dir, ws)
    }

    pub fn resolve_path(&self, path: &str) -> PathBuf {
        absolutize(&self.base_dir, path)
    }

    /// The task as the agent's own sandbox enforces it: credentials an `[mcp.servers]`
    /// entry claims are that server's alone.
    pub fn for_agent(&self) -> LoadedManifest {
        let mut loaded = self.clone();
        let claimed: Vec<&str> = self
            .manifest
            .mcp
            .servers
            .values()
            .flat_map(|s| s.credentials.iter().map(|c| c.get_ref().0.as_str()))
            .collect();
        loaded
            .manifest
            .credentials
            .retain(|c| !claimed.contains(&c.name.get_ref().0.as_str()));
        loaded
    }

    /// The task as MCP server `name`'s sandbox enforces it: the hosts, paths and
    /// credentials its entry grants, instead of the agent's; the rest (workspace,
    /// hidden paths, rules that narrow, approvals, audit) as the task says. A server
    /// without an entry gets no network, no credentials and no extra paths.
    pub fn for_mcp_server(&self, name: &str) -> LoadedManifest {
        let mut loaded = self.clone();
        let entry = self.manifest.mcp.servers.get(name);
        let manifest = &mut loaded.manifest;
        manifest.network.allow = entry.map(|e| e.hosts.clone()).unwrap_or_default();
        manifest.filesystem.read = entry.map(|e| e.read.clone()).unwrap_or_default();
        manifest.filesystem.write = entry.map(|e| e.write.clone()).unwrap_or_default();
        let granted: Vec<&str> = entry
            .map(|e| {
                e.credentials
                    .iter()
                    .map(|c| c.get_ref().0.as_str())
                    .collect()
            })
            .unwrap_or_default();
        manifest
            .credentials
            .retain(|c| granted.contains(&c.name.get_ref().0.as_str()));
        loaded
    }
}

/// Makes `path` absolute against `base` and expands a leading `~`, without touching the
/// file system (the path may not exist yet, and symlinks are the sandbox's business).
pub fn absolutize(base: &Path, path: &str) -> PathBuf {
    let expanded = match path.strip_prefix("~/") {
        Some(rest) => home_dir().join(rest),
        None if path == "~" => home_dir(),
        None => PathBuf::from(path),
    };
    let joined = if expanded.is_absolute() {
        expanded
    } else {
        base.join(expanded)
    };
    normalize_lexically(&joined)
}

fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

fn normalize_lexically(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Manifest {
    /// Parses and validates manifest text. `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Manifest, ManifestError> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| ManifestError::from_toml(origin, text, &e))?;
        manifest.validate(origin, text)?;
        Ok(manifest)
    }

    /// Checks that need more than one value at a time.
    fn validate(&self, origin: &str, text: &str) -> Result<(), ManifestError> {
        let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
        for credential in &self.credentials {
            let name = credential.name.get_ref().0.as_str();
            if seen.insert(name, ()).is_some() {
                return Err(ManifestError::at(
                    origin,
                    text,
                    credential.name.span(),
                    format!("credential `{name}` is declared twice"),
                    Some("give each [[credential]] its own name".to_owned()),
                ));
            }
            if credential.hosts.is_empty() {
                return Err(ManifestError::at(
                    origin,
                    text,
                    credential.name.span(),
                    format!("credential `{name}` lists no hosts"),
                    Some("add `hosts = [\"api.example.com\"]`: the hosts the real secret may be sent to".to_owned()),
                ));
            }
            if credential.env_var.is_none()
                && !matches!(credential.source, CredentialSource::Env(_))
            {
                return Err(ManifestError::at(
                    origin,
                    text,
                    credential.name.span(),
                    format!("credential `{name}` needs `env_var`"),
                    Some("say which variable inside the sandbox carries its phantom token, e.g. `env_var = \"API_TOKEN\"`".to_owned()),
                ));
            }
        }
        for (name, server) in &self.mcp.servers {
            if !is_server_name(name) {
                return Err(ManifestError::at(
                    origin,
                    text,
                    server.command.span(),
                    format!("`{name}` cannot name an MCP server"),
                    Some("use 1 to 64 letters, digits, `-` or `_` (its tools are `NAME.TOOL`, so no dots)".to_owned()),
                ));
            }
            if server
                .command
                .get_ref()
                .first()
                .is_none_or(String::is_empty)
            {
                return Err(ManifestError::at(
                    origin,
                    text,
                    server.command.span(),
                    format!("MCP server `{name}` has an empty command"),
                    Some("give the program and its arguments, e.g. `command = [\"npx\", \"-y\", \"@modelcontextprotocol/server-github\"]`".to_owned()),
                ));
            }
            for credential in &server.credentials {
                let wanted = credential.get_ref().0.as_str();
                if !seen.contains_key(wanted) {
                    return Err(ManifestError::at(
                        origin,
                        text,
                        credential.span(),
                        format!(
                            "MCP server `{name}` names credential `{wanted}`, which no [[credential]] declares"
                        ),
                        None,
                    ));
                }
            }
        }
        let mut resources: BTreeMap<(&str, &str), ()> = BTreeMap::new();
        for resource in &self.resources {
            let key = (resource.kind.0.as_str(), resource.id.get_ref().as_str());
            if resources.insert(key, ()).is_some() {
                return Err(ManifestError::at(
                    origin,
                    text,
                    resource.id.span(),
                    format!("resource {} `{}` is declared twice", key.0, key.1),
                    None,
                ));
            }
            if resource.id.get_ref().is_empty() {
                return Err(ManifestError::at(
                    origin,
                    text,
                    resource.id.span(),
                    "resource id is empty".to_owned(),
                    None,
                ));
            }
        }
        Ok(())
    }

    pub fn resource(&self, kind: &str, id: &str) -> Option<&Resource> {
        self.resources
            .iter()
            .find(|r| r.kind.0 == kind && r.id.get_ref() == id)
    }

    pub fn credential(&self, name: &str) -> Option<&Credential> {
        self.credentials.iter().find(|c| c.name.get_ref().0 == name)
    }

    pub fn requires_approval(&self, effect: Effect) -> bool {
        self.approval.require.iter().any(|e| e.0 == effect)
    }
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
