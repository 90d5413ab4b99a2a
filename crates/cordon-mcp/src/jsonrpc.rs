//! JSON-RPC 2.0 messages as MCP uses them. A line is parsed once into a
//! [`Message`]; what is forwarded is that parsed value re-serialized, never the raw
//! bytes, so the peer reads exactly what the proxy judged (duplicate keys, odd escapes
//! and other parser differentials collapse to one reading).

use serde_json::{Map, Value, json};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const INVALID_PARAMS: i64 = -32602;
/// Implementation-defined server errors (JSON-RPC reserves -32000 to -32099).
pub const UPSTREAM_GONE: i64 = -32000;
pub const UPSTREAM_TIMEOUT: i64 = -32001;

/// A request id: a string or an integer, as MCP requires (never null).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Id {
    Number(i64),
    Text(String),
}

impl Id {
    pub fn from_value(value: &Value) -> Option<Id> {
        match value {
            Value::String(s) => Some(Id::Text(s.clone())),
            Value::Number(n) => n.as_i64().map(Id::Number),
            _ => None,
        }
    }

    pub fn to_value(&self) -> Value {
        match self {
            Id::Number(n) => json!(n),
            Id::Text(s) => json!(s),
        }
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Id::Number(n) => write!(f, "{n}"),
            Id::Text(s) => write!(f, "{s:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request {
        id: Id,
        method: String,
        params: Option<Value>,
    },
    Notification {
        method: String,
        params: Option<Value>,
    },
    /// A result or an error; `body` is the whole object, id included.
    Response { id: Id, body: Map<String, Value> },
}

/// Why a line is not a message; the peer gets a JSON-RPC error saying so.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("the message is not valid JSON: {0}")]
    Json(String),
    #[error(
        "JSON-RPC batches (arrays) are not part of the MCP protocol versions cordon supports; send one message per line"
    )]
    Batch,
    #[error("a JSON-RPC message must be an object with `\"jsonrpc\": \"2.0\"`")]
    NotJsonRpc,
    #[error("{0}")]
    Shape(&'static str),
}

impl ParseError {
    pub fn code(&self) -> i64 {
        match self {
            ParseError::Json(_) => PARSE_ERROR,
            _ => INVALID_REQUEST,
        }
    }
}

/// Reads one line. The id of a malformed request is recovered when it can be, so the
/// sender can match the error to what it sent.
pub fn parse(line: &[u8]) -> Result<Message, (ParseError, Option<Id>)> {
    let value: Value =
        serde_json::from_slice(line).map_err(|e| (ParseError::Json(e.to_string()), None))?;
    let object = match value {
        Value::Object(object) => object,
        Value::Array(_) => return Err((ParseError::Batch, None)),
        _ => return Err((ParseError::NotJsonRpc, None)),
    };
    let id = object.get("id").and_then(Id::from_value);
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err((ParseError::NotJsonRpc, id));
    }
    let params = object.get("params").cloned();
    if params
        .as_ref()
        .is_some_and(|p| !p.is_object() && !p.is_array())
    {
        return Err((ParseError::Shape("`params` must be an object"), id));
    }
    match (object.get("method"), object.get("id")) {
        (Some(Value::String(method)), None) => Ok(Message::Notification {
            method: method.clone(),
            params,
        }),
        (Some(Value::String(method)), Some(raw)) => match Id::from_value(raw) {
            Some(id) => Ok(Message::Request {
                id,
                method: method.clone(),
                params,
            }),
            None => Err((
                ParseError::Shape("a request id must be a string or an integer"),
                None,
            )),
        },
        (Some(_), _) => Err((ParseError::Shape("`method` must be a string"), id)),
        (None, Some(raw)) => {
            let Some(id) = Id::from_value(raw) else {
                return Err((
                    ParseError::Shape("a response id must be a string or an integer"),
                    None,
                ));
            };
            if object.contains_key("result") == object.contains_key("error") {
                return Err((
                    ParseError::Shape("a response carries exactly one of `result` and `error`"),
                    Some(id),
                ));
            }
            Ok(Message::Response { id, body: object })
        }
        (None, None) => Err((
            ParseError::Shape("a message needs a `method` or an `id`"),
            None,
        )),
    }
}

impl Message {
    pub fn to_value(&self) -> Value {
        match self {
            Message::Request { id, method, params } => {
                let mut object = Map::new();
                object.insert("jsonrpc".into(), json!("2.0"));
                object.insert("id".into(), id.to_value());
                object.insert("method".into(), json!(method));
                if let Some(params) = params {
                    object.insert("params".into(), params.clone());
                }
                Value::Object(object)
            }
            Message::Notification { method, params } => {
                let mut object = Map::new();
                object.insert("jsonrpc".into(), json!("2.0"));
                object.insert("method".into(), json!(method));
                if let Some(params) = params {
                    object.insert("params".into(), params.clone());
                }
                Value::Object(object)
            }
            Message::Response { body, .. } => Value::Object(body.clone()),
        }
    }
}

/// A JSON-RPC error response; `id` is null when the request's id could not be read.
pub fn error(id: Option<&Id>, code: i64, message: &str, data: Option<Value>) -> Value {
    let mut error = Map::new();
    error.insert("code".into(), json!(code));
    error.insert("message".into(), json!(message));
    if let Some(data) = data {
        error.insert("data".into(), data);
    }
    json!({
        "jsonrpc": "2.0",
        "id": id.map_or(Value::Null, Id::to_value),
        "error": error,
    })
}

/// A successful response.
pub fn result(id: &Id, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id.to_value(), "result": result })
}

#[cfg(test)]
#[allow(
    clippy::panic,
    clippy::unwrap_used,
    reason = "a failing test fails loudly"
)]
#[path = "jsonrpc_tests.rs"]
mod tests;
