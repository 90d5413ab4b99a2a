mod audit_cli;
mod common;
mod demo;
mod explain;
mod policy_cli;
