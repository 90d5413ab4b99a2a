//! Pending approvals: what `authorize()` consults when policy says confirm.
//!
//! An approval is bound to the SHA-256 of the exact action (canonical JSON), to one
//! task, and to an expiry; it is consumed atomically, so one approval lets exactly one
//! identical action through. Each human decision is signed with the installation's
//! Ed25519 key (`keys.rs`, `signed.rs`), and a gate trusts only what verifies: a row
//! edited in the database without that key is not an approval.

mod decide;
mod gate;
mod hold;
pub mod keys;
pub mod plain;
pub mod signed;

pub use hold::Waited;
pub use keys::{ApprovalKeys, KeyError};
pub use signed::SignedDecision;

use crate::action::Action;
use crate::canonical::canonical_hash;
use crate::store::{Row, Store, StoreError, StoreLocation, params};
use rand::Rng;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ApprovalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("no approval `{0}`")]
    NotFound(String),
    #[error("approval `{id}` is {state}, not pending")]
    NotPending { id: String, state: String },
    #[error("approval `{0}` has expired")]
    Expired(String),
    #[error("`{approver}` has already approved `{id}`; it needs a different person")]
    SameApprover { id: String, approver: String },
    #[error(
        "approval `{0}` was changed in the database after it was filed (its action no longer matches its hash); refusing to sign it"
    )]
    Tampered(String),
}

/// What the store says about an action that policy wants a human for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalOutcome {
    /// A human approved this exact action; that approval is now used up.
    Consumed { id: String, approvers: Vec<String> },
    /// A human refused it.
    Denied {
        id: String,
        by: String,
        reason: String,
    },
    /// Waiting for a human (new, or the same action asked again). `ignored` names
    /// approvals for this action that claimed a decision whose signature does not
    /// verify.
    Pending {
        id: String,
        new: bool,
        ignored: Vec<String>,
    },
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ApprovalRecord {
    pub id: String,
    pub task: String,
    pub gate: String,
    pub action_hash: String,
    pub action_json: String,
    pub summary: String,
    pub reason: String,
    pub created_at: u64,
    pub expires_at: u64,
    pub approvers_required: u32,
    pub state: String,
    pub approvers: Vec<String>,
    pub decided_by: Option<String>,
    pub note: Option<String>,
}

impl ApprovalRecord {
    /// The action as the gate saw it, if the stored JSON still parses.
    pub fn action(&self) -> Option<Action> {
        serde_json::from_str(&self.action_json).ok()
    }
}

/// The request for a human, as `authorize()` files it.
#[derive(Debug, Clone)]
pub struct ApprovalRequest<'a> {
    pub task: &'a str,
    pub action: &'a Action,
    pub reasons: &'a [String],
    pub ttl: Duration,
    pub approvers_required: u32,
    /// Notified when this request is filed (not when it is asked again).
    pub webhooks: &'a [crate::manifest::Webhook],
    pub page_url: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct Approvals {
    store: Arc<Store>,
    keys: Arc<ApprovalKeys>,
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn as_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn as_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Short, unguessable, and easy to read aloud: `ap_` and 12 lower-case base32 chars.
fn new_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let tail: String = (0..12)
        .map(|_| {
            let i = rng.random_range(0..ALPHABET.len());
            ALPHABET.get(i).copied().map_or('a', char::from)
        })
        .collect();
    format!("ap_{tail}")
}

/// The hash an approval is bound to.
pub fn action_hash(task: &str, action: &Action) -> String {
    let action = serde_json::to_value(action).unwrap_or_default();
    bound_hash(task, action)
}

/// The same hash from the stored JSON: what a human signs must be what they were shown.
fn stored_action_hash(task: &str, action_json: &str) -> Option<String> {
    let action: serde_json::Value = serde_json::from_str(action_json).ok()?;
    Some(bound_hash(task, action))
}

/// An approval covers the action, not the audit attributes that differ between two
/// identical calls (a request id).
fn bound_hash(task: &str, mut action: serde_json::Value) -> String {
    if let Some(fields) = action.as_object_mut() {
        fields.remove("attributes");
    }
    canonical_hash(&serde_json::json!({ "task": task, "action": action }))
}

