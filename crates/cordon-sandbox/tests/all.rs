//! Integration tests of the sandbox: real bash and coreutils inside, each test an
//! honest attempt to get around one control.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail by panicking"
)]

mod suite;
