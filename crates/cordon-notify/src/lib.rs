//! cordon-notify: tells people that an agent is waiting for them.
//!
//! A gate that files an approval queues one row per `[approval] webhooks` entry in the
//! store's outbox (`cordon_core::outbox`) and returns at once. This crate delivers those
//! rows: a Slack incoming-webhook message or a generic JSON document, POSTed with a
//! 10-second timeout and no redirects, retried with exponential backoff, each attempt's
//! outcome appended to the task's audit chain.
//!
//! Security boundary: the webhook URL comes from the manifest; a Slack URL's path is a
//! credential, so only its host is ever written to the audit log or an error. Agent text
//! (the command, the reasons) is escaped for Slack's mrkdwn so it cannot mention
//! channels or forge links.

pub mod payload;

use cordon_core::approvals::{ApprovalError, ApprovalRecord, Approvals};
use cordon_core::audit::{AuditEntry, AuditError, AuditLog};
use cordon_core::manifest::SyncPolicy;
use cordon_core::outbox::{Attempt, Outbox, OutboxItem};
use cordon_core::store::StoreError;
use cordon_core::{Action, Decision, Effect, Gate, Verdict};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum NotifyError {
    #[error(transparent)]
    Approvals(#[from] ApprovalError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// When to try again after a failed attempt.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The wait after the first failure; each further failure doubles it.
    pub first: Duration,
    pub longest: Duration,
    /// Attempts in all before giving up.
    pub attempts: u32,
}

impl Default for Backoff {
    /// 1 s, 2 s, 4 s … 64 s: eight attempts over about two minutes, well inside the
    /// default 15-minute approval.
    fn default() -> Self {
        Backoff {
            first: Duration::from_secs(1),
            longest: Duration::from_secs(300),
            attempts: 8,
        }
    }
}

impl Backoff {
    /// The wait after attempt number `attempt` (1-based) failed, or `None` to give up.
    pub fn after(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.attempts {
            return None;
        }
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        Some(self.first.saturating_mul(factor).min(self.longest))
    }
}

/// One attempt, as reported to the caller and written to the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub approval_id: String,
    pub host: String,
    pub attempt: u32,
    pub outcome: Attempt,
}

/// Delivers the outbox of one `$CORDON_HOME`.
pub struct Deliverer {
    approvals: Approvals,
    outbox: Outbox,
    audit: Arc<AuditLog>,
    agent: ureq::Agent,
    backoff: Backoff,
}

/// How long a claimed row stays ours: longer than one attempt's timeout.
const LEASE_SECS: u64 = 60;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The host of a webhook URL: what may be shown of it.
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(']') => {
            h.to_owned()
        }
        _ => host.to_owned(),
    }
    .to_ascii_lowercase()
}

impl Deliverer {
    /// The deliverer for the store, keys and audit log under `home`.
    pub fn open(home: &Path) -> Result<Deliverer, NotifyError> {
        let approvals = Approvals::open(home)?;
        let audit = Arc::new(AuditLog::new(
            home,
            approvals.store().clone(),
            SyncPolicy::default(),
        )?);
        Ok(Deliverer::new(approvals, audit))
    }

