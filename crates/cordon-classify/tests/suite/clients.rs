//! Database clients: the host a finding names comes from the client's address or host
//! option, never from the script or SQL it runs.

use cordon_classify::{Classification, Effect};

use super::common::*;

/// The hosts of a command's findings, one per finding.
fn hosts(c: &Classification) -> Vec<Option<&str>> {
    c.findings.iter().map(|f| f.host.as_deref()).collect()
}

#[track_caller]
fn assert_only_host(command: &str, effect: Effect, host: Option<&str>) {
    let c = classify(command);
    assert_eq!(c.effect, effect, "`{command}`: {:#?}", c.findings);
    assert!(!c.findings.is_empty(), "`{command}` has no finding");
    assert!(
        hosts(&c).iter().all(|h| *h == host),
        "`{command}`: expected host {host:?}, findings {:#?}",
        c.findings
    );
}

#[test]
fn mongosh_eval_script_is_not_a_host() {
    assert_only_host(
        "mongosh --eval 'db.users.insertOne({a: 1})'",
        Effect::Write,
        None,
    );
    assert_only_host(
        "mongosh --quiet --eval 'db.users.deleteMany({})'",
        Effect::Destroy,
        None,
    );
    // A plain read with no host leaves no finding at all.
    let c = classify("mongosh --eval 'db.users.find({x: 1}).limit(1)'");
    assert_eq!(c.effect, Effect::Read);
    assert!(c.findings.is_empty(), "{:#?}", c.findings);
}

#[test]
fn mongosh_host_comes_from_the_address_or_host_option() {
    for (command, effect, host) in [
        (
            "mongosh \"mongodb://db.prod.example.com/app\" --eval 'db.users.insertOne({a: 1})'",
            Effect::Write,
            "db.prod.example.com",
        ),
        (
            "mongosh --eval 'db.users.drop()' mongodb://db.prod/app",
            Effect::Destroy,
            "db.prod",
        ),
        (
            "mongosh --eval 'db.x.find()' mongodb+srv://cluster0.abc.mongodb.net/app",
            Effect::Read,
            "cluster0.abc.mongodb.net",
        ),
        (
            "mongosh --host db.prod:27017 --eval 'db.x.insertOne({})'",
            Effect::Write,
            "db.prod",
        ),
        (
            "mongosh --host rs0/db1.prod:27017,db2.prod --eval 'db.x.find()'",
            Effect::Read,
            "db1.prod",
        ),
        (
            "mongosh -u admin -p secret db.prod/app --eval 'db.x.find()'",
            Effect::Read,
            "db.prod",
        ),
        (
            "mongo localhost:27017/app --eval 'db.x.find()'",
            Effect::Read,
            "localhost",
        ),
        ("mongosh db.prod/app", Effect::Read, "db.prod"),
    ] {
        assert_only_host(command, effect, Some(host));
    }
}

#[test]
fn mongosh_database_name_is_not_a_host() {
    assert_only_host(
        "mongosh app --eval 'db.x.insertOne({})'",
        Effect::Write,
        None,
    );
}

#[test]
fn mongosh_script_files_are_unknown() {
    assert_only_host("mongosh cleanup.js", Effect::Unknown, None);
    assert_only_host("mongosh app cleanup.js", Effect::Unknown, None);
    assert_only_host(
        "mongosh mongodb://db.prod/app cleanup.js",
        Effect::Unknown,
        Some("db.prod"),
    );
}

#[test]
fn sql_text_is_not_a_host() {
    let c = classify("psql -c 'select a.b from t'");
    assert!(c.findings.is_empty(), "{:#?}", c.findings);
    let c = classify("mysql -e 'select x.y from t'");
    assert!(c.findings.is_empty(), "{:#?}", c.findings);
    assert_only_host("psql -c 'DROP TABLE a.b' mydb", Effect::Destroy, None);
    assert_only_host(
        "psql -c 'DELETE FROM users' postgres://admin@db.prod/app",
        Effect::Destroy,
        Some("db.prod"),
    );
    assert_only_host(
        "psql -c 'DROP TABLE a.b' -h db.prod app",
        Effect::Destroy,
        Some("db.prod"),
    );
    assert_only_host(
        "mysql -e 'DROP TABLE a.b' -h db.prod shop",
        Effect::Destroy,
        Some("db.prod"),
    );
    let c = classify("mysql -e 'DROP TABLE a.b' -h db.prod shop");
    let target = c.findings.first().and_then(|f| f.target.as_ref());
    assert_eq!(
        target.map(|t| (t.kind.as_str(), t.id.as_str())),
        Some(("mysql.database", "shop"))
    );
}

#[test]
fn redis_host_comes_from_h_or_u() {
    assert_only_host(
        "redis-cli -h cache.prod GET a.b",
        Effect::Read,
        Some("cache.prod"),
    );
    assert_only_host(
        "redis-cli -u redis://:pw@cache.prod:6379/0 GET k",
        Effect::Read,
        Some("cache.prod"),
    );
    assert_only_host("redis-cli -h cache.prod", Effect::Read, Some("cache.prod"));
    assert_only_host(
        "redis-cli -h cache.prod --scan --pattern 'user:*'",
        Effect::Read,
        Some("cache.prod"),
    );
    assert_only_host(
        "redis-cli -h cache.prod FLUSHALL",
        Effect::Destroy,
        Some("cache.prod"),
    );
    let c = classify("redis-cli GET a.b");
    assert!(c.findings.is_empty(), "{:#?}", c.findings);
}

#[test]
fn redis_eval_words_are_the_scripts_keys() {
    // `k1 , a1` are the Lua script's keys and arguments, not a command to judge.
    assert_only_host(
        "redis-cli --eval cleanup.lua k1 , a1",
        Effect::Unknown,
        None,
    );
}
