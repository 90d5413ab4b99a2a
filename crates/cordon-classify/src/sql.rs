//! Database clients and the SQL they run: `psql -c`, `mysql -e`, `sqlite3 db '…'`,
//! heredocs into a client, `mongosh --eval`, `redis-cli FLUSHALL`.
//!
//! SQL is parsed with sqlparser: DROP, TRUNCATE, DELETE or UPDATE without WHERE, and
//! ALTER … DROP are destroy; SELECT is a read; other changes are writes. SQL that does
//! not parse is scanned for destructive keywords and is otherwise unknown.

use cordon_core::Effect;
use sqlparser::ast::{Expr, Statement};
use sqlparser::dialect::{
    ClickHouseDialect, Dialect, GenericDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect,
};
use sqlparser::parser::Parser;

use crate::engine::{Call, Engine, Hit};
use crate::flow::{Content, Flow};
use crate::http::url_host;
use crate::word::{Arg, operands};

/// Longest SQL text parsed; longer text is only scanned for keywords.
const MAX_SQL: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    Postgres,
    MySql,
    Sqlite,
    ClickHouse,
    Generic,
}

/// What a piece of SQL does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SqlVerdict {
    pub effect: Effect,
    pub reason: String,
}

pub(crate) fn classify(e: &mut Engine, c: &Call) -> Option<Flow> {
    match c.name {
        "psql" => Some(psql(e, c)),
        "mysql" | "mariadb" => Some(mysql(e, c)),
        "sqlite3" | "sqlite" | "duckdb" => Some(sqlite(e, c)),
        "clickhouse-client" | "clickhouse" | "clickhouse-local" => Some(clickhouse(e, c)),
        "cockroach" => {
            if !c.args.first().is_some_and(|a| a.is("sql")) {
                return None;
            }
            let sql = values(c, &["-e", "--execute"]);
            Some(client(
                e,
                c,
                "cockroach sql",
                Flavor::Postgres,
                sql,
                host_opt(c, &["--host"]),
                None,
            ))
        }
        "mongosh" | "mongo" => Some(mongo(e, c)),
        "redis-cli" | "valkey-cli" | "keydb-cli" => Some(redis(e, c)),
        "dropdb" | "dropuser" => {
            let db = c
                .positionals()
                .last()
                .map(|a| a.show().to_string())
                .unwrap_or_default();
            e.hit(
                Hit::new(
                    Effect::Destroy,
                    format!("{} deletes {db} from PostgreSQL", c.name),
                )
                .host(host_opt(c, &["-h", "--host"]))
                .target("postgres.database", &db),
            );
            Some(Flow::opaque())
        }
        "pg_restore" => {
            let clean = c.has("-c") || c.has("--clean") || c.has_short('c');
            let effect = if clean {
                Effect::Destroy
            } else {
                Effect::Write
            };
            let why = if clean {
                "pg_restore --clean drops objects before restoring them"
            } else {
                "pg_restore loads a dump into a database"
            };
            e.hit(Hit::new(effect, why).host(host_opt(c, &["-h", "--host"])));
            Some(Flow::opaque())
        }
        "mysqladmin" => {
            let pos: Vec<&str> = c.positionals().iter().map(|a| a.s()).collect();
            if pos
                .iter()
                .any(|p| matches!(*p, "drop" | "shutdown" | "purge"))
            {
                e.hit(Hit::new(
                    Effect::Destroy,
                    format!(
                        "mysqladmin {} destroys data or stops the server",
                        pos.join(" ")
                    ),
                ));
            } else if pos.iter().any(|p| {
                matches!(
                    *p,
                    "create" | "flush-privileges" | "password" | "reload" | "refresh"
                )
            }) {
                e.hit(Hit::new(Effect::Write, "mysqladmin changes the server"));
            }
            Some(Flow::opaque())
        }
        "pg_dump" | "pg_dumpall" | "mysqldump" | "mariadb-dump" | "mongodump" => {
            Some(Flow::opaque())
        }
        "bq" => bq(e, c),
        "snowsql" => {
            let sql = values(c, &["-q", "--query"]);
            Some(client(e, c, "snowsql", Flavor::Generic, sql, None, None))
        }
        _ => None,
    }
}

