//! The stdio transport's framing: one JSON-RPC message per line, `\n`-terminated (a
//! `\r` before it is tolerated). A line longer than the limit is skipped to its end
//! and reported, so one oversized message cannot make the proxy buffer without bound.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// What one read produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// One line, without its terminator. Never empty.
    Line(Vec<u8>),
    /// A line of `len` bytes or more was skipped.
    TooLong { len: usize },
    /// The peer closed its end. A last line without a terminator is returned as a
    /// [`Frame::Line`] first.
    Eof,
}

/// Reads the next non-blank line of at most `max` bytes.
pub async fn read_frame<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> std::io::Result<Frame> {
    let mut line = Vec::new();
    let mut skipped: Option<usize> = None;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            if let Some(len) = skipped {
                return Ok(Frame::TooLong { len });
            }
            return Ok(match finish(line) {
                Some(line) => Frame::Line(line),
                None => Frame::Eof,
            });
        }
        let (chunk, consumed, ended) = match available.iter().position(|b| *b == b'\n') {
            Some(end) => (available.get(..end).unwrap_or_default(), end + 1, true),
            None => (available, available.len(), false),
        };
        match &mut skipped {
            Some(len) => *len = len.saturating_add(chunk.len()),
            None if line.len().saturating_add(chunk.len()) > max => {
                skipped = Some(line.len().saturating_add(chunk.len()));
                line = Vec::new();
            }
            None => line.extend_from_slice(chunk),
        }
        reader.consume(consumed);
        if ended {
            if let Some(len) = skipped {
                return Ok(Frame::TooLong { len });
            }
            if let Some(line) = finish(std::mem::take(&mut line)) {
                return Ok(Frame::Line(line));
            }
        }
    }
}

/// Drops a trailing `\r`; blank lines carry no message.
fn finish(mut line: Vec<u8>) -> Option<Vec<u8>> {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    (!line.iter().all(u8::is_ascii_whitespace)).then_some(line)
}

#[cfg(test)]
#[allow(
    clippy::panic,
    clippy::unwrap_used,
    reason = "a failing test fails loudly"
)]
#[path = "frame_tests.rs"]
mod tests;
