//! `cordon notify`: deliver the approval outbox; and the detached process a gate starts
//! so that a delivery outlives the hook that filed it.

use crate::cli::NotifyArgs;
use anyhow::{Context, Result};
use cordon_core::outbox::Attempt;
use cordon_core::store::StoreLocation;
use cordon_notify::Deliverer;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, Stdio};

pub fn run(args: &NotifyArgs) -> Result<ExitCode> {
    let home = cordon_core::home::cordon_home();
    let deliverer = Deliverer::open(&home)
        .with_context(|| format!("cannot open the outbox in {}", home.display()))?;
    for delivery in deliverer.run_until_idle(args.for_)? {
        let outcome = match &delivery.outcome {
            Attempt::Delivered => "delivered".to_owned(),
            Attempt::Failed { error, retry_at } => format!(
                "failed: {error}{}",
                if retry_at.is_some() {
                    "; will retry"
                } else {
                    "; gave up"
                }
            ),
        };
        println!(
            "{} → {} (attempt {}): {outcome}",
            delivery.approval_id, delivery.host, delivery.attempt
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Starts `cordon notify` for the store at `store`, detached: its own process
/// group, no terminal, nothing inherited that a hook host waits on. Failing to start it
/// only delays notifications (the next deliverer sends them), so it never fails the
/// decision.
pub fn spawn_deliverer(store: &StoreLocation) {
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut command = Command::new(exe);
    command.arg("notify");
    match store {
        // The SQLite file lives in its home, beside the keys and chains.
        StoreLocation::Sqlite(path) => {
            let Some(home) = path.parent() else {
                return;
            };
            command.env("CORDON_HOME", home);
        }
        // A shared store: this process's home, and the store named for the child.
        StoreLocation::Postgres(_) => {
            command.env(cordon_core::store::STORE_ENV, store.spec());
        }
    }
    let result = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot start `cordon notify`; notifications wait for the next deliverer");
    }
}

/// Delivers due notifications every `every` on a thread of this process, for the
/// long-running commands (`approvals --watch`, `ui`). Failures are logged and retried
/// on the next round; they never stop the command.
pub fn deliver_in_background(home: std::path::PathBuf, every: std::time::Duration) {
    let spawned = std::thread::Builder::new()
        .name("cordon-notify".to_owned())
        .spawn(move || {
            let deliverer = match Deliverer::open(&home) {
                Ok(deliverer) => deliverer,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook deliveries disabled");
                    return;
                }
            };
            loop {
                if let Err(e) = deliverer.deliver_due() {
                    tracing::warn!(error = %e, "webhook delivery round failed");
                }
                std::thread::sleep(every);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the webhook delivery thread");
    }
}
