mod audit_cli;
mod check;
mod common;
mod demo;
mod explain;
mod gateway;
mod hook;
mod policy_cli;
