use super::*;

fn ops(body: &str) -> Vec<String> {
    graphql_request_fields(body.as_bytes())
        .unwrap_or_else(|e| panic!("{body}: {e}"))
        .iter()
        .map(RootField::operation)
        .collect()
}

fn refused(body: &str) -> GraphqlError {
    match graphql_request_fields(body.as_bytes()) {
        Ok(fields) => panic!("{body} parsed: {fields:?}"),
        Err(e) => e,
    }
}

#[test]
fn the_incident_call() {
    let body = r#"{"query":"mutation volumeDelete($volumeId: String!) { volumeDelete(volumeId: $volumeId) }","variables":{"volumeId":"vol_prod_7f3"}}"#;
    let fields = graphql_request_fields(body.as_bytes()).unwrap();
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].operation(), "graphql.mutation.volumeDelete");
    assert_eq!(
        fields[0].arguments,
        vec![("volumeId".to_owned(), "vol_prod_7f3".to_owned())]
    );
    assert!(fields[0].looks_destructive());
}

#[test]
fn the_operation_name_does_not_hide_the_field() {
    // Named like the harmless operation the token was made for.
    assert_eq!(
        ops(
            r#"{"query":"mutation customDomainCreate { volumeDelete(volumeId: \"v\") }","operationName":"customDomainCreate"}"#
        ),
        ["graphql.mutation.volumeDelete"]
    );
}

#[test]
fn an_alias_does_not_rename_the_field() {
    let fields = graphql_request_fields(
        br#"{"query":"mutation { customDomainCreate: volumeDelete(volumeId: \"v\") }"}"#,
    )
    .unwrap();
    assert_eq!(fields[0].name, "volumeDelete");
    assert_eq!(fields[0].alias.as_deref(), Some("customDomainCreate"));
}

#[test]
fn every_operation_counts_whatever_operation_name_picks() {
    assert_eq!(
        ops(
            r#"{"query":"query A { me { id } } mutation B { volumeDelete(volumeId: \"v\") }","operationName":"A"}"#
        ),
        ["graphql.query.me", "graphql.mutation.volumeDelete"]
    );
}

#[test]
fn batches_are_read_whole() {
    assert_eq!(
        ops(
            r#"[{"query":"query { me { id } }"},{"query":"mutation { customDomainCreate(input: {}) { id } }"},{"query":"mutation { volumeDelete(volumeId: \"v\") }"}]"#
        ),
        [
            "graphql.query.me",
            "graphql.mutation.customDomainCreate",
            "graphql.mutation.volumeDelete"
        ]
    );
}

#[test]
fn fragments_and_inline_fragments_at_the_root_are_followed() {
    let body = r#"{"query":"mutation { ...A ... on Mutation { serviceDelete(id: \"s\") } } fragment A on Mutation { ...B } fragment B on Mutation { volumeDelete(volumeId: \"v\") }"}"#;
    assert_eq!(
        ops(body),
        [
            "graphql.mutation.volumeDelete",
            "graphql.mutation.serviceDelete"
        ]
    );
}

