use super::*;
use cordon_core::manifest::Manifest;

fn loaded(text: &str, dir: &std::path::Path) -> LoadedManifest {
    LoadedManifest {
        manifest: Manifest::parse(text, "cordon.toml").unwrap(),
        path: None,
        base_dir: dir.to_owned(),
        extra_policies: Vec::new(),
    }
}

fn railway(dir: &std::path::Path, inject: &str) -> Credentials {
    std::fs::write(dir.join("token"), "rw_real_token_7f3abc\n").unwrap();
    let text = format!(
        r#"
[task]
name = "t"
[[credential]]
name = "railway"
source = "file:token"
env_var = "RAILWAY_TOKEN"
hosts = ["backboard.railway.com"]
{inject}
allow = ["graphql.query.*"]
"#
    );
    Credentials::load(&loaded(&text, dir)).unwrap()
}

fn parts(headers: &[(&str, &str)], uri: &str) -> http::request::Parts {
    let mut request = http::Request::builder().uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.body(()).unwrap().into_parts().0
}

#[test]
fn phantoms_keep_the_prefix_and_length_and_never_equal_the_secret() {
    for (secret, prefix) in [
        ("ghp_0123456789abcdefABCDEF0123456789abcd", "ghp_"),
        ("sk-ant-api03-XYZxyz0123", "sk-ant-"),
        ("xoxb-1-2-abc", "xoxb-1-2-"),
        ("plain", ""),
    ] {
        let phantom = phantom_for(secret);
        assert_ne!(phantom, secret);
        assert!(phantom.len() >= secret.len(), "{phantom} for {secret}");
        assert!(phantom.starts_with(prefix), "{phantom} for {secret}");
        assert_ne!(phantom_for(secret), phantom, "phantoms are random");
    }
}

#[test]
fn a_uuid_or_hex_token_gets_a_phantom_of_the_same_format() {
    let uuid = "f188b58f-d5d7-24c5-0950-8e8cb4c3bf33";
    let phantom = phantom_for(uuid);
    assert_ne!(phantom, uuid);
    assert_eq!(phantom.len(), uuid.len());
    for (p, s) in phantom.chars().zip(uuid.chars()) {
        if s == '-' {
            assert_eq!(p, '-', "{phantom}");
        } else {
            assert!(matches!(p, '0'..='9' | 'a'..='f'), "{phantom}");
        }
    }
    let upper = phantom_for("DEADBEEF00112233DEADBEEF00112233");
    assert!(
        upper.chars().all(|c| matches!(c, '0'..='9' | 'A'..='F')),
        "{upper}"
    );
    // A JWT keeps its dots; base64url text stays alphanumeric.
    let jwt = phantom_for("eyJhbGciOi.eyJzdWIiOi.SflKxwRJSM");
    assert_eq!(jwt.matches('.').count(), 2, "{jwt}");
}

#[test]
fn a_request_names_its_credential_by_phantom_and_a_real_secret_is_seen() {
    let dir = tempfile::tempdir().unwrap();
    let creds = railway(dir.path(), "");
    let (var, phantom) = creds.phantoms().remove(0);
    assert_eq!(var, "RAILWAY_TOKEN");
    let with = |h: &str| parts(&[("authorization", h)], "/graphql/v2").headers;
    assert_eq!(
        creds.carried(&with(&format!("Bearer {phantom}")), None),
        Carried::Phantom(0)
    );
    assert_eq!(
        creds.carried(&with("Bearer rw_real_token_7f3abc"), None),
        Carried::RealSecret(0)
    );
    // Hidden in basic auth, or in the query string.
    let basic = base64::engine::general_purpose::STANDARD.encode("x:rw_real_token_7f3abc");
    assert_eq!(
        creds.carried(&with(&format!("Basic {basic}")), None),
        Carried::RealSecret(0)
    );
    assert_eq!(
        creds.carried(&HeaderMap::new(), Some("token=rw_real_token_7f3abc")),
        Carried::RealSecret(0)
    );
    assert_eq!(
        creds.carried(&with("Bearer something-else"), None),
        Carried::Nothing
    );
    assert!(creds.goes_to(0, "backboard.railway.com"));
    assert!(!creds.goes_to(0, "evil.example.com"));
}

