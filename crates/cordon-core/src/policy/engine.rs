//! Evaluating one action against the compiled policy sets.

use super::scope::{CredentialSlot, Needs, SliceKey};
use super::{CompiledPolicy, PolicyError};
use crate::action::{Action, Effect};
use crate::verdict::Decision;
use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request, RestrictedExpression,
};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, RwLock};

/// The outcome of policy alone, before approvals are consulted.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub decision: Decision,
    /// Ids of the determining policies: the forbids for deny, the confirmation
    /// triggers for confirm, the permits for allow.
    pub policies: Vec<String>,
    pub reasons: Vec<String>,
}

/// The policies one kind of request can match (see `scope.rs`).
#[derive(Debug)]
struct Slice {
    main: PolicySet,
    confirm: PolicySet,
}

#[derive(Debug)]
pub struct PolicyEngine {
    compiled: CompiledPolicy,
    /// Declared credential names; a slice key holds an index, not a copy.
    credentials: Vec<String>,
    /// Built on first use: a hook process sees one or two kinds of request, a
    /// supervisor a few dozen.
    slices: RwLock<HashMap<SliceKey, Arc<Slice>>>,
    authorizer: Authorizer,
    entities: Entities,
    principal: EntityUid,
    resource: EntityUid,
    actions: Vec<(Effect, EntityUid)>,
}

fn uid(type_name: &str, id: &str) -> Result<EntityUid, PolicyError> {
    let type_name = EntityTypeName::from_str(type_name)
        .map_err(|e| PolicyError::Request(format!("entity type `{type_name}`: {e}")))?;
    Ok(EntityUid::from_type_name_and_id(
        type_name,
        EntityId::new(id),
    ))
}

