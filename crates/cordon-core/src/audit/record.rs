//! One audit record and its hash.

use crate::action::Action;
use crate::canonical::canonical_hash;
use crate::verdict::Verdict;
use serde::{Deserialize, Serialize};

/// The `prev` of a chain's first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Everything a record says; its hash covers all of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordBody {
    /// 1 for the first record of a task's chain, then +1.
    pub seq: u64,
    /// RFC 3339, UTC, microseconds.
    pub time: String,
    pub task: String,
    pub action: Action,
    pub verdict: Verdict,
    /// Hash of the previous record, or [`GENESIS`].
    pub prev: String,
}

/// A record as stored: the body plus its own hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    #[serde(flatten)]
    pub body: RecordBody,
    /// SHA-256 (hex) over the canonical JSON of the body.
    pub hash: String,
}

impl RecordBody {
    pub fn hash(&self) -> String {
        // A body always serializes: it holds only strings, integers and enums.
        let value = serde_json::to_value(self).unwrap_or_default();
        canonical_hash(&value)
    }

    pub fn seal(self) -> AuditRecord {
        let hash = self.hash();
        AuditRecord { body: self, hash }
    }
}

impl AuditRecord {
    /// The record's line in the chain file, without the newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A one-line human summary, as `cordon audit tail` prints it.
    pub fn summary(&self) -> String {
        let b = &self.body;
        let mut line = format!(
            "{}  {:<20} #{:<5} {:<7} {:<7} {}",
            b.time,
            b.task,
            b.seq,
            b.action.gate.as_str(),
            b.verdict.decision.as_str(),
            b.action.describe()
        );
        if let Some(reason) = b.verdict.reasons.first() {
            line.push_str(&format!(" — {reason}"));
        }
        if let Some(id) = &b.verdict.approval_id {
            line.push_str(&format!(" [approval {id}]"));
        }
        line
    }
}
