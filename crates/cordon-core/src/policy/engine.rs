//! Evaluating one action against the compiled policy sets.

use super::context::{self, Attrs};
use super::fold::{Fast, Fold};
use super::scope::{CredentialSlot, Needs, SliceKey};
use super::{CompiledPolicy, PolicyError};
use crate::action::{Action, Effect};
use crate::verdict::Decision;
use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, EntityId, EntityTypeName, EntityUid, Policy,
    PolicySet, Request,
};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// The policies one kind of request can match (see `scope.rs`), as residuals.
#[derive(Debug)]
struct Slice {
    main: PolicySet,
    confirm: PolicySet,
    /// `main` folded (see `fold.rs`): only a clean allow is taken from it.
    fast_main: Option<Fast>,
    /// The context attributes any policy in this slice reads.
    context: Attrs,
    /// The fast set failed to allow this slice's last request that tried it. Requests
    /// of one slice tend to share an outcome (a refused operation is retried), so a
    /// miss sends the next ones straight to the fine-grained set, which decides exactly
    /// as before, and a fine-grained allow gives the fast set its next chance. Speed
    /// only: no decision depends on it.
    fast_missed: AtomicBool,
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
    principal: EntityUid,
    resource: EntityUid,
    actions: Vec<(Effect, EntityUid)>,
    /// Id of the folded policy in fast sets: one no policy of the task uses.
    fold_id: String,
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
        let mut fold_id = "cordon.folded".to_owned();
        while compiled.origins.contains_key(&fold_id) {
            fold_id.push('_');
        }
        Ok(PolicyEngine {
            compiled,
            credentials,
            slices: RwLock::new(HashMap::new()),
            authorizer: Authorizer::new(),
            principal: uid("Cordon::Task", task)?,
            resource: uid("Cordon::Resource", "target")?,
            actions,
            fold_id,
        })
    }

    pub fn compiled(&self) -> &CompiledPolicy {
        &self.compiled
    }

    /// Policy's answer for `action`. `resource_known` says whether the target is in the
    /// manifest's inventory (the caller resolves the target's environment from it).
    ///
    /// The request is asked of its slice: first of the fast set, which can only
    /// confirm an allow, then, when it does not, of the fine-grained sets, which decide
    /// exactly as `evaluate_unsliced` does.
    pub fn evaluate(
        &self,
        action: &Action,
        resource_known: bool,
    ) -> Result<Evaluation, PolicyError> {
        let slice = self.slice(action)?;
        let request = self.request(action, resource_known, slice.context)?;
        let fast = slice
            .fast_main
            .as_ref()
            .filter(|_| !slice.fast_missed.load(Ordering::Relaxed));
        let main_policies = match self.fast_allow(&request, fast) {
            Some(policies) => policies,
            None => {
                let decided = self.decide_main(action, &request, &slice.main);
                // Only a changed flag is written: a store on every request would bounce
                // the cache line between threads.
                let missed = fast.is_some() || decided.is_err();
                if slice.fast_main.is_some() && slice.fast_missed.load(Ordering::Relaxed) != missed
                {
                    slice.fast_missed.store(missed, Ordering::Relaxed);
                }
                match decided {
                    Ok(policies) => policies,
                    Err(refused) => return Ok(refused),
                }
            }
        };
        // Most slices hold no confirmation trigger (reads, scoped API calls): an empty
        // set cannot match, so skip the second Cedar call.
        if slice.confirm.is_empty() {
            return Ok(allow(main_policies));
        }
        Ok(self.decide_confirm(action, &request, &slice.confirm, main_policies))
    }

    /// The permits that allow `request` when `fast` allows it with no error at all;
    /// `None` when it does not, or when the slice has no fast set.
    fn fast_allow(&self, request: &Request, fast: Option<&Fast>) -> Option<Vec<String>> {
        let fast = fast?;
        let answer = self.ask(request, &fast.set);
        if !answer.errors.is_empty() || answer.decision != CedarDecision::Allow {
            return None;
        }
        Some(fast.allow.clone().unwrap_or(answer.policies))
    }

    /// The same decision against every policy, without slicing: the reference the
    /// slicing is tested against.
    pub fn evaluate_unsliced(
        &self,
        action: &Action,
        resource_known: bool,
    ) -> Result<Evaluation, PolicyError> {
        let request = self.request(action, resource_known, Attrs::ALL)?;
        let sets = self.compiled.sets()?;
        let main_policies = match self.decide_main(action, &request, &sets.main) {
            Ok(policies) => policies,
            Err(evaluation) => return Ok(evaluation),
        };
        // An empty set cannot match.
        if sets.confirm.is_empty() {
            return Ok(allow(main_policies));
        }
        Ok(self.decide_confirm(action, &request, &sets.confirm, main_policies))
    }

    /// The permits that allow `request`, or the evaluation that refuses it.
    fn decide_main(
        &self,
        action: &Action,
        request: &Request,
        main_set: &PolicySet,
    ) -> Result<Vec<String>, Evaluation> {
        let main = self.ask(request, main_set);
        if !main.errors.is_empty() {
            return Err(self.failed(action, main.errors));
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
            return Err(Evaluation {
                decision: Decision::Deny,
                policies: main.policies,
                reasons,
            });
        }
        Ok(main.policies)
    }

    /// Allowed by `main_policies`: does a confirmation trigger hold it for a human?
    fn decide_confirm(
        &self,
        action: &Action,
        request: &Request,
        confirm_set: &PolicySet,
        main_policies: Vec<String>,
    ) -> Evaluation {
        let confirm = self.ask(request, confirm_set);
        if !confirm.errors.is_empty() {
            return self.failed(action, confirm.errors);
        }
        if confirm.decision == CedarDecision::Allow {
            let reasons = confirm
                .policies
                .iter()
                .filter_map(|id| self.reason(id, action))
                .collect();
            return Evaluation {
                decision: Decision::Confirm,
                policies: confirm.policies,
                reasons,
            };
        }
        allow(main_policies)
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
        let mut fold = Fold::default();
        let mut context = Attrs::NONE;
        for (id, origin) in &self.compiled.origins {
            if !origin.scope.admits(&key, &self.credentials) {
                continue;
            }
            let policy = match &origin.residual {
                Some(residual) => self.compiled.cache.parse(id, &residual.text).map_err(|e| {
                    PolicyError::Generated {
                        id: id.clone(),
                        detail: format!("residual: {e}"),
                    }
                })?,
                None => self.compiled.policy(id)?,
            };
            context = context.union(Attrs::read_by(&policy));
            if origin.confirm {
                confirm.push(policy);
                continue;
            }
            match &origin.residual {
                Some(r) if r.forbid => fold.forbid(r.condition.as_deref()),
                Some(r) if r.condition.is_none() => fold.plain_permit(id, policy.clone()),
                _ => fold.keep(policy.clone()),
            }
            main.push(policy);
        }
        let build = |policies: Vec<Policy>| {
            PolicySet::from_policies(policies).map_err(|e| PolicyError::Request(e.to_string()))
        };
        let slice = Arc::new(Slice {
            fast_main: fold.build(&self.fold_id, &self.compiled.cache)?,
            main: build(main)?,
            confirm: build(confirm)?,
            context,
            fast_missed: AtomicBool::new(false),
        });
        if let Ok(mut slices) = self.slices.write() {
            slices.insert(key, slice.clone());
        }
        // A slice is built once per process; the next process finds its parses.
        self.compiled.cache.flush();
        Ok(slice)
    }

    fn request(
        &self,
        action: &Action,
        resource_known: bool,
        wanted: Attrs,
    ) -> Result<Request, PolicyError> {
        let action_uid = self
            .actions
            .iter()
            .find(|(e, _)| *e == action.effect)
            .map(|(_, u)| u.clone())
            .ok_or_else(|| {
                PolicyError::Request(format!("no Cedar action for {}", action.effect))
            })?;
        let context = Context::from_pairs(context::pairs(action, resource_known, wanted))
            .map_err(|e| PolicyError::Request(e.to_string()))?;
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
        let response = self
            .authorizer
            .is_authorized(request, set, &self.compiled.entities);
        // Cedar reports determining policies as a set; sorted, verdicts and audit
        // records read the same every time.
        // The id as written: `Display` escapes it character by character, which cost
        // more than a small policy's evaluation and would not match `origins` keys.
        let mut policies: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|id| AsRef::<str>::as_ref(id).to_owned())
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