impl PolicyEngine {
    pub fn new(compiled: CompiledPolicy, task: &str) -> Result<PolicyEngine, PolicyError> {
        let actions = Effect::ALL
            .into_iter()
            .map(|e| uid("Cordon::Action", e.as_str()).map(|u| (e, u)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut credentials: Vec<String> = compiled
            .origins
            .values()
            .filter_map(|o| match &o.scope.credential {
                super::CredentialScope::Named(name) => Some(name.clone()),
                _ => None,
            })
            .collect();
        credentials.sort();
        credentials.dedup();
        Ok(PolicyEngine {
            compiled,
            credentials,
            slices: RwLock::new(HashMap::new()),
            authorizer: Authorizer::new(),
            entities: Entities::empty(),
            principal: uid("Cordon::Task", task)?,
            resource: uid("Cordon::Resource", "target")?,
            actions,
        })
    }

    pub fn compiled(&self) -> &CompiledPolicy {
        &self.compiled
    }

    /// Policy's answer for `action`. `resource_known` says whether the target is in the
    /// manifest's inventory (the caller resolves the target's environment from it).
    pub fn evaluate(
        &self,
        action: &Action,
        resource_known: bool,
    ) -> Result<Evaluation, PolicyError> {
        let slice = self.slice(action)?;
        self.evaluate_in(action, resource_known, &slice.main, &slice.confirm)
    }

    /// The same decision against every policy, without slicing: the reference the
    /// slicing is tested against.
    pub fn evaluate_unsliced(
        &self,
        action: &Action,
        resource_known: bool,
    ) -> Result<Evaluation, PolicyError> {
        self.evaluate_in(
            action,
            resource_known,
            &self.compiled.main,
            &self.compiled.confirm,
        )
    }

    fn evaluate_in(
        &self,
        action: &Action,
        resource_known: bool,
        main_set: &PolicySet,
        confirm_set: &PolicySet,
    ) -> Result<Evaluation, PolicyError> {
        let request = self.request(action, resource_known)?;
        let main = self.ask(&request, main_set);
        if !main.errors.is_empty() {
            return Ok(self.failed(action, main.errors));
        }
        if main.decision == CedarDecision::Deny {
            let mut reasons: Vec<String> = main
                .policies
                .iter()
                .filter_map(|id| self.reason(id, action))
                .collect();
            if reasons.is_empty() {
                reasons.push(nothing_allows(action));
            }
            return Ok(Evaluation {
                decision: Decision::Deny,
                policies: main.policies,
                reasons,
            });
        }
        // Most slices hold no confirmation trigger (reads, scoped API calls): an empty
        // set cannot match, so skip the second Cedar call.
        if confirm_set.is_empty() {
            return Ok(Evaluation {
                decision: Decision::Allow,
                policies: main.policies,
                reasons: Vec::new(),
            });
        }
        let confirm = self.ask(&request, confirm_set);
        if !confirm.errors.is_empty() {
            return Ok(self.failed(action, confirm.errors));
        }
        if confirm.decision == CedarDecision::Allow {
            let reasons = confirm
                .policies
                .iter()
                .filter_map(|id| self.reason(id, action))
                .collect();
            return Ok(Evaluation {
                decision: Decision::Confirm,
                policies: confirm.policies,
                reasons,
            });
        }
        Ok(Evaluation {
            decision: Decision::Allow,
            policies: main.policies,
            reasons: Vec::new(),
        })
    }

    fn slice(&self, action: &Action) -> Result<Arc<Slice>, PolicyError> {
        let credential = match &action.credential {
            None => CredentialSlot::None,
            Some(name) => match self.credentials.iter().position(|c| c == name) {
                Some(index) => CredentialSlot::Declared(index),
                None => CredentialSlot::Undeclared,
            },
        };
        let key = SliceKey {
            effect: action.effect,
            credential,
            present: Needs::present_in(action),
        };
        if let Some(slice) = self.slices.read().ok().and_then(|s| s.get(&key).cloned()) {
            return Ok(slice);
        }
        let mut main = Vec::new();
        let mut confirm = Vec::new();
        for (id, origin) in &self.compiled.origins {
            if !origin.scope.admits(&key, &self.credentials) {
                continue;
            }
            let policy_id = cedar_policy::PolicyId::new(id);
            let (set, out) = if origin.confirm {
                (&self.compiled.confirm, &mut confirm)
            } else {
                (&self.compiled.main, &mut main)
            };
            let policy = set.policy(&policy_id).ok_or_else(|| {
                PolicyError::Request(format!("policy `{id}` vanished from its set"))
            })?;
            out.push(policy.clone());
        }
        let build = |policies: Vec<cedar_policy::Policy>| {
            PolicySet::from_policies(policies).map_err(|e| PolicyError::Request(e.to_string()))
        };
        let slice = Arc::new(Slice {
            main: build(main)?,
            confirm: build(confirm)?,
        });
        if let Ok(mut slices) = self.slices.write() {
            slices.insert(key, slice.clone());
        }
        Ok(slice)
    }

    fn request(&self, action: &Action, resource_known: bool) -> Result<Request, PolicyError> {
        let action_uid = self
            .actions
            .iter()
            .find(|(e, _)| *e == action.effect)
            .map(|(_, u)| u.clone())
            .ok_or_else(|| {
                PolicyError::Request(format!("no Cedar action for {}", action.effect))
            })?;
        let mut pairs: Vec<(String, RestrictedExpression)> = Vec::with_capacity(16);
        let mut put = |key: &str, value: &str| {
            pairs.push((
                key.to_owned(),
                RestrictedExpression::new_string(value.to_owned()),
            ));
        };
        put("gate", action.gate.as_str());
        put("operation", &action.operation);
        put("effect", action.effect.as_str());
        let optional = [
            ("credential", action.credential.as_deref()),
            ("host", action.host.as_deref()),
            ("method", action.method.as_deref()),
            ("path", action.path.as_deref()),
            ("url_path", action.url_path.as_deref()),
            ("tool", action.tool.as_deref()),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                put(key, value);
            }
        }
        if let Some(target) = &action.target {
            put("resource_kind", &target.kind);
            put("resource_id", &target.id);
            if let Some(env) = &target.environment {
                put("resource_environment", env);
            }
        }
        pairs.push((
            "resource_known".to_owned(),
            RestrictedExpression::new_bool(resource_known),
        ));
        let context =
            Context::from_pairs(pairs).map_err(|e| PolicyError::Request(e.to_string()))?;
        // The schema was enforced on the policies when they were compiled; checking every
        // request against it again would only cost time on the hot path.
        Request::new(
            self.principal.clone(),
            action_uid,
            self.resource.clone(),
            context,
            None,
        )
        .map_err(|e| PolicyError::Request(e.to_string()))
    }

    fn ask(&self, request: &Request, set: &PolicySet) -> Answer {
        let response = self.authorizer.is_authorized(request, set, &self.entities);
        // Cedar reports determining policies as a set; sorted, verdicts and audit
        // records read the same every time.
        let mut policies: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|id| id.to_string())
            .collect();
        policies.sort();
        Answer {
            decision: response.decision(),
            policies,
            errors: response
                .diagnostics()
                .errors()
                .map(|e| e.to_string())
                .collect(),
        }
    }

