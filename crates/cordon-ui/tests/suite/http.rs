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
    let message = refused.err().unwrap().to_string();
    assert!(
        message.contains("--tls-cert") && message.contains("0.0.0.0"),
        "{message}"
    );
}

/// A CA of the test's own and a server certificate from it for `cordon.test` and
/// 127.0.0.1, as an operator would give `--tls-cert` / `--tls-key`.
fn tls_files(dir: &std::path::Path) -> (cordon_ui::TlsFiles, Vec<u8>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test UI CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["cordon.test".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let files = cordon_ui::TlsFiles {
        cert: dir.join("ui.pem"),
        key: dir.join("ui.key"),
    };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    (files, ca_cert.pem().into_bytes())
}

fn tls_agent(ca_pem: &[u8]) -> ureq::Agent {
    let ca = ureq::tls::Certificate::from_pem(ca_pem).unwrap();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(vec![
                    ca,
                ])))
                .build(),
        )
        .build()
        .into()
}

#[test]
fn off_loopback_the_page_is_served_over_tls_to_the_token_holder_only() {
    let home = tempfile::tempdir().unwrap();
    let gate = authorizer(home.path());
    let verdict = gate.authorize(&rm("/srv/data"));
    assert_eq!(verdict.decision, Decision::Confirm);
    let (files, ca) = tls_files(home.path());
    let ui = start(UiConfig {
        home: home.path().to_path_buf(),
        listen: "0.0.0.0:0".parse().unwrap(),
        tls: Some(files),
        approver: "alice".to_owned(),
    })
    .unwrap();
    assert!(ui.login_url.starts_with("https://"), "{}", ui.login_url);
    let port = ui.addr.port();
    let token = ui.login_url.split("token=").nth(1).unwrap().to_owned();
    let tls = tls_agent(&ca);
    // Reached by an address the certificate names, as from another machine.
    let base = format!("https://127.0.0.1:{port}");

    let without = answer(tls.get(&format!("{base}/")).call().unwrap());
    assert_ne!(
        without.status, 200,
        "served without the token: {}",
        without.body
    );
    assert!(!without.body.contains("/srv/data"));

    let login = answer(
        tls.get(&format!("{base}/login?token={token}"))
            .call()
            .unwrap(),
    );
    assert_eq!(login.status, 303, "{}", login.body);
    let cookie = login.header("set-cookie").unwrap().to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_owned();
    let page = answer(
        tls.get(&format!("{base}/"))
            .header("Cookie", &session)
            .call()
            .unwrap(),
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("/srv/data"), "{}", page.body);
    let id = verdict.approval_id.unwrap();
    assert!(page.body.contains(&id), "{}", page.body);

    // Plain HTTP on the same port gets no page.
    let plain = agent()
        .get(&format!("http://127.0.0.1:{port}/login?token={token}"))
        .call();
    assert!(
        plain.map_or(true, |r| r.status() != 303),
        "the token worked over plain HTTP"
    );
    // A name the certificate does not cover (a rebinding attacker's) is refused, even
    // over a connection that verified.
    let foreign = answer(
        tls.get(&format!("{base}/"))
            .header("Host", &format!("evil.example:{port}"))
            .header("Cookie", &session)
            .call()
            .unwrap(),
    );
    assert_eq!(foreign.status, 421, "{}", foreign.body);
}
