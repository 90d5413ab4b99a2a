//! Printing errors for the person at the terminal.

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};
use std::io::IsTerminal;

/// Renders a diagnostic (source line and caret where there is one) to stderr.
pub fn diagnostic(diagnostic: &dyn Diagnostic) {
    let theme = if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let mut out = String::new();
    let handler = GraphicalReportHandler::new_themed(theme).with_links(false);
    if handler.render_report(&mut out, diagnostic).is_err() {
        out = diagnostic.to_string();
    }
    eprint!("{out}");
}

/// Prints an error from the binary's edge, with its chain of causes.
pub fn error(error: &anyhow::Error) {
    if let Some(manifest) = error.downcast_ref::<cordon_core::manifest::ManifestError>() {
        diagnostic(manifest);
        return;
    }
    eprintln!("error: {error}");
    for cause in error.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}