    /// A policy that errors is skipped by Cedar; for us that could silently drop a
    /// forbid, so any evaluation error denies.
    fn failed(&self, action: &Action, errors: Vec<String>) -> Evaluation {
        Evaluation {
            decision: Decision::Deny,
            policies: vec!["builtin.fail-closed".to_owned()],
            reasons: vec![format!(
                "a policy failed to evaluate for {} ({}); denied because cordon fails closed",
                action.describe(),
                errors.join("; ")
            )],
        }
    }

    fn reason(&self, id: &str, action: &Action) -> Option<String> {
        let template = self.compiled.origins.get(id)?.reason.as_deref()?;
        Some(render_reason(template, action))
    }
}

struct Answer {
    decision: CedarDecision,
    policies: Vec<String>,
    errors: Vec<String>,
}

fn nothing_allows(action: &Action) -> String {
    format!(
        "nothing in this task's manifest allows {} ({}); effects a human may approve are listed in [approval] require",
        action.effect,
        action.describe()
    )
}

/// Fills `{placeholder}`s in a reason template from the action. Only placeholders the
/// template uses are computed: `{action}` builds a sentence.
pub(crate) fn render_reason(template: &str, action: &Action) -> String {
    if !template.contains('{') {
        return template.to_owned();
    }
    let quoted = |v: Option<&str>| v.map_or_else(|| "(unknown)".to_owned(), |v| format!("`{v}`"));
    let value = |placeholder: &str| -> Option<String> {
        Some(match placeholder {
            "action" => action.describe(),
            "effect" => action.effect.as_str().to_owned(),
            "operation" => format!("`{}`", action.operation),
            "host" => quoted(action.host.as_deref()),
            "method" => quoted(action.method.as_deref()),
            "path" => quoted(action.path.as_deref()),
            "url_path" => quoted(action.url_path.as_deref()),
            "tool" => quoted(action.tool.as_deref()),
            "credential" => action.credential.clone().unwrap_or_default(),
            "resource" => action.target.as_ref().map_or_else(
                || "the target".to_owned(),
                |t| format!("{} `{}`", t.kind, t.id),
            ),
            "resource_environment" => quoted(
                action
                    .target
                    .as_ref()
                    .and_then(|t| t.environment.as_deref()),
            ),
            _ => return None,
        })
    };
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let (before, after) = rest.split_at(open);
        out.push_str(before);
        let replaced = after.find('}').and_then(|close| {
            let name = after.get(1..close)?;
            Some((value(name)?, close))
        });
        match replaced {
            Some((text, close)) => {
                out.push_str(&text);
                rest = after.get(close + 1..).unwrap_or("");
            }
            None => {
                out.push('{');
                rest = after.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::render_reason;
    use crate::{Action, Effect, Gate};

    #[test]
    fn placeholders_are_filled_and_unknown_braces_kept() {
        let action = Action::new(Gate::Http, "graphql.mutation.volumeDelete", Effect::Destroy)
            .with_host("h.io")
            .with_target("railway.volume", "vol_1");
        assert_eq!(
            render_reason(
                "{operation} on {host} at {resource} ({resource_environment}) {x} {",
                &action
            ),
            "`graphql.mutation.volumeDelete` on `h.io` at railway.volume `vol_1` ((unknown)) {x} {"
        );
        assert_eq!(render_reason("plain", &action), "plain");
    }
}
