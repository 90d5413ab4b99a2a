//! Requests: who may make them, and what each one does.

use crate::auth::{self, same};
use crate::html::{esc, page};
use crate::{State, pages};
use axum::Router;
use axum::extract::{Path, Query, Request, State as Extract};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use cordon_core::audit::{AuditRecord, chain_path, list_tasks, read_records, verify_chain};
use serde::Deserialize;
use std::sync::Arc;

type Shared = Arc<State>;

pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(queue))
        .route("/fragment/pending", get(fragment))
        .route("/login", get(login))
        .route("/approvals/{id}", get(approval))
        .route("/approvals/{id}/approve", post(approve))
        .route("/approvals/{id}/deny", post(deny))
        .route("/tasks", get(tasks))
        .route("/tasks/{task}", get(timeline))
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

fn refuse(status: StatusCode, title: &str, text: &str) -> Response {
    (
        status,
        Html(page(
            title,
            &format!("<h2>{}</h2><p>{}</p>", esc(title), esc(text)),
        )),
    )
        .into_response()
}

/// Runs before every handler: the Host must be ours, a page needs a session (except
/// the login and the static files), and every response gets the headers that keep it
/// from being framed, cached or leaking the URL.
async fn guard(Extract(state): Extract<Shared>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let mut response = if !state.is_own_host(host) {
        refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "Wrong address",
            "This server answers only at the address `cordon ui` printed.",
        )
    } else {
        let path = request.uri().path();
        let open = path == "/login" || path.starts_with("/static/");
        let cookie = request
            .headers()
            .get(header::COOKIE)
            .and_then(|c| c.to_str().ok());
        if !open && state.sessions.csrf_for(cookie).is_none() {
            refuse(
                StatusCode::UNAUTHORIZED,
                "Not signed in",
                "Open the URL that `cordon ui` printed in its terminal; it signs this browser in.",
            )
        } else {
            next.run(request).await
        }
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[derive(Deserialize)]
struct LoginQuery {
    token: Option<String>,
}

async fn login(Extract(state): Extract<Shared>, Query(q): Query<LoginQuery>) -> Response {
    if !q.token.as_deref().is_some_and(|t| same(t, &state.token)) {
        return refuse(
            StatusCode::FORBIDDEN,
            "This link does not sign you in",
            "The token is wrong. Use the exact URL `cordon ui` printed when it started.",
        );
    }
    let (id, _) = state.sessions.open();
    let mut response = Redirect::to("/").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&auth::set_cookie(&id, state.tls)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

fn internal(e: impl std::fmt::Display) -> Response {
    refuse(
        StatusCode::INTERNAL_SERVER_ERROR,
        "cordon could not do that",
        &e.to_string(),
    )
}

async fn queue(Extract(state): Extract<Shared>) -> Response {
    match state.approvals.pending() {
        Ok(pending) => {
            Html(page("Pending approvals", &pages::queue_page(&pending))).into_response()
        }
        Err(e) => internal(e),
    }
}

async fn fragment(Extract(state): Extract<Shared>) -> Response {
    match state.approvals.pending() {
        Ok(pending) => Html(pages::queue(&pending)).into_response(),
        Err(e) => internal(e),
    }
}

fn csrf(state: &State, headers: &HeaderMap) -> String {
    let cookie = headers.get(header::COOKIE).and_then(|c| c.to_str().ok());
    state.sessions.csrf_for(cookie).unwrap_or_default()
}

#[derive(Deserialize)]
struct FlashQuery {
    done: Option<String>,
}

async fn approval(
    Extract(state): Extract<Shared>,
    Path(id): Path<String>,
    Query(q): Query<FlashQuery>,
    headers: HeaderMap,
) -> Response {
    let record = match state.approvals.get(&id) {
        Ok(record) => record,
        Err(cordon_core::approvals::ApprovalError::NotFound(_)) => {
            return refuse(
                StatusCode::NOT_FOUND,
                "No such approval",
                &format!("There is no approval `{id}`."),
            );
        }
        Err(e) => return internal(e),
    };
    let flash = match q.done.as_deref() {
        Some("approved") => Some("Approved: the identical call passes once.".to_owned()),
        Some("voted") => Some(format!(
            "Your approval is recorded; {} of {} approvers so far.",
            record.approvers.len(),
            record.approvers_required
        )),
        Some("denied") => Some("Refused: the agent is told your reason.".to_owned()),
        _ => None,
    };
    let body = pages::approval(
        &record,
        &csrf(&state, &headers),
        &state.approver,
        flash.as_deref(),
    );
    Html(page(&format!("Approval {id}"), &body)).into_response()
}

#[derive(Deserialize)]
struct DecisionForm {
    csrf: Option<String>,
    approver: Option<String>,
    note: Option<String>,
    reason: Option<String>,
}

/// The session's CSRF token must come back in the form, and a browser's Origin, when
/// it sends one, must be this server. Returns the refusal, if any.
fn check_post(state: &State, headers: &HeaderMap, form: &DecisionForm) -> Option<Response> {
    let expected = csrf(state, headers);
    let given = form.csrf.as_deref().unwrap_or("");
    if expected.is_empty() || !same(given, &expected) {
        return Some(refuse(
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form did not come from this session. Reload the page and try again.",
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        let host = origin.split_once("://").map_or(origin, |(_, h)| h);
        if !state.is_own_host(host) {
            return Some(refuse(
                StatusCode::FORBIDDEN,
                "Cross-site request refused",
                "Decisions can only be made from this page.",
            ));
        }
    }
    None
}

fn approver(state: &State, form: &DecisionForm) -> String {
    form.approver
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .unwrap_or(&state.approver)
        .to_owned()
}

async fn approve(
    Extract(state): Extract<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<DecisionForm>,
) -> Response {
    if let Some(refusal) = check_post(&state, &headers, &form) {
        return refusal;
    }
    let who = approver(&state, &form);
    let note = form
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    match state.approvals.approve(&id, &who, note) {
        Ok(record) => {
            let done = if record.state == "approved" {
                "approved"
            } else {
                "voted"
            };
            Redirect::to(&format!("/approvals/{id}?done={done}")).into_response()
        }
        Err(e) => refuse(StatusCode::CONFLICT, "Not approved", &e.to_string()),
    }
}

async fn deny(
    Extract(state): Extract<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<DecisionForm>,
) -> Response {
    if let Some(refusal) = check_post(&state, &headers, &form) {
        return refusal;
    }
    let Some(reason) = form
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "A reason is needed",
            "Say why; the agent reads it and tells its user.",
        );
    };
    let who = approver(&state, &form);
    match state.approvals.deny(&id, &who, reason) {
        Ok(_) => Redirect::to(&format!("/approvals/{id}?done=denied")).into_response(),
        Err(e) => refuse(StatusCode::CONFLICT, "Not refused", &e.to_string()),
    }
}

async fn tasks(Extract(state): Extract<Shared>) -> Response {
    let names = match list_tasks(&state.home) {
        Ok(names) => names,
        Err(e) => return internal(e),
    };
    let rows: Vec<_> = names
        .into_iter()
        .map(|task| {
            let report = verify_chain(&state.home, state.approvals.store(), &task).ok();
            (task, report)
        })
        .collect();
    Html(page("Tasks", &pages::tasks(&rows))).into_response()
}

async fn timeline(Extract(state): Extract<Shared>, Path(task): Path<String>) -> Response {
    let known = list_tasks(&state.home).unwrap_or_default();
    if !known.contains(&task) {
        return refuse(
            StatusCode::NOT_FOUND,
            "No such task",
            &format!("No audit chain for `{task}`."),
        );
    }
    let report = verify_chain(&state.home, state.approvals.store(), &task).ok();
    let records: Vec<AuditRecord> = match read_records(&chain_path(&state.home, &task)) {
        Ok((lines, _)) => lines
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
        Err(e) => return internal(e),
    };
    Html(page(
        &format!("Task {task}"),
        &pages::timeline(&task, report.as_ref(), &records, 500),
    ))
    .into_response()
}

async fn css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../assets/app.css"),
    )
}

async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/app.js"),
    )
}
