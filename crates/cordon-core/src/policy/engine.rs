//! Evaluating one action against the compiled policy sets.

use super::{CompiledPolicy, PolicyError};
use crate::action::{Action, Effect};
use crate::verdict::Decision;
use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request, RestrictedExpression,
};
use std::str::FromStr;

/// The outcome of policy alone, before approvals are consulted.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub decision: Decision,
    /// Ids of the determining policies: the forbids for deny, the confirmation
    /// triggers for confirm, the permits for allow.
    pub policies: Vec<String>,
    pub reasons: Vec<String>,
}

#[derive(Debug)]
pub struct PolicyEngine {
    compiled: CompiledPolicy,
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
        Ok(PolicyEngine {
            compiled,
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
        let request = self.request(action, resource_known)?;
        let main = self.ask(&request, &self.compiled.main);
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
        let confirm = self.ask(&request, &self.compiled.confirm);
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

/// Fills `{placeholder}`s in a reason template from the action.
pub(crate) fn render_reason(template: &str, action: &Action) -> String {
    let quoted = |v: Option<&str>| v.map_or_else(|| "(unknown)".to_owned(), |v| format!("`{v}`"));
    let resource = action.target.as_ref().map_or_else(
        || "the target".to_owned(),
        |t| format!("{} `{}`", t.kind, t.id),
    );
    let environment = action
        .target
        .as_ref()
        .and_then(|t| t.environment.as_deref());
    let mut out = template.to_owned();
    let replacements = [
        ("{action}", action.describe()),
        ("{effect}", action.effect.as_str().to_owned()),
        ("{operation}", format!("`{}`", action.operation)),
        ("{host}", quoted(action.host.as_deref())),
        ("{method}", quoted(action.method.as_deref())),
        ("{path}", quoted(action.path.as_deref())),
        ("{url_path}", quoted(action.url_path.as_deref())),
        ("{tool}", quoted(action.tool.as_deref())),
        (
            "{credential}",
            action.credential.clone().unwrap_or_default(),
        ),
        ("{resource}", resource),
        ("{resource_environment}", quoted(environment)),
    ];
    for (placeholder, value) in replacements {
        if out.contains(placeholder) {
            out = out.replace(placeholder, &value);
        }
    }
    out
}