/// Values of every occurrence of the given options (`-c X -c Y`, `--command=X`, `-cX`).
fn values(c: &Call, names: &[&str]) -> Vec<Arg> {
    let mut out = Vec::new();
    let mut it = c.args.iter();
    while let Some(a) = it.next() {
        if names.iter().any(|n| a.is(n)) {
            if let Some(v) = it.next() {
                out.push(v.clone());
            }
            continue;
        }
        for n in names {
            if n.starts_with("--") {
                if a.long_value(n).is_some() {
                    out.push(a.after_eq());
                }
            } else if n.len() == 2
                && a.s().starts_with(n)
                && a.s().len() > 2
                && !a.s().starts_with("--")
            {
                out.push(a.tail(2));
            }
        }
    }
    out
}

fn host_opt(c: &Call, names: &[&str]) -> Option<String> {
    values(c, names)
        .first()
        .and_then(|a| a.lit.clone())
        .map(|h| h.to_ascii_lowercase())
}

/// Judges a client given its SQL sources: option values, else stdin.
fn client(
    e: &mut Engine,
    c: &Call,
    tool: &str,
    flavor: Flavor,
    sql: Vec<Arg>,
    host: Option<String>,
    db: Option<(&str, String)>,
) -> Flow {
    let hit = |effect: Effect, reason: String| {
        let mut h = Hit::new(effect, reason).host(host.clone());
        if let Some((kind, id)) = &db
            && !id.is_empty()
        {
            h = h.target(kind, id);
        }
        h
    };
    if sql.is_empty() {
        match (&c.stdin.content, c.stdin.script_text()) {
            (_, Some(text)) => {
                let text = text.to_string();
                let v = judge(&text, flavor, e);
                e.hit(hit(
                    v.effect,
                    format!("{tool} runs SQL from stdin: {}", v.reason),
                ));
            }
            (Content::Nothing, None) => {
                e.hit(hit(Effect::Read, format!("{tool} opens a session")));
            }
            (_, None) => {
                e.hit(hit(
                    Effect::Unknown,
                    format!("{tool} runs SQL from stdin that is not known before it runs"),
                ));
            }
        }
        return Flow::opaque();
    }
    for s in sql {
        match s.script.clone() {
            Some(text) => {
                let v = judge(&text, flavor, e);
                e.hit(hit(
                    v.effect,
                    format!("{tool} runs `{}`: {}", short(&text), v.reason),
                ));
            }
            None => {
                e.hit(hit(
                    Effect::Unknown,
                    format!("{tool} runs SQL built at run time"),
                ));
            }
        }
    }
    Flow::opaque()
}

fn short(sql: &str) -> String {
    let one: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 80 {
        format!("{}…", one.chars().take(80).collect::<String>())
    } else {
        one
    }
}

fn psql(e: &mut Engine, c: &Call) -> Flow {
    let sql = values(c, &["-c", "--command"]);
    let files = values(c, &["-f", "--file"]);
    let (host, db) = pg_target(c);
    let db = Some(("postgres.database", db.unwrap_or_default()));
    if files.iter().any(|f| !f.is("-")) {
        e.hit(
            Hit::new(
                Effect::Unknown,
                "psql -f runs SQL from a file whose contents are not visible here",
            )
            .host(host.clone()),
        );
        if sql.is_empty() {
            return Flow::opaque();
        }
    }
    client(e, c, "psql", Flavor::Postgres, sql, host, db)
}

/// The host and database a psql invocation connects to.
fn pg_target(c: &Call) -> (Option<String>, Option<String>) {
    let mut host =
        host_opt(c, &["-h", "--host"]).or_else(|| c.env_value("PGHOST").map(str::to_string));
    let mut db = values(c, &["-d", "--dbname"])
        .first()
        .and_then(|a| a.lit.clone());
    let value_opts = [
        "-c",
        "--command",
        "-f",
        "--file",
        "-h",
        "--host",
        "-d",
        "--dbname",
        "-U",
        "--username",
        "-p",
        "--port",
        "-v",
        "--set",
        "--variable",
        "-P",
        "--pset",
        "-o",
        "--output",
        "-L",
        "--log-file",
        "-F",
        "-R",
        "-T",
    ];
    let positional = operands(c.args, &value_opts);
    for p in [db.clone()]
        .into_iter()
        .flatten()
        .chain(positional.iter().filter_map(|a| a.lit.clone()))
    {
        if p.starts_with("postgres://") || p.starts_with("postgresql://") {
            host = host.or_else(|| url_host(&p));
            let path = p.split_once("://").map(|(_, r)| r).unwrap_or("");
            let name = path
                .split_once('/')
                .map(|(_, d)| d.split(['?', '#']).next().unwrap_or(d))
                .unwrap_or("");
            if !name.is_empty() {
                db = Some(name.to_string());
            }
        } else if db.is_none() {
            db = Some(p);
        }
    }
    (
        host,
        db.or_else(|| c.env_value("PGDATABASE").map(str::to_string)),
    )
}

