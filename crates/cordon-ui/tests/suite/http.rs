//! The page's doors, knocked on with real HTTP requests: no token, a wrong token, no
//! session, a missing or foreign CSRF token, a foreign Host or Origin.

use super::common::{authorizer, rm, ui};
use cordon_core::Decision;
use cordon_ui::{UiConfig, UiError, start};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn answer(mut response: ureq::http::Response<ureq::Body>) -> Answer {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Answer {
        status,
        headers,
        body,
    }
}

fn get(url: &str, cookie: Option<&str>) -> Answer {
    let mut request = agent().get(url);
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    answer(request.call().unwrap())
}

fn post(url: &str, cookie: Option<&str>, form: &[(&str, &str)], origin: Option<&str>) -> Answer {
    let mut request = agent().post(url);
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    if let Some(origin) = origin {
        request = request.header("Origin", origin);
    }
    answer(request.send_form(form.iter().copied()).unwrap())
}

/// Signs in with the printed URL; returns the cookie to send back.
fn sign_in(login_url: &str) -> String {
    let answer = get(login_url, None);
    assert_eq!(answer.status, 303);
    assert_eq!(answer.header("location"), Some("/"));
    let cookie = answer.header("set-cookie").unwrap().to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    cookie.split(';').next().unwrap().to_owned()
}

fn csrf_in(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    page[at..at + 64].to_owned()
}

#[test]
fn without_the_printed_token_nothing_is_served() {
    let home = tempfile::tempdir().unwrap();
    let server = ui(home.path());
    let base = &server.base;
    assert_eq!(get(&format!("{base}/"), None).status, 401);
    assert_eq!(get(&format!("{base}/tasks"), None).status, 401);
    assert_eq!(get(&format!("{base}/fragment/pending"), None).status, 401);
    assert_eq!(get(&format!("{base}/login"), None).status, 403);
    let wrong = get(&format!("{base}/login?token={}", "0".repeat(64)), None);
    assert_eq!(wrong.status, 403);
    assert!(wrong.header("set-cookie").is_none());
    // A made-up session cookie is no session.
    assert_eq!(
        get(
            &format!("{base}/"),
            Some(&format!("cordon_session={}", "a".repeat(64)))
        )
        .status,
        401
    );
}

#[test]
fn the_token_signs_a_browser_in_and_pages_are_locked_down() {
    let home = tempfile::tempdir().unwrap();
    let auth = authorizer(home.path());
    let id = auth.authorize(&rm("/srv/data")).approval_id.unwrap();
    let server = ui(home.path());
    let cookie = sign_in(&server.login_url);
    let page = get(&format!("{}/", server.base), Some(&cookie));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("DELETE /srv/data via a shell command"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("/approvals/{id}")));
    assert!(page.body.contains("name=\"viewport\""));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
    assert_eq!(page.header("referrer-policy"), Some("same-origin"));

    let detail = get(&format!("{}/approvals/{id}", server.base), Some(&cookie));
    // The agent's text is escaped, never markup.
    assert!(
        detail
            .body
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;")
    );
    assert!(!detail.body.contains("<script>alert(1)"));
    assert!(detail.body.contains("<label for=\"deny-reason\">"));
}

#[test]
fn a_post_without_the_sessions_csrf_token_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let auth = authorizer(home.path());
    let id = auth.authorize(&rm("/srv/data")).approval_id.unwrap();
    let server = ui(home.path());
    let cookie = sign_in(&server.login_url);
    let other = sign_in(&server.login_url);
    let approve = format!("{}/approvals/{id}/approve", server.base);
    let detail = get(&format!("{}/approvals/{id}", server.base), Some(&cookie));
    let token = csrf_in(&detail.body);
    let other_token = csrf_in(&get(&format!("{}/approvals/{id}", server.base), Some(&other)).body);

    assert_eq!(post(&approve, None, &[("csrf", &token)], None).status, 401);
    assert_eq!(
        post(&approve, Some(&cookie), &[("approver", "alice")], None).status,
        403
    );
    assert_eq!(
        post(&approve, Some(&cookie), &[("csrf", &other_token)], None).status,
        403
    );
    assert_eq!(
        post(
            &approve,
            Some(&cookie),
            &[("csrf", &token)],
            Some("http://evil.example")
        )
        .status,
        403
    );
    assert_eq!(auth.approvals().get(&id).unwrap().state, "pending");

    let done = post(
        &approve,
        Some(&cookie),
        &[("csrf", &token), ("approver", "alice"), ("note", "ok")],
        Some(&server.base),
    );
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(auth.approvals().get(&id).unwrap().state, "approved");
    assert_eq!(auth.authorize(&rm("/srv/data")).decision, Decision::Allow);
}

#[test]
fn a_foreign_host_header_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let server = ui(home.path());
    let answer = agent()
        .get(&server.login_url)
        .header("Host", "attacker.example")
        .call()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 421);
}

#[test]
fn a_non_loopback_address_needs_tls() {
    let home = tempfile::tempdir().unwrap();
    let refused = start(UiConfig {
        home: home.path().to_path_buf(),
        listen: "0.0.0.0:0".parse().unwrap(),
        tls: None,
        approver: "alice".to_owned(),
    });
    assert!(matches!(refused, Err(UiError::NotLoopback(_))));
}
