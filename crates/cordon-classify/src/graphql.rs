//! GraphQL request bodies: which root fields a mutation selects, and whether they
//! read as deleting something (`volumeDelete`, `deleteUser`, `dropTable`).

/// The destructive root field of a GraphQL mutation in a request body, if any.
pub(crate) fn graphql_destructive(body: &str) -> Option<String> {
    let mut documents = Vec::new();
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) => collect_queries(&v, &mut documents),
        Err(_) => {
            // Form-encoded `query=…` or a raw document.
            let raw = body.strip_prefix("query=").unwrap_or(body);
            documents.push(raw.replace("\\n", "\n").replace("\\\"", "\""));
        }
    }
    documents
        .iter()
        .flat_map(|d| mutation_root_fields(d))
        .find(|f| destructive_field(f))
}

fn collect_queries(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for key in ["query", "mutation"] {
                if let Some(serde_json::Value::String(q)) = map.get(key) {
                    out.push(q.clone());
                }
            }
        }
        serde_json::Value::Array(items) => {
            for i in items.iter().take(64) {
                collect_queries(i, out);
            }
        }
        serde_json::Value::String(s) => out.push(s.clone()),
        _ => {}
    }
}

/// A root field name that reads as deleting something: `volumeDelete`, `deleteUser`,
/// `dropTable`, `purgeCache`.
pub(crate) fn destructive_field(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    const VERBS: &[&str] = &[
        "delete", "drop", "remove", "destroy", "purge", "wipe", "erase", "truncate", "nuke",
    ];
    VERBS
        .iter()
        .any(|v| lower.starts_with(v) || lower.ends_with(v))
        || name.contains("Delete")
        || name.contains("Destroy")
        || name.contains("Remove")
        || name.contains("Purge")
        || name.contains("Drop")
}

/// Root fields selected by each `mutation` operation in a GraphQL document.
pub(crate) fn mutation_root_fields(doc: &str) -> Vec<String> {
    let tokens = gql_tokens(doc);
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(tok) = tokens.get(i) {
        if tok == "mutation" {
            // Skip the name, variable definitions and directives up to the selection set.
            let mut j = i + 1;
            let mut parens = 0usize;
            while let Some(t) = tokens.get(j) {
                match t.as_str() {
                    "(" => parens += 1,
                    ")" => parens = parens.saturating_sub(1),
                    "{" if parens == 0 => break,
                    _ => {}
                }
                j += 1;
            }
            // Walk the selection set at depth one.
            let mut depth = 0usize;
            let mut parens = 0usize;
            let mut k = j;
            while let Some(t) = tokens.get(k) {
                match t.as_str() {
                    "{" => depth += 1,
                    "}" => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            break;
                        }
                    }
                    "(" => parens += 1,
                    ")" => parens = parens.saturating_sub(1),
                    name if depth == 1 && parens == 0 && is_name(name) => {
                        // `alias: field` names the field after the colon.
                        if tokens.get(k + 1).is_some_and(|n| n == ":") {
                            if let Some(field) = tokens.get(k + 2) {
                                out.push(field.clone());
                            }
                            k += 2;
                        } else if k > 0 && tokens.get(k - 1).is_some_and(|p| p == "@") {
                            // A directive name.
                        } else {
                            out.push(name.to_string());
                        }
                    }
                    _ => {}
                }
                k += 1;
            }
            i = k;
        }
        i += 1;
    }
    out
}

fn is_name(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s != "on"
}

/// Names and punctuation of a GraphQL document; strings and comments dropped.
fn gql_tokens(doc: &str) -> Vec<String> {
    const MAX_TOKENS: usize = 100_000;
    let mut out = Vec::new();
    let chars: Vec<char> = doc.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if out.len() >= MAX_TOKENS {
            break;
        }
        if c == '#' {
            while chars.get(i).is_some_and(|&c| c != '\n') {
                i += 1;
            }
        } else if c == '"' {
            let block = chars.get(i + 1) == Some(&'"') && chars.get(i + 2) == Some(&'"');
            i += if block { 3 } else { 1 };
            while let Some(&d) = chars.get(i) {
                if d == '\\' {
                    i += 2;
                    continue;
                }
                if block {
                    if d == '"' && chars.get(i + 1) == Some(&'"') && chars.get(i + 2) == Some(&'"')
                    {
                        i += 3;
                        break;
                    }
                } else if d == '"' || d == '\n' {
                    i += 1;
                    break;
                }
                i += 1;
            }
            continue;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while chars
                .get(i)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
            {
                i += 1;
            }
            out.push(chars.get(start..i).unwrap_or_default().iter().collect());
            continue;
        } else if "{}():@$!=[]".contains(c) {
            out.push(c.to_string());
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_mutation_fields() {
        assert_eq!(
            mutation_root_fields(
                "mutation Del($id: String!) { volumeDelete(volumeId: $id) { id } }"
            ),
            vec!["volumeDelete"]
        );
        assert_eq!(
            mutation_root_fields(
                "mutation { a: deleteUser(id: 1) ok: createUser(name: \"x\") { id } }"
            ),
            vec!["deleteUser", "createUser"]
        );
        assert!(mutation_root_fields("query { volumes { id } }").is_empty());
    }

    #[test]
    fn json_bodies() {
        let body = r#"{"query":"mutation { volumeDelete(volumeId: \"vol_1\") }"}"#;
        assert_eq!(graphql_destructive(body).as_deref(), Some("volumeDelete"));
        let body = r#"{"query":"mutation { customDomainCreate(input: {}) { id } }"}"#;
        assert_eq!(graphql_destructive(body), None);
        let body = r#"{"query":"query { me { deleteAt } }"}"#;
        assert_eq!(graphql_destructive(body), None);
    }
}
