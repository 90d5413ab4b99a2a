//! The proxy: accepts connections, asks policy about each CONNECT and each request,
//! and carries what is allowed.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cordon_core::audit::AuditEntry;
use cordon_core::{Action, Authorizer, Effect, Gate, Verdict};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::Semaphore;

use crate::decide::{Reading, RequestFacts, read_request};
use crate::host::{Authority, parse_authority};
use crate::respond::{Body, empty, problem, refusal};
use crate::upstream::Resolver;

/// Limits that keep one client from exhausting the gateway.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// Largest request body read for inspection; larger is `413`.
    pub max_body: usize,
    /// Largest request head (request line and headers); larger is refused by hyper.
    pub max_head: usize,
    /// A client that has not sent a whole request head by then is dropped (slowloris).
    pub header_timeout: Duration,
    pub connect_timeout: Duration,
    /// Connections served at once; more wait in the listen queue.
    pub max_connections: usize,
}

impl Default for GatewayOptions {
    fn default() -> GatewayOptions {
        GatewayOptions {
            max_body: 8 << 20,
            max_head: 64 << 10,
            header_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            max_connections: 4096,
        }
    }
}

/// One gateway per supervisor (or `cordon gateway` process), shared by all its
/// connections.
#[derive(Debug)]
pub struct Gateway {
    authorizer: Arc<Authorizer>,
    resolver: Resolver,
    options: GatewayOptions,
    connections: Arc<Semaphore>,
}

impl Gateway {
    pub fn new(authorizer: Arc<Authorizer>, options: GatewayOptions) -> Arc<Gateway> {
        let resolver = Resolver::new(
            &authorizer.manifest().manifest.network.resolve,
            options.connect_timeout,
        );
        Arc::new(Gateway {
            connections: Arc::new(Semaphore::new(options.max_connections)),
            authorizer,
            resolver,
            options,
        })
    }

