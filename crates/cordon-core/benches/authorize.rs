//! authorize() without classification, on 10 credentials and 50 resources.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "bench setup")]

#[path = "common.rs"]
mod common;

use cordon_core::approvals::Approvals;
use cordon_core::audit::AuditLog;
use cordon_core::manifest::SyncPolicy;
use cordon_core::policy::{PolicyEngine, compile};
use cordon_core::store::Store;
use cordon_core::{Action, Authorizer, Effect, Gate};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;

fn actions() -> Vec<Action> {
    vec![
        // allow: a scoped query with a credential to its host
        Action::new(Gate::Http, "graphql.query.project", Effect::Read)
            .with_host("api3.example.com")
            .with_method("POST")
            .with_credential("cred3")
            .with_target("volume", "vol_7"),
        // deny: out of scope, production resource
        Action::new(Gate::Http, "graphql.mutation.volumeDelete", Effect::Destroy)
            .with_host("api3.example.com")
            .with_credential("cred3")
            .with_target("volume", "vol_10"),
        // allow: a plain shell read in the workspace
        Action::new(Gate::Hook, "shell.exec", Effect::Read).with_path("/work/app/src/lib.rs"),
    ]
}

fn bench(c: &mut Criterion) {
    let loaded = large_manifest_or_exit();
    let compiled = compile(&loaded).unwrap();
    let engine = PolicyEngine::new(compiled, "bench").unwrap();
    let actions = actions();

    let mut group = c.benchmark_group("decision");
    for (name, action) in [
        "allow_scoped_query",
        "deny_out_of_scope_destroy",
        "allow_shell_read",
    ]
    .iter()
    .zip(&actions)
    {
        group.bench_function(*name, |b| {
            b.iter(|| cordon_core::evaluate(&loaded.manifest, &engine, black_box(action)))
        });
    }
    group.finish();

    // authorize() end to end: decision, approvals (none needed here) and the audit
    // append, with the audit written to the page cache (sync = "os") and to disk
    // (sync = "batch", one fdatasync per record when called from one thread).
    for sync in [SyncPolicy::Os, SyncPolicy::Batch] {
        let home = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&home.path().join("cordon.db")).unwrap());
        let audit = Arc::new(AuditLog::new(home.path(), store.clone(), sync).unwrap());
        let authorizer = Authorizer::with_parts(
            large_manifest_or_exit(),
            audit,
            Approvals::new(store, keys(home.path())),
        )
        .unwrap();
        let name = format!("authorize_with_audit_sync_{sync:?}").to_lowercase();
        c.bench_function(&name, |b| {
            b.iter(|| authorizer.authorize(black_box(&actions[0])))
        });
    }

    println!();
    for (name, action) in [
        "allow_scoped_query",
        "deny_out_of_scope_destroy",
        "allow_shell_read",
    ]
    .iter()
    .zip(&actions)
    {
        common::percentiles(&format!("decision/{name}"), 100_000, || {
            black_box(
                cordon_core::evaluate(&loaded.manifest, &engine, black_box(action))
                    .1
                    .ok(),
            );
        });
    }
    let home = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&home.path().join("cordon.db")).unwrap());
    let audit = Arc::new(AuditLog::new(home.path(), store.clone(), SyncPolicy::Os).unwrap());
    let authorizer = Authorizer::with_parts(
        large_manifest_or_exit(),
        audit,
        Approvals::new(store, keys(home.path())),
    )
    .unwrap();
    common::percentiles("authorize_with_audit_sync_os", 50_000, || {
        black_box(authorizer.authorize(black_box(&actions[0])));
    });
}

fn large_manifest_or_exit() -> cordon_core::manifest::LoadedManifest {
    common::large_manifest()
}

criterion_group!(benches, bench);
criterion_main!(benches);

fn keys(home: &std::path::Path) -> Arc<cordon_core::approvals::ApprovalKeys> {
    Arc::new(cordon_core::approvals::ApprovalKeys::load_or_create(home).unwrap())
}
