//! The gateway's own answers: refusals an agent can act on, in JSON.

use bytes::Bytes;
use cordon_core::{Action, Decision, Verdict};
use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use serde_json::json;

pub type Body = BoxBody<Bytes, hyper::Error>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

pub fn empty() -> Body {
    full(Bytes::new())
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(full(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert("x-cordon", header::HeaderValue::from_static("refused"));
    response
}

/// The answer for an action policy did not allow. `428 Precondition Required` for a
/// confirmation (the precondition is a human's signature), `403` otherwise.
pub fn refusal(action: &Action, verdict: &Verdict) -> Response<Body> {
    let summary = json!({
        "operation": action.operation,
        "effect": action.effect.as_str(),
        "host": action.host,
        "target": action.target,
    });
    match verdict.decision {
        Decision::Confirm => {
            let id = verdict.approval_id.clone().unwrap_or_default();
            json_response(
                StatusCode::PRECONDITION_REQUIRED,
                &json!({
                    "kind": "confirmation_required",
                    "approval_id": id,
                    "action": summary,
                    "reasons": verdict.reasons,
                    "policies": verdict.policies,
                    "how_to_approve": format!(
                        "a human runs `cordon approve {id}` (or approves it in `cordon ui`); then retry the identical request once"
                    ),
                }),
            )
        }
        Decision::Deny | Decision::Allow => json_response(
            StatusCode::FORBIDDEN,
            &json!({
                "kind": "denied",
                "action": summary,
                "reasons": verdict.reasons,
                "policies": verdict.policies,
            }),
        ),
    }
}

/// A request the gateway cannot handle as asked, before policy: a malformed target,
/// a body too large, an upstream that cannot be reached.
pub fn problem(status: StatusCode, kind: &str, message: &str) -> Response<Body> {
    json_response(status, &json!({ "kind": kind, "message": message }))
}
