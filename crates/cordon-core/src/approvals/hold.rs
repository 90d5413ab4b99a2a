//! Hold mode (`approval.mode = "hold"`): a gate keeps the request open while a human
//! decides, instead of answering `confirmation_required` at once.
//!
//! Waiting is polling the one approval row by its key, with backoff from 20 ms to
//! 500 ms: on SQLite an indexed read of a WAL database that takes no lock a writer
//! waits for, on PostgreSQL one round trip. A decision reaches the held request within
//! half a second, and a held request costs the store at most two reads a second.
//! (PostgreSQL's LISTEN/NOTIFY would wake it at once; not needed at these rates.)

use super::{ApprovalError, Approvals, as_u64, now_secs};
use crate::store::params;
use std::time::{Duration, Instant};

/// How a wait on a pending approval ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// It is no longer pending: approved, refused, or used by another request. Ask
    /// the store again (`consume_or_request`) to learn what that means for this action.
    Decided,
    /// No one decided before it expired.
    Expired,
    /// `until` came first.
    TimedOut,
}

const FIRST_PAUSE: Duration = Duration::from_millis(20);
const LONGEST_PAUSE: Duration = Duration::from_millis(500);

impl Approvals {
    /// Waits until the pending approval `id` is decided, expires, or `until` passes.
    pub fn wait_decided(&self, id: &str, until: Instant) -> Result<Waited, ApprovalError> {
        let mut pause = FIRST_PAUSE;
        loop {
            let row = self
                .store
                .query(
                    "SELECT state, expires_at FROM approvals WHERE id = ?1",
                    params![id],
                )?
                .into_iter()
                .next()
                .ok_or_else(|| ApprovalError::NotFound(id.to_owned()))?;
            if row.text(0)? != "pending" {
                return Ok(Waited::Decided);
            }
            let expires_at = as_u64(row.int(1)?);
            let now_unix = now_secs();
            if expires_at <= now_unix {
                return Ok(Waited::Expired);
            }
            let now = Instant::now();
            let Some(left) = until.checked_duration_since(now).filter(|d| !d.is_zero()) else {
                return Ok(Waited::TimedOut);
            };
            // Wake for the expiry too, so an expired approval is reported on time.
            let to_expiry = Duration::from_secs(expires_at - now_unix);
            std::thread::sleep(pause.min(left).min(to_expiry));
            pause = (pause * 3 / 2).min(LONGEST_PAUSE);
        }
    }
}
