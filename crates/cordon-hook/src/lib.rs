//! cordon-hook: the agent hooks, for teams whose agents do not run in cordon's sandbox
//! yet. Claude Code, Cursor, Gemini CLI and Codex each spawn a command before a tool
//! runs and read its answer; `cordon hook <agent>` is that command.
//!
//! One tool call becomes one [`ToolCall`]; the classifier turns it into findings, each
//! is weighed under the task's policy, and the strictest becomes one audited
//! `authorize()` call ([`judge()`]). The answer is written in the host's own protocol
//! ([`agents::render`]). Anything that goes wrong is a deny in that protocol: hosts run
//! the tool when a hook crashes or answers oddly, so silence would be an allow.

pub mod agents;
pub mod call;
pub mod install;
pub mod judge;

pub use agents::{Agent, HookError, HookRequest, HookResponse, parse, render, render_failure};
pub use call::ToolCall;
pub use judge::{Decider, Judgement, PolicyOnly, judge, spelled};

use cordon_classify::ShellContext;
use cordon_core::Authorizer;
use cordon_core::manifest::{self, LoadedManifest};
use std::path::{Path, PathBuf};

/// How the hook process was started.
#[derive(Debug, Clone)]
pub struct HookOptions {
    /// `--policy`; otherwise the manifest is discovered from the tool call's directory.
    pub policy: Option<PathBuf>,
    /// `$CORDON_HOME`: approvals and the audit log.
    pub cordon_home: PathBuf,
    /// The user's home, for `~` and the secret directories in it.
    pub user_home: PathBuf,
    /// The hook's own working directory, used when the host does not say where the tool
    /// runs.
    pub cwd: PathBuf,
    /// Answer `ask` where the host can ask; when false, always deny with the approval
    /// instructions.
    pub allow_ask: bool,
}

/// Everything from stdin to the host's answer. Never panics on input; every failure is
/// a deny in the host's protocol.
pub fn respond(agent: Agent, input: &[u8], options: &HookOptions) -> HookResponse {
    respond_keeping(agent, input, options).0
}

/// [`respond`], handing back the authorizer that decided (when one was opened) instead
/// of closing it. Its verdict is already in the audit log; a hook process that exits
/// right after answering can skip closing the store and joining the audit writer, about
/// 0.3 ms of every tool call the agent makes (BENCHMARKS.md).
pub fn respond_keeping(
    agent: Agent,
    input: &[u8],
    options: &HookOptions,
) -> (HookResponse, Option<Authorizer>) {
    let request = match parse(agent, input) {
        Ok(request) => request,
        Err(e) => return (render_failure(agent, &e.to_string()), None),
    };
    let cwd = request.cwd.clone().unwrap_or_else(|| options.cwd.clone());
    let loaded = match load(options.policy.as_deref(), &cwd) {
        Ok(loaded) => loaded,
        Err(e) => return (render_failure(agent, &e), None),
    };
    let context = ShellContext {
        cwd,
        workspace: loaded.workspace(),
        home: options.user_home.clone(),
    };
    let authorizer = match Authorizer::open(loaded, &options.cordon_home) {
        Ok(authorizer) => authorizer,
        Err(e) => return (render_failure(agent, &e.to_string()), None),
    };
    let judgement = judge(&request.call, &context, &options.cordon_home, &authorizer);
    let response = render(agent, &judgement, request.can_ask && options.allow_ask);
    (response, Some(authorizer))
}

fn load(policy: Option<&Path>, cwd: &Path) -> Result<LoadedManifest, String> {
    manifest::discover(policy, cwd)
        .map(|(loaded, _)| loaded)
        .map_err(|e| format!("the capability declaration cannot be loaded: {e}"))
}
