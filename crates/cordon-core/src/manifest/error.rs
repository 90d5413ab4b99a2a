//! Manifest errors that name the file, line, column and key, and suggest a fix.

use miette::{Diagnostic, NamedSource, SourceSpan};
use std::fmt;
use std::ops::Range;

/// A manifest (or included Cedar file) that cannot be used. Rendered with miette, it
/// shows the offending line with a caret; its `Display` is a one-line `file:line:col:`
/// form for logs and hook answers.
#[derive(Debug)]
pub struct ManifestError(Box<Detail>);

#[derive(Debug)]
struct Detail {
    origin: String,
    line: usize,
    column: usize,
    message: String,
    help: Option<String>,
    source_code: Option<NamedSource<String>>,
    span: Option<SourceSpan>,
}

impl std::error::Error for ManifestError {}

impl Diagnostic for ManifestError {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.0
            .source_code
            .as_ref()
            .map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span = self.0.span?;
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_with_span(Some("here".to_owned()), span),
        )))
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        if d.line > 0 {
            write!(f, "{}:{}:{}: {}", d.origin, d.line, d.column, d.message)
        } else {
            write!(f, "{}: {}", d.origin, d.message)
        }
    }
}

impl ManifestError {
    pub fn origin(&self) -> &str {
        &self.0.origin
    }

    /// 1-based line, or 0 when the error is about the file as a whole.
    pub fn line(&self) -> usize {
        self.0.line
    }

    pub fn column(&self) -> usize {
        self.0.column
    }

    pub fn message(&self) -> &str {
        &self.0.message
    }

    pub fn help(&self) -> Option<&str> {
        self.0.help.as_deref()
    }

    /// An error about a whole file (unreadable, not found).
    pub fn file(origin: impl Into<String>, message: impl Into<String>) -> ManifestError {
        ManifestError(Box::new(Detail {
            origin: origin.into(),
            line: 0,
            column: 0,
            message: message.into(),
            help: None,
            source_code: None,
            span: None,
        }))
    }

    pub fn with_help(mut self, help: impl Into<String>) -> ManifestError {
        self.0.help = Some(help.into());
        self
    }

    pub fn at(
        origin: &str,
        text: &str,
        span: Range<usize>,
        message: String,
        help: Option<String>,
    ) -> ManifestError {
        let (line, column) = line_column(text, span.start);
        let key = key_path_at(text, span.start);
        let message = match key {
            Some(key) if !message.contains(&format!("`{key}`")) => {
                format!("{message} (at `{key}`)")
            }
            _ => message,
        };
        ManifestError(Box::new(Detail {
            origin: origin.to_owned(),
            line,
            column,
            message,
            help,
            source_code: Some(NamedSource::new(origin, text.to_owned())),
            span: Some(SourceSpan::from(span.start..span.end.max(span.start))),
        }))
    }

    pub fn from_toml(origin: &str, text: &str, error: &toml::de::Error) -> ManifestError {
        let raw = error.message().trim().to_owned();
        let (message, help) = explain_serde_message(&raw);
        let span = error.span().unwrap_or(0..0);
        ManifestError::at(origin, text, span, message, help)
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The dotted key at `offset`, from the nearest table header above and the key on the
/// offending line: enough to say "at `task.environment`" without a second parser.
fn key_path_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset.min(text.len()))?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(line_start..)?.lines().next().unwrap_or("");
    let trimmed = line.trim_start();
    if trimmed.starts_with('[') {
        return None;
    }
    let key = trimmed
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_owned())
        .filter(|k| !k.is_empty() && !k.contains(' '));
    let table = before
        .get(..line_start)?
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k),
        (Some(t), None) => Some(t),
        (None, None) => None,
    }
}

/// Turns serde's stock messages into ones that name the key in our terms and, for a
/// misspelling, suggest the nearest valid name.
fn explain_serde_message(raw: &str) -> (String, Option<String>) {
    for (prefix, noun) in [("unknown field `", "key"), ("unknown variant `", "value")] {
        if let Some(rest) = raw.strip_prefix(prefix) {
            let Some((given, expected)) = rest.split_once('`') else {
                continue;
            };
            let candidates = backticked(expected);
            let message = if noun == "key" {
                format!("unknown key `{given}`")
            } else {
                format!("unknown value `{given}`")
            };
            let help = match nearest(given, &candidates) {
                Some(best) => Some(format!("did you mean `{best}`?")),
                None if candidates.is_empty() => Some("this table takes no keys".to_owned()),
                None => Some(format!(
                    "valid {noun}s here: {}",
                    candidates
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
            return (message, help);
        }
    }
    if let Some(rest) = raw.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or("");
        return (
            format!("missing required key `{field}`"),
            Some(format!("add `{field} = …`; see docs/manifest.md")),
        );
    }
    if let Some(rest) = raw.strip_prefix("unknown effect `") {
        let given = rest.split('`').next().unwrap_or("");
        let candidates = backticked(rest.split_once("expected").map_or("", |(_, e)| e));
        let help = nearest(given, &candidates).map(|b| format!("did you mean `{b}`?"));
        return (raw.to_owned(), help);
    }
    (raw.to_owned(), None)
}

fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_owned())
        .collect()
}

/// The candidate a typo most likely meant: close in edits (`destory`), sharing a long
/// prefix (`writeable` for `write`), or abbreviated (`env` for `environment`).
fn nearest(given: &str, candidates: &[String]) -> Option<String> {
    let given_lower = given.to_ascii_lowercase();
    candidates
        .iter()
        .filter_map(|c| {
            let c_lower = c.to_ascii_lowercase();
            let edits = strsim::damerau_levenshtein(&given_lower, &c_lower);
            let similarity = strsim::jaro_winkler(&given_lower, &c_lower);
            let abbreviated = given_lower.len() >= 3 && c_lower.starts_with(&given_lower);
            let close = edits <= (c.len() / 3).max(2) || similarity >= 0.88 || abbreviated;
            close.then_some((similarity, c))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.clone())
}
