//! `cordon ui`: the approvals page, plus a thread that delivers webhook notifications
//! while it runs.

use crate::cli::UiArgs;
use anyhow::{Context, Result};
use cordon_ui::{TlsFiles, UiConfig};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

pub fn run(args: &UiArgs) -> Result<ExitCode> {
    let home = cordon_core::home::cordon_home();
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    let approver = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    let server = cordon_ui::start(UiConfig {
        home: home.clone(),
        listen: args.listen,
        tls,
        approver,
    })
    .context("cannot start cordon ui")?;
    // Whoever started it may stop reading once it has the URL; a closed stdout is no
    // reason for the page to go down (println! would panic on it).
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "cordon ui: open this URL to sign in (it works for this run only):\n\n  {}\n",
        server.login_url
    );
    let _ = writeln!(out, "Ctrl-C stops it.");
    let _ = out.flush();
    drop(out);
    crate::cmd::notify::deliver_in_background(home, Duration::from_secs(2));
    server.wait();
    Ok(ExitCode::SUCCESS)
}
