use super::*;
use cordon_core::manifest::Manifest;

fn manifest() -> Manifest {
    Manifest::parse(
        r#"
[task]
name = "t"
environment = "staging"

[[resource]]
kind = "railway.volume"
id = "vol_prod_7f3"
environment = "production"
"#,
        "cordon.toml",
    )
    .unwrap()
}

fn read(method: &str, path: &str, content_type: Option<&str>, body: &str) -> Reading {
    let authority = crate::host::parse_authority("backboard.railway.com", 443).unwrap();
    read_request(
        &manifest(),
        &RequestFacts {
            method,
            authority: &authority,
            path,
            query: None,
            content_type,
            body: body.as_bytes(),
        },
    )
}

fn actions(reading: Reading) -> Vec<Action> {
    match reading {
        Reading::Actions(actions) => actions,
        Reading::Unreadable { error, .. } => panic!("unreadable: {error}"),
    }
}

#[test]
fn plain_methods() {
    let a = actions(read("GET", "/v1/projects", None, ""));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].operation, "http.GET");
    assert_eq!(a[0].effect, Effect::Read);
    assert_eq!(a[0].host.as_deref(), Some("backboard.railway.com"));
    assert_eq!(a[0].url_path.as_deref(), Some("/v1/projects"));
    assert_eq!(
        actions(read("DELETE", "/v1/x", None, ""))[0].effect,
        Effect::Destroy
    );
    assert_eq!(
        actions(read("PUT", "/v1/x", None, "{}"))[0].effect,
        Effect::Write
    );
}

#[test]
fn the_incident_is_a_destroy_of_an_inventory_volume() {
    let body = r#"{"query":"mutation customDomainCreate($v: String!) { volumeDelete(volumeId: $v) }","variables":{"v":"vol_prod_7f3"}}"#;
    let a = actions(read("POST", "/graphql/v2", Some("application/json"), body));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].operation, "graphql.mutation.volumeDelete");
    assert_eq!(a[0].effect, Effect::Destroy);
    let target = a[0].target.as_ref().unwrap();
    assert_eq!(
        (target.kind.as_str(), target.id.as_str()),
        ("railway.volume", "vol_prod_7f3")
    );
}

#[test]
fn every_field_of_a_batch_is_an_action() {
    let body = r#"[{"query":"{ me { id } }"},{"query":"mutation { a: customDomainCreate(input: {}) { id } b: serviceDelete(id: \"svc_1\") }"}]"#;
    let a = actions(read("POST", "/graphql/v2", Some("application/json"), body));
    let ops: Vec<(&str, Effect)> = a.iter().map(|a| (a.operation.as_str(), a.effect)).collect();
    assert_eq!(
        ops,
        [
            ("graphql.query.me", Effect::Read),
            ("graphql.mutation.customDomainCreate", Effect::Write),
            ("graphql.mutation.serviceDelete", Effect::Destroy),
        ]
    );
    // Not in the inventory: named anyway, so policy sees an unverified target.
    let target = a[2].target.as_ref().unwrap();
    assert_eq!(
        (target.kind.as_str(), target.id.as_str()),
        ("graphql.argument", "svc_1")
    );
}

#[test]
fn a_graphql_body_is_read_on_any_path() {
    let body = r#"{"query":"mutation { volumeDelete(volumeId: \"vol_prod_7f3\") }"}"#;
    let a = actions(read("POST", "/api", Some("application/json"), body));
    assert_eq!(a[0].operation, "graphql.mutation.volumeDelete");
}

#[test]
fn unreadable_graphql_is_refused() {
    for (path, ct, body) in [
        (
            "/graphql/v2",
            Some("application/json"),
            "{\"query\": \"mutation { volumeDelete(\"}",
        ),
        (
            "/graphql/v2",
            Some("application/json"),
            "not json and not graphql {",
        ),
        (
            "/graphql",
            Some("application/json"),
            r#"{"extensions":{"persistedQuery":{"sha256Hash":"x"}}}"#,
        ),
        ("/x", Some("application/graphql"), "mutation {"),
    ] {
        match read("POST", path, ct, body) {
            Reading::Unreadable { action, .. } => {
                assert_eq!(action.effect, Effect::Unknown);
                assert_eq!(action.operation, "graphql.unreadable");
            }
            Reading::Actions(a) => panic!("{body} read as {a:?}"),
        }
    }
}

#[test]
fn json_that_is_not_graphql_stays_plain() {
    let a = actions(read(
        "POST",
        "/v1/items",
        Some("application/json"),
        r#"{"name":"query"}"#,
    ));
    assert_eq!(a[0].operation, "http.POST");
}

#[test]
fn graphql_over_get_is_read_like_a_post() {
    let authority = crate::host::parse_authority("backboard.railway.com", 443).unwrap();
    let reading = read_request(
        &manifest(),
        &RequestFacts {
            method: "GET",
            authority: &authority,
            path: "/graphql/v2",
            query: Some(
                "query=mutation%20%7B%20volumeDelete(volumeId%3A%20%24v)%20%7D&variables=%7B%22v%22%3A%22vol_prod_7f3%22%7D",
            ),
            content_type: None,
            body: b"",
        },
    );
    let a = actions(reading);
    assert_eq!(a[0].operation, "graphql.mutation.volumeDelete");
    assert_eq!(a[0].effect, Effect::Destroy);
    assert_eq!(a[0].target.as_ref().unwrap().id, "vol_prod_7f3");
    let get = |path: &'static str, query: &'static str| {
        read_request(
            &manifest(),
            &RequestFacts {
                method: "GET",
                authority: &authority,
                path,
                query: Some(query),
                content_type: None,
                body: b"",
            },
        )
    };
    // An ordinary search parameter elsewhere is a plain GET, not a refusal.
    assert_eq!(
        actions(get("/search", "query=hello+world"))[0].operation,
        "http.GET"
    );
    // On a GraphQL path, what does not parse is refused.
    assert!(matches!(
        get("/graphql/v2", "query=hello+world"),
        Reading::Unreadable { .. }
    ));
}
