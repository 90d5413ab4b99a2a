//! Arbitrary UTF-8 into the shell classifier: it must never panic, hang or overflow
//! the stack, and it must always return a verdict consistent with its findings.
#![no_main]

use cordon_classify::{Effect, ShellContext, classify_shell, danger};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(command) = std::str::from_utf8(data) else {
        return;
    };
    let ctx = ShellContext {
        cwd: "/work/app".into(),
        workspace: "/work/app".into(),
        home: "/home/dev".into(),
    };
    let c = classify_shell(command, &ctx);
    let worst = c
        .findings
        .iter()
        .map(|f| danger(f.effect))
        .max()
        .unwrap_or(0);
    assert_eq!(
        danger(c.effect),
        worst,
        "effect must be the most dangerous finding's"
    );
    if c.findings.is_empty() {
        assert_eq!(c.effect, Effect::Read);
    }
});
