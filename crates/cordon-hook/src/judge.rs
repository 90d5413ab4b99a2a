//! From a tool call to one verdict: classify, weigh every finding under policy, then
//! make the one recorded decision.

use crate::call::ToolCall;
use cordon_classify::{Finding, ShellContext, danger};
use cordon_core::manifest::LoadedManifest;
use cordon_core::policy::PolicyEngine;
use cordon_core::{Action, Authorizer, Decision, Effect, Verdict};
use serde::Serialize;
use std::collections::HashSet;
use std::path::Path;

/// Who makes the final decision: policy alone (`cordon check`, which records nothing)
/// or [`Authorizer::authorize`] (the hooks: approvals consulted, audit written).
pub trait Decider {
    fn manifest(&self) -> &LoadedManifest;
    fn engine(&self) -> &PolicyEngine;
    /// The decision for `action`; an authorizer also records it.
    fn decide(&self, action: &Action) -> Verdict;
}

impl Decider for Authorizer {
    fn manifest(&self) -> &LoadedManifest {
        Authorizer::manifest(self)
    }
    fn engine(&self) -> &PolicyEngine {
        Authorizer::engine(self)
    }
    fn decide(&self, action: &Action) -> Verdict {
        self.authorize(action)
    }
}

/// Policy alone: nothing recorded, no approval filed.
#[derive(Debug)]
pub struct PolicyOnly {
    pub manifest: LoadedManifest,
    pub engine: PolicyEngine,
}

impl Decider for PolicyOnly {
    fn manifest(&self) -> &LoadedManifest {
        &self.manifest
    }
    fn engine(&self) -> &PolicyEngine {
        &self.engine
    }
    fn decide(&self, action: &Action) -> Verdict {
        let (_, evaluation) = cordon_core::evaluate(&self.manifest.manifest, &self.engine, action);
        match evaluation {
            Ok(e) => Verdict {
                decision: e.decision,
                reasons: e.reasons,
                policies: e.policies,
                approval_id: None,
            },
            Err(e) => Verdict::internal_error(e),
        }
    }
}

/// The answer for one tool call, in the words hooks use: `confirm` is spelled `ask`.
#[derive(Debug, Clone, Serialize)]
pub struct Judgement {
    #[serde(serialize_with = "spell_decision")]
    pub decision: Decision,
    pub effect: Effect,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub reasons: Vec<String>,
    pub policies: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<String>,
    pub findings: Vec<Finding>,
}

fn spell_decision<S: serde::Serializer>(decision: &Decision, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(spelled(*decision))
}

/// `allow`, `ask` or `deny`.
pub fn spelled(decision: Decision) -> &'static str {
    match decision {
        Decision::Allow => "allow",
        Decision::Deny => "deny",
        Decision::Confirm => "ask",
    }
}

fn strictness(decision: Decision) -> u8 {
    match decision {
        Decision::Allow => 0,
        Decision::Confirm => 1,
        Decision::Deny => 2,
    }
}

/// Judges `call`. Every finding is weighed under policy; the strictest one is the action
/// the decider decides (and, for an authorizer, records and files an approval for). Its
/// detail is the whole call, so one approval covers exactly the call a human read.
pub fn judge(
    call: &ToolCall,
    context: &ShellContext,
    cordon_home: &Path,
    decider: &dyn Decider,
) -> Judgement {
    let findings = call.findings(context, cordon_home);
    let actions = call.actions(&findings);
    let manifest = &decider.manifest().manifest;

    let mut reasons = Vec::new();
    let mut policies = Vec::new();
    let mut strictest: Option<(usize, Decision)> = None;
    for (index, action) in actions.iter().enumerate() {
        let (_, evaluation) = cordon_core::evaluate(manifest, decider.engine(), action);
        let decision = match evaluation {
            Ok(e) => {
                if e.decision != Decision::Allow {
                    if let Some(finding) = findings.get(index) {
                        reasons.push(finding.reason.clone());
                    }
                    reasons.extend(e.reasons);
                    policies.extend(e.policies);
                }
                e.decision
            }
            // The decider meets the same error and denies; nothing to add here.
            Err(_) => Decision::Deny,
        };
        if strictest.is_none_or(|(_, d)| strictness(decision) > strictness(d)) {
            strictest = Some((index, decision));
        }
    }
    let chosen = strictest.map_or(0, |(index, _)| index);
    let Some(action) = actions.get(chosen) else {
        // `actions` always holds at least one action; deny rather than trust that.
        return internal_error("no action to decide".to_owned(), findings);
    };
    let verdict = decider.decide(action);

    // The decider's own reasons (an approval's instructions, a refusal, an internal
    // error) come after the findings'.
    // An allow needs no findings' reasons: a plain allow says nothing, an approved one
    // says who approved it.
    if verdict.decision == Decision::Allow {
        reasons.clear();
        policies.clear();
    }
    reasons.extend(verdict.reasons.iter().cloned());
    policies.extend(verdict.policies.iter().cloned());
    let mut seen = HashSet::new();
    reasons.retain(|r| seen.insert(r.clone()));
    policies.sort();
    policies.dedup();
    let (resolved, _) = cordon_core::resolve_target(manifest, action);
    let target = resolved
        .target
        .as_ref()
        .map(|t| format!("{} {}", t.kind, t.id))
        .or_else(|| resolved.path.clone())
        .or_else(|| resolved.host.clone())
        .or_else(|| resolved.tool.clone())
        .filter(|_| verdict.decision != Decision::Allow || verdict.approval_id.is_some());
    let effect = findings
        .iter()
        .map(|f| f.effect)
        .max_by_key(|e| danger(*e))
        .unwrap_or(Effect::Read);
    Judgement {
        decision: verdict.decision,
        effect,
        target,
        reasons,
        policies,
        approval_id: verdict.approval_id,
        findings,
    }
}

/// The fail-closed judgement for anything that went wrong before a decision was made.
pub fn internal_error(what: String, findings: Vec<Finding>) -> Judgement {
    let verdict = Verdict::internal_error(what);
    Judgement {
        decision: Decision::Deny,
        effect: Effect::Unknown,
        target: None,
        reasons: verdict.reasons,
        policies: verdict.policies,
        approval_id: None,
        findings,
    }
}
