//! Webhook notifications waiting to be delivered, kept in the store.
//!
//! Filing an approval only inserts rows here, in the same transaction as the approval,
//! so the decision path never waits on a network. Whoever runs next delivers them:
//! the `cordon notify` process a gate starts when it files one (it outlives a hook
//! process), `cordon approvals --watch`, `cordon ui`. A claimed row carries a lease,
//! so two deliverers never send the same attempt.

use crate::approvals::{as_i64, as_u64, now_secs};
use crate::store::{Store, StoreError, StoreLocation, params};
use std::sync::{Arc, OnceLock};

/// One notification to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: i64,
    pub approval_id: String,
    pub task: String,
    pub url: String,
    /// `slack` or `json`.
    pub format: String,
    /// Where the approval can be opened in a browser (`[approval] page_url`).
    pub page_url: Option<String>,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    /// Failed; `retry_at` is when to try again, `None` to give up.
    Failed {
        error: String,
        retry_at: Option<u64>,
    },
}

/// The outbox of one store.
#[derive(Debug, Clone)]
pub struct Outbox {
    store: Arc<Store>,
}

impl Outbox {
    pub fn new(store: Arc<Store>) -> Outbox {
        Outbox { store }
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Takes every row that is due, holding each for `lease_secs`: a deliverer that
    /// dies mid-attempt gives the row back when the lease runs out.
    pub fn claim_due(&self, lease_secs: u64) -> Result<Vec<OutboxItem>, StoreError> {
        let now = now_secs();
        let rows = self.store.query(
            "UPDATE approval_outbox SET lease_until = ?2
             WHERE state = 'pending' AND next_attempt_at <= ?1 AND lease_until <= ?1
             RETURNING id, approval_id, task, url, format, page_url, attempts",
            params![as_i64(now), as_i64(now.saturating_add(lease_secs))],
        )?;
        let mut items = rows
            .iter()
            .map(|row| {
                Ok(OutboxItem {
                    id: row.int(0)?,
                    approval_id: row.text(1)?,
                    task: row.text(2)?,
                    url: row.text(3)?,
                    format: row.text(4)?,
                    page_url: row.opt_text(5)?,
                    attempts: row.u32(6)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        items.sort_by_key(|item| item.id);
        Ok(items)
    }

    /// Records an attempt's outcome and releases the row.
    pub fn record(&self, item: &OutboxItem, attempt: &Attempt) -> Result<(), StoreError> {
        let attempts = item.attempts.saturating_add(1);
        match attempt {
            Attempt::Delivered => self.store.execute(
                "UPDATE approval_outbox SET state = 'delivered', attempts = ?2, lease_until = 0, last_error = NULL
                 WHERE id = ?1",
                params![item.id, attempts],
            )?,
            Attempt::Failed { error, retry_at } => self.store.execute(
                "UPDATE approval_outbox SET state = ?2, attempts = ?3, lease_until = 0, last_error = ?4,
                        next_attempt_at = ?5
                 WHERE id = ?1",
                params![
                    item.id,
                    if retry_at.is_some() { "pending" } else { "failed" },
                    attempts,
                    error,
                    as_i64(retry_at.unwrap_or(0)),
                ],
            )?,
        };
        Ok(())
    }

    /// When the next undelivered row falls due (Unix seconds), if any is left.
    pub fn next_due(&self) -> Result<Option<u64>, StoreError> {
        // CASE rather than two-argument MAX, which PostgreSQL spells GREATEST.
        let next = self
            .store
            .query(
                "SELECT MIN(CASE WHEN next_attempt_at > lease_until THEN next_attempt_at ELSE lease_until END)
                 FROM approval_outbox WHERE state = 'pending'",
                &[],
            )?
            .first()
            .map(|row| row.opt_int(0))
            .transpose()?
            .flatten();
        Ok(next.map(as_u64))
    }
}

/// Called with the store's location after a gate queued notifications. The binary
/// sets one that starts a detached `cordon notify`; without one, the rows wait for the
/// next deliverer.
type Waker = Box<dyn Fn(&StoreLocation) + Send + Sync>;

static WAKER: OnceLock<Waker> = OnceLock::new();

/// Sets the process's waker; only the first call counts.
pub fn set_waker(waker: impl Fn(&StoreLocation) + Send + Sync + 'static) {
    let _ = WAKER.set(Box::new(waker));
}

pub(crate) fn wake(store: &StoreLocation) {
    if let Some(waker) = WAKER.get() {
        waker(store);
    }
}
