//! Appending records: group commit inside a process, a file lock across processes.

use super::chain::{ChainError, LockedChain, chain_path};
use super::record::{AuditRecord, RecordBody};
use crate::action::Action;
use crate::manifest::SyncPolicy;
use crate::store::{Store, StoreError};
use crate::verdict::Verdict;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use thiserror::Error;

#[derive(Debug, Clone, Error)]
pub enum AuditError {
    #[error("{0}")]
    Chain(Arc<ChainError>),
    #[error("audit index: {0}")]
    Index(Arc<StoreError>),
    #[error("cannot create the audit directory `{path}`: {detail}")]
    Directory { path: PathBuf, detail: String },
    #[error("the audit writer is unusable: a thread panicked while writing")]
    Poisoned,
}

impl From<ChainError> for AuditError {
    fn from(e: ChainError) -> Self {
        AuditError::Chain(Arc::new(e))
    }
}

impl From<StoreError> for AuditError {
    fn from(e: StoreError) -> Self {
        AuditError::Index(Arc::new(e))
    }
}

impl From<rusqlite::Error> for AuditError {
    fn from(e: rusqlite::Error) -> Self {
        AuditError::Index(Arc::new(StoreError::Sql(e)))
    }
}

/// What a gate asks to have written down.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub task: String,
    pub action: Action,
    pub verdict: Verdict,
}

/// Proof that a record is in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReceipt {
    pub task: String,
    pub seq: u64,
    pub hash: String,
}

type Outcome = Result<AuditReceipt, AuditError>;

#[derive(Default)]
struct Queue {
    next_ticket: u64,
    pending: Vec<(u64, AuditEntry)>,
    done: HashMap<u64, Outcome>,
    leader_busy: bool,
}

/// The audit log of one `$CORDON_HOME`. Cheap to share behind an `Arc`.
pub struct AuditLog {
    home: PathBuf,
    store: Arc<Store>,
    sync: SyncPolicy,
    queue: Mutex<Queue>,
    wake: Condvar,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("home", &self.home)
            .field("sync", &self.sync)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    pub fn new(home: &Path, store: Arc<Store>, sync: SyncPolicy) -> Result<AuditLog, AuditError> {
        let dir = home.join("audit");
        crate::home::create_private_dir(&dir).map_err(|e| AuditError::Directory {
            path: dir.clone(),
            detail: e.to_string(),
        })?;
        Ok(AuditLog {
            home: home.to_path_buf(),
            store,
            sync,
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
        })
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    fn lock(&self) -> Result<MutexGuard<'_, Queue>, AuditError> {
        self.queue.lock().map_err(|_| AuditError::Poisoned)
    }

    /// Appends one record and returns once it is written (and, with `sync = "batch"`,
    /// on disk). Callers that arrive while a group is being written form the next group:
    /// one of them writes it for all, so a thousand concurrent gates cost a handful of
    /// fdatasyncs, not a thousand.
    pub fn append(&self, entry: AuditEntry) -> Outcome {
        let mut queue = self.lock()?;
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.pending.push((ticket, entry));
        loop {
            if let Some(outcome) = queue.done.remove(&ticket) {
                return outcome;
            }
            if !queue.leader_busy {
                queue.leader_busy = true;
                let group = std::mem::take(&mut queue.pending);
                drop(queue);
                let outcomes = self.write_group(group);
                queue = self.lock()?;
                queue.leader_busy = false;
                queue.done.extend(outcomes);
                self.wake.notify_all();
                continue;
            }
            queue = self.wake.wait(queue).map_err(|_| AuditError::Poisoned)?;
        }
    }

    fn write_group(&self, group: Vec<(u64, AuditEntry)>) -> Vec<(u64, Outcome)> {
        let mut by_task: BTreeMap<String, Vec<(u64, AuditEntry)>> = BTreeMap::new();
        for (ticket, entry) in group {
            by_task
                .entry(entry.task.clone())
                .or_default()
                .push((ticket, entry));
        }
        let mut outcomes = Vec::new();
        for (task, entries) in by_task {
            let tickets: Vec<u64> = entries.iter().map(|(t, _)| *t).collect();
            match self.write_task_group(&task, entries) {
                Ok(receipts) => outcomes.extend(receipts),
                Err(e) => outcomes.extend(tickets.into_iter().map(|t| (t, Err(e.clone())))),
            }
        }
        outcomes
    }

    fn write_task_group(
        &self,
        task: &str,
        entries: Vec<(u64, AuditEntry)>,
    ) -> Result<Vec<(u64, Outcome)>, AuditError> {
        let path = chain_path(&self.home, task);
        let mut chain = LockedChain::open(&path)?;
        let time = humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string();
        let mut bytes = Vec::with_capacity(entries.len() * 512);
        let mut sealed: Vec<(u64, AuditRecord, u64)> = Vec::with_capacity(entries.len());
        let (mut seq, mut prev) = (chain.head_seq, chain.head_hash.clone());
        for (ticket, entry) in entries {
            seq += 1;
            let record = RecordBody {
                seq,
                time: time.clone(),
                task: task.to_owned(),
                action: entry.action,
                verdict: entry.verdict,
                prev: std::mem::take(&mut prev),
            }
            .seal();
            prev.clone_from(&record.hash);
            let offset = chain.len + bytes.len() as u64;
            bytes.extend_from_slice(record.to_line().as_bytes());
            bytes.push(b'\n');
            sealed.push((ticket, record, offset));
        }
        chain.append(&bytes, self.sync == SyncPolicy::Batch)?;
        self.index(&sealed)?;
        drop(chain);
        Ok(sealed
            .into_iter()
            .map(|(ticket, record, _)| {
                (
                    ticket,
                    Ok(AuditReceipt {
                        task: record.body.task,
                        seq: record.body.seq,
                        hash: record.hash,
                    }),
                )
            })
            .collect())
    }

    /// Indexes a written group. Runs while the chain lock is held, so the index's head
    /// for a task never runs ahead of, or falls behind, the chain by more than a crash.
    fn index(&self, sealed: &[(u64, AuditRecord, u64)]) -> Result<(), AuditError> {
        let mut conn = self.store.conn()?;
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO audit_index (task, seq, time, gate, effect, decision, operation, hash, offset)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for (_, record, offset) in sealed {
                let b = &record.body;
                let seq = i64::try_from(b.seq).unwrap_or(i64::MAX);
                insert.execute(rusqlite::params![
                    b.task,
                    seq,
                    b.time,
                    b.action.gate.as_str(),
                    b.action.effect.as_str(),
                    b.verdict.decision.as_str(),
                    b.action.operation,
                    record.hash,
                    i64::try_from(*offset).unwrap_or(i64::MAX),
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
