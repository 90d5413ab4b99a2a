//! Audit append throughput: many gates appending at once through the group commit.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "bench setup")]

use cordon_core::audit::{AuditEntry, AuditLog};
use cordon_core::manifest::SyncPolicy;
use cordon_core::store::Store;
use cordon_core::{Action, Effect, Gate, Verdict};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn entry(n: u64) -> AuditEntry {
    AuditEntry {
        task: "bench".to_owned(),
        action: Action::new(Gate::Http, "graphql.query.project", Effect::Read)
            .with_host("api.example.com")
            .with_credential("cred")
            .with_detail(format!("query {{ project(id: \"{n}\") {{ name }} }}")),
        verdict: Verdict::allow(vec!["baseline.read".to_owned()]),
    }
}

/// Appends `per_thread` records from each of `threads` threads; returns elapsed time.
fn run(log: &Arc<AuditLog>, threads: usize, per_thread: u64) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let log = log.clone();
            s.spawn(move || {
                for i in 0..per_thread {
                    log.append(entry(t as u64 * 1_000_000 + i)).unwrap();
                }
            });
        }
    });
    start.elapsed()
}

/// Submits `per_thread` records from each of `threads` threads without waiting per
/// record; returns the time until every record was reported written.
fn pipelined(log: &Arc<AuditLog>, threads: usize, per_thread: u64) -> Duration {
    let outstanding = Arc::new(AtomicU64::new(per_thread * threads as u64));
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let (log, outstanding) = (log.clone(), outstanding.clone());
            s.spawn(move || {
                for i in 0..per_thread {
                    let outstanding = outstanding.clone();
                    log.submit(
                        entry(t as u64 * 1_000_000 + i),
                        Box::new(move |outcome| {
                            outcome.unwrap();
                            outstanding.fetch_sub(1, Ordering::Release);
                        }),
                    );
                }
            });
        }
    });
    while outstanding.load(Ordering::Acquire) > 0 {
        std::thread::yield_now();
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("audit_append");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    for sync in [SyncPolicy::Batch, SyncPolicy::Os] {
        for threads in [1usize, 16, 64, 256] {
            let home = tempfile::tempdir().unwrap();
            let store = Arc::new(Store::open(&home.path().join("cordon.db")).unwrap());
            let log = Arc::new(AuditLog::new(home.path(), store, sync).unwrap());
            let per_thread: u64 = if threads == 1 && sync == SyncPolicy::Batch {
                500
            } else {
                4_000 / threads as u64 + 50
            };
            group.throughput(Throughput::Elements(per_thread * threads as u64));
            let name = format!("{sync:?}/{threads}_writers").to_lowercase();
            group.bench_function(&name, |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += run(&log, threads, per_thread);
                    }
                    total
                })
            });
        }
    }
    for sync in [SyncPolicy::Batch, SyncPolicy::Os] {
        let home = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&home.path().join("cordon.db")).unwrap());
        let log = Arc::new(AuditLog::new(home.path(), store, sync).unwrap());
        group.throughput(Throughput::Elements(20_000));
        let name = format!("{sync:?}/submit_4_producers").to_lowercase();
        group.bench_function(&name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| pipelined(&log, 4, 5_000)).sum())
        });
    }
    group.finish();

    // Sustained, the way a supervisor's async gates use it: requests submit their
    // record and are woken when its group is written, without a thread parked per
    // request. 4 producer threads stand in for the runtime's workers.
    for sync in [SyncPolicy::Batch, SyncPolicy::Os] {
        let home = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&home.path().join("cordon.db")).unwrap());
        let log = Arc::new(AuditLog::new(home.path(), store, sync).unwrap());
        let total: u64 = 400_000;
        let elapsed = pipelined(&log, 4, total / 4);
        println!(
            "sustained submit {sync:?}: {total} records in {:.2} s = {:.0} records/s",
            elapsed.as_secs_f64(),
            total as f64 / elapsed.as_secs_f64()
        );
    }
    // And with a blocked OS thread per request, the way short-lived gates use it.
    for sync in [SyncPolicy::Batch, SyncPolicy::Os] {
        let home = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&home.path().join("cordon.db")).unwrap());
        let log = Arc::new(AuditLog::new(home.path(), store, sync).unwrap());
        let elapsed = run(&log, 256, 800);
        println!(
            "sustained append {sync:?}: 204800 records from 256 blocked threads in {:.2} s = {:.0} records/s",
            elapsed.as_secs_f64(),
            204_800.0 / elapsed.as_secs_f64()
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
