//! Connections from clients that ignore proxy variables.
//!
//! Node's built-in `fetch` (before Node 24), Go programs built without
//! `ProxyFromEnvironment` and many small tools connect straight to the name they were
//! given. Inside `cordon run` the allowed names resolve to loopback and ports 443 and
//! 80 there are the gateway's too, so such a connection arrives here without having
//! asked for anything. A TLS connection names its host in SNI, plain HTTP in `Host`:
//! each is judged exactly as if the client had sent `CONNECT host:port` (or an
//! absolute-form request) first, and then carried the same way.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::Gateway;
use crate::forward::Scheme;
use crate::host::parse_authority;
use crate::intercept::Rewind;
use crate::respond::{problem, refusal};

/// A ClientHello larger than this is not one a client sends.
const MAX_CLIENT_HELLO: usize = 64 * 1024;

impl Gateway {
    /// Serves connections made straight to `127.0.0.1:port` (inside the sandbox) by
    /// clients that ignore proxy variables, until the listener fails.
    pub async fn serve_transparent_tcp(
        self: Arc<Self>,
        listener: TcpListener,
        port: u16,
    ) -> io::Result<()> {
        self.serve_accepted(listener, move |gateway, stream| {
            gateway.serve_transparent(stream, port)
        })
        .await
    }

    async fn serve_transparent(self: Arc<Self>, stream: TcpStream, port: u16) {
        let mut first = [0u8; 1];
        let peeked =
            tokio::time::timeout(self.options().header_timeout, stream.peek(&mut first)).await;
        if !matches!(peeked, Ok(Ok(1))) {
            return;
        }
        // TLS starts with a handshake record; anything else is read as plain HTTP.
        if first == [0x16] {
            self.transparent_tls(stream, port).await;
        } else {
            self.transparent_http(stream, port).await;
        }
    }

    /// TLS: the name in SNI is the destination; what the client already sent is
    /// replayed to whichever side carries the connection on.
    async fn transparent_tls(self: Arc<Self>, mut stream: TcpStream, port: u16) {
        let hello =
            tokio::time::timeout(self.options().header_timeout, client_hello(&mut stream)).await;
        let (sent, name) = match hello {
            Ok(Ok(Some(read))) => read,
            Ok(Ok(None)) => {
                tracing::info!(
                    "a TLS connection to port {port} named no host (SNI); without one it cannot be judged, so it was closed"
                );
                return;
            }
            Ok(Err(e)) => return tracing::debug!(error = %e, "unreadable ClientHello"),
            Err(_) => return,
        };
        let authority = match parse_authority(&name, port) {
            Ok(authority) => authority,
            Err(e) => return tracing::info!(error = %e, %name, "SNI names no valid host"),
        };
        let (action, verdict) = self
            .authorize(crate::proxy::connect_action(&authority))
            .await;
        let client = Rewind::new(Bytes::from(sent), stream);
        let interception = self
            .interception()
            .filter(|i| i.intercepts(&authority.host))
            .map(|i| i.acceptor(&authority.host));
        match (verdict.is_allow(), interception) {
            (true, Some(Ok(acceptor))) => match acceptor.accept(client).await {
                Ok(tls) => {
                    self.serve_intercepted(tls, authority, Scheme::Https).await;
                }
                Err(e) => tracing::info!(error = %e, %authority, "TLS from the client failed"),
            },
            (true, None) => self.carry_unread(client, &authority).await,
            // Refused, and the host can be answered in TLS: every request on the
            // connection gets the refusal, which says why, instead of a bare reset.
            (false, Some(Ok(acceptor))) => {
                if let Ok(tls) = acceptor.accept(client).await {
                    let service = service_fn(move |_request| {
                        let answer = refusal(&action, &verdict);
                        async move { Ok::<_, Infallible>(answer) }
                    });
                    let _ = self
                        .server_builder()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                }
            }
            (_, Some(Err(e))) => tracing::warn!(error = %e, %authority, "no certificate"),
            (false, None) => {}
        }
    }

    /// Carried as it is, to the address checked for `authority`.
    async fn carry_unread(
        &self,
        mut client: Rewind<TcpStream>,
        authority: &crate::host::Authority,
    ) {
        let mut upstream = match self.resolver().connect(authority).await {
            Ok(upstream) => upstream,
            Err(e) => return tracing::info!(error = %e, %authority, "upstream unreachable"),
        };
        if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
            tracing::debug!(error = %e, %authority, "transparent tunnel ended with an error");
        }
        let _ = upstream.shutdown().await;
    }

    /// Plain HTTP: each request's `Host` is its destination.
    async fn transparent_http(self: Arc<Self>, stream: TcpStream, port: u16) {
        let gateway = self.clone();
        let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let gateway = gateway.clone();
            async move {
                let host = request
                    .headers()
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_owned)
                    .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()));
                let answer = match host.map(|h| parse_authority(&h, port)) {
                    Some(Ok(authority)) => {
                        gateway
                            .judge_and_send(request, &authority, Scheme::Http)
                            .await
                    }
                    Some(Err(e)) => problem(StatusCode::BAD_REQUEST, "bad_target", &e.to_string()),
                    None => problem(
                        StatusCode::BAD_REQUEST,
                        "no_host",
                        "the request names no host, so where it goes cannot be judged",
                    ),
                };
                Ok::<_, Infallible>(answer)
            }
        });
        if let Err(e) = self
            .server_builder()
            .serve_connection(TokioIo::new(stream), service)
            .await
        {
            tracing::debug!(error = %e, "transparent HTTP connection ended with an error");
        }
    }
}

/// Reads the client's first flight up to a whole ClientHello: the bytes read (to be
/// replayed) and the SNI name, `None` when it names none.
async fn client_hello(stream: &mut TcpStream) -> io::Result<Option<(Vec<u8>, String)>> {
    let mut acceptor = rustls::server::Acceptor::default();
    let mut sent = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let fresh = chunk.get(..read).unwrap_or_default();
        sent.extend_from_slice(fresh);
        if sent.len() > MAX_CLIENT_HELLO {
            return Err(io::Error::other("ClientHello too large"));
        }
        let mut rest = fresh;
        while !rest.is_empty() {
            acceptor.read_tls(&mut rest)?;
        }
        match acceptor.accept() {
            Ok(Some(accepted)) => {
                let name = accepted.client_hello().server_name().map(str::to_owned);
                return Ok(name.map(|name| (sent, name)));
            }
            Ok(None) => {}
            Err((e, _)) => return Err(io::Error::other(e)),
        }
    }
}
