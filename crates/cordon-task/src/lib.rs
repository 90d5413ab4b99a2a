//! cordon-task: the tasks `cordon run` creates, and what a human does with their
//! changes afterwards.
//!
//! A task lives in `$CORDON_HOME/tasks/<id>/`:
//!
//! * `task.json`: id, task name, workspace, command, start and end, state, exit code
//!   ([`TaskMeta`]);
//! * `snapshot.json`: the moment the task began and the names the workspace held then
//!   ([`Snapshot`]; earlier tasks: every entry's details), so [`apply`] can tell
//!   whether a path it writes changed underneath;
//! * `upper/` and `work/`: the overlay's upper and work directories. Everything the
//!   sandboxed command wrote or deleted in the workspace is in `upper/`, and nothing
//!   else touched the real workspace.
//!
//! # Security boundary
//!
//! The upper directory was written by the sandboxed command, so it is untrusted input:
//! [`changes`] reads it without following symlinks, [`apply`] never writes outside the
//! workspace, refuses paths a host later executes or trusts ([`is_protected`]) unless
//! asked, and writes each file through a temporary file and a rename, so nothing is
//! ever half-written.

mod apply;
mod changes;
mod error;
mod id;
mod meta;
mod protected;
mod snapshot;
mod store;
mod walk;

pub use apply::{ApplyOptions, ApplyReport, Conflict, apply};
pub use changes::{Change, ChangeKind, Content, changes, render_diff};
pub use error::TaskError;
pub use meta::{TaskMeta, TaskState};
pub use protected::is_protected;
pub use snapshot::{Began, Listing, Snapshot, SnapshotEntry};
pub use store::{Task, Tasks};
