mod approvals;
mod audit;
mod authorize;
mod common;
mod forgery;
mod policy;