    pub fn new(approvals: Approvals, audit: Arc<AuditLog>) -> Deliverer {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            // A webhook that redirects would send the payload somewhere unconfigured.
            .max_redirects(0)
            .user_agent(concat!("cordon/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Deliverer {
            outbox: Outbox::new(approvals.store().clone()),
            approvals,
            audit,
            agent,
            backoff: Backoff::default(),
        }
    }

    pub fn with_backoff(mut self, backoff: Backoff) -> Deliverer {
        self.backoff = backoff;
        self
    }

    /// One pass: every row that is due gets one attempt.
    pub fn deliver_due(&self) -> Result<Vec<Delivery>, NotifyError> {
        let items = self.outbox.claim_due(LEASE_SECS)?;
        let mut deliveries = Vec::with_capacity(items.len());
        for item in items {
            deliveries.push(self.attempt(&item)?);
        }
        Ok(deliveries)
    }

    /// Delivers until nothing is left to retry or `limit` has passed; what is left then
    /// waits for the next deliverer.
    pub fn run_until_idle(&self, limit: Duration) -> Result<Vec<Delivery>, NotifyError> {
        let start = Instant::now();
        let mut all = Vec::new();
        loop {
            all.extend(self.deliver_due()?);
            let Some(due) = self.outbox.next_due()? else {
                return Ok(all);
            };
            let wait = Duration::from_secs(due.saturating_sub(now_secs()));
            if start.elapsed().saturating_add(wait) > limit {
                return Ok(all);
            }
            // Whole seconds in the store; a short nap avoids spinning on the boundary.
            std::thread::sleep(wait.max(Duration::from_millis(200)));
        }
    }

    fn attempt(&self, item: &OutboxItem) -> Result<Delivery, NotifyError> {
        let number = item.attempts.saturating_add(1);
        let host = host_of(&item.url);
        let outcome = match self.approvals.get(&item.approval_id) {
            Ok(record) if record.state != "pending" || record.expires_at <= now_secs() => {
                Attempt::Failed {
                    error: format!("not sent: the approval is already {}", state_word(&record)),
                    retry_at: None,
                }
            }
            Ok(record) => self.send(item, &record, number),
            Err(e) => Attempt::Failed {
                error: format!("not sent: {e}"),
                retry_at: None,
            },
        };
        self.outbox.record(item, &outcome)?;
        self.audit_attempt(item, &host, number, &outcome)?;
        Ok(Delivery {
            approval_id: item.approval_id.clone(),
            host,
            attempt: number,
            outcome,
        })
    }

    fn send(&self, item: &OutboxItem, record: &ApprovalRecord, number: u32) -> Attempt {
        let link = payload::link(item.page_url.as_deref(), &record.id);
        let body = if item.format == "slack" {
            payload::slack(record, link.as_deref())
        } else {
            payload::generic(record, link.as_deref())
        };
        let result = self
            .agent
            .post(&item.url)
            .header("Content-Type", "application/json")
            .send(body.to_string().as_bytes());
        let error = match result {
            Ok(response) if response.status().is_success() => return Attempt::Delivered,
            Ok(response) => format!("HTTP {}", response.status()),
            // ureq's messages can quote the URL, whose path may be a secret.
            Err(e) => e.to_string().replace(&item.url, &host_of(&item.url)),
        };
        Attempt::Failed {
            error,
            retry_at: self
                .backoff
                .after(number)
                .map(|wait| now_secs().saturating_add(wait.as_secs().max(1))),
        }
    }

    fn audit_attempt(
        &self,
        item: &OutboxItem,
        host: &str,
        number: u32,
        outcome: &Attempt,
    ) -> Result<(), NotifyError> {
        let reason = match outcome {
            Attempt::Delivered => "delivered".to_owned(),
            Attempt::Failed {
                error,
                retry_at: Some(at),
            } => format!(
                "failed ({error}); next attempt in {}s",
                at.saturating_sub(now_secs())
            ),
            Attempt::Failed {
                error,
                retry_at: None,
            } => format!("failed ({error}); giving up"),
        };
        let action = Action::new(Gate::Cli, "approval.notify", Effect::Write)
            .with_host(host)
            .with_method("POST")
            .with_detail(format!(
                "{} webhook for approval {}, attempt {number}",
                item.format, item.approval_id
            ));
        let verdict = Verdict {
            decision: Decision::Allow,
            reasons: vec![reason],
            policies: vec!["builtin.approval-notify".to_owned()],
            approval_id: Some(item.approval_id.clone()),
        };
        self.audit.append(AuditEntry {
            task: item.task.clone(),
            action,
            verdict,
        })?;
        Ok(())
    }
}

fn state_word(record: &ApprovalRecord) -> &str {
    if record.state == "pending" {
        "expired"
    } else {
        &record.state
    }
}
