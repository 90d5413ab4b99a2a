//! The little SQL surface the approvals queue, the audit index and the outbox need,
//! spoken by both backends.
//!
//! Statements are written once, with SQLite's numbered placeholders (`?1`), in the
//! subset both dialects share (`RETURNING`, `ON CONFLICT DO NOTHING`, `CASE` instead of
//! two-argument `MAX`); the PostgreSQL backend rewrites the placeholders to `$1`. Where
//! the dialects must differ (row locks), callers ask [`Db::dialect`].

use super::StoreError;

/// Which SQL a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// What to append to a `SELECT` inside a transaction so the rows it read stay as
    /// read until commit. SQLite's `BEGIN IMMEDIATE` already holds the one write lock;
    /// PostgreSQL locks rows.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }
}

/// A statement parameter. Typed even when null, because PostgreSQL checks a
/// parameter's type against its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param<'a> {
    Int(Option<i64>),
    Text(Option<&'a str>),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(Some(v))
    }
}

impl From<u32> for Param<'_> {
    fn from(v: u32) -> Self {
        Param::Int(Some(i64::from(v)))
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(Some(v))
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(Some(v))
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Param::Text(v)
    }
}

/// `params![a, b, …]`: a slice of [`Param`]s.
#[macro_export]
#[doc(hidden)]
macro_rules! store_params {
    ($($p:expr),* $(,)?) => { &[$($crate::store::Param::from($p)),*][..] };
}
pub use crate::store_params as params;

/// A column value read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

/// One result row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row(pub(super) Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> Result<&Value, StoreError> {
        self.0.get(i).ok_or(StoreError::Column {
            index: i,
            expected: "a column",
        })
    }

    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.opt_int(i)?.ok_or(StoreError::Column {
            index: i,
            expected: "an integer",
        })
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.at(i)? {
            Value::Int(v) => Ok(Some(*v)),
            Value::Null => Ok(None),
            Value::Text(_) => Err(StoreError::Column {
                index: i,
                expected: "an integer",
            }),
        }
    }

    /// An integer column that holds a count or a small setting.
    pub fn u32(&self, i: usize) -> Result<u32, StoreError> {
        Ok(u32::try_from(self.int(i)?.max(0)).unwrap_or(u32::MAX))
    }

    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        self.opt_text(i)?.ok_or(StoreError::Column {
            index: i,
            expected: "text",
        })
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.at(i)? {
            Value::Text(v) => Ok(Some(v.clone())),
            Value::Null => Ok(None),
            Value::Int(_) => Err(StoreError::Column {
                index: i,
                expected: "text",
            }),
        }
    }
}

/// One connection to either backend.
pub trait Db {
    fn dialect(&self) -> Dialect;
    /// Runs one statement; returns how many rows it changed.
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError>;
    /// Runs one statement and reads every row it returns.
    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, StoreError>;
    /// Runs statements without parameters (transaction control, migrations).
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;

    /// The first row, if any.
    fn query_opt(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// Runs `f` in one transaction that takes the write lock up front (SQLite's `BEGIN
/// IMMEDIATE`; PostgreSQL's rows are locked by `FOR UPDATE` in `f`'s reads), committing
/// if it succeeds and rolling back if it fails.
pub fn transaction<T, E: From<StoreError>>(
    db: &mut dyn Db,
    f: impl FnOnce(&mut dyn Db) -> Result<T, E>,
) -> Result<T, E> {
    db.batch(match db.dialect() {
        Dialect::Sqlite => "BEGIN IMMEDIATE",
        Dialect::Postgres => "BEGIN",
    })?;
    match f(db) {
        Ok(value) => {
            if let Err(e) = db.batch("COMMIT") {
                let _ = db.batch("ROLLBACK");
                return Err(e.into());
            }
            Ok(value)
        }
        Err(e) => {
            let _ = db.batch("ROLLBACK");
            Err(e)
        }
    }
}
