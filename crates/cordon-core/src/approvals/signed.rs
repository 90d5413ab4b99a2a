//! What a human signs when deciding an approval, and how a gate checks it.
//!
//! The signed message is the canonical JSON (`canonical.rs`: RFC 8785 for the values
//! used here) of one object with exactly these members, keys in byte order:
//!
//! ```text
//! {"action_hash":"<64 hex>","approval":"ap_…","approver":"alice","decided_at":1764576000,
//!  "decision":"approve","expires_at":1764576900,"note":"ok","task":"fix-domains",
//!  "type":"cordon.approval.decision/v1"}
//! ```
//!
//! `decision` is `approve` or `deny`; `note` is the approver's note, or the reason for
//! a denial, or `null`; times are Unix seconds. `type` separates these signatures from
//! anything else the key might ever sign. The signature is Ed25519 (RFC 8032) over those
//! bytes, stored as 128 lower-case hex digits. A gate rebuilds the message from the
//! hash of the action *it* is about to perform, never from the stored hash, so a
//! signature can only ever cover that one action of that one approval.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::json;

pub const MESSAGE_TYPE: &str = "cordon.approval.decision/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Deny,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Deny => "deny",
        }
    }
}

/// One human's decision on one approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDecision<'a> {
    pub approval: &'a str,
    pub task: &'a str,
    pub action_hash: &'a str,
    pub decision: Decision,
    pub approver: &'a str,
    pub note: Option<&'a str>,
    pub decided_at: u64,
    pub expires_at: u64,
}

impl SignedDecision<'_> {
    /// The exact bytes that are signed.
    pub fn message(&self) -> Vec<u8> {
        crate::canonical::canonical_bytes(&json!({
            "type": MESSAGE_TYPE,
            "approval": self.approval,
            "task": self.task,
            "action_hash": self.action_hash,
            "decision": self.decision.as_str(),
            "approver": self.approver,
            "note": self.note,
            "decided_at": self.decided_at,
            "expires_at": self.expires_at,
        }))
    }

    /// The signature, as stored.
    pub fn sign(&self, key: &SigningKey) -> String {
        hex::encode(key.sign(&self.message()).to_bytes())
    }

    /// Whether `signature` (as stored) is `key`'s signature of this decision. Anything
    /// malformed is simply not a valid signature.
    pub fn verify(&self, key: &VerifyingKey, signature: Option<&str>) -> bool {
        let Some(bytes) = signature.and_then(|s| hex::decode(s).ok()) else {
            return false;
        };
        let Ok(bytes) = <[u8; 64]>::try_from(bytes.as_slice()) else {
            return false;
        };
        key.verify(&self.message(), &Signature::from_bytes(&bytes))
            .is_ok()
    }
}
