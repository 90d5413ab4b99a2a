//! What a git push asks a server to do, read from the request git sends to
//! `…/git-receive-pack` over smart HTTP.
//!
//! The body is pkt-lines: one command per ref (`<old-id> <new-id> <ref>`, capabilities
//! after a NUL on the first), a flush, then push options and the pack. The commands are
//! everything a push changes about refs; the push options (`git push -o …`) are what a
//! forge may act on besides (GitLab merges and CI variables); the pack only carries
//! objects. This reads them the way git's own receive-pack does: commands up to the
//! first flush, each before any NUL, `shallow` lines skipped; then, when the first
//! command asked for `push-options`, the options up to the next flush. A signed push
//! (`push-cert`) is refused. Whatever does not have that shape is an error, never
//! skipped: a gate treats an unreadable push as the most dangerous one.

use gix_packetline::PacketLineRef;
use gix_packetline::decode::{Stream, streaming};
use thiserror::Error;

/// More ref updates than any real push carries (`git push --mirror` of a large
/// repository is thousands); each becomes one audited decision.
pub const MAX_REF_UPDATES: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PushError {
    #[error("the body is not pkt-line framed ({0})")]
    Framing(String),
    #[error("the request ends before the flush that closes its ref updates")]
    Truncated,
    #[error("pkt-line {line} is not a ref update (`<old-id> <new-id> <ref>`): {reason}")]
    NotACommand { line: usize, reason: String },
    #[error(
        "a signed push (push certificate) carries its ref updates in a form cordon does not read; push without --signed"
    )]
    SignedPush,
    #[error("the push holds more than {MAX_REF_UPDATES} ref updates")]
    TooMany,
}

/// One ref the push would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    /// The id the client believes the ref has now, lower-case hex; all zeros: none.
    pub old: String,
    /// The id the ref would get, lower-case hex; all zeros: deleted.
    pub new: String,
    /// The full ref name, e.g. `refs/heads/main`.
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefChange {
    Create,
    /// Moves an existing ref: a fast-forward or a force-push. The request alone cannot
    /// tell which (the server's history decides), so a gate must assume the worse.
    Update,
    Delete,
}

impl RefUpdate {
    pub fn change(&self) -> RefChange {
        if is_zero(&self.new) {
            RefChange::Delete
        } else if is_zero(&self.old) {
            RefChange::Create
        } else {
            RefChange::Update
        }
    }

    /// A branch by its name (`main`), any other ref by its full name
    /// (`refs/tags/v1.0`), as the shell classifier names push targets.
    pub fn short_name(&self) -> &str {
        self.name
            .strip_prefix("refs/heads/")
            .filter(|branch| !branch.is_empty())
            .unwrap_or(&self.name)
    }
}

fn is_zero(id: &str) -> bool {
    id.bytes().all(|b| b == b'0')
}

/// What a push asks for: its ref updates, and the push options (`git push -o …`)
/// sent after them, which a forge may act on (GitLab merges, CI variables).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Push {
    pub updates: Vec<RefUpdate>,
    pub options: Vec<String>,
}

/// The ref updates of a receive-pack request body.
pub fn receive_pack_updates(body: &[u8]) -> Result<Vec<RefUpdate>, PushError> {
    read_push(body).map(|push| push.updates)
}

/// The ref updates and push options of a receive-pack request body.
pub fn read_push(body: &[u8]) -> Result<Push, PushError> {
    let (updates, options_follow, rest) = commands(body)?;
    let mut push = Push {
        updates,
        options: Vec::new(),
    };
    if options_follow {
        push.options = push_options(rest)?;
    }
    Ok(push)
}

/// The next pkt-line of `rest`, and what follows it.
fn next_line(rest: &[u8]) -> Result<(PacketLineRef<'_>, &[u8]), PushError> {
    match streaming(rest) {
        Ok(Stream::Complete {
            line,
            bytes_consumed,
        }) => Ok((line, rest.get(bytes_consumed..).unwrap_or_default())),
        Ok(Stream::Incomplete { .. }) => Err(PushError::Truncated),
        Err(e) => Err(PushError::Framing(e.to_string())),
    }
}

