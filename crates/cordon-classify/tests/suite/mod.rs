mod clients;
mod common;
mod corpus;
mod limits;
mod nesting;
mod wrappers;
