mod approval_gate;
mod approvals_watch;
mod audit_cli;
mod check;
mod common;
mod demo;
mod explain;
mod gateway;
mod hook;
mod mcp_attacks;
mod mcp_client;
mod mcp_servers;
#[path = "../../../cordon-core/tests/support/pg_server.rs"]
mod pg_server;
mod policy_cli;
mod sandbox_run;
mod shared_store;
mod webhooks;