fn mysql(e: &mut Engine, c: &Call) -> Flow {
    let sql = values(c, &["-e", "--execute"]);
    let host = host_opt(c, &["-h", "--host"]);
    let db = values(c, &["-D", "--database"])
        .first()
        .and_then(|a| a.lit.clone())
        .or_else(|| {
            let value_opts = [
                "-e",
                "--execute",
                "-h",
                "--host",
                "-u",
                "--user",
                "-P",
                "--port",
                "-D",
                "--database",
                "-S",
                "--socket",
            ];
            operands(c.args, &value_opts)
                .first()
                .and_then(|a| a.lit.clone())
        });
    client(
        e,
        c,
        c.name,
        Flavor::MySql,
        sql,
        host,
        Some(("mysql.database", db.unwrap_or_default())),
    )
}

fn sqlite(e: &mut Engine, c: &Call) -> Flow {
    let mut sql = values(c, &["-cmd", "-c"]);
    let value_opts = [
        "-cmd",
        "-c",
        "-separator",
        "-nullvalue",
        "-newline",
        "-init",
    ];
    let positional = operands(c.args, &value_opts);
    let db = positional
        .first()
        .map(|a| a.show().to_string())
        .unwrap_or_default();
    sql.extend(positional.into_iter().skip(1).cloned());
    client(
        e,
        c,
        c.name,
        Flavor::Sqlite,
        sql,
        None,
        Some(("sqlite.database", db)),
    )
}

fn clickhouse(e: &mut Engine, c: &Call) -> Flow {
    let sql = values(c, &["-q", "--query", "-n"]);
    let host = host_opt(c, &["-h", "--host"]);
    client(e, c, c.name, Flavor::ClickHouse, sql, host, None)
}

/// Judges SQL text (client meta-commands included).
pub(crate) fn judge(text: &str, flavor: Flavor, e: &mut Engine) -> SqlVerdict {
    let (sql, meta) = strip_meta(text);
    let mut verdicts = Vec::new();
    for m in meta {
        match m {
            Meta::Shell(cmd) => {
                e.script(&cmd, &Flow::default());
            }
            Meta::File => verdicts.push(verdict(
                Effect::Unknown,
                "it includes a SQL file that is not visible here",
            )),
            Meta::Write => verdicts.push(verdict(
                Effect::Write,
                "a client command writes a file or table",
            )),
        }
    }
    if !sql.trim().is_empty() {
        verdicts.push(judge_sql(&sql, flavor));
    }
    verdicts
        .into_iter()
        .max_by_key(|v| crate::danger(v.effect))
        .unwrap_or_else(|| verdict(Effect::Read, "client commands only"))
}

fn verdict(effect: Effect, reason: impl Into<String>) -> SqlVerdict {
    SqlVerdict {
        effect,
        reason: reason.into(),
    }
}

enum Meta {
    Shell(String),
    File,
    Write,
}

/// Removes psql backslash commands and sqlite dot-commands, noting the risky ones.
fn strip_meta(text: &str) -> (String, Vec<Meta>) {
    let mut sql = String::new();
    let mut meta = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(cmd) = t.strip_prefix('\\').or_else(|| {
            t.strip_prefix('.')
                .filter(|r| r.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
        }) {
            let word = cmd.split_whitespace().next().unwrap_or("");
            let rest = cmd.get(word.len()..).unwrap_or("").trim();
            match word {
                "!" | "shell" | "system" => meta.push(Meta::Shell(rest.to_string())),
                w if w.starts_with('!') => {
                    meta.push(Meta::Shell(format!("{} {rest}", w.trim_start_matches('!'))))
                }
                "i" | "ir" | "include" | "include_relative" | "read" | "import" | "restore" => {
                    meta.push(Meta::File)
                }
                "o" | "out" | "output" | "once" | "copy" | "w" | "write" | "save" | "backup"
                | "excel" => meta.push(Meta::Write),
                _ => {}
            }
            continue;
        }
        // A trailing `\gset`, `\g file`, `\x` ends the statement.
        let line = match line.find('\\') {
            Some(i) if !in_quotes(line, i) => line.get(..i).unwrap_or(line),
            _ => line,
        };
        sql.push_str(line);
        sql.push('\n');
    }
    (sql, meta)
}