    /// Serves clients on a TCP listener until the listener fails.
    pub async fn serve_tcp(self: Arc<Self>, listener: TcpListener) -> io::Result<()> {
        loop {
            let permit = self.connection_permit().await?;
            match listener.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let gateway = self.clone();
                    tokio::spawn(async move {
                        gateway.serve_connection(stream).await;
                        drop(permit);
                    });
                }
                Err(e) => accept_failed(e).await?,
            }
        }
    }

    /// Serves clients on a unix socket (the sandbox's way out) until it fails.
    pub async fn serve_unix(self: Arc<Self>, listener: UnixListener) -> io::Result<()> {
        loop {
            let permit = self.connection_permit().await?;
            match listener.accept().await {
                Ok((stream, _)) => {
                    let gateway = self.clone();
                    tokio::spawn(async move {
                        gateway.serve_connection(stream).await;
                        drop(permit);
                    });
                }
                Err(e) => accept_failed(e).await?,
            }
        }
    }

    async fn connection_permit(&self) -> io::Result<tokio::sync::OwnedSemaphorePermit> {
        self.connections
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| io::Error::other("the gateway is shutting down"))
    }

    /// Serves one client connection, HTTP/1.1 or HTTP/2 (told apart by the preface).
    pub async fn serve_connection<IO>(self: Arc<Self>, io: IO)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.options.header_timeout)
            .max_buf_size(self.options.max_head);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(self.options.max_head).unwrap_or(u32::MAX));
        let gateway = self.clone();
        let service = service_fn(move |request| {
            let gateway = gateway.clone();
            async move { Ok::<_, Infallible>(gateway.handle(request).await) }
        });
        if let Err(e) = builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .await
        {
            tracing::debug!(error = %e, "client connection ended with an error");
        }
    }

    async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        if request.method() == Method::CONNECT {
            return self.tunnel(request).await;
        }
        match request.uri().scheme_str() {
            Some("http") if request.uri().authority().is_some() => self.forward(request).await,
            Some("https") => problem(
                StatusCode::BAD_REQUEST,
                "use_connect",
                "HTTPS goes through the gateway with CONNECT; set HTTPS_PROXY to this address",
            ),
            _ => problem(
                StatusCode::BAD_REQUEST,
                "not_a_proxy_request",
                "this is cordon's egress gateway, a proxy: send absolute-form requests (GET http://host/path) or CONNECT host:port, e.g. by setting HTTP_PROXY and HTTPS_PROXY to this address",
            ),
        }
    }

    /// `CONNECT host:port`: one action for the tunnel; its bytes are carried as they are.
    async fn tunnel(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        let target = request
            .uri()
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        let authority = match parse_authority(&target, 443) {
            Ok(authority) => authority,
            Err(e) => return problem(StatusCode::BAD_REQUEST, "bad_target", &e.to_string()),
        };
        let action = Action::new(Gate::Http, "http.CONNECT", Effect::Read)
            .with_host(authority.host.clone())
            .with_method("CONNECT")
            .with_detail(format!("CONNECT {authority}"));
        let (action, verdict) = self.authorize(action).await;
        if !verdict.is_allow() {
            return refusal(&action, &verdict);
        }
        let mut upstream = match self.resolver.connect(&authority).await {
            Ok(stream) => stream,
            Err(e) => {
                return problem(
                    StatusCode::BAD_GATEWAY,
                    "upstream_unreachable",
                    &e.to_string(),
                );
            }
        };
        tokio::spawn(async move {
            match hyper::upgrade::on(request).await {
                Ok(upgraded) => {
                    let mut client = TokioIo::new(upgraded);
                    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await
                    {
                        tracing::debug!(error = %e, %authority, "tunnel ended with an error");
                    }
                }
                Err(e) => tracing::debug!(error = %e, "CONNECT upgrade failed"),
            }
        });
        Response::new(empty())
    }

    /// A plain-HTTP request: read whole, judged action by action, then sent on.
    async fn forward(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let target = parts
            .uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        let authority = match parse_authority(&target, 80) {
            Ok(authority) => authority,
            Err(e) => return problem(StatusCode::BAD_REQUEST, "bad_target", &e.to_string()),
        };
        if let Some(refused) = host_header_mismatch(&parts.headers, &authority) {
            return refused;
        }
        let body = match Limited::new(body, self.options.max_body).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                return problem(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    &format!(
                        "the request body is larger than the {} bytes the gateway reads to judge it",
                        self.options.max_body
                    ),
                );
            }
            Err(e) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    &format!("the request body could not be read: {e}"),
                );
            }
        };
        let method = parts.method.as_str().to_ascii_uppercase();
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let facts = RequestFacts {
            method: &method,
            authority: &authority,
            path: parts.uri.path(),
            content_type,
            body: &body,
        };
        match read_request(&self.authorizer.manifest().manifest, &facts) {
            Reading::Unreadable { action, error } => {
                let verdict = Verdict::deny(
                    format!(
                        "the GraphQL request to {} cannot be read ({error}); cordon forwards only what it can judge, so send one well-formed document",
                        authority.host
                    ),
                    vec!["gateway.unreadable-graphql".to_owned()],
                );
                let (action, verdict) = self.record(*action, verdict).await;
                return refusal(&action, &verdict);
            }
            Reading::Actions(actions) => {
                for action in actions {
                    let (action, verdict) = self.authorize(action).await;
                    if !verdict.is_allow() {
                        return refusal(&action, &verdict);
                    }
                }
            }
        }
        match self.send_upstream(&authority, parts, body).await {
            Ok(response) => response,
            Err(response) => response,
        }
    }

    async fn send_upstream(
        &self,
        authority: &Authority,
        parts: http::request::Parts,
        body: Bytes,
    ) -> Result<Response<Body>, Response<Body>> {
        let unreachable = |e: &dyn std::fmt::Display| {
            problem(
                StatusCode::BAD_GATEWAY,
                "upstream_unreachable",
                &e.to_string(),
            )
        };
        let stream = self
            .resolver
            .connect(authority)
            .await
            .map_err(|e| unreachable(&e))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(&e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "upstream connection ended with an error");
            }
        });
        let path = parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        let uri: Uri = path.parse().map_err(|e| unreachable(&e))?;
        let mut upstream = Request::new(Full::new(body));
        *upstream.method_mut() = parts.method;
        *upstream.uri_mut() = uri;
        *upstream.version_mut() = Version::HTTP_11;
        let headers = upstream.headers_mut();
        copy_end_to_end(&parts.headers, headers);
        let host = if authority.port == 80 {
            authority.host.clone()
        } else {
            authority.to_string()
        };
        if let Ok(value) = HeaderValue::from_str(&host) {
            headers.insert(header::HOST, value);
        }
        let response = sender
            .send_request(upstream)
            .await
            .map_err(|e| unreachable(&e))?;
        let (mut parts, body) = response.into_parts();
        let mut headers = HeaderMap::new();
        copy_end_to_end(&parts.headers, &mut headers);
        parts.headers = headers;
        Ok(Response::from_parts(parts, body.boxed()))
    }

    /// `authorize()` off the async threads: it may wait for the audit log's group
    /// commit. A panic or cancellation there is a denial.
    async fn authorize(&self, action: Action) -> (Action, Verdict) {
        let authorizer = self.authorizer.clone();
        let kept = action.clone();
        match tokio::task::spawn_blocking(move || {
            let verdict = authorizer.authorize(&action);
            (action, verdict)
        })
        .await
        {
            Ok(decided) => decided,
            Err(e) => (
                kept,
                Verdict::internal_error(format_args!("the decision task failed: {e}")),
            ),
        }
    }

    /// Writes a refusal the gateway made before policy could be asked (the request
    /// could not be read) to the same audit log, so every refusal is on record.
    async fn record(&self, action: Action, verdict: Verdict) -> (Action, Verdict) {
        let authorizer = self.authorizer.clone();
        let kept = (action.clone(), verdict.clone());
        let written = tokio::task::spawn_blocking(move || {
            authorizer.audit().append(AuditEntry {
                task: authorizer.manifest().task_name().to_owned(),
                action,
                verdict,
            })
        })
        .await;
        if !matches!(written, Ok(Ok(_))) {
            tracing::error!("a gateway refusal could not be written to the audit log");
        }
        kept
    }
}

