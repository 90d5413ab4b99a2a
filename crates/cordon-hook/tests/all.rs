//! cordon-hook's library tests: each host's input read into the right tool call, and
//! judgements over a real policy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test loudly"
)]
mod suite;