fn in_quotes(line: &str, pos: usize) -> bool {
    line.get(..pos)
        .is_some_and(|head| head.matches('\'').count() % 2 == 1)
}

/// Judges plain SQL.
pub(crate) fn judge_sql(sql: &str, flavor: Flavor) -> SqlVerdict {
    if sql.len() > MAX_SQL {
        return keyword_scan(sql);
    }
    let dialect: Box<dyn Dialect> = match flavor {
        Flavor::Postgres => Box::new(PostgreSqlDialect {}),
        Flavor::MySql => Box::new(MySqlDialect {}),
        Flavor::Sqlite => Box::new(SQLiteDialect {}),
        Flavor::ClickHouse => Box::new(ClickHouseDialect {}),
        Flavor::Generic => Box::new(GenericDialect {}),
    };
    let parsed = Parser::new(dialect.as_ref())
        .with_recursion_limit(48)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements());
    let statements = match parsed {
        Ok(s) => s,
        Err(_) => {
            // Another dialect may read it (`psql` users write generic SQL too).
            match Parser::new(&GenericDialect {})
                .with_recursion_limit(48)
                .try_with_sql(sql)
                .and_then(|mut p| p.parse_statements())
            {
                Ok(s) => s,
                Err(_) => return keyword_scan(sql),
            }
        }
    };
    statements
        .iter()
        .map(statement)
        .max_by_key(|v| crate::danger(v.effect))
        .unwrap_or_else(|| verdict(Effect::Read, "no statements"))
}

fn statement(s: &Statement) -> SqlVerdict {
    let text = s.to_string();
    let upper = text.to_ascii_uppercase();
    let first = upper.split_whitespace().next().unwrap_or("");
    match s {
        Statement::Delete(d) => {
            if d.selection.as_ref().is_none_or(always_true) {
                verdict(
                    Effect::Destroy,
                    "DELETE without a WHERE clause empties the table",
                )
            } else {
                verdict(Effect::Write, "DELETE of selected rows")
            }
        }
        Statement::Update(u) => {
            if u.selection.as_ref().is_none_or(always_true) {
                verdict(
                    Effect::Destroy,
                    "UPDATE without a WHERE clause overwrites every row",
                )
            } else {
                verdict(Effect::Write, "UPDATE of selected rows")
            }
        }
        Statement::Truncate(_) => verdict(Effect::Destroy, "TRUNCATE empties tables"),
        Statement::Insert(_) => verdict(Effect::Write, "INSERT adds rows"),
        Statement::Query(_) => {
            if upper.contains("PG_TERMINATE_BACKEND")
                || upper.contains("PG_DROP_REPLICATION_SLOT")
                || upper.contains("LO_UNLINK")
            {
                verdict(
                    Effect::Destroy,
                    "the query calls a function that kills sessions or deletes data",
                )
            } else if upper.contains("DELETE FROM")
                || upper.contains("UPDATE ")
                || upper.contains("INSERT INTO")
            {
                keyword_scan(&text)
            } else if upper.contains(" INTO ") {
                verdict(Effect::Write, "SELECT … INTO creates a table")
            } else {
                verdict(Effect::Read, "a query only reads")
            }
        }
        Statement::AlterTable(_) => {
            if upper.contains(" DROP ") {
                verdict(
                    Effect::Destroy,
                    "ALTER … DROP removes columns or constraints and their data",
                )
            } else {
                verdict(Effect::Write, "ALTER TABLE changes the schema")
            }
        }
        _ => match first {
            "DROP" => verdict(
                Effect::Destroy,
                format!("{} deletes it and its data", words(&text, 3)),
            ),
            "TRUNCATE" => verdict(Effect::Destroy, "TRUNCATE empties tables"),
            "ALTER" if upper.contains(" DROP ") => verdict(
                Effect::Destroy,
                format!("{} … DROP removes data", words(&text, 2)),
            ),
            "SHOW" | "EXPLAIN" | "DESCRIBE" | "DESC" | "SET" | "BEGIN" | "START" | "COMMIT"
            | "ROLLBACK" | "USE" | "PRAGMA" | "SAVEPOINT" | "RELEASE" | "LISTEN" | "UNLISTEN"
            | "DECLARE" | "FETCH" | "CLOSE" | "PREPARE" | "DEALLOCATE" | "ANALYZE" | "VALUES"
            | "SELECT" | "WITH" | "TABLE" | "RESET" | "DISCARD" | "CHECKPOINT" => {
                verdict(Effect::Read, format!("{first} does not change data"))
            }
            _ if upper.contains(" DELETE") && upper.starts_with("MERGE") => {
                verdict(Effect::Destroy, "MERGE … DELETE removes rows")
            }
            _ => verdict(
                Effect::Write,
                format!("{} changes the database", words(&text, 2)),
            ),
        },
    }
}

