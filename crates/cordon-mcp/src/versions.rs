//! The protocol revisions the proxy understands, and the refusal for the others.
//!
//! Two eras: the initialize handshake (2025-06-18, 2025-11-25), where one version is
//! agreed for the session, and the stateless revision (2026-07-28), where every request
//! names its version in `_meta`. Older handshake revisions allowed JSON-RPC batches,
//! which the proxy does not unpack, so they are not spoken.

use crate::jsonrpc::{self, Id};
use serde_json::{Value, json};

pub const HANDSHAKE: [&str; 2] = ["2025-06-18", "2025-11-25"];
pub const STATELESS: [&str; 1] = ["2026-07-28"];
/// The version proposed to a server when the client asked for one the proxy does not
/// speak, as a server would answer such a client.
pub const LATEST_HANDSHAKE: &str = "2025-11-25";
/// Where a 2026-07-28 request names its version.
pub const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";

#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub message: String,
    pub requested: Value,
}

impl Refusal {
    /// The specification's error for an unsupported version.
    pub fn to_error(&self, id: &Id) -> Value {
        let supported: Vec<&str> = HANDSHAKE.iter().chain(STATELESS.iter()).copied().collect();
        jsonrpc::error(
            Some(id),
            jsonrpc::INVALID_PARAMS,
            "Unsupported protocol version",
            Some(json!({
                "supported": supported,
                "requested": self.requested,
                "detail": self.message,
            })),
        )
    }
}

/// A stateless request's `_meta` version must be one the proxy speaks; a request
/// without one belongs to a handshake session.
pub fn check_meta(params: Option<&Value>) -> Result<(), Refusal> {
    let Some(requested) = params
        .and_then(|p| p.get("_meta"))
        .and_then(|m| m.get(META_VERSION))
    else {
        return Ok(());
    };
    match requested.as_str() {
        Some(v) if STATELESS.contains(&v) => Ok(()),
        _ => Err(Refusal {
            message: format!(
                "a request names protocol version {requested} in `_meta`; cordon mcp speaks {} per request",
                STATELESS.join(", ")
            ),
            requested: requested.clone(),
        }),
    }
}

/// Replaces an `initialize` request's version the proxy does not speak with the latest
/// it does, and says so; the client then accepts or disconnects, as the handshake
/// intends.
pub fn propose_handshake(params: Option<&mut Value>) -> Option<String> {
    let params = params?.as_object_mut()?;
    let requested = params
        .get("protocolVersion")
        .cloned()
        .unwrap_or(Value::Null);
    if requested.as_str().is_some_and(|v| HANDSHAKE.contains(&v)) {
        return None;
    }
    params.insert("protocolVersion".into(), json!(LATEST_HANDSHAKE));
    Some(format!(
        "the client asked for protocol version {requested}, which cordon mcp does not speak in a handshake; proposed {LATEST_HANDSHAKE} instead"
    ))
}

/// The version a server agreed to must be one the proxy speaks.
pub fn check_handshake(result: &Value) -> Result<String, Refusal> {
    let agreed = result
        .get("protocolVersion")
        .cloned()
        .unwrap_or(Value::Null);
    match agreed.as_str() {
        Some(v) if HANDSHAKE.contains(&v) => Ok(v.to_owned()),
        _ => Err(Refusal {
            message: format!(
                "the MCP server chose protocol version {agreed}; cordon mcp speaks {} in a handshake",
                HANDSHAKE.join(", ")
            ),
            requested: agreed,
        }),
    }
}
