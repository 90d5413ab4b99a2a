//! Request bodies as the destination will read them.
//!
//! Servers commonly accept a compressed request body (`Content-Encoding: gzip`;
//! Express's body-parser, Rails and Django middleware inflate it by default) and run
//! what it decompresses to. So that is what the gateway judges: a GraphQL mutation or a
//! git push sent gzip-compressed is still one. The request goes upstream as it came;
//! only the judging reads the decoded body.

use std::io::Read;

use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EncodingError {
    #[error(
        "the body is sent with Content-Encoding `{0}`, which cordon does not read; send it uncompressed, or gzip or deflate"
    )]
    Unsupported(String),
    #[error("the body does not decode as {coding}: {detail}")]
    Corrupt { coding: String, detail: String },
    #[error("the body decompresses to more than the {0} bytes the gateway reads to judge it")]
    TooLarge(usize),
}

/// More layers than any client sends; a body coded over and over is refused.
const MAX_CODINGS: usize = 4;

/// The body with every content coding in `content_encoding` undone, last applied first;
/// `None` when it names no coding but `identity`.
pub fn decoded_body(
    content_encoding: Option<&str>,
    body: &[u8],
    limit: usize,
) -> Result<Option<Vec<u8>>, EncodingError> {
    let codings: Vec<String> = content_encoding
        .unwrap_or_default()
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect();
    if codings.is_empty() {
        return Ok(None);
    }
    if codings.len() > MAX_CODINGS {
        return Err(EncodingError::Unsupported(codings.join(", ")));
    }
    let mut current = body.to_vec();
    for coding in codings.iter().rev() {
        current = match coding.as_str() {
            "gzip" | "x-gzip" => read_limited(MultiGzDecoder::new(&current[..]), coding, limit)?,
            // HTTP's `deflate` is the zlib format, but some clients send raw deflate.
            "deflate" => read_limited(ZlibDecoder::new(&current[..]), coding, limit).or_else(
                |zlib_error| match read_limited(DeflateDecoder::new(&current[..]), coding, limit) {
                    Ok(raw) => Ok(raw),
                    Err(EncodingError::TooLarge(n)) => Err(EncodingError::TooLarge(n)),
                    Err(_) => Err(zlib_error),
                },
            )?,
            other => return Err(EncodingError::Unsupported(other.to_owned())),
        };
    }
    Ok(Some(current))
}

fn read_limited(reader: impl Read, coding: &str, limit: usize) -> Result<Vec<u8>, EncodingError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| EncodingError::Corrupt {
            coding: coding.to_owned(),
            detail: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(EncodingError::TooLarge(limit));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::{GzEncoder, ZlibEncoder};
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_and_deflate_are_undone_in_order() {
        let body = br#"{"query":"mutation { volumeDelete(volumeId: \"v\") }"}"#;
        assert_eq!(
            decoded_body(Some("gzip"), &gzip(body), 1 << 20).unwrap(),
            Some(body.to_vec())
        );
        let mut zlib = ZlibEncoder::new(Vec::new(), Compression::default());
        zlib.write_all(&gzip(body)).unwrap();
        let both = zlib.finish().unwrap();
        assert_eq!(
            decoded_body(Some("gzip, deflate"), &both, 1 << 20).unwrap(),
            Some(body.to_vec())
        );
        assert_eq!(decoded_body(Some("identity"), body, 10).unwrap(), None);
        assert_eq!(decoded_body(None, body, 10).unwrap(), None);
    }

    #[test]
    fn what_cannot_be_decoded_or_is_a_bomb_is_an_error() {
        assert_eq!(
            decoded_body(Some("br"), b"x", 10),
            Err(EncodingError::Unsupported("br".to_owned()))
        );
        assert!(matches!(
            decoded_body(Some("gzip"), b"not gzip", 10),
            Err(EncodingError::Corrupt { .. })
        ));
        let bomb = gzip(&vec![b'a'; 1 << 20]);
        assert!(bomb.len() < 4096);
        assert_eq!(
            decoded_body(Some("gzip"), &bomb, 1000),
            Err(EncodingError::TooLarge(1000))
        );
        assert!(matches!(
            decoded_body(Some("gzip,gzip,gzip,gzip,gzip"), b"", 10),
            Err(EncodingError::Unsupported(_))
        ));
    }
}