fn words(text: &str, n: usize) -> String {
    text.split_whitespace()
        .take(n)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `WHERE true`, `WHERE 1 = 1`: a filter that selects everything.
fn always_true(e: &Expr) -> bool {
    let t = e.to_string().to_ascii_uppercase().replace(' ', "");
    matches!(
        t.as_str(),
        "TRUE"
            | "1=1"
            | "'1'='1'"
            | "1"
            | "NOT FALSE"
            | "NOTFALSE"
            | "0=0"
            | "1<>0"
            | "(1=1)"
            | "(TRUE)"
    )
}

/// Last resort for SQL that does not parse: destructive keywords or unknown.
fn keyword_scan(sql: &str) -> SqlVerdict {
    let upper = sql.to_ascii_uppercase();
    let compact: String = upper.split_whitespace().collect::<Vec<_>>().join(" ");
    for kw in [
        "DROP TABLE",
        "DROP DATABASE",
        "DROP SCHEMA",
        "DROP INDEX",
        "DROP VIEW",
        "DROP USER",
        "DROP COLUMN",
        "TRUNCATE",
        "DROP ",
    ] {
        if compact.contains(kw) {
            return verdict(Effect::Destroy, format!("the SQL contains {}", kw.trim()));
        }
    }
    for (kw, what) in [("DELETE FROM", "DELETE"), ("UPDATE ", "UPDATE")] {
        if let Some(i) = compact.find(kw) {
            let rest = compact.get(i..).unwrap_or("");
            let stmt = rest.split(';').next().unwrap_or(rest);
            if !stmt.contains(" WHERE ") {
                return verdict(Effect::Destroy, format!("{what} without a WHERE clause"));
            }
        }
    }
    let reads_only = compact
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .all(|s| {
            ["SELECT", "SHOW", "EXPLAIN", "DESCRIBE", "WITH"]
                .iter()
                .any(|k| s.starts_with(k))
                && !s.contains("INSERT")
                && !s.contains("DELETE")
                && !s.contains("UPDATE")
        });
    if reads_only {
        return verdict(Effect::Read, "only queries");
    }
    verdict(Effect::Unknown, "the SQL could not be parsed")
}

/// mongosh and mongo options that take a value, so the value is neither the connection
/// address nor a script file (`--eval 'db.x.find({a: 1})'`, `-u admin`).
const MONGO_VALUE_OPTS: &[&str] = &[
    "--eval",
    "-f",
    "--file",
    "--host",
    "--port",
    "-u",
    "--username",
    "-p",
    "--password",
    "--authenticationDatabase",
    "--authenticationMechanism",
    "--awsAccessKeyId",
    "--awsSecretAccessKey",
    "--awsSessionToken",
    "--awsIamSessionToken",
    "--gssapiServiceName",
    "--gssapiHostName",
    "--sspiHostnameCanonicalization",
    "--sspiRealmOverride",
    "--tlsCAFile",
    "--tlsCertificateKeyFile",
    "--tlsCertificateKeyFilePassword",
    "--tlsCertificateSelector",
    "--tlsCRLFile",
    "--tlsDisabledProtocols",
    "--sslCAFile",
    "--sslPEMKeyFile",
    "--sslPEMKeyPassword",
    "--sslCRLFile",
    "--apiVersion",
    "--keyVaultNamespace",
    "--kmsURL",
    "--cryptSharedLibPath",
    "--csfleLibraryPath",
    "--oidcFlows",
    "--oidcRedirectUri",
    "--browser",
];

/// The positional words of a mongosh or mongo call: `[address] [file.js …]`. Option
/// values are skipped; as in mongosh, a word starting with `-` is never a value.
fn mongo_positionals<'a>(c: &Call<'a>) -> Vec<&'a Arg> {
    let mut out = Vec::new();
    let mut it = c.args.iter().peekable();
    while let Some(a) = it.next() {
        if a.is("--") {
            out.extend(it);
            break;
        }
        if MONGO_VALUE_OPTS.contains(&a.s()) {
            if it.peek().is_some_and(|v| !v.is_option()) {
                it.next();
            }
            continue;
        }
        if !a.is_option() {
            out.push(a);
        }
    }
    out
}