async fn accept_failed(error: io::Error) -> io::Result<()> {
    // Out of file descriptors and similar: back off instead of spinning; anything
    // else about the listener itself ends serving.
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    match error.raw_os_error() {
        Some(ENFILE | EMFILE) => {
            tracing::warn!(error = %error, "accept failed; retrying shortly");
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(())
        }
        _ if error.kind() == io::ErrorKind::ConnectionAborted => Ok(()),
        _ => Err(error),
    }
}

/// A `Host` header naming another destination than the request line does: the shape
/// of domain fronting (allowed name in one place, real target in the other).
fn host_header_mismatch(headers: &HeaderMap, authority: &Authority) -> Option<Response<Body>> {
    let values: Vec<&HeaderValue> = headers.get_all(header::HOST).iter().collect();
    if values.len() > 1 {
        return Some(problem(
            StatusCode::BAD_REQUEST,
            "host_mismatch",
            "the request carries more than one Host header",
        ));
    }
    let value = values.first()?;
    let same = value
        .to_str()
        .ok()
        .and_then(|v| parse_authority(v, authority.port).ok())
        .is_some_and(|h| h.host == authority.host && h.port == authority.port);
    if same {
        return None;
    }
    Some(problem(
        StatusCode::BAD_REQUEST,
        "host_mismatch",
        &format!(
            "the Host header does not name {authority}, the destination in the request line; cordon sends each request only where it says it goes"
        ),
    ))
}

/// Hop-by-hop headers stay on their hop (RFC 9110 §7.6.1), and so do the proxy's own
/// credentials and any header the `Connection` header names.
fn copy_end_to_end(from: &HeaderMap, to: &mut HeaderMap) {
    const HOP_BY_HOP: [&str; 9] = [
        "connection",
        "proxy-connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-authenticate",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ];
    let named: Vec<String> = from
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .collect();
    for (name, value) in from {
        let lower = name.as_str();
        if HOP_BY_HOP.contains(&lower) || named.iter().any(|n| n == lower) || name == header::HOST {
            continue;
        }
        to.append(HeaderName::from(name), value.clone());
    }
}
