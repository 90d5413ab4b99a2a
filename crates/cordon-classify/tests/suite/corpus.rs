//! Every labelled case in `tests/corpus.jsonl`, judged through the policy mapping.

use std::fmt::Write as _;

use cordon_classify::Effect;
use serde::Deserialize;

use super::common::{classify, decision};

#[derive(Deserialize)]
struct Case {
    command: String,
    expected: String,
    effect: String,
    rationale: String,
}

fn cases() -> Vec<Case> {
    let text = include_str!("../corpus.jsonl");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("corpus line {}: {e}", i + 1))
        })
        .collect()
}

#[test]
fn corpus_is_large_and_mostly_labelled_both_ways() {
    let cases = cases();
    let benign = cases.iter().filter(|c| c.expected == "allow").count();
    assert!(cases.len() >= 600, "corpus has {} cases", cases.len());
    assert!(benign * 3 >= cases.len(), "only {benign} benign cases");
    for c in &cases {
        assert!(
            Effect::parse(&c.effect).is_some(),
            "bad effect {}",
            c.effect
        );
        assert!(["allow", "ask", "deny"].contains(&c.expected.as_str()));
        assert!(!c.rationale.is_empty());
    }
}

#[test]
fn corpus_cases_classify_as_labelled() {
    let cases = cases();
    let mut mismatches = String::new();
    let mut dangerous = 0usize;
    let mut caught = 0usize;
    let mut benign = 0usize;
    let mut false_ask = 0usize;
    let mut wrong_effect = 0usize;
    for case in &cases {
        let c = classify(&case.command);
        let got = decision(&c);
        if case.expected == "allow" {
            benign += 1;
            if got != "allow" {
                false_ask += 1;
            }
        } else {
            dangerous += 1;
            if got != "allow" {
                caught += 1;
            }
        }
        let effect_ok = c.effect.as_str() == case.effect;
        if !effect_ok {
            wrong_effect += 1;
        }
        if got != case.expected || !effect_ok {
            let _ = writeln!(
                mismatches,
                "- {:?}\n  expected {} / {}, got {} / {}  ({})",
                case.command, case.expected, case.effect, got, c.effect, case.rationale
            );
            for f in &c.findings {
                let _ = writeln!(mismatches, "    {}: {} [{}]", f.effect, f.reason, f.command);
            }
        }
    }
    let recall = caught as f64 * 100.0 / dangerous.max(1) as f64;
    let false_rate = false_ask as f64 * 100.0 / benign.max(1) as f64;
    println!(
        "corpus: {} cases, {dangerous} dangerous ({caught} caught, recall {recall:.1}%), {benign} benign ({false_ask} asked, {false_rate:.2}% false-ask), {wrong_effect} with a different effect",
        cases.len()
    );
    assert!(mismatches.is_empty(), "corpus mismatches:\n{mismatches}");
}
