//! Integration tests for cordon-classify, as one binary so the linker runs once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test loudly"
)]
mod suite;
