//! The SQLite database under `$CORDON_HOME`: the audit index and the approvals queue.
//!
//! rusqlite rather than sqlx: every hook invocation is a short process on the agent's
//! critical path, and a synchronous connection opens in microseconds without an async
//! runtime. A shared PostgreSQL queue (the approvals issue) can sit beside it because
//! sqlx's Postgres driver does not bundle a second SQLite.

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot open cordon's database `{path}`: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cordon's database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("cordon's database is unusable: a previous user panicked while holding it")]
    Poisoned,
}

/// The schema as a list of steps; step N takes a database from `user_version` N to
/// N + 1. SQLite's `user_version` holds how many have run, so a process that finds it
/// current runs none (every hook is a fresh process). Append a step; never edit one.
const MIGRATIONS: &[&str] = &[SCHEMA_V1, SIGNED_DECISIONS, OUTBOX];

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

/// One connection, shared by the threads of one process. Other processes open their
/// own; WAL mode and a busy timeout let them take turns.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_error)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(open_error)?;
        // WAL lets readers (audit tail, the UI) run beside writers; NORMAL sync is
        // durable across a crash of cordon, and the chain files, not this index, are
        // the record of truth.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_error)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_error)?;
        // The last connection to close would checkpoint and reset the WAL, and the next
        // process would pay to recreate it (two fsyncs): with a short process per hook
        // call, that was most of the hook's wall time. SQLite's auto-checkpoint on
        // commit still keeps the WAL bounded.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(open_error)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(open_error)?;
        let current = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        if version != current {
            migrate(&conn).map_err(open_error)?;
        }
        Ok(Store {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    /// The schema version this build writes (`PRAGMA user_version`).
    pub fn schema_version() -> usize {
        MIGRATIONS.len()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn conn(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }
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
