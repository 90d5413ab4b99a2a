mod audit_cli;
mod check;
mod common;
mod demo;
mod explain;
mod hook;
mod policy_cli;