/// The host a mongosh address (`mongodb://h/db`, `h:27017/db`, `h/db`; a bare word is a
/// database on localhost) or a `--host` value (`h:27017`, `rs0/h1:27017,h2`) names.
fn mongo_host(text: &str, host_option: bool) -> Option<String> {
    if text.contains("://") {
        return url_host(text);
    }
    let hosts = if host_option {
        // `--host replicaSet/h1,h2`
        text.split_once('/').map_or(text, |(_, h)| h)
    } else {
        text.split('/').next().unwrap_or(text)
    };
    let first = hosts.split(',').next().unwrap_or(hosts);
    let host = if host_option || text.contains(['/', ':']) {
        url_host(&format!("mongodb://{first}"))
    } else {
        url_host(first)
    }?;
    let hostname = host.chars().any(|c| c.is_ascii_alphanumeric())
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    hostname.then_some(host)
}

fn mongo(e: &mut Engine, c: &Call) -> Flow {
    let evals = values(c, &["--eval"]);
    let positionals = mongo_positionals(c);
    // `mongosh [address] [file.js …]`: a first word ending in `.js` is already a file.
    let (address, files) = match positionals.split_first() {
        Some((first, rest)) if !first.s().ends_with(".js") => (Some(*first), rest),
        _ => (None, positionals.as_slice()),
    };
    let host = address
        .and_then(|a| a.lit.as_deref())
        .and_then(|a| mongo_host(a, false))
        .or_else(|| {
            values(c, &["--host"])
                .first()
                .and_then(|a| a.lit.as_deref())
                .and_then(|h| mongo_host(h, true))
        });
    let mut ran_files = c.has("--file") || c.has("-f");
    if ran_files {
        e.hit(
            Hit::new(
                Effect::Unknown,
                format!("{} runs a script file that is not visible here", c.name),
            )
            .host(host.clone()),
        );
    }
    let mut scripts: Vec<Option<String>> = evals.iter().map(|a| a.script.clone()).collect();
    if scripts.is_empty() {
        match (&c.stdin.content, c.stdin.script_text()) {
            (_, Some(t)) => scripts.push(Some(t.to_string())),
            (Content::Nothing, None) => {}
            _ => scripts.push(None),
        }
    }
    // `mongosh host script.js`, `mongosh script.js`
    for p in files {
        if p.s().ends_with(".js") {
            ran_files = true;
            e.hit(
                Hit::new(
                    Effect::Unknown,
                    format!(
                        "{} runs {}, whose contents are not visible here",
                        c.name,
                        p.show()
                    ),
                )
                .host(host.clone()),
            );
        }
    }
    if scripts.is_empty() && !ran_files {
        e.hit(Hit::new(Effect::Read, format!("{} opens a session", c.name)).host(host.clone()));
    }
    for s in scripts {
        let (effect, why) = match s {
            None => (
                Effect::Unknown,
                "runs JavaScript built at run time".to_string(),
            ),
            Some(js) => judge_mongo(&js),
        };
        e.hit(Hit::new(effect, format!("{} {why}", c.name)).host(host.clone()));
    }
    Flow::opaque()
}

fn judge_mongo(js: &str) -> (Effect, String) {
    let compact: String = js.chars().filter(|c| !c.is_whitespace()).collect();
    let lower = compact.to_ascii_lowercase();
    if lower.contains("dropdatabase(") {
        return (Effect::Destroy, "drops the whole database".into());
    }
    if lower.contains(".drop(")
        || lower.contains("dropcollection")
        || lower.contains(".dropindexes(")
    {
        return (Effect::Destroy, "drops a collection".into());
    }
    for empty in [
        "deletemany({})",
        "deletemany()",
        "remove({})",
        "remove()",
        "updatemany({},",
        "replaceone({},",
    ] {
        if lower.contains(empty) {
            return (
                Effect::Destroy,
                format!("runs {empty}, which hits every document"),
            );
        }
    }
    if [
        "insert",
        "update",
        "delete",
        "remove",
        "replace",
        "createcollection",
        "createindex",
        "rename",
        "bulkwrite",
        "findoneandupdate",
        "findoneanddelete",
    ]
    .iter()
    .any(|w| lower.contains(&format!(".{w}")))
    {
        return (Effect::Write, "changes documents".into());
    }
    if lower.contains("runcommand") || lower.contains("eval(") || lower.contains("load(") {
        return (
            Effect::Unknown,
            "runs a database command that is not read here".into(),
        );
    }
    (Effect::Read, "reads documents".into())
}

