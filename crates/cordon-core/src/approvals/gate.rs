//! The gate's side: use a signed approval of this exact action once, report a signed
//! refusal, or file the request for a human.

use super::signed::{Decision, SignedDecision};
use super::{
    ApprovalError, ApprovalOutcome, ApprovalRequest, Approvals, action_hash, as_i64, as_u64,
    new_id, now_secs,
};
use rusqlite::{Connection, OptionalExtension};
use std::collections::BTreeSet;

/// An approval row that claims to be approved, before its signatures are checked.
struct Candidate {
    id: String,
    expires_at: u64,
    approvers_required: u32,
}

/// The latest undecided or refused approval of an action.
struct Open {
    id: String,
    state: String,
    decided_by: Option<String>,
    note: Option<String>,
    decided_at: Option<i64>,
    expires_at: i64,
    signature: Option<String>,
}

impl Approvals {
    /// Uses an approval of this exact action if there is one, reports a refusal, or
    /// files (or finds) the pending request.
    ///
    /// The store is not trusted: an approval counts only when enough distinct people's
    /// signatures over this action's hash verify against the installation's public
    /// key, and consumption is one conditional UPDATE, so of two racing gates exactly
    /// one wins it.
    pub fn consume_or_request(
        &self,
        request: &ApprovalRequest<'_>,
    ) -> Result<ApprovalOutcome, ApprovalError> {
        let hash = action_hash(request.task, request.action);
        let now = now_secs();
        let conn = self.store.conn()?;

        let mut ignored = Vec::new();
        for candidate in candidates(&conn, request.task, &hash, now)? {
            let verified = self.verified_approvers(&conn, request.task, &hash, &candidate)?;
            let required = candidate.approvers_required.max(request.approvers_required);
            if u32::try_from(verified.len()).unwrap_or(u32::MAX) < required {
                tracing::warn!(approval = %candidate.id, "approval claims to be approved without enough valid signatures; ignored");
                ignored.push(candidate.id);
                continue;
            }
            let won = conn.execute(
                "UPDATE approvals SET state = 'consumed', consumed_at = ?2 WHERE id = ?1 AND state = 'approved'",
                rusqlite::params![candidate.id, as_i64(now)],
            )?;
            if won == 1 {
                return Ok(ApprovalOutcome::Consumed {
                    id: candidate.id,
                    approvers: verified,
                });
            }
        }

        let existing = conn
            .query_row(
                "SELECT id, state, decided_by, note, decided_at, expires_at, signature FROM approvals
                 WHERE task = ?1 AND action_hash = ?2 AND state IN ('pending', 'denied') AND expires_at > ?3
                 ORDER BY created_at DESC LIMIT 1",
                rusqlite::params![request.task, hash, as_i64(now)],
                |row| {
                    Ok(Open {
                        id: row.get(0)?,
                        state: row.get(1)?,
                        decided_by: row.get(2)?,
                        note: row.get(3)?,
                        decided_at: row.get(4)?,
                        expires_at: row.get(5)?,
                        signature: row.get(6)?,
                    })
                },
            )
            .optional()?;
        match existing {
            Some(open) if open.state == "denied" => {
                let by = open.decided_by.unwrap_or_default();
                let decision = SignedDecision {
                    approval: &open.id,
                    task: request.task,
                    action_hash: &hash,
                    decision: Decision::Deny,
                    approver: &by,
                    note: open.note.as_deref(),
                    decided_at: open.decided_at.map_or(0, as_u64),
                    expires_at: as_u64(open.expires_at),
                };
                // A refusal stops the action either way; only a verified one may put
                // its words in front of the agent.
                if decision.verify(self.keys.public(), open.signature.as_deref()) {
                    Ok(ApprovalOutcome::Denied {
                        id: open.id,
                        by,
                        reason: open.note.unwrap_or_else(|| "no reason given".to_owned()),
                    })
                } else {
                    Ok(ApprovalOutcome::Denied {
                        id: open.id,
                        by: "the approvals store".to_owned(),
                        reason: "its refusal carries no valid signature, so its words are not passed on; the action stays refused".to_owned(),
                    })
                }
            }
            Some(open) => Ok(ApprovalOutcome::Pending {
                id: open.id,
                new: false,
                ignored,
            }),
            None => {
                let id = new_id();
                let action_json = serde_json::to_string(request.action).unwrap_or_default();
                let expires = now.saturating_add(request.ttl.as_secs().max(1));
                // The approval and its notifications stand or fall together.
                let tx = conn.unchecked_transaction()?;
                tx.execute(
                    "INSERT INTO approvals (id, task, gate, action_hash, action_json, summary, reason,
                                            created_at, expires_at, approvers_required, state)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending')",
                    rusqlite::params![
                        id,
                        request.task,
                        request.action.gate.as_str(),
                        hash,
                        action_json,
                        super::plain::summary(request.action),
                        request.reasons.join("; "),
                        as_i64(now),
                        as_i64(expires),
                        request.approvers_required,
                    ],
                )?;
                for webhook in request.webhooks {
                    tx.execute(
                        "INSERT INTO approval_outbox (approval_id, task, url, format, page_url, next_attempt_at, state)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending')",
                        rusqlite::params![
                            id,
                            request.task,
                            webhook.url.0,
                            webhook.format().as_str(),
                            request.page_url,
                            as_i64(now),
                        ],
                    )?;
                }
                tx.commit()?;
                drop(conn);
                if !request.webhooks.is_empty() {
                    crate::outbox::wake(self.store.path());
                }
                Ok(ApprovalOutcome::Pending {
                    id,
                    new: true,
                    ignored,
                })
            }
        }
    }

    /// The distinct people whose signed approval of `hash` under `candidate` verifies.
    fn verified_approvers(
        &self,
        conn: &Connection,
        task: &str,
        hash: &str,
        candidate: &Candidate,
    ) -> Result<Vec<String>, ApprovalError> {
        let mut stmt = conn.prepare_cached(
            "SELECT approver, note, decided_at, signature FROM approval_votes
             WHERE approval_id = ?1 ORDER BY decided_at, approver",
        )?;
        let votes = stmt
            .query_map([&candidate.id], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, Option<String>>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = BTreeSet::new();
        let mut approvers = Vec::new();
        for (approver, note, decided_at, signature) in votes {
            let decision = SignedDecision {
                approval: &candidate.id,
                task,
                action_hash: hash,
                decision: Decision::Approve,
                approver: &approver,
                note: note.as_deref(),
                decided_at: as_u64(decided_at),
                expires_at: candidate.expires_at,
            };
            if decision.verify(self.keys.public(), signature.as_deref())
                && seen.insert(approver.clone())
            {
                approvers.push(approver);
            }
        }
        Ok(approvers)
    }
}

fn candidates(
    conn: &Connection,
    task: &str,
    hash: &str,
    now: u64,
) -> Result<Vec<Candidate>, rusqlite::Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, expires_at, approvers_required FROM approvals
         WHERE task = ?1 AND action_hash = ?2 AND state = 'approved' AND expires_at > ?3
         ORDER BY created_at",
    )?;
    let rows = stmt.query_map(rusqlite::params![task, hash, as_i64(now)], |row| {
        Ok(Candidate {
            id: row.get(0)?,
            expires_at: as_u64(row.get(1)?),
            approvers_required: row.get(2)?,
        })
    })?;
    rows.collect()
}
