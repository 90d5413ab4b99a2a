//! The default backend: one SQLite file under `$CORDON_HOME`, in WAL mode.

use super::StoreError;
use super::sql::{Db, Dialect, Param, Row, Value};
use rusqlite::config::DbConfig;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

/// The schema as a list of steps; step N takes a database from `user_version` N to
/// N + 1. SQLite's `user_version` holds how many have run, so a process that finds it
/// current runs none (every hook is a fresh process). Append a step; never edit one.
/// `pg.rs` holds the same steps in PostgreSQL's words, one for one.
pub(super) const MIGRATIONS: &[&str] = &[SCHEMA_V1, SIGNED_DECISIONS, OUTBOX];

const SCHEMA_V1: &str = "
-- One row per group of records written together (one write(), contiguous in the
-- chain): the global order for `audit tail`, each task's head (what catches a chain
-- cut short), and where the records are. Per-record rows cost more than the rest of
-- the write path together.
CREATE TABLE IF NOT EXISTS audit_groups (
    id         INTEGER PRIMARY KEY,
    task       TEXT    NOT NULL,
    first_seq  INTEGER NOT NULL,
    last_seq   INTEGER NOT NULL,
    start      INTEGER NOT NULL,
    end        INTEGER NOT NULL,
    last_hash  TEXT    NOT NULL,
    time       TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_groups_by_task ON audit_groups (task, last_seq);
CREATE TABLE IF NOT EXISTS approvals (
    id                 TEXT    PRIMARY KEY,
    task               TEXT    NOT NULL,
    gate               TEXT    NOT NULL,
    action_hash        TEXT    NOT NULL,
    action_json        TEXT    NOT NULL,
    summary            TEXT    NOT NULL,
    reason             TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    approvers_required INTEGER NOT NULL,
    state              TEXT    NOT NULL,
    decided_by         TEXT,
    note               TEXT,
    consumed_at        INTEGER
);
CREATE TABLE IF NOT EXISTS approval_votes (
    approval_id TEXT    NOT NULL REFERENCES approvals(id),
    approver    TEXT    NOT NULL,
    decided_at  INTEGER NOT NULL,
    note        TEXT,
    PRIMARY KEY (approval_id, approver)
);
CREATE INDEX IF NOT EXISTS approvals_by_action ON approvals (task, action_hash, state);
";

/// Each decision carries the decider's Ed25519 signature (`approvals/signed.rs`): a
/// vote's in `approval_votes`, a refusal's in `approvals`.
const SIGNED_DECISIONS: &str = "
ALTER TABLE approval_votes ADD COLUMN signature TEXT;
ALTER TABLE approvals ADD COLUMN decided_at INTEGER;
ALTER TABLE approvals ADD COLUMN signature TEXT;
";

/// Webhook notifications waiting for delivery (`outbox.rs`): filed with the approval,
/// delivered by whichever cordon process runs next.
const OUTBOX: &str = "
CREATE TABLE approval_outbox (
    id              INTEGER PRIMARY KEY,
    approval_id     TEXT    NOT NULL,
    task            TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    format          TEXT    NOT NULL,
    page_url        TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER NOT NULL DEFAULT 0,
    state           TEXT    NOT NULL,
    last_error      TEXT
);
CREATE INDEX approval_outbox_due ON approval_outbox (state, next_attempt_at);
";

/// How long opening keeps retrying while another process holds a lock SQLite will not
/// wait for on its own; the same bound as the busy timeout.
const OPEN_PATIENCE: Duration = Duration::from_secs(10);

/// Opens (creating and migrating when needed) the store at `path`.
///
/// SQLite answers `SQLITE_BUSY` at once, without calling the busy handler, where
/// waiting could deadlock: switching a brand-new file to WAL while another connection
/// does the same, and reading while another rebuilds the WAL index. Every gate that
/// starts at the same moment as another meets that on a new store, so the whole open
/// is retried with a short backoff instead of failing the gate.
pub(super) fn open(path: &Path) -> Result<Connection, rusqlite::Error> {
    let deadline = std::time::Instant::now() + OPEN_PATIENCE;
    let mut pause = Duration::from_millis(1);
    loop {
        match open_once(path) {
            Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn open_once(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // WAL lets readers (audit tail, the UI) run beside writers; NORMAL sync is
    // durable across a crash of cordon, and the chain files, not this index, are
    // the record of truth.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // The last connection to close would checkpoint and reset the WAL, and the next
    // process would pay to recreate it (two fsyncs): with a short process per hook
    // call, that was most of the hook's wall time. SQLite's auto-checkpoint on
    // commit still keeps the WAL bounded.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    // The first connection of a process rebuilds the WAL index by reading every frame
    // since the last checkpoint. Short processes that each write a few pages never
    // reached SQLite's auto-checkpoint in practice (measured: 3,428 frames, 14 MB,
    // after a few hundred hook calls), and the rebuild grew to half of a hook call.
    // So a process that finds the WAL past a bound checkpoints and truncates it: one
    // checkpoint every few hundred calls, and a short read on every other one.
    // Never waited for: if another process is busy, a later call checkpoints.
    if wal_is_long(path) {
        conn.busy_timeout(Duration::ZERO)?;
        let _: Result<(i64, i64, i64), _> =
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            });
        conn.busy_timeout(Duration::from_secs(10))?;
    }
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let current = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if version != current {
        migrate(&conn)?;
    }
    Ok(conn)
}

/// Runs the steps the database is missing, in one immediate transaction so
/// two processes opening an old database at once do not both migrate it.
fn migrate(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        // Re-read under the write lock: another process may have just migrated.
        let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let done = usize::try_from(version).unwrap_or(0);
        for step in MIGRATIONS.iter().skip(done) {
            conn.execute_batch(step)?;
        }
        let total = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        if version < total {
            conn.pragma_update(None, "user_version", total)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn bind(stmt: &mut rusqlite::CachedStatement<'_>, params: &[Param<'_>]) -> rusqlite::Result<()> {
    for (i, param) in params.iter().enumerate() {
        let index = i + 1;
        match *param {
            Param::Int(v) => stmt.raw_bind_parameter(index, v)?,
            Param::Text(v) => stmt.raw_bind_parameter(index, v)?,
        }
    }
    Ok(())
}

impl Db for Connection {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        let mut stmt = self.prepare_cached(sql)?;
        bind(&mut stmt, params)?;
        let changed = stmt.raw_execute()?;
        Ok(u64::try_from(changed).unwrap_or(u64::MAX))
    }

    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, StoreError> {
        let mut stmt = self.prepare_cached(sql)?;
        bind(&mut stmt, params)?;
        let width = stmt.column_count();
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(match row.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Real(_) | ValueRef::Blob(_) => {
                        return Err(StoreError::Column {
                            index: i,
                            expected: "an integer or text",
                        });
                    }
                });
            }
            out.push(Row(values));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.execute_batch(sql)?)
    }
}

/// Past this many bytes of WAL, opening the store checkpoints it.
const WAL_CHECKPOINT_BYTES: u64 = 512 * 1024;

fn wal_is_long(database: &Path) -> bool {
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(Path::new(&wal)).is_ok_and(|m| m.len() > WAL_CHECKPOINT_BYTES)
}
