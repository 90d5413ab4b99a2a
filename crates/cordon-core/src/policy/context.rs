//! The request context, built with only the attributes a slice's policies can read.
//!
//! Cedar turns every context attribute into a value before it evaluates anything, at
//! a few hundred nanoseconds each, and most slices look at three or four of the
//! thirteen. Which attributes a policy reads is taken from Cedar's own JSON form of the
//! policy: `context.x` and `context has x` read `x`; any other use of `context` (say
//! `context == {…}`) could observe the whole record, so it keeps every attribute. An
//! attribute no policy in the slice names cannot change how any of them evaluates.

use crate::action::Action;
use cedar_policy::{Policy, RestrictedExpression};
use serde_json::Value;

/// One attribute of the `Facts` record in `schema.cedarschema`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attr {
    Gate,
    Operation,
    Effect,
    Credential,
    Host,
    Method,
    Path,
    UrlPath,
    Tool,
    ResourceKind,
    ResourceId,
    ResourceEnvironment,
    ResourceKnown,
}

impl Attr {
    const ALL: [Attr; 13] = [
        Attr::Gate,
        Attr::Operation,
        Attr::Effect,
        Attr::Credential,
        Attr::Host,
        Attr::Method,
        Attr::Path,
        Attr::UrlPath,
        Attr::Tool,
        Attr::ResourceKind,
        Attr::ResourceId,
        Attr::ResourceEnvironment,
        Attr::ResourceKnown,
    ];

    fn name(self) -> &'static str {
        match self {
            Attr::Gate => "gate",
            Attr::Operation => "operation",
            Attr::Effect => "effect",
            Attr::Credential => "credential",
            Attr::Host => "host",
            Attr::Method => "method",
            Attr::Path => "path",
            Attr::UrlPath => "url_path",
            Attr::Tool => "tool",
            Attr::ResourceKind => "resource_kind",
            Attr::ResourceId => "resource_id",
            Attr::ResourceEnvironment => "resource_environment",
            Attr::ResourceKnown => "resource_known",
        }
    }

    fn named(name: &str) -> Option<Attr> {
        Attr::ALL.into_iter().find(|a| a.name() == name)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of context attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Attrs(u16);

impl Attrs {
    pub(crate) const NONE: Attrs = Attrs(0);
    pub(crate) const ALL: Attrs = Attrs(u16::MAX);

    pub(crate) fn union(self, other: Attrs) -> Attrs {
        Attrs(self.0 | other.0)
    }

    #[cfg(test)]
    pub(crate) fn of(attrs: &[Attr]) -> Attrs {
        attrs.iter().fold(Attrs::NONE, |set, a| set.with(*a))
    }

    fn with(self, attr: Attr) -> Attrs {
        Attrs(self.0 | attr.bit())
    }

    fn contains(self, attr: Attr) -> bool {
        self.0 & attr.bit() != 0
    }

    /// The attributes `policy` can read. Anything unexpected in its JSON form counts
    /// as reading everything.
    pub(crate) fn read_by(policy: &Policy) -> Attrs {
        match policy.to_json() {
            Ok(json) => reads(&json),
            Err(_) => Attrs::ALL,
        }
    }
}

fn is_context(value: &Value) -> bool {
    value
        .as_object()
        .and_then(|o| o.get("Var"))
        .is_some_and(|v| v == "context")
}

fn reads(json: &Value) -> Attrs {
    match json {
        Value::Object(object) => {
            // `context.x` and `context has x` (whose path, `context has x.y`, starts at
            // `x`) read one attribute; the walk does not descend into `context` there.
            for op in [".", "has"] {
                let Some(access) = object.get(op).and_then(Value::as_object) else {
                    continue;
                };
                if access.get("left").is_some_and(is_context) {
                    let name = match access.get("attr") {
                        Some(Value::String(name)) => Some(name.as_str()),
                        Some(Value::Array(path)) => path.first().and_then(Value::as_str),
                        _ => None,
                    };
                    let Some(name) = name else {
                        return Attrs::ALL;
                    };
                    // Not one of ours: no request has it, whatever the slice.
                    return Attr::named(name).map_or(Attrs::NONE, |a| Attrs::NONE.with(a));
                }
            }
            if is_context(json) {
                return Attrs::ALL;
            }
            object
                .values()
                .fold(Attrs::NONE, |attrs, v| attrs.union(reads(v)))
        }
        Value::Array(items) => items
            .iter()
            .fold(Attrs::NONE, |attrs, v| attrs.union(reads(v))),
        _ => Attrs::NONE,
    }
}

/// The context record for `action`, holding only `wanted` attributes.
pub(crate) fn pairs(
    action: &Action,
    resource_known: bool,
    wanted: Attrs,
) -> impl Iterator<Item = (String, RestrictedExpression)> {
    let target = action.target.as_ref();
    Attr::ALL
        .into_iter()
        .filter(move |attr| wanted.contains(*attr))
        .filter_map(move |attr| {
            let value = match attr {
                Attr::Gate => Some(action.gate.as_str()),
                Attr::Operation => Some(action.operation.as_str()),
                Attr::Effect => Some(action.effect.as_str()),
                Attr::Credential => action.credential.as_deref(),
                Attr::Host => action.host.as_deref(),
                Attr::Method => action.method.as_deref(),
                Attr::Path => action.path.as_deref(),
                Attr::UrlPath => action.url_path.as_deref(),
                Attr::Tool => action.tool.as_deref(),
                Attr::ResourceKind => target.map(|t| t.kind.as_str()),
                Attr::ResourceId => target.map(|t| t.id.as_str()),
                Attr::ResourceEnvironment => target.and_then(|t| t.environment.as_deref()),
                Attr::ResourceKnown => {
                    return Some((
                        attr.name().to_owned(),
                        RestrictedExpression::new_bool(resource_known),
                    ));
                }
            }?;
            Some((
                attr.name().to_owned(),
                RestrictedExpression::new_string(value.to_owned()),
            ))
        })
}

#[cfg(test)]
#[path = "context_tests.rs"]
mod tests;
