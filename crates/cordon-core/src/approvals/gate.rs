//! The gate's side: use a signed approval of this exact action once, report a signed
//! refusal, or file the request for a human.

use super::signed::{Decision, SignedDecision};
use super::{
    ApprovalError, ApprovalOutcome, ApprovalRequest, Approvals, action_hash, as_i64, as_u64,
    new_id, now_secs,
};
use crate::store::{Db, StoreError, params, transaction};
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
        let outcome = self
            .store
            .with(|db| self.consume_or_request_in(db, request, &hash, now))?;
        if matches!(outcome, ApprovalOutcome::Pending { new: true, .. })
            && !request.webhooks.is_empty()
        {
            crate::outbox::wake(self.store.location());
        }
        Ok(outcome)
    }

    fn consume_or_request_in(
        &self,
        db: &mut dyn Db,
        request: &ApprovalRequest<'_>,
        hash: &str,
        now: u64,
    ) -> Result<ApprovalOutcome, ApprovalError> {
        let mut ignored = Vec::new();
        for candidate in candidates(db, request.task, hash, now)? {
            let verified = self.verified_approvers(db, request.task, hash, &candidate)?;
            let required = candidate.approvers_required.max(request.approvers_required);
            if u32::try_from(verified.len()).unwrap_or(u32::MAX) < required {
                tracing::warn!(approval = %candidate.id, "approval claims to be approved without enough valid signatures; ignored");
                ignored.push(candidate.id);
                continue;
            }
            // One statement, conditional on the state it changes: SQLite runs it under
            // its write lock, PostgreSQL re-checks the row after a concurrent update
            // commits, so of two racing gates exactly one sees a row changed.
            let won = db.execute(
                "UPDATE approvals SET state = 'consumed', consumed_at = ?2 WHERE id = ?1 AND state = 'approved'",
                params![&candidate.id, as_i64(now)],
            )?;
            if won == 1 {
                return Ok(ApprovalOutcome::Consumed {
                    id: candidate.id,
                    approvers: verified,
                });
            }
        }

        let existing = db
            .query_opt(
                "SELECT id, state, decided_by, note, decided_at, expires_at, signature FROM approvals
                 WHERE task = ?1 AND action_hash = ?2 AND state IN ('pending', 'denied') AND expires_at > ?3
                 ORDER BY created_at DESC LIMIT 1",
                params![request.task, hash, as_i64(now)],
            )?
            .map(|row| -> Result<Open, StoreError> {
                Ok(Open {
                    id: row.text(0)?,
                    state: row.text(1)?,
                    decided_by: row.opt_text(2)?,
                    note: row.opt_text(3)?,
                    decided_at: row.opt_int(4)?,
                    expires_at: row.int(5)?,
                    signature: row.opt_text(6)?,
                })
            })
            .transpose()?;
        match existing {
            Some(open) if open.state == "denied" => Ok(self.refusal(request.task, hash, open)),
            Some(open) => Ok(ApprovalOutcome::Pending {
                id: open.id,
                new: false,
                ignored,
            }),
            None => {
                let id = new_id();
                let action_json = serde_json::to_string(request.action).unwrap_or_default();
                let expires = now.saturating_add(request.ttl.as_secs().max(1));
                let summary = super::plain::summary(request.action);
                let reasons = request.reasons.join("; ");
                // The approval and its notifications stand or fall together.
                transaction(db, |db| -> Result<(), StoreError> {
                    db.execute(
                        "INSERT INTO approvals (id, task, gate, action_hash, action_json, summary, reason,
                                                created_at, expires_at, approvers_required, state)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending')",
                        params![
                            &id,
                            request.task,
                            request.action.gate.as_str(),
                            hash,
                            &action_json,
                            &summary,
                            &reasons,
                            as_i64(now),
                            as_i64(expires),
                            request.approvers_required,
                        ],
                    )?;
                    for webhook in request.webhooks {
                        db.execute(
                            "INSERT INTO approval_outbox (approval_id, task, url, format, page_url, next_attempt_at, state)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending')",
                            params![
                                &id,
                                request.task,
                                &webhook.url.0,
                                webhook.format().as_str(),
                                request.page_url,
                                as_i64(now),
                            ],
                        )?;
                    }
                    Ok(())
                })?;
                Ok(ApprovalOutcome::Pending {
                    id,
                    new: true,
                    ignored,
                })
            }
        }
    }

    /// A refusal as the agent hears it: only a verified one may put its words in
    /// front of the agent; it stops the action either way.
    fn refusal(&self, task: &str, hash: &str, open: Open) -> ApprovalOutcome {
        let by = open.decided_by.unwrap_or_default();
        let decision = SignedDecision {
            approval: &open.id,
            task,
            action_hash: hash,
            decision: Decision::Deny,
            approver: &by,
            note: open.note.as_deref(),
            decided_at: open.decided_at.map_or(0, as_u64),
            expires_at: as_u64(open.expires_at),
        };
        if decision.verify(self.keys.public(), open.signature.as_deref()) {
            ApprovalOutcome::Denied {
                id: open.id,
                by,
                reason: open.note.unwrap_or_else(|| "no reason given".to_owned()),
            }
        } else {
            ApprovalOutcome::Denied {
                id: open.id,
                by: "the approvals store".to_owned(),
                reason: "its refusal carries no valid signature, so its words are not passed on; the action stays refused".to_owned(),
            }
        }
    }

    /// The distinct people whose signed approval of `hash` under `candidate` verifies.
    fn verified_approvers(
        &self,
        db: &mut dyn Db,
        task: &str,
        hash: &str,
        candidate: &Candidate,
    ) -> Result<Vec<String>, ApprovalError> {
        let votes = db.query(
            "SELECT approver, note, decided_at, signature FROM approval_votes
             WHERE approval_id = ?1 ORDER BY decided_at, approver",
            params![&candidate.id],
        )?;
        let mut seen = BTreeSet::new();
        let mut approvers = Vec::new();
        for row in &votes {
            let (approver, note, decided_at, signature) = (
                row.text(0)?,
                row.opt_text(1)?,
                row.int(2)?,
                row.opt_text(3)?,
            );
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
    db: &mut dyn Db,
    task: &str,
    hash: &str,
    now: u64,
) -> Result<Vec<Candidate>, StoreError> {
    db.query(
        "SELECT id, expires_at, approvers_required FROM approvals
         WHERE task = ?1 AND action_hash = ?2 AND state = 'approved' AND expires_at > ?3
         ORDER BY created_at",
        params![task, hash, as_i64(now)],
    )?
    .iter()
    .map(|row| {
        Ok(Candidate {
            id: row.text(0)?,
            expires_at: as_u64(row.int(1)?),
            approvers_required: row.u32(2)?,
        })
    })
    .collect()
}
