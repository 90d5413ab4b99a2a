//! GraphQL requests: every root field every operation selects, read with apollo-parser.
//!
//! In the incident the call that deleted a production volume was an ordinary
//! `POST /graphql/v2`; only the document said `volumeDelete`. So a gate judges each
//! root field as its own action (`graphql.mutation.volumeDelete`), whatever the
//! operation is called, however the field is aliased, whether it sits in a fragment
//! or in the third request of a batch. Every operation in a document counts, not only
//! the one `operationName` picks: servers differ in how they choose, and a gate that
//! guessed differently from the server would let the other one through.

use std::collections::HashMap;

use apollo_parser::Parser;
use apollo_parser::cst::{self, CstNode};
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

/// Fragments spread inside fragments, followed this deep before giving up.
const MAX_FRAGMENT_DEPTH: usize = 32;
/// Operations in one batch (an array of requests).
const MAX_BATCH: usize = 64;
/// Root fields in one request, over all its operations and fragments.
const MAX_ROOT_FIELDS: usize = 1_000;
/// Argument values kept per field; a target id is in the first few.
const MAX_ARGUMENTS: usize = 256;
/// apollo-parser's own limits: nesting and tokens.
const RECURSION_LIMIT: usize = 128;
const TOKEN_LIMIT: usize = 200_000;

/// Which kind of operation a root field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationKind {
    Query,
    Mutation,
    Subscription,
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Query => "query",
            OperationKind::Mutation => "mutation",
            OperationKind::Subscription => "subscription",
        }
    }
}

/// One root field of one operation: one action for a gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RootField {
    pub kind: OperationKind,
    /// The field itself, never its alias: `a: volumeDelete` is `volumeDelete`.
    pub name: String,
    pub alias: Option<String>,
    /// The operation's name as the document gives it (`mutation Cleanup { … }`).
    pub operation_name: Option<String>,
    /// Every scalar in the field's arguments, variables and defaults resolved, as a
    /// dotted path and its text: `("input.volumeId", "vol_prod_7f3")`.
    pub arguments: Vec<(String, String)>,
}

impl RootField {
    /// The operation name policy sees: `graphql.mutation.volumeDelete`.
    pub fn operation(&self) -> String {
        format!("graphql.{}.{}", self.kind.as_str(), self.name)
    }

    /// Whether the field's name reads as deleting something.
    pub fn looks_destructive(&self) -> bool {
        self.kind == OperationKind::Mutation && destructive_field(&self.name)
    }
}

/// Why a body could not be read as GraphQL. A gate in front of a GraphQL endpoint
/// refuses the request: what cordon cannot read, it does not forward.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GraphqlError {
    #[error("the body is not a GraphQL request: {0}")]
    NotGraphql(String),
    #[error("the GraphQL document does not parse: {0}")]
    Syntax(String),
    #[error("the GraphQL document defines types, not operations (`{0}`)")]
    NotExecutable(String),
    #[error("the GraphQL document holds no operation")]
    NoOperation,
    #[error("fragment `{0}` is spread but never defined")]
    UnknownFragment(String),
    #[error("fragment `{0}` spreads itself")]
    FragmentCycle(String),
    #[error("fragments nest more than {MAX_FRAGMENT_DEPTH} deep")]
    TooDeep,
    #[error("the request holds more than {0}")]
    TooLarge(String),
    #[error(
        "a persisted query names its document only by hash, so what it would run cannot be seen"
    )]
    PersistedQuery,
}

/// The root fields of an HTTP request body sent to a GraphQL endpoint: a JSON object
/// `{"query": …, "variables": …}`, an array of them (batching), or a bare document
/// (`application/graphql`).
pub fn graphql_request_fields(body: &[u8]) -> Result<Vec<RootField>, GraphqlError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| GraphqlError::NotGraphql("the body is not UTF-8".to_owned()))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(requests)) => {
            if requests.len() > MAX_BATCH {
                return Err(GraphqlError::TooLarge(format!(
                    "{MAX_BATCH} operations in one batch"
                )));
            }
            if requests.is_empty() {
                return Err(GraphqlError::NoOperation);
            }
            let mut fields = Vec::new();
            for request in &requests {
                fields.extend(request_fields(request)?);
                if fields.len() > MAX_ROOT_FIELDS {
                    return Err(too_many_fields());
                }
            }
            Ok(fields)
        }
        Ok(request @ Value::Object(_)) => request_fields(&request),
        Ok(_) => Err(GraphqlError::NotGraphql(
            "JSON that is neither a request object nor a batch".to_owned(),
        )),
        Err(_) => document_fields(text, None),
    }
}

