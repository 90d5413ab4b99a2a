//! cordon-mcp: the MCP gate. `cordon mcp -- SERVER…` sits between an MCP client and a
//! stdio server; tools the task does not declare do not exist for the agent (filtered
//! out of every `tools/list` page, and a call to one is answered as the server answers
//! a tool it does not have), and every `tools/call` is an [`cordon_core::Action`]
//! judged by `authorize()` before the server sees it.
//!
//! Layers, each testable alone: [`frame`] (newline-delimited framing with a size
//! limit), [`jsonrpc`] (messages), [`versions`] (protocol revisions), [`tools`] (a
//! listed or called tool as actions: classification, annotations, argument
//! constraints), [`session`] (the state machine, no I/O) and [`proxy`] (tokio
//! plumbing). See docs/mcp.md for what is supported and what is not.

pub mod frame;
pub mod http;
pub mod jsonrpc;
pub mod judge;
pub mod name;
pub mod proxy;
pub mod session;
pub mod sse;
pub mod tools;
pub mod versions;

pub use http::{Upstream, serve_http};
pub use judge::{Judge, PolicyOnly};
pub use proxy::{Ended, Outcome, ProxyError, Server, ServerProcess, serve, serve_server, spawn};
pub use session::{Held, Options, Out, Session, UnknownTool};
