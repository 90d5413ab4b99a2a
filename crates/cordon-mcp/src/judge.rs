//! Who the proxy asks. An [`Authorizer`] consults approvals and records every decision;
//! [`PolicyOnly`] evaluates policy alone, for the fuzzer and for tests of the framing.

use cordon_core::audit::AuditEntry;
use cordon_core::manifest::LoadedManifest;
use cordon_core::policy::PolicyEngine;
use cordon_core::{Action, Authorizer, Verdict};

pub trait Judge: Send + Sync {
    fn manifest(&self) -> &LoadedManifest;
    /// Policy alone: no approval filed, nothing recorded.
    fn evaluate(&self, action: &Action) -> Verdict;
    /// The decision, recorded before it is returned.
    fn authorize(&self, action: &Action) -> Verdict;
    /// The decision for a gate in hold mode: a call that needs a human waits for
    /// one (see `Authorizer::authorize_holding`). Blocks; never call it on a runtime
    /// thread.
    fn authorize_holding(&self, action: &Action) -> Verdict {
        self.authorize(action)
    }
    /// Records a refusal the proxy made before policy was asked (an argument that
    /// breaks a declared constraint), so every refusal is on record.
    fn record(&self, action: &Action, verdict: &Verdict);
}

fn evaluated(manifest: &LoadedManifest, engine: &PolicyEngine, action: &Action) -> Verdict {
    match cordon_core::evaluate(&manifest.manifest, engine, action).1 {
        Ok(e) => Verdict {
            decision: e.decision,
            reasons: e.reasons,
            policies: e.policies,
            approval_id: None,
        },
        Err(e) => Verdict::internal_error(e),
    }
}

impl Judge for Authorizer {
    fn manifest(&self) -> &LoadedManifest {
        Authorizer::manifest(self)
    }

    fn evaluate(&self, action: &Action) -> Verdict {
        evaluated(Authorizer::manifest(self), self.engine(), action)
    }

    fn authorize(&self, action: &Action) -> Verdict {
        Authorizer::authorize(self, action)
    }

    fn authorize_holding(&self, action: &Action) -> Verdict {
        Authorizer::authorize_holding(self, action)
    }

    fn record(&self, action: &Action, verdict: &Verdict) {
        let entry = AuditEntry {
            task: Authorizer::manifest(self).task_name().to_owned(),
            action: action.clone(),
            verdict: verdict.clone(),
        };
        if let Err(e) = self.audit().append(entry) {
            tracing::error!(error = %e, "an MCP refusal could not be written to the audit log");
        }
    }
}

/// Policy without approvals or audit.
#[derive(Debug)]
pub struct PolicyOnly {
    pub manifest: LoadedManifest,
    pub engine: PolicyEngine,
}

impl PolicyOnly {
    pub fn new(manifest: LoadedManifest) -> Result<PolicyOnly, cordon_core::policy::PolicyError> {
        let compiled = cordon_core::policy::compile(&manifest)?;
        let engine = PolicyEngine::new(compiled, manifest.task_name())?;
        Ok(PolicyOnly { manifest, engine })
    }
}

impl Judge for PolicyOnly {
    fn manifest(&self) -> &LoadedManifest {
        &self.manifest
    }

    fn evaluate(&self, action: &Action) -> Verdict {
        evaluated(&self.manifest, &self.engine, action)
    }

    fn authorize(&self, action: &Action) -> Verdict {
        evaluated(&self.manifest, &self.engine, action)
    }

    fn record(&self, _action: &Action, _verdict: &Verdict) {}
}
