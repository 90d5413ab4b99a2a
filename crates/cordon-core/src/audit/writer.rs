//! Appending records: group commit inside a process, a file lock across processes.

use super::chain::{ChainError, ChainFile, LockedChain, chain_path};
use super::record::{AuditRecord, PreparedRecord};
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

/// Called with a record's outcome once its group is written; must not block.
pub type OnWritten = Box<dyn FnOnce(Outcome) + Send>;

/// Who is told when a record is written: a thread waiting in `append`, or a callback
/// (an async gate's waker) registered with `submit`.
enum Completion {
    Waiter(u64),
    Callback(OnWritten),
}

#[derive(Default)]
struct Queue {
    next_ticket: u64,
    pending: Vec<(Completion, PreparedRecord)>,
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
    /// Chains kept open between groups. Only the leader touches them.
    chains: Mutex<HashMap<String, ChainFile>>,
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
            chains: Mutex::new(HashMap::new()),
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
        let prepared = PreparedRecord::new(entry.task, entry.action, entry.verdict);
        let mut queue = self.lock()?;
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.pending.push((Completion::Waiter(ticket), prepared));
        loop {
            if let Some(outcome) = queue.done.remove(&ticket) {
                return outcome;
            }
            if !queue.leader_busy {
                queue = self.lead(queue)?;
                continue;
            }
            queue = self.wake.wait(queue).map_err(|_| AuditError::Poisoned)?;
        }
    }

    /// Queues one record without waiting: `on_written` is called with its outcome once
    /// its group is written. For gates on an async runtime, where parking a thread per
    /// request would cost more than writing the record. If no group is being written,
    /// the caller writes this one (and whatever else is queued) before returning.
    pub fn submit(&self, entry: AuditEntry, on_written: OnWritten) {
        let prepared = PreparedRecord::new(entry.task, entry.action, entry.verdict);
        let mut queue = match self.lock() {
            Ok(queue) => queue,
            Err(e) => return on_written(Err(e)),
        };
        queue
            .pending
            .push((Completion::Callback(on_written), prepared));
        if !queue.leader_busy {
            // On a poisoned queue there is no one left to tell: every waiter sees the
            // poison itself.
            if let Ok(queue) = self.lead(queue) {
                drop(queue);
            }
        }
    }

    /// Writes groups until the queue is empty, delivering each group's outcomes.
    /// Entered with the queue locked and no other leader; returns it locked.
    fn lead<'a>(
        &'a self,
        mut queue: MutexGuard<'a, Queue>,
    ) -> Result<MutexGuard<'a, Queue>, AuditError> {
        queue.leader_busy = true;
        while !queue.pending.is_empty() {
            let group = std::mem::take(&mut queue.pending);
            drop(queue);
            let (completions, entries): (Vec<Completion>, Vec<PreparedRecord>) =
                group.into_iter().unzip();
            let outcomes = self.write_group(entries);
            let mut callbacks = Vec::new();
            let mut waiters = Vec::new();
            for (completion, outcome) in completions.into_iter().zip(outcomes) {
                match completion {
                    Completion::Waiter(ticket) => waiters.push((ticket, outcome)),
                    Completion::Callback(callback) => callbacks.push((callback, outcome)),
                }
            }
            for (callback, outcome) in callbacks {
                callback(outcome);
            }
            queue = self.lock()?;
            queue.done.extend(waiters);
            self.wake.notify_all();
        }
        queue.leader_busy = false;
        Ok(queue)
    }

    /// Writes a group, one chain at a time; outcomes come back in the group's order.
    fn write_group(&self, entries: Vec<PreparedRecord>) -> Vec<Outcome> {
        let count = entries.len();
        let mut by_task: BTreeMap<String, Vec<(usize, PreparedRecord)>> = BTreeMap::new();
        for (index, entry) in entries.into_iter().enumerate() {
            by_task
                .entry(entry.task.clone())
                .or_default()
                .push((index, entry));
        }
        let mut outcomes: Vec<Option<Outcome>> = (0..count).map(|_| None).collect();
        for (task, group) in by_task {
            let indices: Vec<usize> = group.iter().map(|(i, _)| *i).collect();
            let results = match self.write_task_group(&task, group) {
                Ok(receipts) => receipts,
                Err(e) => indices.into_iter().map(|i| (i, Err(e.clone()))).collect(),
            };
            for (index, outcome) in results {
                if let Some(slot) = outcomes.get_mut(index) {
                    *slot = Some(outcome);
                }
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Err(AuditError::Poisoned)))
            .collect()
    }

    fn write_task_group(
        &self,
        task: &str,
        entries: Vec<(usize, PreparedRecord)>,
    ) -> Result<Vec<(usize, Outcome)>, AuditError> {
        let mut chains = self.chains.lock().map_err(|_| AuditError::Poisoned)?;
        let file = match chains.entry(task.to_owned()) {
            std::collections::hash_map::Entry::Occupied(open) => open.into_mut(),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(ChainFile::open(&chain_path(&self.home, task))?)
            }
        };
        let mut chain = file.lock()?;
        if chain.refreshed {
            self.catch_up(task, &mut chain)?;
        }
        let time = humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string();
        let mut bytes = Vec::with_capacity(entries.len() * 512);
        let mut sealed: Vec<(usize, AuditRecord, u64)> = Vec::with_capacity(entries.len());
        let (mut seq, mut prev) = (chain.head_seq, chain.head_hash.clone());
        for (ticket, entry) in entries {
            seq += 1;
            let (record, line) = entry.seal(seq, &time, std::mem::take(&mut prev));
            prev.clone_from(&record.hash);
            let offset = chain.len + bytes.len() as u64;
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
            sealed.push((ticket, record, offset));
        }
        let start = chain.len;
        chain.append(&bytes, self.sync == SyncPolicy::Batch, seq, &prev)?;
        if let (Some((_, first, _)), Some((_, last, _))) = (sealed.first(), sealed.last()) {
            self.index(task, first.body.seq, last, start, chain.len)?;
        }
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
    /// Indexes records the chain holds but the index missed: a writer that died between
    /// writing a group and indexing it. The chain is the record of truth; without this,
    /// one badly timed crash would read as tampering forever.
    fn catch_up(&self, task: &str, chain: &mut LockedChain<'_>) -> Result<(), AuditError> {
        let indexed: Option<(i64, i64)> = {
            let conn = self.store.conn()?;
            let mut stmt = conn.prepare_cached(
                "SELECT last_seq, end FROM audit_groups WHERE task = ?1 ORDER BY last_seq DESC LIMIT 1",
            )?;
            let mut rows = stmt.query([task])?;
            match rows.next()? {
                Some(row) => Some((row.get(0)?, row.get(1)?)),
                None => None,
            }
        };
        let (indexed_seq, from) = match indexed {
            Some((seq, end)) => (
                u64::try_from(seq).unwrap_or(0),
                u64::try_from(end).unwrap_or(0),
            ),
            None => (0, 0),
        };
        if indexed_seq >= chain.head_seq {
            return Ok(());
        }
        let missed: Vec<(AuditRecord, u64)> = chain
            .read_from(from)?
            .into_iter()
            .filter(|(record, _)| record.body.seq > indexed_seq)
            .collect();
        tracing::warn!(
            task,
            records = missed.len(),
            "indexing audit records the index missed (a writer stopped between writing and indexing)"
        );
        let (Some((first, start)), Some((last, _))) = (missed.first(), missed.last()) else {
            return Ok(());
        };
        self.index(task, first.body.seq, last, *start, chain.len)
    }

    /// Records one written group.
    fn index(
        &self,
        task: &str,
        first_seq: u64,
        last: &AuditRecord,
        start: u64,
        end: u64,
    ) -> Result<(), AuditError> {
        let conn = self.store.conn()?;
        let mut insert = conn.prepare_cached(
            "INSERT INTO audit_groups (task, first_seq, last_seq, start, end, last_hash, time)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        insert.execute(rusqlite::params![
            task,
            int(first_seq),
            int(last.body.seq),
            int(start),
            int(end),
            last.hash,
            last.body.time,
        ])?;
        Ok(())
    }
}