#[test]
fn a_fragment_cycle_or_an_undefined_fragment_is_refused() {
    assert_eq!(
        refused(r#"{"query":"mutation { ...A } fragment A on Mutation { ...A }"}"#),
        GraphqlError::FragmentCycle("A".into())
    );
    assert_eq!(
        refused(r#"{"query":"mutation { ...Missing }"}"#),
        GraphqlError::UnknownFragment("Missing".into())
    );
}

#[test]
fn a_long_fragment_chain_is_bounded() {
    let mut doc = String::from("mutation { ...F0 } ");
    for i in 0..100 {
        doc.push_str(&format!("fragment F{i} on Mutation {{ ...F{} }} ", i + 1));
    }
    doc.push_str("fragment F100 on Mutation { volumeDelete(volumeId: \"v\") }");
    let body = serde_json::json!({ "query": doc }).to_string();
    assert_eq!(refused(&body), GraphqlError::TooDeep);
}

#[test]
fn variables_inside_input_objects_and_defaults_are_resolved() {
    let body = r#"{"query":"mutation($id: String = \"vol_default\", $env: String) { volumeDelete(input: {volumeId: $id, environment: $env, tags: [\"a\", $env]}) }","variables":"{\"env\":\"production\"}"}"#;
    let fields = graphql_request_fields(body.as_bytes()).unwrap();
    assert_eq!(
        fields[0].arguments,
        vec![
            ("input.volumeId".to_owned(), "vol_default".to_owned()),
            ("input.environment".to_owned(), "production".to_owned()),
            ("input.tags.0".to_owned(), "a".to_owned()),
            ("input.tags.1".to_owned(), "production".to_owned()),
        ]
    );
}

#[test]
fn block_strings_and_escapes_are_unescaped() {
    let fields = graphql_request_fields(
        br#"{"query":"mutation { volumeDelete(volumeId: \"vol\\u005fprod\") }"}"#,
    )
    .unwrap();
    assert_eq!(fields[0].arguments[0].1, "vol_prod");
}

#[test]
fn a_bare_document_is_read_too() {
    assert_eq!(
        ops("mutation { volumeDelete(volumeId: \"v\") }"),
        ["graphql.mutation.volumeDelete"]
    );
    assert_eq!(ops("{ me { id } }"), ["graphql.query.me"]);
}

#[test]
fn what_cannot_be_read_is_refused() {
    assert!(matches!(
        refused(r#"{"query":"mutation { volumeDelete(volumeId: "}"#),
        GraphqlError::Syntax(_)
    ));
    assert!(matches!(
        refused(r#"{"query": 5}"#),
        GraphqlError::NotGraphql(_)
    ));
    assert!(matches!(
        refused(r#"{"variables": {}}"#),
        GraphqlError::NotGraphql(_)
    ));
    assert_eq!(
        refused(r#"{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"abc"}}}"#),
        GraphqlError::PersistedQuery
    );
    assert_eq!(refused("[]"), GraphqlError::NoOperation);
    assert_eq!(
        refused(r#"{"query":"fragment A on Mutation { x }"}"#),
        GraphqlError::NoOperation
    );
    assert!(matches!(
        refused(r#"{"query":"type Query { x: Int }"}"#),
        GraphqlError::NotExecutable(_)
    ));
    assert!(matches!(refused("\u{0}\u{1}"), GraphqlError::Syntax(_)));
}

#[test]
fn oversized_requests_are_refused() {
    let batch = format!(
        "[{}]",
        vec![r#"{"query":"{ a }"}"#; MAX_BATCH + 1].join(",")
    );
    assert!(matches!(refused(&batch), GraphqlError::TooLarge(_)));
    let wide = format!("mutation {{ {} }}", "a ".repeat(MAX_ROOT_FIELDS + 1));
    assert!(matches!(refused(&wide), GraphqlError::TooLarge(_)));
    let deep = format!("{{ {}a{} }}", "a { ".repeat(500), " }".repeat(500));
    assert!(matches!(refused(&deep), GraphqlError::Syntax(_)));
}

#[test]
fn directives_do_not_hide_a_field() {
    // `@skip(if: true)` would skip it on a spec server; a gate counts it anyway.
    assert_eq!(
        ops(r#"{"query":"mutation { volumeDelete(volumeId: \"v\") @skip(if: true) }"}"#),
        ["graphql.mutation.volumeDelete"]
    );
}

#[test]
fn destructive_names() {
    for name in [
        "volumeDelete",
        "deleteUser",
        "dropTable",
        "purgeCache",
        "projectRemove",
    ] {
        assert!(destructive_field(name), "{name}");
    }
    for name in ["customDomainCreate", "volumes", "deployments", "me"] {
        assert!(!destructive_field(name), "{name}");
    }
}

#[test]
fn shell_bodies() {
    let body = r#"{"query":"mutation { volumeDelete(volumeId: \"vol_1\") }"}"#;
    assert_eq!(graphql_destructive(body).as_deref(), Some("volumeDelete"));
    let body = r#"{"query":"mutation { customDomainCreate(input: {}) { id } }"}"#;
    assert_eq!(graphql_destructive(body), None);
    let body = r#"{"query":"query { me { deleteAt } }"}"#;
    assert_eq!(graphql_destructive(body), None);
    assert_eq!(
        graphql_destructive("query=mutation { deleteUser(id: 1) }").as_deref(),
        Some("deleteUser")
    );
    assert_eq!(graphql_destructive("name=x&y=z"), None);
    assert_eq!(graphql_destructive(r#"{"name": "delete me"}"#), None);
}
