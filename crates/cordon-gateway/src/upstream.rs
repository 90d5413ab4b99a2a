//! Reaching the destination: name resolution under the manifest's pins, and the
//! address checks that run after it.
//!
//! The check is on the addresses the name resolved to, not on the name: an allowed
//! host whose DNS answers with 127.0.0.1 or 169.254.169.254 (rebinding) is refused, and
//! the connection goes to an address that was checked, never to a fresh lookup.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use cordon_core::manifest::Pin;
use std::time::Duration;

use thiserror::Error;
use tokio::net::TcpStream;

use crate::host::{Authority, forbidden_address};

#[derive(Debug, Error)]
pub enum UpstreamError {
    #[error("`{host}` resolves to {address}, {why}; the gateway does not connect there")]
    Forbidden {
        host: String,
        address: IpAddr,
        why: &'static str,
    },
    #[error("cannot resolve `{host}`: {detail}")]
    Resolve { host: String, detail: String },
    #[error("`{host}` resolves to no address")]
    NoAddress { host: String },
    #[error("cannot connect to {authority}: {detail}")]
    Connect { authority: String, detail: String },
    #[error("connecting to {authority} took longer than {seconds} s")]
    Timeout { authority: String, seconds: u64 },
}

/// Where names go: the manifest's `[network] resolve` pins, else the system resolver.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    pins: BTreeMap<String, Pin>,
    connect_timeout: Duration,
}

impl Resolver {
    /// `pins` are host names (any case, trailing dot allowed) to addresses.
    pub fn new(pins: &BTreeMap<String, Pin>, connect_timeout: Duration) -> Resolver {
        Resolver {
            pins: pins
                .iter()
                .map(|(host, pin)| {
                    let host = host.to_ascii_lowercase();
                    (host.trim_end_matches('.').to_owned(), *pin)
                })
                .collect(),
            connect_timeout,
        }
    }

    /// The checked addresses to try for `authority`.
    pub async fn addresses(&self, authority: &Authority) -> Result<Vec<SocketAddr>, UpstreamError> {
        // A pin is the manifest author's explicit choice, loopback included (how tests
        // and demos reach local mocks).
        if let Some(pin) = self.pins.get(&authority.host) {
            return Ok(vec![SocketAddr::new(
                pin.ip,
                pin.port.unwrap_or(authority.port),
            )]);
        }
        let checked = |address: IpAddr| match forbidden_address(address) {
            Some(why) => Err(UpstreamError::Forbidden {
                host: authority.host.clone(),
                address,
                why,
            }),
            None => Ok(SocketAddr::new(address, authority.port)),
        };
        if let Some(ip) = authority.ip {
            return Ok(vec![checked(ip)?]);
        }
        let resolved: Vec<SocketAddr> =
            tokio::net::lookup_host((authority.host.as_str(), authority.port))
                .await
                .map_err(|e| UpstreamError::Resolve {
                    host: authority.host.clone(),
                    detail: e.to_string(),
                })?
                .collect();
        if resolved.is_empty() {
            return Err(UpstreamError::NoAddress {
                host: authority.host.clone(),
            });
        }
        // One forbidden answer refuses the name: a resolver that mixes a public
        // address with 127.0.0.1 is being used to rebind.
        resolved.iter().map(|a| checked(a.ip())).collect()
    }

    /// A TCP connection to the first checked address that answers.
    pub async fn connect(&self, authority: &Authority) -> Result<TcpStream, UpstreamError> {
        let addresses = self.addresses(authority).await?;
        let mut last = String::from("no address to try");
        for address in addresses {
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(address)).await {
                Ok(Ok(stream)) => {
                    // Small request/response exchanges: do not wait to fill a segment.
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Ok(Err(e)) => last = format!("{address}: {e}"),
                Err(_) => {
                    return Err(UpstreamError::Timeout {
                        authority: authority.to_string(),
                        seconds: self.connect_timeout.as_secs(),
                    });
                }
            }
        }
        Err(UpstreamError::Connect {
            authority: authority.to_string(),
            detail: last,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::parse_authority;

    fn pins(entries: &[(&str, &str)]) -> BTreeMap<String, Pin> {
        entries
            .iter()
            .map(|(host, to)| {
                let pin = match to.parse::<SocketAddr>() {
                    Ok(address) => Pin {
                        ip: address.ip(),
                        port: Some(address.port()),
                    },
                    Err(_) => Pin {
                        ip: to.parse().unwrap(),
                        port: None,
                    },
                };
                ((*host).to_owned(), pin)
            })
            .collect()
    }

    #[tokio::test]
    async fn a_pin_keeps_the_requests_port_unless_it_names_one() {
        let resolver = Resolver::new(
            &pins(&[
                ("Backboard.Railway.com.", "127.0.0.1:8443"),
                ("api.test", "127.0.0.2"),
            ]),
            Duration::from_secs(1),
        );
        let railway = parse_authority("backboard.railway.com", 443).unwrap();
        assert_eq!(
            resolver.addresses(&railway).await.unwrap(),
            ["127.0.0.1:8443".parse::<SocketAddr>().unwrap()]
        );
        let api = parse_authority("api.test:9000", 443).unwrap();
        assert_eq!(
            resolver.addresses(&api).await.unwrap(),
            ["127.0.0.2:9000".parse::<SocketAddr>().unwrap()]
        );
        // Without a pin, loopback stays out of reach.
        let direct = parse_authority("127.0.0.1:8443", 443).unwrap();
        assert!(matches!(
            resolver.addresses(&direct).await,
            Err(UpstreamError::Forbidden { .. })
        ));
    }
}
