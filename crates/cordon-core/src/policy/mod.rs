//! The manifest compiled to Cedar, and the evaluation every gate's decision goes through.
//!
//! Two policy sets are evaluated in turn. The *main* set decides allow or deny as
//! Cedar always does (default deny, forbid wins). Only when it allows is the *confirm*
//! set asked: any of its policies that matches turns the allow into "a human must
//! sign this first". Keeping confirmation triggers apart means they can never turn a
//! deny into something weaker.

mod cache;
mod compile;
mod context;
mod engine;
mod fold;
mod scope;

pub use cache::PolicyCache;
pub use compile::{CompiledPolicy, PolicyOrigin, compile, compile_with};
pub use engine::{Evaluation, PolicyEngine};
pub use scope::{CredentialScope, Needs, Scope};

use thiserror::Error;

/// Cedar's own schema text for cordon requests; `cordon explain --schema` prints it.
pub const SCHEMA: &str = include_str!("schema.cedarschema");

#[derive(Debug, Error)]
pub enum PolicyError {
    #[error("cordon's built-in Cedar schema does not parse: {0}")]
    Schema(String),
    #[error("policy `{id}` generated from the manifest does not parse: {detail}")]
    Generated { id: String, detail: String },
    #[error("{file}: Cedar policy does not parse: {detail}")]
    UserParse { file: String, detail: String },
    #[error("{file}: Cedar policy `{id}` does not validate against cordon's schema: {detail}")]
    UserInvalid {
        file: String,
        id: String,
        detail: String,
    },
    #[error("policy id `{0}` is used twice")]
    DuplicateId(String),
    #[error("Cedar validation failed: {0}")]
    Validation(String),
    #[error("request could not be built: {0}")]
    Request(String),
}
