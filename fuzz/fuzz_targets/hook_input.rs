//! Arbitrary bytes as a hooked agent's stdin, for every host: parsing must never panic,
//! and whatever parses must turn into findings and at least one action without panic.
//! The hook's stdin is written by the agent, which is exactly who cordon does not trust.
#![no_main]

use cordon_classify::ShellContext;
use cordon_hook::{Agent, parse};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let ctx = ShellContext {
        cwd: "/work/app".into(),
        workspace: "/work/app".into(),
        home: "/home/dev".into(),
    };
    for agent in [Agent::Claude, Agent::Cursor, Agent::Gemini, Agent::Codex] {
        let Ok(request) = parse(agent, data) else {
            continue;
        };
        let findings = request
            .call
            .findings(&ctx, Path::new("/home/dev/.local/state/cordon"));
        let actions = request.call.actions(&findings);
        assert!(!actions.is_empty(), "every parsed call is at least one action");
    }
});
