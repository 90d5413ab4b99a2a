//! cordon-classify: what a bash command line would do, read without running it.
//!
//! A hooked agent's Bash tool call arrives as one string. [`classify_shell`] parses it
//! with tree-sitter-bash, sees through wrappers (`sudo`, `env`, `xargs`, `bash -c`,
//! `ssh host '…'`, `| sh`, base64 blobs…) and judges every simple command it finds:
//! file deletion, git history rewrites, SQL, infrastructure CLIs, HTTP calls, secret
//! reads, publishing. The result is a list of [`Finding`]s and the most dangerous
//! [`Effect`] among them.
//!
//! The classifier never decides: policy maps effects to allow, ask or deny. It only has
//! to be right about the effect, and when it cannot tell it says [`Effect::Unknown`],
//! which policy treats as dangerous. It does no I/O and never panics.

mod commands;
mod engine;
mod files;
mod flow;
mod git;
pub mod git_push;
pub mod graphql;
mod http;
mod infra;
mod inline;
mod migrate;
mod parse;
mod paths;
mod publish;
mod secrets;
mod shells;
mod sql;
mod system;
mod tools;
mod word;
mod wrappers;

use std::path::PathBuf;

use serde::Serialize;

pub use cordon_core::{Effect, Target};
pub use graphql::{GraphqlError, OperationKind, RootField, graphql_request_fields};
pub use tools::{FileAccess, classify_file_access, classify_tool_call};

/// Where the command runs. Relative paths resolve against `cwd`; `workspace` is the
/// tree the agent may change freely; `home` is what `~` and `$HOME` mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellContext {
    pub cwd: PathBuf,
    pub workspace: PathBuf,
    pub home: PathBuf,
}

/// One thing a command would do that is worth a policy's attention.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub effect: Effect,
    /// The simple command judged, as written, e.g. `rm -rf /srv/data`.
    pub command: String,
    /// Plain words for the person asked to approve it.
    pub reason: String,
    /// Absolute path of the file or directory touched, when there is one.
    pub path: Option<String>,
    /// Network host reached (lower-case, no port), when there is one.
    pub host: Option<String>,
    /// The resource touched, e.g. kind `git.ref` id `main`.
    pub target: Option<Target>,
}

/// What a whole command line would do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    /// The most dangerous finding's effect, or [`Effect::Read`] when there is none.
    pub effect: Effect,
    /// Every finding that is not a plain read, plus reads that reach a network host
    /// (so a gate can check the host against the network allowlist).
    pub findings: Vec<Finding>,
    /// The operation name for the resulting `Action`.
    pub operation: String,
}

/// How dangerous an effect is, for picking the one that speaks for a whole command:
/// exfiltrate > destroy > publish > secret_read > unknown > write > read.
pub fn danger(effect: Effect) -> u8 {
    match effect {
        Effect::Read => 0,
        Effect::Write => 1,
        Effect::Unknown => 2,
        Effect::SecretRead => 3,
        Effect::Publish => 4,
        Effect::Destroy => 5,
        Effect::Exfiltrate => 6,
    }
}

/// Classifies one bash command line. Never panics; anything it cannot read is
/// [`Effect::Unknown`].
pub fn classify_shell(command: &str, ctx: &ShellContext) -> Classification {
    let findings = engine::Engine::new(ctx).run(command);
    let effect = findings
        .iter()
        .map(|f| f.effect)
        .max_by_key(|e| danger(*e))
        .unwrap_or(Effect::Read);
    Classification {
        effect,
        findings,
        operation: "shell.exec".to_string(),
    }
}
