//! `task.json`: what a task is and where it stands.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// The command is running (or the supervisor died without saying otherwise).
    Running,
    /// The command exited; its changes wait for review.
    Exited,
    /// The sandbox could not be built; the command never ran.
    Failed,
    /// The changes were written to the real workspace.
    Applied,
}

impl TaskState {
    /// The state as `cordon tasks` prints it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Exited => "exited",
            Self::Failed => "failed",
            Self::Applied => "applied",
        }
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The contents of `task.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskMeta {
    /// The task id, also its directory's name.
    pub id: String,
    /// `[task] name` of the manifest it ran under.
    pub name: String,
    /// The real workspace (canonical).
    pub workspace: PathBuf,
    /// The command and its arguments (lossy UTF-8, for people).
    pub command: Vec<String>,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// RFC 3339, UTC; set when the command ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Where it stands.
    pub state: TaskState,
    /// The command's exit status (128 + n for signal n).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why the sandbox could not be built, for a failed task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How many changes `apply` wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_changes: Option<usize>,
    /// The supervisor's pid while it runs, to tell a running task from one whose
    /// supervisor was killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor_pid: Option<u32>,
}

impl TaskMeta {
    /// The state to show: a task still marked running whose supervisor is gone was
    /// interrupted.
    #[must_use]
    pub fn display_state(&self) -> String {
        if self.state == TaskState::Running && !self.supervisor_alive() {
            return "interrupted".to_owned();
        }
        self.state.to_string()
    }

    fn supervisor_alive(&self) -> bool {
        self.supervisor_pid
            .is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
    }
}

/// Now, as `task.json` records times.
pub(crate) fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
