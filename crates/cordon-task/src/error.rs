//! Errors of task state and of reviewing, applying and discarding changes.

use std::io;
use std::path::PathBuf;

/// Why a task operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// A file or directory could not be read or written.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done ("read", "write", "rename", …).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The kernel's answer.
        source: io::Error,
    },
    /// A task's state file is not what cordon wrote.
    #[error("task state `{path}` is unreadable: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// No task matches.
    #[error("no task `{0}`; `cordon tasks` lists them")]
    NotFound(String),
    /// There is no task at all.
    #[error("there are no tasks yet; `cordon run -- CMD` starts one")]
    NoTasks,
    /// An id prefix matches several tasks.
    #[error("`{prefix}` matches several tasks: {}", matches.join(", "))]
    Ambiguous {
        /// What was asked for.
        prefix: String,
        /// The ids it matches.
        matches: Vec<String>,
    },
    /// The operation does not fit the task's state.
    #[error("task `{id}` is {state}: {detail}")]
    State {
        /// The task.
        id: String,
        /// Its state.
        state: String,
        /// What cannot be done.
        detail: String,
    },
    /// A path in the workspace or upper directory cannot be handled.
    #[error("`{path}`: {detail}")]
    Path {
        /// The path.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The workspace holds more entries than a snapshot will record.
    #[error(
        "the workspace `{workspace}` has more than {limit} entries; cordon will not snapshot it (pick a smaller `--workspace`)"
    )]
    TooLarge {
        /// The workspace.
        workspace: PathBuf,
        /// The bound.
        limit: usize,
    },
    /// The real workspace changed underneath the task.
    #[error(
        "the workspace changed since the task began: {}; review them, then `cordon apply --force` to overwrite",
        paths.join(", ")
    )]
    Conflicts {
        /// Workspace-relative paths that changed on both sides.
        paths: Vec<String>,
    },
    /// The task changes paths a host later executes or trusts.
    #[error(
        "the task changes protected paths: {}; review them with `cordon diff`, then `cordon apply --include-protected`",
        paths.join(", ")
    )]
    Protected {
        /// Workspace-relative protected paths.
        paths: Vec<String>,
    },
}

impl TaskError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}
