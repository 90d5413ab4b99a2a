//! The answer `authorize()` gives a gate.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Deny,
    /// Not until a human signs this exact action (`confirmation_required`).
    Confirm,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::Confirm => "confirm",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decision with everything a gate needs to enforce and explain it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub decision: Decision,
    /// Plain-words reasons the agent (and its user) can act on. Never empty for deny
    /// and confirm.
    pub reasons: Vec<String>,
    /// Ids of the policies that determined the decision.
    pub policies: Vec<String>,
    /// Present when `decision` is confirm, or when an approval turned confirm into allow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<String>,
}

impl Verdict {
    pub fn allow(policies: Vec<String>) -> Verdict {
        Verdict {
            decision: Decision::Allow,
            reasons: Vec::new(),
            policies,
            approval_id: None,
        }
    }

    pub fn deny(reason: impl Into<String>, policies: Vec<String>) -> Verdict {
        Verdict {
            decision: Decision::Deny,
            reasons: vec![reason.into()],
            policies,
            approval_id: None,
        }
    }

    /// The fail-closed answer for anything that went wrong inside the decision path.
    pub fn internal_error(what: impl fmt::Display) -> Verdict {
        Verdict::deny(
            format!("cordon could not decide ({what}); denied because cordon fails closed"),
            vec!["builtin.fail-closed".to_owned()],
        )
    }

    pub fn is_allow(&self) -> bool {
        self.decision == Decision::Allow
    }
}