fn redis(e: &mut Engine, c: &Call) -> Flow {
    let value_opts = [
        "-h",
        "-p",
        "-a",
        "-n",
        "-u",
        "-s",
        "--user",
        "--pass",
        "-r",
        "-i",
        "-d",
        "--tls-cert",
        "--cacert",
        "--key",
        "--cert",
        "-D",
        "--sni",
        "--eval",
        "--pattern",
        "--count",
        "--memkeys-samples",
        "--rdb",
        "--functions-rdb",
        "-e",
        "-3",
        "-t",
    ];
    let host = host_opt(c, &["-h"]).or_else(|| {
        values(c, &["-u"])
            .first()
            .and_then(|a| a.lit.as_deref())
            .and_then(url_host)
    });
    let mut words: Vec<String> = Vec::new();
    let mut it = c.args.iter();
    let mut started = false;
    while let Some(a) = it.next() {
        if !started {
            if value_opts.contains(&a.s()) {
                if a.is("--eval") {
                    // The words after the script are its keys and arguments, not a command.
                    e.hit(
                        Hit::new(Effect::Unknown, "redis-cli --eval runs a Lua script file")
                            .host(host.clone()),
                    );
                    return Flow::opaque();
                }
                it.next();
                continue;
            }
            if a.is_option() {
                if matches!(
                    a.s(),
                    "--scan"
                        | "--bigkeys"
                        | "--memkeys"
                        | "--hotkeys"
                        | "--stat"
                        | "--latency"
                        | "--latency-history"
                        | "--ldb"
                ) {
                    e.hit(
                        Hit::new(Effect::Read, format!("redis-cli {} only reads", a.s()))
                            .host(host.clone()),
                    );
                    return Flow::opaque();
                }
                continue;
            }
        }
        started = true;
        words.push(a.lit.clone().unwrap_or_else(|| "\u{0}".into()));
    }
    let mut commands: Vec<Vec<String>> = Vec::new();
    if words.is_empty() {
        match (&c.stdin.content, c.stdin.script_text()) {
            (_, Some(t)) => {
                for line in t.lines().take(10_000) {
                    commands.push(line.split_whitespace().map(str::to_string).collect());
                }
            }
            (Content::Nothing, None) => {
                e.hit(Hit::new(Effect::Read, "redis-cli opens a session").host(host.clone()));
            }
            _ => {
                e.hit(
                    Hit::new(
                        Effect::Unknown,
                        "redis-cli runs commands from stdin that are not known before it runs",
                    )
                    .host(host.clone()),
                );
            }
        }
    } else {
        commands.push(words);
    }
    for cmd in commands {
        let name = cmd
            .first()
            .map(|w| w.to_ascii_uppercase())
            .unwrap_or_default();
        let (effect, why) = match name.as_str() {
            "FLUSHALL" | "FLUSHDB" => (Effect::Destroy, format!("{name} deletes every key")),
            "SHUTDOWN" => (Effect::Destroy, "SHUTDOWN stops the server".to_string()),
            "DEBUG" => (
                Effect::Destroy,
                "DEBUG can crash or reload the server".to_string(),
            ),
            "CONFIG" if cmd.get(1).is_some_and(|s| s.eq_ignore_ascii_case("set")) => {
                (Effect::Write, "CONFIG SET changes the server".to_string())
            }
            "SCRIPT" | "FUNCTION"
                if cmd.get(1).is_some_and(|s| s.eq_ignore_ascii_case("flush")) =>
            {
                (
                    Effect::Destroy,
                    format!("{name} FLUSH deletes every script"),
                )
            }
            "EVAL" | "EVALSHA" | "FCALL" => (Effect::Unknown, format!("{name} runs a Lua script")),
            "GET" | "MGET" | "KEYS" | "SCAN" | "HGET" | "HGETALL" | "LRANGE" | "SMEMBERS"
            | "ZRANGE" | "TTL" | "PTTL" | "TYPE" | "EXISTS" | "INFO" | "PING" | "DBSIZE"
            | "STRLEN" | "HKEYS" | "HLEN" | "LLEN" | "SCARD" | "ZCARD" | "MONITOR" | "CLIENT"
            | "MEMORY" | "SLOWLOG" | "XRANGE" | "XLEN" | "XINFO" | "GETRANGE" | "HEXISTS"
            | "SISMEMBER" | "ZSCORE" | "LINDEX" | "OBJECT" | "ROLE" | "TIME" | "LASTSAVE"
            | "COMMAND" | "HSCAN" | "SSCAN" | "ZSCAN" | "SUBSCRIBE" | "PSUBSCRIBE" => {
                (Effect::Read, format!("{name} only reads"))
            }
            "" => continue,
            "DEL" | "UNLINK" => (Effect::Write, format!("{name} deletes keys")),
            _ => (Effect::Write, format!("{name} changes data")),
        };
        e.hit(Hit::new(effect, format!("redis-cli {why}")).host(host.clone()));
    }
    Flow::opaque()
}

