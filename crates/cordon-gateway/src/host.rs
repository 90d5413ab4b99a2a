//! Where a proxied request wants to go, normalised before any policy sees it.
//!
//! A host allowlist is only as good as the name it is matched against. Clients and
//! attackers spell one destination many ways: `API.example.com.`, `0x7f.1`,
//! `2130706433`, `[::ffff:127.0.0.1]`, `evil.com%00.example.com`. Every spelling is
//! brought to one form here (lower case, no trailing dot, numeric hosts as canonical IP
//! text) or refused, and addresses a sandbox must never reach through the gateway
//! (loopback, link-local, cloud metadata) are refused even when a permitted name
//! resolves to them.
//!
//! Hand-written rather than `url`'s host parser: that parser follows the WHATWG rules,
//! which silently accept and rewrite some of the very spellings we must refuse or
//! report (percent-escapes, IDNA mapping), and it does not take a bare CONNECT
//! authority.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use thiserror::Error;

/// A destination: a normalised host and a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Authority {
    /// Lower-case DNS name without a trailing dot, or an IP address in canonical text.
    pub host: String,
    pub port: u16,
    /// Set when the host was written as an address, in any spelling.
    pub ip: Option<IpAddr>,
}

impl std::fmt::Display for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ip {
            Some(IpAddr::V6(_)) => write!(f, "[{}]:{}", self.host, self.port),
            _ => write!(f, "{}:{}", self.host, self.port),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HostError {
    #[error("no host given")]
    Empty,
    #[error("the host `{0}` holds a character no host name has")]
    BadCharacter(String),
    #[error("the host `{0}` is not a valid name")]
    BadName(String),
    #[error("the port in `{0}` is not a number from 1 to 65535")]
    BadPort(String),
    #[error("the host `{0}` carries user information (`user@host`)")]
    UserInfo(String),
}

/// Parses `host[:port]` (a CONNECT target or a URI's authority); `default_port` when
/// none is written.
pub fn parse_authority(text: &str, default_port: u16) -> Result<Authority, HostError> {
    if text.is_empty() {
        return Err(HostError::Empty);
    }
    if text.contains('@') {
        return Err(HostError::UserInfo(printable(text)));
    }
    if text
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '%' | '/' | '\\' | '?' | '#'))
    {
        return Err(HostError::BadCharacter(printable(text)));
    }
    let (host, port) = split_port(text)?;
    let port = match port {
        None => default_port,
        // Leading zeros (`:0443`) are refused: some parsers read them as octal.
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) && !p.starts_with('0') => p
            .parse::<u16>()
            .map_err(|_| HostError::BadPort(printable(text)))?,
        Some(_) => return Err(HostError::BadPort(printable(text))),
    };
    let host = normalise_host(host)?;
    Ok(Authority {
        ip: host.1,
        host: host.0,
        port,
    })
}

fn split_port(text: &str) -> Result<(&str, Option<&str>), HostError> {
    if let Some(rest) = text.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Err(HostError::BadName(printable(text)));
        };
        return match after {
            "" => Ok((inside, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((inside, Some(port))),
                None => Err(HostError::BadName(printable(text))),
            },
        };
    }
    match text.rsplit_once(':') {
        // A bare IPv6 address has colons of its own and no port.
        Some((host, _)) if host.contains(':') => Ok((text, None)),
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((text, None)),
    }
}

fn normalise_host(host: &str) -> Result<(String, Option<IpAddr>), HostError> {
    if host.is_empty() {
        return Err(HostError::Empty);
    }
    if host.contains(':') {
        let ip: Ipv6Addr = host
            .parse()
            .map_err(|_| HostError::BadName(printable(host)))?;
        // An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) is that IPv4 address.
        return Ok(match ip.to_ipv4_mapped() {
            Some(v4) => (v4.to_string(), Some(IpAddr::V4(v4))),
            None => (ip.to_string(), Some(IpAddr::V6(ip))),
        });
    }
    let lower = host.to_ascii_lowercase();
    let name = lower.strip_suffix('.').unwrap_or(&lower);
    if let Some(v4) = numeric_ipv4(name) {
        return Ok((v4.to_string(), Some(IpAddr::V4(v4))));
    }
    if name.len() > 253 || name.is_empty() {
        return Err(HostError::BadName(printable(host)));
    }
    for label in name.split('.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(HostError::BadName(printable(host)));
        }
    }
    // All-numeric final label that is not an address (`1.2.3.4.5`): no DNS name ends
    // in digits only, and resolvers disagree on what it means.
    if name
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(HostError::BadName(printable(host)));
    }
    Ok((name.to_owned(), None))
}

/// An IPv4 address in any spelling `inet_aton` accepts (and so curl, wget, ping):
/// one to four parts, each decimal, octal (`0177`) or hex (`0x7f`), the last filling
/// the remaining bytes (`127.1`, `2130706433`).
fn numeric_ipv4(name: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for part in &parts {
        let value = if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            if hex.is_empty() {
                0
            } else {
                u64::from_str_radix(hex, 16).ok()?
            }
        } else if part.len() > 1 && part.starts_with('0') {
            u64::from_str_radix(&part[1..], 8).ok()?
        } else {
            if part.is_empty() {
                return None;
            }
            part.parse::<u64>().ok()?
        };
        values.push(value);
    }
    let (last, leading) = values.split_last()?;
    if leading.iter().any(|v| *v > 255) {
        return None;
    }
    let remaining_bytes = 4 - leading.len();
    if *last >= 1u64 << (8 * remaining_bytes) {
        return None;
    }
    let mut address: u64 = 0;
    for (i, v) in leading.iter().enumerate() {
        address |= v << (8 * (3 - i));
    }
    address |= last;
    u32::try_from(address).ok().map(Ipv4Addr::from)
}

/// Why the gateway must not connect to `ip`, if it must not: the supervisor's own
/// loopback, link-local (where cloud metadata lives), and addresses that mean "this
/// host" or "everyone". A manifest's `[network] resolve` entry is the one exception.
pub fn forbidden_address(ip: IpAddr) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            if v4.is_loopback() {
                Some("a loopback address")
            } else if v4.is_link_local() {
                Some("a link-local address (where cloud metadata services live)")
            } else if v4.is_unspecified() || v4.octets()[0] == 0 {
                Some("an address that means this host")
            } else if v4.is_broadcast() || v4.is_multicast() {
                Some("a broadcast or multicast address")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.is_unspecified() {
                Some("an address that means this host")
            } else if first & 0xffc0 == 0xfe80 {
                Some("a link-local address (where cloud metadata services live)")
            } else if v6 == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
                Some("a cloud metadata address")
            } else if v6.is_multicast() {
                Some("a broadcast or multicast address")
            } else {
                None
            }
        }
    }
}

/// A host as it may be shown in an error: control characters escaped.
fn printable(text: &str) -> String {
    text.escape_debug().to_string()
}

#[cfg(test)]
#[path = "host_tests.rs"]
mod tests;
