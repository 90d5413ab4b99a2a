//! Echoes of a real secret taken out of a response as it streams.
//!
//! An API that echoes the token it was sent (an error page, a debug endpoint) would hand
//! the agent the very secret it must never hold, so every occurrence is replaced by the
//! phantom. The body is streamed rather than read whole, so a large download through a
//! credential (a git clone, a release asset) is not refused for its size: the last
//! `secret.len() - 1` bytes of each chunk wait for the next one, which is all a secret
//! split across two chunks can have in the first.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame};
use memchr::memmem::Finder;

pub(crate) struct Scrubbed<B> {
    inner: B,
    scrubber: Scrubber,
    trailers: Option<HeaderMap>,
    ended: bool,
}

impl<B> Scrubbed<B> {
    pub(crate) fn new(inner: B, scrubber: Scrubber) -> Scrubbed<B> {
        Scrubbed {
            inner,
            scrubber,
            trailers: None,
            ended: false,
        }
    }
}

impl<B> Body for Scrubbed<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        loop {
            if this.ended {
                let rest = this.scrubber.finish();
                if !rest.is_empty() {
                    return Poll::Ready(Some(Ok(Frame::data(rest))));
                }
                return Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))));
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                None => this.ended = true,
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        let clean = this.scrubber.chunk(&data);
                        if !clean.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(clean))));
                        }
                    }
                    Err(frame) => {
                        this.trailers = frame.into_trailers().ok();
                        this.ended = true;
                    }
                },
            }
        }
    }
}

/// The replacing itself, chunk by chunk, apart from any body so it is tested alone.
pub(crate) struct Scrubber {
    finder: Finder<'static>,
    secret_len: usize,
    phantom: Vec<u8>,
    /// The tail of what came so far that could be the start of a secret.
    held: Vec<u8>,
}

impl Scrubber {
    /// Replaces `secret` by `phantom`. An empty secret is never held (the gateway
    /// refuses to load one), and would be passed through here.
    pub(crate) fn new(secret: &[u8], phantom: &[u8]) -> Scrubber {
        Scrubber {
            finder: Finder::new(secret).into_owned(),
            secret_len: secret.len(),
            phantom: phantom.to_vec(),
            held: Vec::new(),
        }
    }

    /// What of the body so far can go out: every whole secret replaced, a tail that
    /// may be one's beginning held back.
    pub(crate) fn chunk(&mut self, data: &[u8]) -> Bytes {
        if self.secret_len == 0 {
            return Bytes::copy_from_slice(data);
        }
        let mut text = std::mem::take(&mut self.held);
        text.extend_from_slice(data);
        let mut out = Vec::with_capacity(text.len());
        let mut at = 0;
        while let Some(found) = self.finder.find(text.get(at..).unwrap_or_default()) {
            out.extend_from_slice(text.get(at..at + found).unwrap_or_default());
            out.extend_from_slice(&self.phantom);
            at += found + self.secret_len;
        }
        let keep = (self.secret_len - 1).min(text.len() - at);
        let cut = text.len() - keep;
        out.extend_from_slice(text.get(at..cut).unwrap_or_default());
        self.held = text.get(cut..).unwrap_or_default().to_vec();
        Bytes::from(out)
    }

    /// The held tail, once the body has ended: it cannot be a secret any more.
    pub(crate) fn finish(&mut self) -> Bytes {
        Bytes::from(std::mem::take(&mut self.held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrub_in_pieces(body: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut scrubber = Scrubber::new(b"SECRET-123", b"phantom-xy");
        let mut out = Vec::new();
        let mut rest = body;
        let mut sizes = sizes.iter().cycle();
        while !rest.is_empty() {
            let size = (*sizes.next().unwrap()).min(rest.len());
            out.extend_from_slice(&scrubber.chunk(&rest[..size]));
            rest = &rest[size..];
        }
        out.extend_from_slice(&scrubber.finish());
        out
    }

    #[test]
    fn every_echo_is_replaced_however_the_body_is_cut() {
        let body = b"token SECRET-123 and again SECRET-123SECRET-123, SECRET-12 is not one";
        let expected = b"token phantom-xy and again phantom-xyphantom-xy, SECRET-12 is not one";
        for sizes in [
            &[body.len()][..],
            &[1],
            &[2, 3],
            &[7],
            &[9, 1],
            &[10],
            &[11, 5],
        ] {
            assert_eq!(
                scrub_in_pieces(body, sizes),
                expected,
                "chunks of {sizes:?}"
            );
        }
    }

    #[test]
    fn a_body_without_the_secret_passes_unchanged_and_whole() {
        let body: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(scrub_in_pieces(&body, &[4096, 17]), body);
        assert_eq!(scrub_in_pieces(b"SECRET", &[3]), b"SECRET");
    }
}