fn bq(e: &mut Engine, c: &Call) -> Option<Flow> {
    let pos = c.positionals();
    let sub = pos.first()?.s().to_string();
    match sub.as_str() {
        "rm" => {
            let what = pos.get(1).map(|a| a.show().to_string()).unwrap_or_default();
            e.hit(
                Hit::new(Effect::Destroy, format!("bq rm deletes {what}"))
                    .target("bigquery.table", &what),
            );
        }
        "query" => {
            let sql: Vec<Arg> = pos.iter().skip(1).map(|a| (*a).clone()).collect();
            return Some(client(e, c, "bq query", Flavor::Generic, sql, None, None));
        }
        "ls" | "show" | "head" | "version" | "help" => {}
        _ => e.hit(Hit::new(
            Effect::Write,
            format!("bq {sub} changes BigQuery"),
        )),
    }
    Some(Flow::opaque())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effect(sql: &str) -> Effect {
        judge_sql(sql, Flavor::Postgres).effect
    }

    #[test]
    fn destructive_sql() {
        assert_eq!(effect("DROP TABLE users"), Effect::Destroy);
        assert_eq!(effect("drop database prod;"), Effect::Destroy);
        assert_eq!(effect("TRUNCATE orders"), Effect::Destroy);
        assert_eq!(effect("DELETE FROM users"), Effect::Destroy);
        assert_eq!(effect("DELETE FROM users WHERE 1=1"), Effect::Destroy);
        assert_eq!(effect("UPDATE users SET admin = true"), Effect::Destroy);
        assert_eq!(
            effect("ALTER TABLE users DROP COLUMN email"),
            Effect::Destroy
        );
    }

    #[test]
    fn ordinary_sql() {
        assert_eq!(effect("SELECT 1"), Effect::Read);
        assert_eq!(
            effect("select * from users where id = 3; select now()"),
            Effect::Read
        );
        assert_eq!(effect("INSERT INTO t (a) VALUES (1)"), Effect::Write);
        assert_eq!(
            effect("UPDATE users SET name = 'x' WHERE id = 1"),
            Effect::Write
        );
        assert_eq!(
            effect("DELETE FROM sessions WHERE expires < now()"),
            Effect::Write
        );
        assert_eq!(effect("CREATE TABLE t (id int)"), Effect::Write);
        assert_eq!(effect("ALTER TABLE t ADD COLUMN x int"), Effect::Write);
    }

    #[test]
    fn unparsable_sql_is_scanned() {
        assert_eq!(
            effect("DROP TABLE x WITH SOME NONSENSE ((("),
            Effect::Destroy
        );
        assert_eq!(effect("FROBNICATE the table"), Effect::Unknown);
    }

    #[test]
    fn mongo_scripts() {
        assert_eq!(judge_mongo("db.dropDatabase()").0, Effect::Destroy);
        assert_eq!(judge_mongo("db.users.drop()").0, Effect::Destroy);
        assert_eq!(judge_mongo("db.users.deleteMany({})").0, Effect::Destroy);
        assert_eq!(judge_mongo("db.users.find({age: 3})").0, Effect::Read);
        assert_eq!(judge_mongo("db.users.insertOne({a: 1})").0, Effect::Write);
    }
}