const RECORD_COLUMNS: &str =
    "id, task, gate, action_hash, action_json, summary, reason, created_at, expires_at,
     approvers_required, state, decided_by, note";

impl Approvals {
    pub fn new(store: Arc<Store>, keys: Arc<ApprovalKeys>) -> Approvals {
        Approvals { store, keys }
    }

    /// The key pair under `home` (made on first use) and the store the process was
    /// pointed at (`--store`, `CORDON_STORE`), else the SQLite file under `home`.
    pub fn open(home: &Path) -> Result<Approvals, ApprovalError> {
        Approvals::open_at(home, &StoreLocation::resolve(home, None)?)
    }

    /// The key pair under `home` and the store at `location`.
    pub fn open_at(home: &Path, location: &StoreLocation) -> Result<Approvals, ApprovalError> {
        crate::home::create_private_dir(home).map_err(|e| KeyError::Io {
            path: home.to_path_buf(),
            detail: e.to_string(),
        })?;
        let store = Arc::new(Store::open_at(location)?);
        let keys = Arc::new(ApprovalKeys::load_or_create(home)?);
        Ok(Approvals::new(store, keys))
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn keys(&self) -> &ApprovalKeys {
        &self.keys
    }

    pub fn get(&self, id: &str) -> Result<ApprovalRecord, ApprovalError> {
        self.store.with(|db| {
            let row = db
                .query_opt(
                    &format!("SELECT {RECORD_COLUMNS} FROM approvals WHERE id = ?1"),
                    params![id],
                )?
                .ok_or_else(|| ApprovalError::NotFound(id.to_owned()))?;
            let mut record = row_to_record(&row)?;
            record.approvers = voters(db, id)?;
            Ok(record)
        })
    }

    /// Approvals still waiting for a human, oldest first.
    pub fn pending(&self) -> Result<Vec<ApprovalRecord>, ApprovalError> {
        self.query(
            "WHERE state = 'pending' AND expires_at > ?1 ORDER BY created_at",
            as_i64(now_secs()),
        )
    }

    /// Every approval filed at or after `since` (Unix seconds), newest first: what the
    /// web page shows as recently decided.
    pub fn recent(&self, since: u64) -> Result<Vec<ApprovalRecord>, ApprovalError> {
        self.query(
            "WHERE created_at >= ?1 ORDER BY created_at DESC LIMIT 200",
            as_i64(since),
        )
    }

    fn query(&self, clause: &str, param: i64) -> Result<Vec<ApprovalRecord>, ApprovalError> {
        self.store.with(|db| {
            let rows = db.query(
                &format!("SELECT {RECORD_COLUMNS} FROM approvals {clause}"),
                params![param],
            )?;
            let mut records = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut record = row_to_record(row)?;
                record.approvers = voters(db, &record.id)?;
                records.push(record);
            }
            Ok(records)
        })
    }
}

fn voters(db: &mut dyn crate::store::Db, id: &str) -> Result<Vec<String>, StoreError> {
    db.query(
        "SELECT approver FROM approval_votes WHERE approval_id = ?1 ORDER BY decided_at, approver",
        params![id],
    )?
    .iter()
    .map(|row| row.text(0))
    .collect()
}

fn row_to_record(row: &Row) -> Result<ApprovalRecord, StoreError> {
    Ok(ApprovalRecord {
        id: row.text(0)?,
        task: row.text(1)?,
        gate: row.text(2)?,
        action_hash: row.text(3)?,
        action_json: row.text(4)?,
        summary: row.text(5)?,
        reason: row.text(6)?,
        created_at: as_u64(row.int(7)?),
        expires_at: as_u64(row.int(8)?),
        approvers_required: row.u32(9)?,
        state: row.text(10)?,
        approvers: Vec::new(),
        decided_by: row.opt_text(11)?,
        note: row.opt_text(12)?,
    })
}
