//! Pending approvals: what `authorize()` consults when policy says confirm.
//!
//! An approval is bound to the SHA-256 of the exact action (canonical JSON), to one
//! task, and to an expiry; it is consumed atomically, so one approval lets exactly one
//! identical action through. Signing decisions with a key outside every sandbox, the
//! terminal and web front ends and notifications build on this (the approval gate).

use crate::action::Action;
use crate::canonical::canonical_hash;
use crate::store::{Store, StoreError};
use rand::Rng;
use rusqlite::OptionalExtension;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ApprovalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("approvals: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("no approval `{0}`")]
    NotFound(String),
    #[error("approval `{id}` is {state}, not pending")]
    NotPending { id: String, state: String },
    #[error("approval `{0}` has expired")]
    Expired(String),
    #[error("`{approver}` has already approved `{id}`; it needs a different person")]
    SameApprover { id: String, approver: String },
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
    /// Waiting for a human (new, or the same action asked again).
    Pending { id: String },
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
    pub note: Option<String>,
}

/// The request for a human, as `authorize()` files it.
#[derive(Debug, Clone)]
pub struct ApprovalRequest<'a> {
    pub task: &'a str,
    pub action: &'a Action,
    pub reasons: &'a [String],
    pub ttl: Duration,
    pub approvers_required: u32,
}

#[derive(Debug, Clone)]
pub struct Approvals {
    store: Arc<Store>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn as_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
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
    let value = serde_json::json!({ "task": task, "action": action });
    canonical_hash(&value)
}

impl Approvals {
    pub fn new(store: Arc<Store>) -> Approvals {
        Approvals { store }
    }