/// Push options: pkt-lines after the commands' flush, up to the next flush.
fn push_options(mut rest: &[u8]) -> Result<Vec<String>, PushError> {
    let mut options = Vec::new();
    loop {
        let (line, after) = next_line(rest)?;
        rest = after;
        match line {
            PacketLineRef::Flush => return Ok(options),
            PacketLineRef::Data(data) => {
                let text = String::from_utf8_lossy(data.strip_suffix(b"\n").unwrap_or(data));
                if options.len() >= MAX_REF_UPDATES {
                    return Err(PushError::TooMany);
                }
                options.push(text.chars().take(1024).collect());
            }
            PacketLineRef::Delimiter | PacketLineRef::ResponseEnd => {
                return Err(PushError::Framing(
                    "a delimiter among push options".to_owned(),
                ));
            }
        }
    }
}

/// The commands up to the first flush; whether push options follow (the first
/// command asked for the `push-options` capability); and what comes after the flush.
fn commands(body: &[u8]) -> Result<(Vec<RefUpdate>, bool, &[u8]), PushError> {
    let mut options_follow = false;
    let mut updates = Vec::new();
    let mut rest = body;
    let mut line_number = 0usize;
    loop {
        let (line, after) = next_line(rest)?;
        rest = after;
        line_number += 1;
        let data = match line {
            PacketLineRef::Flush => return Ok((updates, options_follow, rest)),
            PacketLineRef::Delimiter | PacketLineRef::ResponseEnd => {
                return Err(PushError::NotACommand {
                    line: line_number,
                    reason: "a delimiter packet, which a push does not send".to_owned(),
                });
            }
            PacketLineRef::Data(data) => data,
        };
        // receive-pack reads a command up to its first NUL (capabilities follow it on
        // the first line), so that is what counts here too.
        let mut parts = data.splitn(2, |b| *b == 0);
        let text = parts.next().unwrap_or_default();
        if let Some(capabilities) = parts.next()
            && capabilities
                .split(|b| b.is_ascii_whitespace())
                .any(|c| c == b"push-options")
        {
            options_follow = true;
        }
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        let Ok(text) = std::str::from_utf8(text) else {
            return Err(PushError::NotACommand {
                line: line_number,
                reason: "not UTF-8".to_owned(),
            });
        };
        // git joins a certificate's lines and reads its commands from the joined
        // text, which pkt-line boundaries do not delimit: one pkt-line can hold the
        // header, the blank line and a command. Reading that exactly as git does is
        // not worth the risk for a rarely used feature; a signed push is refused.
        if text == "push-cert" {
            return Err(PushError::SignedPush);
        } else if let Some(id) = text.strip_prefix("shallow ") {
            if object_id(id).is_none() {
                return Err(PushError::NotACommand {
                    line: line_number,
                    reason: format!("`shallow` names no object id: `{}`", shown(text)),
                });
            }
        } else {
            push_update(&mut updates, text, line_number)?;
        }
    }
}

fn push_update(updates: &mut Vec<RefUpdate>, text: &str, line: usize) -> Result<(), PushError> {
    let update = command(text).map_err(|reason| PushError::NotACommand { line, reason })?;
    if updates.len() >= MAX_REF_UPDATES {
        return Err(PushError::TooMany);
    }
    updates.push(update);
    Ok(())
}

fn command(text: &str) -> Result<RefUpdate, String> {
    let mut parts = text.splitn(3, ' ');
    let (Some(old), Some(new), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("`{}`", shown(text)));
    };
    let (Some(old), Some(new)) = (object_id(old), object_id(new)) else {
        return Err(format!(
            "`{}` does not start with two object ids",
            shown(text)
        ));
    };
    if old.len() != new.len() {
        return Err(format!("`{}` mixes object id lengths", shown(text)));
    }
    if name.is_empty() || name.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!("`{}` names no valid ref", shown(text)));
    }
    Ok(RefUpdate {
        old,
        new,
        name: name.to_owned(),
    })
}

/// A SHA-1 or SHA-256 object id in hex, lower-cased.
fn object_id(text: &str) -> Option<String> {
    ((text.len() == 40 || text.len() == 64) && text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| text.to_ascii_lowercase())
}

/// A line as it goes into an error message: bounded, control characters escaped.
fn shown(text: &str) -> String {
    let mut shown: String = text.chars().take(160).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown.escape_debug().to_string()
}

#[cfg(test)]
#[path = "git_push_tests.rs"]
mod tests;
