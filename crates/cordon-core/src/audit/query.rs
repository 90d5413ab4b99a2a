//! Reading the log back: the index gives order across tasks, the chain gives records.

use super::chain::chain_path;
use super::record::AuditRecord;
use crate::store::{Row, Store, StoreError, params};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Records written together: contiguous in one task's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Increases with every group indexed, across all tasks.
    pub id: i64,
    pub task: String,
    pub first_seq: u64,
    pub last_seq: u64,
    /// Byte range of the group in the chain file.
    pub start: u64,
    pub end: u64,
}

impl Group {
    pub fn len(&self) -> u64 {
        self.last_seq.saturating_sub(self.first_seq) + 1
    }

    pub fn is_empty(&self) -> bool {
        self.last_seq < self.first_seq
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "records #{first}..#{last} of task `{task}` are not where the index says they are: {detail}; run `cordon audit verify {task}`"
    )]
    Misplaced {
        task: String,
        first: u64,
        last: u64,
        detail: String,
    },
}

// `end` is a keyword to PostgreSQL; quoted, it is a plain name to both.
const COLUMNS: &str = r#"id, task, first_seq, last_seq, start, "end""#;

fn to_group(row: &Row) -> Result<Group, StoreError> {
    let unsigned = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(Group {
        id: row.int(0)?,
        task: row.text(1)?,
        first_seq: unsigned(row.int(2)?),
        last_seq: unsigned(row.int(3)?),
        start: unsigned(row.int(4)?),
        end: unsigned(row.int(5)?),
    })
}

/// The newest groups holding at least `records` records (fewer if the log is
/// shorter), oldest first.
pub fn latest(store: &Store, records: usize) -> Result<Vec<Group>, QueryError> {
    let mut groups = Vec::new();
    let mut count = 0u64;
    let mut before = i64::MAX;
    // Pages of groups, newest first, until they hold enough records: a query never
    // reads the whole index.
    while count < records as u64 {
        let page = store.query(
            &format!("SELECT {COLUMNS} FROM audit_groups WHERE id < ?1 ORDER BY id DESC LIMIT 256"),
            params![before],
        )?;
        if page.is_empty() {
            break;
        }
        for row in &page {
            let group = to_group(row)?;
            before = group.id;
            count += group.len();
            groups.push(group);
            if count >= records as u64 {
                break;
            }
        }
    }
    groups.reverse();
    Ok(groups)
}

/// The id of the newest group, if any.
pub fn newest_id(store: &Store) -> Result<Option<i64>, QueryError> {
    let id = store
        .query("SELECT MAX(id) FROM audit_groups", &[])?
        .first()
        .map(|row| row.opt_int(0))
        .transpose()?
        .flatten();
    Ok(id)
}

/// Groups indexed after `after_id`, oldest first.
pub fn after(store: &Store, after_id: i64) -> Result<Vec<Group>, QueryError> {
    let groups = store
        .query(
            &format!("SELECT {COLUMNS} FROM audit_groups WHERE id > ?1 ORDER BY id LIMIT 10000"),
            params![after_id],
        )?
        .iter()
        .map(to_group)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(groups)
}

/// Every task the index knows, sorted.
pub fn indexed_tasks(store: &Store) -> Result<Vec<String>, QueryError> {
    let tasks = store
        .query("SELECT DISTINCT task FROM audit_groups ORDER BY task", &[])?
        .iter()
        .map(|row| row.text(0))
        .collect::<Result<Vec<String>, _>>()?;
    Ok(tasks)
}

/// Reads a group's records from its chain, and checks they are the ones indexed.
pub fn read_group(home: &Path, group: &Group) -> Result<Vec<AuditRecord>, QueryError> {
    let misplaced = |detail: String| QueryError::Misplaced {
        task: group.task.clone(),
        first: group.first_seq,
        last: group.last_seq,
        detail,
    };
    let path = chain_path(home, &group.task);
    let mut file = std::fs::File::open(&path).map_err(|e| misplaced(e.to_string()))?;
    file.seek(SeekFrom::Start(group.start))
        .map_err(|e| misplaced(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(group.end.saturating_sub(group.start))
        .read_to_end(&mut bytes)
        .map_err(|e| misplaced(e.to_string()))?;
    let mut records = Vec::new();
    for line in bytes.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
        let record: AuditRecord =
            serde_json::from_slice(line).map_err(|e| misplaced(e.to_string()))?;
        records.push(record);
    }
    let seqs: Vec<u64> = records.iter().map(|r| r.body.seq).collect();
    let expected: Vec<u64> = (group.first_seq..=group.last_seq).collect();
    if seqs != expected {
        return Err(misplaced(format!("found records {seqs:?}")));
    }
    Ok(records)
}