fn allow(policies: Vec<String>) -> Evaluation {
    Evaluation {
        decision: Decision::Allow,
        policies,
        reasons: Vec::new(),
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
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let (before, after) = rest.split_at(open);
        out.push_str(before);
        let name = after
            .find('}')
            .and_then(|close| Some((after.get(1..close)?, close)));
        match name {
            Some((name, close)) if placeholder(&mut out, name, action) => {
                rest = after.get(close + 1..).unwrap_or("");
            }
            _ => {
                out.push('{');
                rest = after.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out
}

/// Appends the value of placeholder `name`; false when there is no such placeholder.
fn placeholder(out: &mut String, name: &str, action: &Action) -> bool {
    let quoted = |out: &mut String, value: Option<&str>| match value {
        Some(value) => {
            out.push('`');
            out.push_str(value);
            out.push('`');
        }
        None => out.push_str("(unknown)"),
    };
    let target = action.target.as_ref();
    match name {
        "action" => out.push_str(&action.describe()),
        "effect" => out.push_str(action.effect.as_str()),
        "operation" => quoted(out, Some(&action.operation)),
        "host" => quoted(out, action.host.as_deref()),
        "method" => quoted(out, action.method.as_deref()),
        "path" => quoted(out, action.path.as_deref()),
        "url_path" => quoted(out, action.url_path.as_deref()),
        "tool" => quoted(out, action.tool.as_deref()),
        "credential" => out.push_str(action.credential.as_deref().unwrap_or_default()),
        "resource" => match target {
            Some(t) => {
                out.push_str(&t.kind);
                out.push(' ');
                quoted(out, Some(&t.id));
            }
            None => out.push_str("the target"),
        },
        "resource_environment" => quoted(out, target.and_then(|t| t.environment.as_deref())),
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::PolicyEngine;
    use super::render_reason;
    use crate::manifest::{LoadedManifest, Manifest};
    use crate::policy::compile;
    use crate::policy::context::{Attr, Attrs};
    use crate::{Action, Effect, Gate};
    use std::path::PathBuf;

    fn engine(text: &str) -> (LoadedManifest, PolicyEngine) {
        let loaded = LoadedManifest {
            manifest: Manifest::parse(text, "cordon.toml").unwrap(),
            path: None,
            base_dir: PathBuf::from("/work/app"),
            extra_policies: Vec::new(),
        };
        let engine = PolicyEngine::new(compile(&loaded).unwrap(), "t").unwrap();
        (loaded, engine)
    }

    /// The equivalence tests show the fast paths change nothing; this shows they are
    /// taken: a scoped query with a credential is one Cedar policy over three context
    /// attributes, and the host lists are sets.
    #[test]
    fn a_credentialed_query_is_asked_of_one_folded_policy() {
        let mut text = String::from(
            "[task]\nname = \"t\"\nenvironment = \"staging\"\n[network]\nallow = [\"a.io\", \"*.b.io\", \"c.io\"]\n",
        );
        for c in 0..3 {
            text.push_str(&format!(
                "[[credential]]\nname = \"c{c}\"\nsource = \"env:C{c}\"\nhosts = [\"api{c}.io\"]\nallow = [\"graphql.query.*\"]\n"
            ));
        }
        let (loaded, engine) = engine(&text);
        let action = Action::new(Gate::Http, "graphql.query.me", Effect::Read)
            .with_host("api1.io")
            .with_method("POST")
            .with_credential("c1")
            .with_target("volume", "v");
        let (action, known) = crate::resolve_target(&loaded.manifest, &action);
        let slice = engine.slice(&action).unwrap();
        let fast = slice.fast_main.as_ref().unwrap();
        assert_eq!(fast.set.policies().count(), 1);
        assert_eq!(fast.allow, Some(vec!["baseline.read".to_owned()]));
        assert_eq!(slice.context, Attrs::of(&[Attr::Operation, Attr::Host]));
        let residual = engine.compiled.origins["network.allow"]
            .residual
            .as_ref()
            .unwrap();
        assert!(
            residual.text.contains("hosts.contains(context.host)"),
            "{}",
            residual.text
        );
        assert_eq!(
            engine.evaluate(&action, known).unwrap(),
            engine.evaluate_unsliced(&action, known).unwrap()
        );
    }

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
        let bare = Action::new(Gate::Hook, "shell.exec", Effect::Write).with_credential("c");
        assert_eq!(
            render_reason("{effect} {credential} {resource} {path} {{tool}", &bare),
            "write c the target (unknown) {(unknown)"
        );
        assert_eq!(render_reason("{action}", &bare), bare.describe());
    }
}
