//! The approvals lookup on the decision path, with 10,000 approvals in the store (the
//! approvals issue's budget: authorize()'s budget plus at most 50 µs).
//!
//! `asked_again` is the lookup every confirm verdict pays while a human has not yet
//! answered (an agent retrying); `consume` uses a fresh human approval, signatures
//! verified; `file_new` writes a new pending approval. SQLite always; PostgreSQL on the
//! tests' throwaway server, for information (a round trip per statement).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "bench setup"
)]

#[path = "common.rs"]
#[allow(dead_code, reason = "this bench needs only the percentile helper")]
mod common;
#[path = "../tests/support/pg_server.rs"]
#[allow(dead_code, reason = "the bench uses the fixture's server only")]
mod pg_server;

use cordon_core::approvals::{ApprovalKeys, ApprovalRequest, Approvals};
use cordon_core::store::{Store, StoreLocation};
use cordon_core::{Action, Effect, Gate};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

const SEEDED: usize = 10_000;

fn action(n: usize) -> Action {
    Action::new(Gate::Hook, "shell.exec", Effect::Destroy).with_detail(format!("rm -rf /srv/{n}"))
}

fn request<'a>(task: &'a str, action: &'a Action) -> ApprovalRequest<'a> {
    ApprovalRequest {
        task,
        action,
        reasons: &[],
        ttl: Duration::from_secs(3600),
        approvers_required: 1,
        webhooks: &[],
        page_url: None,
    }
}

/// 10,000 approvals over 20 tasks, in every state a real queue holds: mostly consumed,
/// some pending, approved, denied.
fn seeded(location: &StoreLocation, home: &std::path::Path) -> Approvals {
    let store = Arc::new(Store::open_at(location).unwrap());
    let keys = Arc::new(ApprovalKeys::load_or_create(home).unwrap());
    let approvals = Approvals::new(store, keys);
    for n in 0..SEEDED {
        let task = format!("task{}", n % 20);
        let action = action(n);
        let outcome = approvals
            .consume_or_request(&request(&task, &action))
            .unwrap();
        let cordon_core::approvals::ApprovalOutcome::Pending { id, .. } = outcome else {
            panic!("seeding: {outcome:?}");
        };
        match n % 10 {
            0..=5 => {
                approvals.approve(&id, "alice", None).unwrap();
                approvals
                    .consume_or_request(&request(&task, &action))
                    .unwrap();
            }
            6 => {
                approvals.approve(&id, "alice", None).unwrap();
            }
            7 => {
                approvals.deny(&id, "bob", "no").unwrap();
            }
            _ => {}
        }
    }
    approvals
}

fn bench_store(c: &mut Criterion, label: &str, location: &StoreLocation, home: &std::path::Path) {
    let approvals = seeded(location, home);
    let waiting = action(SEEDED + 1);
    approvals
        .consume_or_request(&request("task3", &waiting))
        .unwrap();

    let mut group = c.benchmark_group(format!("approval_lookup_{label}"));
    group.bench_function("asked_again", |b| {
        b.iter(|| approvals.consume_or_request(black_box(&request("task3", &waiting))))
    });
    let mut next = SEEDED + 10;
    group.bench_function("consume", |b| {
        b.iter_batched(
            || {
                next += 1;
                let action = action(next);
                let outcome = approvals
                    .consume_or_request(&request("task4", &action))
                    .unwrap();
                if let cordon_core::approvals::ApprovalOutcome::Pending { id, .. } = outcome {
                    approvals.approve(&id, "alice", None).unwrap();
                }
                action
            },
            |action| approvals.consume_or_request(&request("task4", &action)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("file_new", |b| {
        b.iter_batched(
            || {
                next += 1;
                action(next)
            },
            |action| approvals.consume_or_request(&request("task5", &action)),
            BatchSize::SmallInput,
        )
    });
    group.finish();

    println!();
    common::percentiles(
        &format!("approval_lookup_{label}/asked_again"),
        20_000,
        || {
            black_box(
                approvals
                    .consume_or_request(&request("task3", &waiting))
                    .ok(),
            );
        },
    );
    // Consumption needs a fresh approval per sample: approve outside the timing.
    let mut timings = Vec::with_capacity(2_000);
    for _ in 0..2_000 {
        next += 1;
        let action = action(next);
        if let Ok(cordon_core::approvals::ApprovalOutcome::Pending { id, .. }) =
            approvals.consume_or_request(&request("task6", &action))
        {
            approvals.approve(&id, "alice", None).unwrap();
        }
        let start = std::time::Instant::now();
        black_box(
            approvals
                .consume_or_request(&request("task6", &action))
                .ok(),
        );
        timings.push(start.elapsed());
    }
    timings.sort();
    let at = |q: f64| timings[((timings.len() as f64) * q) as usize].as_secs_f64() * 1e6;
    println!(
        "approval_lookup_{label}/consume: p50 {:.2} µs  p99 {:.2} µs  p99.9 {:.2} µs  (2000 samples)",
        at(0.5),
        at(0.99),
        at(0.999)
    );
}

fn bench(c: &mut Criterion) {
    let home = tempfile::tempdir().unwrap();
    bench_store(
        c,
        "sqlite",
        &StoreLocation::in_home(home.path()),
        home.path(),
    );
    let pg_home = tempfile::tempdir().unwrap();
    let url = pg_server::fresh_database();
    bench_store(c, "postgres", &StoreLocation::Postgres(url), pg_home.path());
}

criterion_group!(benches, bench);
criterion_main!(benches);
