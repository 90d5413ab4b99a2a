//! One audit record and its hash.

use crate::action::Action;
use crate::canonical::sort_keys_deep;
use crate::verdict::Verdict;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
    /// The body's canonical JSON (see `canonical.rs`).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // A body always serializes: it holds only strings, integers and enums.
        let mut value = serde_json::to_value(self).unwrap_or_default();
        sort_keys_deep(&mut value);
        serde_json::to_vec(&value).unwrap_or_default()
    }

    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_bytes()))
    }

    pub fn seal(self) -> AuditRecord {
        self.seal_with_line().0
    }

    /// Seals the body and renders its line from the same bytes the hash covers, so a
    /// record is serialized once on the hot path.
    pub fn seal_with_line(self) -> (AuditRecord, String) {
        let bytes = self.canonical_bytes();
        let hash = hex::encode(Sha256::digest(&bytes));
        let line = line_from(&bytes, &hash);
        (AuditRecord { body: self, hash }, line)
    }
}

/// The parts of a record that do not depend on its place in the chain, serialized
/// canonically by the caller's thread before it queues the record, so the one thread
/// that writes a chain only splices in `prev`, `seq` and `time` and hashes.
#[derive(Debug, Clone)]
pub struct PreparedRecord {
    pub task: String,
    pub action: Action,
    pub verdict: Verdict,
    task_json: String,
    action_json: String,
    verdict_json: String,
}

fn canonical_json<T: Serialize>(value: &T) -> String {
    let mut value = serde_json::to_value(value).unwrap_or_default();
    sort_keys_deep(&mut value);
    serde_json::to_string(&value).unwrap_or_default()
}

impl PreparedRecord {
    pub fn new(task: String, action: Action, verdict: Verdict) -> PreparedRecord {
        PreparedRecord {
            task_json: canonical_json(&task),
            action_json: canonical_json(&action),
            verdict_json: canonical_json(&verdict),
            task,
            action,
            verdict,
        }
    }

    /// Places the record in its chain. The body's top-level keys are fixed, so their
    /// canonical (sorted) order is too: action, prev, seq, task, time, verdict. The
    /// result is byte-for-byte `RecordBody::canonical_bytes` (pinned by a test).
    pub fn seal(self, seq: u64, time: &str, prev: String) -> (AuditRecord, String) {
        let time_json = canonical_json(&time);
        let body = format!(
            "{{\"action\":{},\"prev\":\"{prev}\",\"seq\":{seq},\"task\":{},\"time\":{time_json},\"verdict\":{}}}",
            self.action_json, self.task_json, self.verdict_json
        );
        let hash = hex::encode(Sha256::digest(body.as_bytes()));
        let line = line_from(body.as_bytes(), &hash);
        let record = AuditRecord {
            body: RecordBody {
                seq,
                time: time.to_owned(),
                task: self.task,
                action: self.action,
                verdict: self.verdict,
                prev,
            },
            hash,
        };
        (record, line)
    }
}

/// `{…canonical body…,"hash":"…"}`: the body's canonical bytes with the hash added
/// as the last member.
fn line_from(canonical_body: &[u8], hash: &str) -> String {
    let body = String::from_utf8_lossy(canonical_body);
    let open = body.strip_suffix('}').unwrap_or(&body);
    format!("{open},\"hash\":\"{hash}\"}}")
}

impl AuditRecord {
    /// The record's line in the chain file, without the newline.
    pub fn to_line(&self) -> String {
        line_from(&self.body.canonical_bytes(), &self.hash)
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
