use super::common::cordon;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The decision-path replay leaves seven records, the same on any kernel: the audit
/// commands are under test here, not the sandbox (the demo's own tests cover that).
const SEED: &[&str] = &["demo", "--decision-path", "--keep"];

fn seeded() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let run = cordon(dir.path(), dir.path(), SEED, None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    dir
}

#[test]
fn tail_show_and_export_read_the_chain() {
    let dir = seeded();
    let run = cordon(dir.path(), dir.path(), &["audit", "tail", "-n", "3"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 3);
    assert!(run.stdout.lines().last().unwrap().contains("#7"));

    let run = cordon(
        dir.path(),
        dir.path(),
        &["audit", "show", "fix-staging-domains"],
        None,
    );
    assert_eq!(run.stdout.lines().count(), 7);
    assert!(run.stdout.contains("deny"), "{}", run.stdout);

    let run = cordon(
        dir.path(),
        dir.path(),
        &["audit", "export", "--format", "jsonl"],
        None,
    );
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[1]["prev"], lines[0]["hash"]);

    let run = cordon(dir.path(), dir.path(), &["audit", "show", "nope"], None);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("tasks with one: fix-staging-domains"),
        "{}",
        run.stderr
    );
}

#[test]
fn verify_names_the_first_tampered_record_and_exits_non_zero() {
    let dir = seeded();
    let chain = dir.path().join("audit/fix-staging-domains.jsonl");
    let text = std::fs::read_to_string(&chain).unwrap();
    std::fs::write(&chain, text.replacen("\"deny\"", "\"allow\"", 1)).unwrap();
    let run = cordon(dir.path(), dir.path(), &["audit", "verify"], None);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("TAMPERED  fix-staging-domains: record #3 (line 3) was edited"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("2 record(s) before it verify"),
        "{}",
        run.stdout
    );
}

#[test]
fn verify_reports_a_torn_tail_without_failing() {
    let dir = seeded();
    let chain = dir.path().join("audit/fix-staging-domains.jsonl");
    let mut text = std::fs::read_to_string(&chain).unwrap();
    text.push_str("{\"seq\":8,\"time\":\"2026-");
    std::fs::write(&chain, text).unwrap();
    let run = cordon(dir.path(), dir.path(), &["audit", "verify"], None);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains("7 record(s), chain intact"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("the last line is torn (22 bytes)"),
        "{}",
        run.stdout
    );
}

#[test]
fn verify_on_an_empty_home_says_there_is_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let run = cordon(dir.path(), dir.path(), &["audit", "verify"], None);
    assert_eq!(run.code, 0);
    assert!(
        run.stderr.contains("no audit records yet"),
        "{}",
        run.stderr
    );
}

#[test]
fn tail_follow_prints_records_as_they_arrive() {
    let dir = seeded();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(["audit", "tail", "-f", "-n", "0", "--json"])
        .env("CORDON_HOME", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let run = cordon(dir.path(), dir.path(), SEED, None);
    assert_eq!(run.code, 0);
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seqs = Vec::new();
    let mut line = String::new();
    while seqs.len() < 7 && Instant::now() < deadline {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        seqs.push(v["seq"].as_u64().unwrap());
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(seqs, (8..=14).collect::<Vec<u64>>());
}
