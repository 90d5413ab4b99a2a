//! Reading the log back: the index gives order across tasks, the chain gives records.

use super::chain::{ChainError, chain_path};
use super::record::AuditRecord;
use crate::store::{Store, StoreError};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

/// One indexed record: where it is, and its global order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    /// Increases with every record indexed, across all tasks.
    pub id: i64,
    pub task: String,
    pub seq: u64,
    pub offset: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("audit index: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(
        "record #{seq} of task `{task}` is not where the index says it is: {detail}; run `cordon audit verify {task}`"
    )]
    Misplaced {
        task: String,
        seq: u64,
        detail: String,
    },
}

fn to_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<FeedEntry> {
    let seq: i64 = row.get(2)?;
    let offset: i64 = row.get(3)?;
    Ok(FeedEntry {
        id: row.get(0)?,
        task: row.get(1)?,
        seq: u64::try_from(seq).unwrap_or(0),
        offset: u64::try_from(offset).unwrap_or(0),
    })
}

/// The last `limit` records across every task, oldest first.
pub fn latest(store: &Store, limit: usize) -> Result<Vec<FeedEntry>, QueryError> {
    let conn = store.conn()?;
    let mut stmt = conn.prepare_cached(
        "SELECT id, task, seq, offset FROM audit_index ORDER BY id DESC LIMIT ?1",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut entries = stmt
        .query_map([limit], to_entry)?
        .collect::<Result<Vec<_>, _>>()?;
    entries.reverse();
    Ok(entries)
}

/// Records indexed after `after_id`, oldest first.
pub fn after(store: &Store, after_id: i64) -> Result<Vec<FeedEntry>, QueryError> {
    let conn = store.conn()?;
    let mut stmt = conn.prepare_cached(
        "SELECT id, task, seq, offset FROM audit_index WHERE id > ?1 ORDER BY id LIMIT 10000",
    )?;
    let entries = stmt
        .query_map([after_id], to_entry)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(entries)
}

/// Every task the index knows, sorted.
pub fn indexed_tasks(store: &Store) -> Result<Vec<String>, QueryError> {
    let conn = store.conn()?;
    let mut stmt = conn.prepare_cached("SELECT DISTINCT task FROM audit_index ORDER BY task")?;
    let tasks = stmt
        .query_map([], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(tasks)
}

/// Reads the record an index entry points at, and checks it is the one indexed.
pub fn read_entry(home: &Path, entry: &FeedEntry) -> Result<AuditRecord, QueryError> {
    let path = chain_path(home, &entry.task);
    let misplaced = |detail: String| QueryError::Misplaced {
        task: entry.task.clone(),
        seq: entry.seq,
        detail,
    };
    let mut file = std::fs::File::open(&path).map_err(|e| misplaced(e.to_string()))?;
    file.seek(SeekFrom::Start(entry.offset))
        .map_err(|e| misplaced(e.to_string()))?;
    let mut line = String::new();
    BufReader::new(file)
        .read_line(&mut line)
        .map_err(|e| misplaced(e.to_string()))?;
    let record: AuditRecord =
        serde_json::from_str(line.trim_end()).map_err(|e| misplaced(e.to_string()))?;
    if record.body.seq != entry.seq {
        return Err(misplaced(format!(
            "found record #{} there",
            record.body.seq
        )));
    }
    Ok(record)
}