#[test]
fn injection_replaces_the_phantom_wherever_the_manifest_says() {
    let dir = tempfile::tempdir().unwrap();
    let creds = railway(dir.path(), "");
    let phantom = creds.phantoms().remove(0).1;
    let mut p = parts(
        &[
            ("authorization", &format!("Bearer {phantom}")),
            ("x-other", "keep"),
        ],
        "/graphql/v2",
    );
    creds.inject(0, &mut p);
    assert_eq!(p.headers["authorization"], "Bearer rw_real_token_7f3abc");
    assert_eq!(p.headers["x-other"], "keep");

    let creds = railway(
        dir.path(),
        r#"inject = { header = "Project-Access-Token", value = "{secret}" }"#,
    );
    let phantom = creds.phantoms().remove(0).1;
    let mut p = parts(&[("project-access-token", &phantom)], "/graphql/v2");
    creds.inject(0, &mut p);
    assert_eq!(p.headers["project-access-token"], "rw_real_token_7f3abc");
    assert!(p.headers.get("authorization").is_none());

    let creds = railway(dir.path(), r#"inject = { basic_user = "git" }"#);
    let phantom = creds.phantoms().remove(0).1;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("git:{phantom}"));
    let mut p = parts(
        &[("authorization", &format!("Basic {basic}"))],
        "/repo.git/info/refs",
    );
    creds.inject(0, &mut p);
    let expected = base64::engine::general_purpose::STANDARD.encode("git:rw_real_token_7f3abc");
    assert_eq!(
        p.headers["authorization"],
        format!("Basic {expected}").as_str()
    );

    let creds = railway(dir.path(), r#"inject = { query = "access_token" }"#);
    let phantom = creds.phantoms().remove(0).1;
    let mut p = parts(&[], &format!("/v1/x?a=1&access_token={phantom}"));
    creds.inject(0, &mut p);
    assert_eq!(p.uri.query(), Some("a=1&access_token=rw_real_token_7f3abc"));
}

#[test]
fn echoes_of_the_secret_are_scrubbed() {
    let dir = tempfile::tempdir().unwrap();
    let creds = railway(dir.path(), "");
    let phantom = creds.phantoms().remove(0).1;
    let body = br#"{"token":"rw_real_token_7f3abc","again":"xrw_real_token_7f3abcx"}"#;
    let mut scrubber = creds.scrubber(0).unwrap();
    let mut out = scrubber.chunk(&body[..20]).to_vec();
    out.extend_from_slice(&scrubber.chunk(&body[20..]));
    out.extend_from_slice(&scrubber.finish());
    let scrubbed = String::from_utf8(out).unwrap();
    assert!(!scrubbed.contains("rw_real_token_7f3abc"), "{scrubbed}");
    assert_eq!(scrubbed.matches(&phantom).count(), 2);
}

#[test]
fn a_missing_secret_names_the_credential_and_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"
[task]
name = "t"
[[credential]]
name = "github"
source = "env:CORDON_TEST_SURELY_UNSET_VARIABLE"
env_var = "GITHUB_TOKEN"
hosts = ["api.github.com"]
"#;
    let e = Credentials::load(&loaded(text, dir.path()))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("github") && e.contains("CORDON_TEST_SURELY_UNSET_VARIABLE"),
        "{e}"
    );
    let text = text.replace(
        "env:CORDON_TEST_SURELY_UNSET_VARIABLE",
        "file:missing-token",
    );
    let e = Credentials::load(&loaded(&text, dir.path()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing-token"), "{e}");
}

#[test]
fn debug_never_shows_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let creds = railway(dir.path(), "");
    let shown = format!("{creds:?}");
    assert!(!shown.contains("rw_real"), "{shown}");
}

#[test]
fn a_phantom_dies_with_its_tasks_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let creds = railway(dir.path(), "");
    assert_eq!(creds.ttl(), std::time::Duration::from_secs(8 * 3600));
    let (_, phantom) = creds.phantoms().remove(0);
    let headers = parts(&[("authorization", &format!("Bearer {phantom}"))], "/").headers;
    let expires = creds.expires.unwrap();
    let just_before = expires - std::time::Duration::from_millis(1);
    assert_eq!(
        creds.carried_at(&headers, None, just_before),
        Carried::Phantom(0)
    );
    assert_eq!(
        creds.carried_at(&headers, None, expires),
        Carried::ExpiredPhantom(0)
    );
    // The real secret is refused as such whenever it comes.
    let real = parts(&[("authorization", "Bearer rw_real_token_7f3abc")], "/").headers;
    assert_eq!(
        creds.carried_at(&real, None, expires),
        Carried::RealSecret(0)
    );
}

#[test]
fn echoes_in_headers_are_scrubbed_in_the_clear_and_as_basic_auth() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let creds = railway(dir.path(), r#"inject = { basic_user = "git" }"#);
    let phantom = creds.phantoms().remove(0).1;
    let clear = creds
        .scrub_header(0, "https://x.test/cb?token=rw_real_token_7f3abc")
        .unwrap();
    assert_eq!(clear, format!("https://x.test/cb?token={phantom}"));
    let encoded = base64::engine::general_purpose::STANDARD.encode("git:rw_real_token_7f3abc");
    let scrubbed = creds.scrub_header(0, &format!("Basic {encoded}")).unwrap();
    assert!(!scrubbed.contains(&encoded), "{scrubbed}");
    assert_eq!(creds.scrub_header(0, "nothing here"), None);
}