fn request_fields(request: &Value) -> Result<Vec<RootField>, GraphqlError> {
    let Value::Object(request) = request else {
        return Err(GraphqlError::NotGraphql(
            "a batch entry that is not an object".to_owned(),
        ));
    };
    let variables = match request.get("variables") {
        // Some clients send variables as a JSON string.
        Some(Value::String(text)) => serde_json::from_str(text).ok(),
        Some(v @ Value::Object(_)) => Some(v.clone()),
        _ => None,
    };
    match request.get("query") {
        Some(Value::String(document)) => document_fields(document, variables.as_ref()),
        Some(_) => Err(GraphqlError::NotGraphql(
            "`query` is not a string".to_owned(),
        )),
        None if request
            .get("extensions")
            .and_then(|e| e.get("persistedQuery"))
            .is_some() =>
        {
            Err(GraphqlError::PersistedQuery)
        }
        None => Err(GraphqlError::NotGraphql("no `query` field".to_owned())),
    }
}

/// The root fields of one document, with `variables` (the request's JSON object) used
/// to resolve `$name` arguments.
pub fn document_fields(
    document: &str,
    variables: Option<&Value>,
) -> Result<Vec<RootField>, GraphqlError> {
    let tree = Parser::new(document)
        .recursion_limit(RECURSION_LIMIT)
        .token_limit(TOKEN_LIMIT)
        .parse();
    if let Some(error) = tree.errors().next() {
        return Err(GraphqlError::Syntax(format!(
            "{} at byte {}",
            error.message(),
            error.index()
        )));
    }
    let document = tree.document();
    let mut fragments: HashMap<String, cst::SelectionSet> = HashMap::new();
    let mut operations = Vec::new();
    for definition in document.definitions() {
        match definition {
            cst::Definition::OperationDefinition(op) => operations.push(op),
            cst::Definition::FragmentDefinition(fragment) => {
                let name = fragment
                    .fragment_name()
                    .and_then(|n| n.name())
                    .map(|n| n.text().to_string())
                    .unwrap_or_default();
                if let Some(set) = fragment.selection_set() {
                    fragments.insert(name, set);
                }
            }
            other => return Err(GraphqlError::NotExecutable(other.kind().to_owned())),
        }
    }
    if operations.is_empty() {
        return Err(GraphqlError::NoOperation);
    }
    let mut walker = Walker {
        fragments: &fragments,
        fields: Vec::new(),
        stack: Vec::new(),
    };
    for op in operations {
        let kind = match op.operation_type() {
            Some(t) if t.mutation_token().is_some() => OperationKind::Mutation,
            Some(t) if t.subscription_token().is_some() => OperationKind::Subscription,
            _ => OperationKind::Query,
        };
        let scope = Scope {
            kind,
            operation_name: op.name().map(|n| n.text().to_string()),
            variables: resolved_variables(&op, variables),
        };
        if let Some(set) = op.selection_set() {
            walker.walk(&set, &scope)?;
        }
    }
    Ok(walker.fields)
}

/// One operation's view while its selection set is walked.
struct Scope {
    kind: OperationKind,
    operation_name: Option<String>,
    /// The request's variables over the operation's declared defaults.
    variables: HashMap<String, Value>,
}

struct Walker<'f> {
    fragments: &'f HashMap<String, cst::SelectionSet>,
    fields: Vec<RootField>,
    /// Fragments being expanded, innermost last: a spread of one of them is a cycle.
    stack: Vec<String>,
}

impl Walker<'_> {
    fn walk(&mut self, set: &cst::SelectionSet, scope: &Scope) -> Result<(), GraphqlError> {
        for selection in set.selections() {
            match selection {
                cst::Selection::Field(field) => {
                    let Some(name) = field.name() else { continue };
                    let mut arguments = Vec::new();
                    if let Some(args) = field.arguments() {
                        for argument in args.arguments() {
                            let (Some(name), Some(value)) = (argument.name(), argument.value())
                            else {
                                continue;
                            };
                            flatten_value(&name.text(), &value, scope, &mut arguments);
                        }
                    }
                    arguments.truncate(MAX_ARGUMENTS);
                    self.fields.push(RootField {
                        kind: scope.kind,
                        name: name.text().to_string(),
                        alias: field
                            .alias()
                            .and_then(|a| a.name())
                            .map(|n| n.text().to_string()),
                        operation_name: scope.operation_name.clone(),
                        arguments,
                    });
                    if self.fields.len() > MAX_ROOT_FIELDS {
                        return Err(too_many_fields());
                    }
                }
                // Type conditions are not checked against a schema: a fragment's fields
                // count as selected whatever type it names, the reading that misses none.
                cst::Selection::InlineFragment(inline) => {
                    if let Some(inner) = inline.selection_set() {
                        self.walk(&inner, scope)?;
                    }
                }
                cst::Selection::FragmentSpread(spread) => {
                    let name = spread
                        .fragment_name()
                        .and_then(|n| n.name())
                        .map(|n| n.text().to_string())
                        .unwrap_or_default();
                    if self.stack.contains(&name) {
                        return Err(GraphqlError::FragmentCycle(name));
                    }
                    if self.stack.len() >= MAX_FRAGMENT_DEPTH {
                        return Err(GraphqlError::TooDeep);
                    }
                    let Some(inner) = self.fragments.get(&name) else {
                        return Err(GraphqlError::UnknownFragment(name));
                    };
                    self.stack.push(name);
                    self.walk(inner, scope)?;
                    self.stack.pop();
                }
            }
        }
        Ok(())
    }
}

