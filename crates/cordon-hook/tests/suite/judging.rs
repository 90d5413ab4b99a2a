use cordon_classify::ShellContext;
use cordon_core::Decision;
use cordon_core::manifest::{LoadedManifest, Manifest};
use cordon_core::policy::{PolicyEngine, compile};
use cordon_hook::{PolicyOnly, ToolCall, judge};
use std::path::{Path, PathBuf};

fn decider(toml: &str) -> PolicyOnly {
    let manifest = LoadedManifest {
        manifest: Manifest::parse(toml, "cordon.toml").unwrap(),
        path: Some(PathBuf::from("/work/app/cordon.toml")),
        base_dir: PathBuf::from("/work/app"),
        extra_policies: Vec::new(),
    };
    let engine = PolicyEngine::new(compile(&manifest).unwrap(), manifest.task_name()).unwrap();
    PolicyOnly { manifest, engine }
}

fn context() -> ShellContext {
    ShellContext {
        cwd: PathBuf::from("/work/app"),
        workspace: PathBuf::from("/work/app"),
        home: PathBuf::from("/home/dev"),
    }
}

fn shell(command: &str, decider: &PolicyOnly) -> cordon_hook::Judgement {
    let call = ToolCall::Shell {
        command: command.to_owned(),
    };
    judge(
        &call,
        &context(),
        Path::new("/home/dev/.local/state/cordon"),
        decider,
    )
}

const BASE: &str = "[task]\nname = \"t\"\n[filesystem]\nworkspace = \".\"\n";

#[test]
fn the_strictest_finding_decides_and_every_reason_is_kept() {
    let d = decider(&format!("{BASE}[approval]\nrequire = [\"destroy\"]\n"));
    // A secret read is not in `require` and not read/write: denied. The force push is
    // destroy: ask. Deny wins; both reasons are given.
    let j = shell("git push --force origin main; cat ~/.aws/credentials", &d);
    assert_eq!(j.decision, Decision::Deny, "{j:?}");
    assert!(
        j.reasons.iter().any(|r| r.contains("force-push")),
        "{:?}",
        j.reasons
    );
    assert!(
        j.reasons.iter().any(|r| r.contains("AWS")),
        "{:?}",
        j.reasons
    );
}

#[test]
fn the_manifest_decides_what_a_finding_becomes() {
    let strict = decider(BASE);
    let lenient = decider(&format!(
        "{BASE}[approval]\nrequire = [\"publish\", \"secret_read\", \"unknown\"]\n"
    ));
    let command = "rm -rf /work/app/dist";
    assert_eq!(shell(command, &strict).decision, Decision::Allow);
    assert_eq!(
        shell("git push --force origin main", &strict).decision,
        Decision::Confirm
    );
    // Without destroy in `require`, destroy is not allowed at all.
    assert_eq!(
        shell("git push --force origin main", &lenient).decision,
        Decision::Deny
    );
}

#[test]
fn an_allow_carries_no_reasons_and_no_target() {
    let d = decider(BASE);
    let j = shell("cargo test && git status", &d);
    assert_eq!(j.decision, Decision::Allow);
    assert!(j.reasons.is_empty());
    assert!(j.target.is_none());
}
