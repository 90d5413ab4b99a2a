//! Fail-closed limits: unreadable input, deep nesting and huge input are unknown, fast.

use std::time::{Duration, Instant};

use cordon_classify::Effect;

use super::common::*;

/// Runs `f` on a thread with a small stack, as a hook's worker thread might have.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn syntax_errors_are_unknown() {
    for cmd in [
        "echo \"unterminated",
        "rm -rf (",
        "if true; then",
        "ls &&",
        "echo $(",
        "cat <<EOF\nno end",
        "((",
    ] {
        let c = classify(cmd);
        assert_eq!(c.effect, Effect::Unknown, "`{cmd}`: {:#?}", c.findings);
        assert!(
            c.findings
                .iter()
                .any(|f| f.reason.contains("could not be parsed")),
            "{cmd}"
        );
    }
}

#[test]
fn error_nodes_hide_nothing() {
    // A valid destructive command next to a syntax error still fails closed.
    assert_effect("rm -rf ~; echo \"", Effect::Unknown);
}

#[test]
fn ten_thousand_nested_substitutions_are_unknown_and_fast() {
    let depth = 10_000;
    let cmd = format!("{}echo hi{}", "$(".repeat(depth), ")".repeat(depth));
    let started = Instant::now();
    let c = on_small_stack(move || classify(&cmd));
    assert_eq!(c.effect, Effect::Unknown);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn ten_thousand_nested_subshells_are_unknown_and_fast() {
    let depth = 10_000;
    let cmd = format!("{}rm -rf ~{}", "(".repeat(depth), ")".repeat(depth));
    let started = Instant::now();
    let c = on_small_stack(move || classify(&cmd));
    // tree-sitter itself gives up on this much nesting (a parse error) before the
    // depth bound is reached; either way it is unknown, with a reason.
    assert_eq!(c.effect, Effect::Unknown, "{:#?}", c.findings);
    assert!(
        c.findings
            .iter()
            .any(|f| f.reason.contains("levels deep") || f.reason.contains("could not be parsed")),
        "{:#?}",
        c.findings
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn ten_thousand_nested_substitutions_report_the_depth_bound() {
    let depth = 10_000;
    let cmd = format!("{}rm -rf ~{}", "echo $(".repeat(depth), ")".repeat(depth));
    let c = on_small_stack(move || classify(&cmd));
    assert_eq!(c.effect, Effect::Unknown, "{:#?}", c.findings);
    assert!(
        c.findings.iter().any(|f| f.reason.contains("levels deep")),
        "{:#?}",
        c.findings
    );
}

#[test]
fn unbalanced_deep_nesting_is_unknown() {
    let cmd = "$(".repeat(10_000);
    let c = on_small_stack(move || classify(&cmd));
    assert_eq!(c.effect, Effect::Unknown);
}

#[test]
fn deep_subshells_and_groups_are_unknown() {
    for (open, close) in [("(", ")"), ("{ ", "; }"), ("`", "`"), ("<(", ")")] {
        let cmd = format!("{}rm -rf ~{}", open.repeat(5_000), close.repeat(5_000));
        let c = on_small_stack(move || classify(&cmd));
        assert!(
            matches!(c.effect, Effect::Unknown | Effect::Destroy),
            "{open}: {:?}",
            c.effect
        );
    }
}

/// `levels` shells, each reading the next from a heredoc: nesting without quoting blow-up.
fn nested_heredocs(levels: usize, inner: &str) -> String {
    let mut head = String::new();
    let mut tail = String::new();
    for i in 0..levels {
        head.push_str(&format!("sh <<'E{i}X'\n"));
        tail = format!("E{i}X\n{tail}");
    }
    format!("{head}{inner}\n{tail}")
}

#[test]
fn nesting_bound_is_reported() {
    let cmd = nested_heredocs(70, "rm -rf ~");
    let c = on_small_stack(move || classify(&cmd));
    assert_eq!(c.effect, Effect::Unknown, "{:#?}", c.findings);
    assert!(
        c.findings.iter().any(|f| f.reason.contains("levels deep")),
        "{:#?}",
        c.findings
    );
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn shallow_nesting_is_still_judged() {
    // Six levels (1.1 KB): each level about triples the quoting, so ten is 89 KB, which
    // on a busy machine can exceed the classifier's parse budget and is then, rightly,
    // unknown rather than judged; `long_benign_script_is_judged_quickly` covers size.
    let mut cmd = "rm -rf ~".to_string();
    for _ in 0..6 {
        cmd = format!("bash -c {}", shell_quote(&cmd));
    }
    assert_effect(&cmd, Effect::Destroy);
}

#[test]
fn huge_input_is_unknown() {
    let cmd = format!("echo {}", "a".repeat(2 << 20));
    assert_effect(&cmd, Effect::Unknown);
}

#[test]
fn long_benign_script_is_judged_quickly() {
    let cmd = "echo hi && ls -la src\n".repeat(2_000);
    let started = Instant::now();
    assert_effect(&cmd, Effect::Read);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn loop_unrolling_is_bounded() {
    // Nested loops would multiply work; the budget stops it.
    let values = (0..16).map(|i| i.to_string()).collect::<Vec<_>>().join(" ");
    let mut cmd = "rm -rf ~".to_string();
    for i in 0..6 {
        cmd = format!("for v{i} in {values}; do {cmd}; done");
    }
    let started = Instant::now();
    let c = classify(&cmd);
    assert!(matches!(c.effect, Effect::Destroy | Effect::Unknown));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn garbage_never_panics() {
    let samples = [
        "\u{0}",
        "\\",
        "'",
        "\"",
        "$",
        "${",
        "${!",
        "$((",
        "<<",
        "<<<",
        ">&",
        "|&",
        ";;",
        "&&&",
        "$'\\x",
        "$'\\u{110000}",
        "$'\\777'",
        "\u{202e}rm",
        "a\u{0}b",
        "{a,b",
        "{,}",
        "~root/x",
        "~/../../..",
        "rm -rf \u{ff}",
        "cat <<-\tEOF\n\tEOF",
    ];
    for s in samples {
        let _ = classify(s);
    }
}
