//! The context every test classifies in, and the policy mapping the corpus is labelled with.

use cordon_classify::{Classification, Effect, ShellContext, classify_shell};

pub const WORKSPACE: &str = "/work/app";
pub const HOME: &str = "/home/dev";

pub fn ctx() -> ShellContext {
    ShellContext {
        cwd: WORKSPACE.into(),
        workspace: WORKSPACE.into(),
        home: HOME.into(),
    }
}

pub fn classify(command: &str) -> Classification {
    classify_shell(command, &ctx())
}

/// Inside the workspace or scratch space, where policy lets writes through.
fn writable(path: &str) -> bool {
    let under = |dir: &str| path == dir || path.starts_with(&format!("{dir}/"));
    under(WORKSPACE)
        || (path.starts_with("/tmp/") || path.starts_with("/var/tmp/"))
        || path == "/dev/null"
}

/// The policy the corpus is labelled with: reads and writes inside the workspace or
/// /tmp are allowed, writes elsewhere ask, exfiltration is denied, everything else asks.
pub fn decision(c: &Classification) -> &'static str {
    match c.effect {
        Effect::Read => "allow",
        Effect::Write => {
            let outside = c
                .findings
                .iter()
                .filter(|f| f.effect == Effect::Write)
                .any(|f| f.path.as_deref().is_some_and(|p| !writable(p)));
            if outside { "ask" } else { "allow" }
        }
        Effect::Exfiltrate => "deny",
        _ => "ask",
    }
}

#[track_caller]
pub fn assert_effect(command: &str, expected: Effect) {
    let c = classify(command);
    assert_eq!(
        c.effect, expected,
        "`{command}` classified {} (findings: {:#?})",
        c.effect, c.findings
    );
}
