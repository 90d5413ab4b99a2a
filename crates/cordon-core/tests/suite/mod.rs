mod approvals;
mod audit;
mod authorize;
mod common;
mod policy;
