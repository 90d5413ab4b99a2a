//! The fast set: a slice's main policies with its generated forbids folded into one
//! Cedar policy.
//!
//! Cedar's cost is per policy (each is wrapped in its scope and walked on its own) and
//! per expression node. Most requests are allowed, and an allow has to show every
//! forbid false anyway, so the generated forbids become one policy whose condition is
//! theirs joined with `||`. Only a clean allow is taken from the fast set: no error at
//! all, so the `||` came out false with every part evaluated to false. Anything else
//! (a forbid matched, no permit did, an error) is asked again of the fine-grained set,
//! which names the policies and carries the errors. User policies are never folded.

use super::PolicyError;
use super::cache::PolicyCache;
use cedar_policy::{Policy, PolicySet};

/// A fast set, and what an allow from it means.
#[derive(Debug)]
pub(crate) struct Fast {
    pub(crate) set: PolicySet,
    /// When the whole set folded into one permit: the permits an allow names (Cedar
    /// can only name the folded one).
    pub(crate) allow: Option<Vec<String>>,
}

/// A slice's main policies on their way into a fast set.
#[derive(Default)]
pub(crate) struct Fold {
    conditions: Vec<String>,
    folded: usize,
    /// A forbid without a condition holds for every request of the slice: the fast
    /// set would never allow.
    always: bool,
    /// Policies the fast set evaluates as they are.
    kept: Vec<Policy>,
    /// Generated permits that hold for every request of the slice.
    plain_permits: Vec<(String, Policy)>,
}

impl Fold {
    /// A generated forbid, by its residual's condition (`None`: unconditional).
    pub(crate) fn forbid(&mut self, condition: Option<&str>) {
        self.folded += 1;
        match condition {
            // The same text is the same test (the task's and a credential's
            // environment may ask one thing): once is enough.
            Some(condition) => {
                let condition = format!("({condition})");
                if !self.conditions.contains(&condition) {
                    self.conditions.push(condition);
                }
            }
            None => self.always = true,
        }
    }

    pub(crate) fn keep(&mut self, policy: Policy) {
        self.kept.push(policy);
    }

    pub(crate) fn plain_permit(&mut self, id: &str, policy: Policy) {
        self.plain_permits.push((id.to_owned(), policy));
    }

    /// `None` when folding saves nothing. When nothing but always-true permits is left
    /// beside the forbids, the whole set is one permit, `unless` any forbid holds.
    pub(crate) fn build(self, id: &str, cache: &PolicyCache) -> Result<Option<Fast>, PolicyError> {
        if self.always || self.folded == 0 {
            return Ok(None);
        }
        let condition = self.conditions.join(" || ");
        if self.kept.is_empty() && !self.plain_permits.is_empty() {
            let mut allow: Vec<String> = self.plain_permits.into_iter().map(|(id, _)| id).collect();
            allow.sort();
            let text = format!("permit(principal, action, resource)\nunless {{ {condition} }};");
            return Ok(Some(Fast {
                set: set(vec![parse(cache, id, &text)?])?,
                allow: Some(allow),
            }));
        }
        if self.folded < 2 {
            return Ok(None);
        }
        let mut policies = self.kept;
        policies.extend(self.plain_permits.into_iter().map(|(_, p)| p));
        policies.push(parse(
            cache,
            id,
            &format!("forbid(principal, action, resource)\nwhen {{ {condition} }};"),
        )?);
        Ok(Some(Fast {
            set: set(policies)?,
            allow: None,
        }))
    }
}

fn parse(cache: &PolicyCache, id: &str, text: &str) -> Result<Policy, PolicyError> {
    cache
        .parse(id, text)
        .map_err(|e| PolicyError::Request(format!("folded policy: {e}")))
}

fn set(policies: Vec<Policy>) -> Result<PolicySet, PolicyError> {
    PolicySet::from_policies(policies).map_err(|e| PolicyError::Request(e.to_string()))
}