fn too_many_fields() -> GraphqlError {
    GraphqlError::TooLarge(format!("{MAX_ROOT_FIELDS} root fields"))
}

fn resolved_variables(
    op: &cst::OperationDefinition,
    given: Option<&Value>,
) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    if let Some(definitions) = op.variable_definitions() {
        for definition in definitions.variable_definitions() {
            let Some(name) = definition.variable().and_then(|v| v.name()) else {
                continue;
            };
            if let Some(default) = definition.default_value().and_then(|d| d.value()) {
                out.insert(name.text().to_string(), literal_json(&default));
            }
        }
    }
    if let Some(Value::Object(given)) = given {
        for (name, value) in given {
            out.insert(name.clone(), value.clone());
        }
    }
    out
}

/// A constant value as JSON, for variable defaults (which cannot hold variables).
fn literal_json(value: &cst::Value) -> Value {
    match value {
        cst::Value::StringValue(s) => Value::String(String::from(s)),
        cst::Value::ListValue(list) => {
            Value::Array(list.values().map(|v| literal_json(&v)).collect())
        }
        cst::Value::ObjectValue(object) => Value::Object(
            object
                .object_fields()
                .filter_map(|f| Some((f.name()?.text().to_string(), literal_json(&f.value()?))))
                .collect(),
        ),
        cst::Value::NullValue(_) | cst::Value::Variable(_) => Value::Null,
        other => Value::String(other.syntax().text().to_string()),
    }
}

fn flatten_value(path: &str, value: &cst::Value, scope: &Scope, out: &mut Vec<(String, String)>) {
    if out.len() >= MAX_ARGUMENTS {
        return;
    }
    match value {
        cst::Value::Variable(variable) => {
            let Some(name) = variable.name() else { return };
            if let Some(json) = scope.variables.get(name.text().as_str()) {
                flatten_json(path, json, 0, out);
            }
        }
        cst::Value::StringValue(s) => out.push((path.to_owned(), String::from(s))),
        cst::Value::NullValue(_) => {}
        cst::Value::ListValue(list) => {
            for (i, item) in list.values().enumerate() {
                flatten_value(&format!("{path}.{i}"), &item, scope, out);
            }
        }
        cst::Value::ObjectValue(object) => {
            for field in object.object_fields() {
                let (Some(name), Some(value)) = (field.name(), field.value()) else {
                    continue;
                };
                flatten_value(&format!("{path}.{}", name.text()), &value, scope, out);
            }
        }
        other => out.push((path.to_owned(), other.syntax().text().to_string())),
    }
}

fn flatten_json(path: &str, value: &Value, depth: usize, out: &mut Vec<(String, String)>) {
    if out.len() >= MAX_ARGUMENTS || depth > 16 {
        return;
    }
    match value {
        Value::Null => {}
        Value::String(s) => out.push((path.to_owned(), s.clone())),
        Value::Bool(_) | Value::Number(_) => out.push((path.to_owned(), value.to_string())),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten_json(&format!("{path}.{i}"), item, depth + 1, out);
            }
        }
        Value::Object(fields) => {
            for (name, item) in fields {
                flatten_json(&format!("{path}.{name}"), item, depth + 1, out);
            }
        }
    }
}

/// A root field name that reads as deleting something: `volumeDelete`, `deleteUser`,
/// `dropTable`, `purgeCache`.
pub fn destructive_field(name: &str) -> bool {
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

/// For the shell classifier: the first destructive mutation field in a body a command
/// sends, if the body reads as GraphQL at all. A `curl -d` body is often something
/// else (form fields, plain JSON), and then there is nothing to say here; the gateway,
/// which knows which endpoints speak GraphQL, refuses what does not parse.
pub(crate) fn graphql_destructive(body: &str) -> Option<String> {
    let fields = match graphql_request_fields(body.as_bytes()) {
        Ok(fields) => fields,
        // Form-encoded `query=…`, or a document whose quotes the shell left escaped.
        Err(_) => {
            let raw = body.strip_prefix("query=").unwrap_or(body);
            document_fields(&raw.replace("\\n", "\n").replace("\\\"", "\""), None).ok()?
        }
    };
    fields
        .into_iter()
        .find(RootField::looks_destructive)
        .map(|f| f.name)
}

#[cfg(test)]
#[path = "graphql_tests.rs"]
mod tests;