    /// Uses an approval of this exact action if there is one, reports a refusal, or
    /// files (or finds) the pending request.
    pub fn consume_or_request(
        &self,
        request: &ApprovalRequest<'_>,
    ) -> Result<ApprovalOutcome, ApprovalError> {
        let hash = action_hash(request.task, request.action);
        let now = now_secs();
        let conn = self.store.conn()?;

        // One statement, so two racing gates cannot both consume the same approval.
        let consumed: Option<String> = conn
            .query_row(
                "UPDATE approvals SET state = 'consumed', consumed_at = ?1
                 WHERE id = (SELECT id FROM approvals
                             WHERE task = ?2 AND action_hash = ?3 AND state = 'approved' AND expires_at > ?1
                             ORDER BY created_at LIMIT 1)
                   AND state = 'approved'
                 RETURNING id",
                rusqlite::params![as_i64(now), request.task, hash],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(id) = consumed {
            let approvers = votes(&conn, &id)?.into_iter().map(|(who, _)| who).collect();
            return Ok(ApprovalOutcome::Consumed { id, approvers });
        }

        let existing: Option<(String, String, Option<String>, Option<String>)> = conn
            .query_row(
                "SELECT id, state, decided_by, note FROM approvals
                 WHERE task = ?1 AND action_hash = ?2 AND state IN ('pending', 'denied') AND expires_at > ?3
                 ORDER BY created_at DESC LIMIT 1",
                rusqlite::params![request.task, hash, as_i64(now)],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .optional()?;
        match existing {
            Some((id, state, by, note)) if state == "denied" => Ok(ApprovalOutcome::Denied {
                id,
                by: by.unwrap_or_else(|| "a human".to_owned()),
                reason: note.unwrap_or_else(|| "no reason given".to_owned()),
            }),
            Some((id, _, _, _)) => Ok(ApprovalOutcome::Pending { id }),
            None => {
                let id = new_id();
                let action_json = serde_json::to_string(request.action).unwrap_or_default();
                let expires = now.saturating_add(request.ttl.as_secs().max(1));
                conn.execute(
                    "INSERT INTO approvals (id, task, gate, action_hash, action_json, summary, reason,
                                            created_at, expires_at, approvers_required, state)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending')",
                    rusqlite::params![
                        id,
                        request.task,
                        request.action.gate.as_str(),
                        hash,
                        action_json,
                        request.action.describe(),
                        request.reasons.join("; "),
                        as_i64(now),
                        as_i64(expires),
                        request.approvers_required,
                    ],
                )?;
                Ok(ApprovalOutcome::Pending { id })
            }
        }
    }

    /// Records one human's approval; the approval is granted once enough distinct
    /// people have approved. Returns the record after the vote.
    pub fn approve(
        &self,
        id: &str,
        approver: &str,
        note: Option<&str>,
    ) -> Result<ApprovalRecord, ApprovalError> {
        let mut conn = self.store.conn()?;
        let tx = conn.transaction()?;
        let (state, expires, required): (String, i64, u32) = tx
            .query_row(
                "SELECT state, expires_at, approvers_required FROM approvals WHERE id = ?1",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?
            .ok_or_else(|| ApprovalError::NotFound(id.to_owned()))?;
        if state != "pending" {
            return Err(ApprovalError::NotPending {
                id: id.to_owned(),
                state,
            });
        }
        if expires <= as_i64(now_secs()) {
            return Err(ApprovalError::Expired(id.to_owned()));
        }
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO approval_votes (approval_id, approver, decided_at, note) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![id, approver, as_i64(now_secs()), note],
        )?;
        if inserted == 0 {
            return Err(ApprovalError::SameApprover {
                id: id.to_owned(),
                approver: approver.to_owned(),
            });
        }
        let count: u32 = tx.query_row(
            "SELECT COUNT(*) FROM approval_votes WHERE approval_id = ?1",
            [id],
            |row| row.get(0),
        )?;
        if count >= required {
            tx.execute(
                "UPDATE approvals SET state = 'approved', decided_by = ?2, note = ?3 WHERE id = ?1",
                rusqlite::params![id, approver, note],
            )?;
        }
        tx.commit()?;
        drop(conn);
        self.get(id)
    }

    /// Refuses an approval; the reason travels back to the agent.
    pub fn deny(&self, id: &str, by: &str, reason: &str) -> Result<ApprovalRecord, ApprovalError> {
        let conn = self.store.conn()?;
        let changed = conn.execute(
            "UPDATE approvals SET state = 'denied', decided_by = ?2, note = ?3 WHERE id = ?1 AND state = 'pending'",
            rusqlite::params![id, by, reason],
        )?;
        drop(conn);
        if changed == 0 {
            let record = self.get(id)?;
            return Err(ApprovalError::NotPending {
                id: id.to_owned(),
                state: record.state,
            });
        }
        self.get(id)
    }

    pub fn get(&self, id: &str) -> Result<ApprovalRecord, ApprovalError> {
        let conn = self.store.conn()?;
        let mut record = conn
            .query_row(
                "SELECT id, task, gate, action_hash, action_json, summary, reason, created_at, expires_at,
                        approvers_required, state, note FROM approvals WHERE id = ?1",
                [id],
                row_to_record,
            )
            .optional()?
            .ok_or_else(|| ApprovalError::NotFound(id.to_owned()))?;
        record.approvers = votes(&conn, id)?.into_iter().map(|(who, _)| who).collect();
        Ok(record)
    }

    /// Approvals still waiting for a human, oldest first.
    pub fn pending(&self) -> Result<Vec<ApprovalRecord>, ApprovalError> {
        let conn = self.store.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, task, gate, action_hash, action_json, summary, reason, created_at, expires_at,
                    approvers_required, state, note FROM approvals
             WHERE state = 'pending' AND expires_at > ?1 ORDER BY created_at",
        )?;
        let rows = stmt.query_map([as_i64(now_secs())], row_to_record)?;
        let mut records = rows.collect::<Result<Vec<_>, _>>()?;
        for record in &mut records {
            record.approvers = votes(&conn, &record.id)?
                .into_iter()
                .map(|(who, _)| who)
                .collect();
        }
        Ok(records)
    }
}

fn votes(
    conn: &rusqlite::Connection,
    id: &str,
) -> Result<Vec<(String, Option<String>)>, rusqlite::Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT approver, note FROM approval_votes WHERE approval_id = ?1 ORDER BY decided_at, approver",
    )?;
    let rows = stmt.query_map([id], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}

fn row_to_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<ApprovalRecord> {
    let created: i64 = row.get(7)?;
    let expires: i64 = row.get(8)?;
    Ok(ApprovalRecord {
        id: row.get(0)?,
        task: row.get(1)?,
        gate: row.get(2)?,
        action_hash: row.get(3)?,
        action_json: row.get(4)?,
        summary: row.get(5)?,
        reason: row.get(6)?,
        created_at: u64::try_from(created).unwrap_or(0),
        expires_at: u64::try_from(expires).unwrap_or(0),
        approvers_required: row.get(9)?,
        state: row.get(10)?,
        approvers: Vec::new(),
        note: row.get(11)?,
    })
}
