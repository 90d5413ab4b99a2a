mod approvals;
mod audit;
mod authorize;
mod common;
mod forgery;
#[path = "../support/pg_server.rs"]
mod pg_server;
mod policy;
