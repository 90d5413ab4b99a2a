//! What a gate saw, reduced to the few facts policy decides on.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The enforcement point that observed an action. A gate enforces verdicts; it never
/// decides on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    /// A pre-tool hook of an agent running outside the sandbox (`cordon hook …`).
    Hook,
    /// The sandbox supervisor (`cordon run`): connections, file access, process events.
    Sandbox,
    /// The HTTP(S) egress and credential gateway.
    Http,
    /// The MCP proxy.
    Mcp,
    /// The SQL proxy.
    Sql,
    /// A human or script asking through the CLI (`cordon explain`, `cordon check`).
    Cli,
}

impl Gate {
    pub const ALL: [Gate; 6] = [
        Gate::Hook,
        Gate::Sandbox,
        Gate::Http,
        Gate::Mcp,
        Gate::Sql,
        Gate::Cli,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Gate::Hook => "hook",
            Gate::Sandbox => "sandbox",
            Gate::Http => "http",
            Gate::Mcp => "mcp",
            Gate::Sql => "sql",
            Gate::Cli => "cli",
        }
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an action does to the world, from harmless to irreversible. Classifiers map
/// anything they cannot read to [`Effect::Unknown`], which policy treats as dangerous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Read,
    Write,
    Destroy,
    Exfiltrate,
    SecretRead,
    Publish,
    Unknown,
}

impl Effect {
    pub const ALL: [Effect; 7] = [
        Effect::Read,
        Effect::Write,
        Effect::Destroy,
        Effect::Exfiltrate,
        Effect::SecretRead,
        Effect::Publish,
        Effect::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Read => "read",
            Effect::Write => "write",
            Effect::Destroy => "destroy",
            Effect::Exfiltrate => "exfiltrate",
            Effect::SecretRead => "secret_read",
            Effect::Publish => "publish",
            Effect::Unknown => "unknown",
        }
    }

    pub fn parse(name: &str) -> Option<Effect> {
        Effect::ALL.into_iter().find(|e| e.as_str() == name)
    }

    /// Effects that change something; read-only tasks refuse all of them.
    pub fn mutates(self) -> bool {
        !matches!(self, Effect::Read)
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The thing an action touches, when a gate or classifier can name it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Resource kind as the manifest's inventory names it, e.g. `railway.volume`.
    pub kind: String,
    /// The provider's id, e.g. `vol_prod_7f3`.
    pub id: String,
    /// Filled in by `authorize()` from the `[[resource]]` inventory; a gate may set it
    /// when the provider tells it directly. Never trusted over the inventory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

/// One thing an agent tried to do, as a gate saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub gate: Gate,
    /// Dotted operation name: `shell.exec`, `graphql.mutation.volumeDelete`,
    /// `http.DELETE`, `mcp.tools.call`, `fs.read`, `net.connect`.
    pub operation: String,
    pub effect: Effect,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// Name of the `[[credential]]` the action would use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// Network host the action goes to (lower-case, no port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// HTTP method, upper-case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// File path, absolute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Path of an HTTP request, without the query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_path: Option<String>,
    /// MCP tool as `server.tool`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The raw thing seen (a command line, a GraphQL document, a request line), for
    /// humans reading the audit log. Policy never looks at it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// Facts for people reading the audit log, under OpenTelemetry semantic-convention
    /// names where one fits (`gen_ai.tool.name`, `mcp.method.name`, `mcp.session.id`,
    /// `jsonrpc.request.id`). Policy never looks at them, and an approval is not bound
    /// to them: the retry of an approved call carries a new request id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

impl Action {
    pub fn new(gate: Gate, operation: impl Into<String>, effect: Effect) -> Action {
        Action {
            gate,
            operation: operation.into(),
            effect,
            target: None,
            credential: None,
            host: None,
            method: None,
            path: None,
            url_path: None,
            tool: None,
            detail: String::new(),
            attributes: BTreeMap::new(),
        }
    }

    pub fn with_target(mut self, kind: impl Into<String>, id: impl Into<String>) -> Action {
        self.target = Some(Target {
            kind: kind.into(),
            id: id.into(),
            environment: None,
        });
        self
    }

    pub fn with_credential(mut self, credential: impl Into<String>) -> Action {
        self.credential = Some(credential.into());
        self
    }

    pub fn with_host(mut self, host: impl Into<String>) -> Action {
        self.host = Some(host.into());
        self
    }

    pub fn with_method(mut self, method: impl Into<String>) -> Action {
        self.method = Some(method.into());
        self
    }

    pub fn with_path(mut self, path: impl Into<String>) -> Action {
        self.path = Some(path.into());
        self
    }

    pub fn with_url_path(mut self, url_path: impl Into<String>) -> Action {
        self.url_path = Some(url_path.into());
        self
    }

    pub fn with_tool(mut self, tool: impl Into<String>) -> Action {
        self.tool = Some(tool.into());
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Action {
        self.detail = detail.into();
        self
    }

    pub fn with_attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Action {
        self.attributes.insert(name.into(), value.into());
        self
    }

    /// A short human description: "destroy railway.volume vol_prod_7f3 via graphql.mutation.volumeDelete".
    pub fn describe(&self) -> String {
        let mut text = format!("{} ", self.effect);
        match &self.target {
            Some(t) => {
                if let Some(env) = &t.environment {
                    text.push_str(env);
                    text.push(' ');
                }
                text.push_str(&format!("{} {}", t.kind, t.id));
            }
            None => match (&self.path, &self.host, &self.tool) {
                (Some(p), _, _) => text.push_str(p),
                (None, Some(h), _) => text.push_str(h),
                (None, None, Some(t)) => text.push_str(t),
                (None, None, None) => text.push_str("(no target)"),
            },
        }
        text.push_str(&format!(" via {}", self.operation));
        if let Some(c) = &self.credential {
            text.push_str(&format!(" with credential `{c}`"));
        }
        text
    }
}
