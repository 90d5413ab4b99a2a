//! cordon-core: the decision path every gate shares.
//!
//! A gate turns what it saw into an [`Action`], calls [`Authorizer::authorize`], and
//! enforces the [`Verdict`]. Policy comes from the task's `cordon.toml` compiled to
//! Cedar; approvals turn confirm into allow-once; the audit log records every decision
//! before the gate acts. Anything that goes wrong inside is a deny.

pub mod action;
pub mod approvals;
pub mod audit;
mod authorize;
pub mod canonical;
pub mod home;
pub mod manifest;
pub mod outbox;
pub mod policy;
pub mod store;
pub mod verdict;

pub use action::{Action, Effect, Gate, Target};
pub use authorize::{Authorizer, OpenError, evaluate, resolve_target};
pub use verdict::{Decision, Verdict};
