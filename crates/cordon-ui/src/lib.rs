//! cordon-ui: `cordon ui`, the approvals queue and audit timelines in a browser.
//!
//! Security boundary: the server listens on loopback unless TLS is configured; a random
//! token printed at start is the only way in, exchanged for an HttpOnly SameSite=Strict
//! session cookie (the token leaves the address bar at once, and a Referer is sent
//! only to this server: `no-referrer` would make browsers send `Origin: null`, which
//! the POST check refuses); every POST carries the session's CSRF token and a browser's
//! Origin must be this server; requests must name the address served (no DNS
//! rebinding); pages forbid framing and inline script. All text
//! an agent wrote is escaped. Decisions are signed with the installation's approval key
//! exactly as `cordon approve` signs them.
//!
//! Known limitation: anyone holding the printed URL can approve in any name they type;
//! the two-person rule is as strong as who holds a session.

mod auth;
mod html;
mod pages;
mod routes;
mod tls;

use cordon_core::approvals::{ApprovalError, Approvals};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum UiError {
    #[error(
        "refusing to serve on `{0}`: it is not a loopback address, and without TLS the session token would cross the network in clear; give --tls-cert and --tls-key, or listen on 127.0.0.1"
    )]
    NotLoopback(SocketAddr),
    #[error(transparent)]
    Approvals(#[from] ApprovalError),
    #[error("cannot listen on `{addr}`: {detail}")]
    Listen { addr: SocketAddr, detail: String },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot start the web server: {0}")]
    Runtime(String),
}

/// TLS certificate chain and key, PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct UiConfig {
    /// `$CORDON_HOME`.
    pub home: PathBuf,
    pub listen: SocketAddr,
    pub tls: Option<TlsFiles>,
    /// Prefilled in the approver field.
    pub approver: String,
}

pub(crate) struct State {
    pub approvals: Approvals,
    pub home: PathBuf,
    pub token: String,
    pub sessions: auth::Sessions,
    pub tls: bool,
    pub approver: String,
    /// Host header values that name this server.
    pub hosts: Vec<String>,
    /// With TLS, the served certificate: any name it is valid for names this server.
    pub leaf: Option<rustls::pki_types::CertificateDer<'static>>,
    pub port: u16,
}

impl State {
    /// Whether a Host header (or an Origin's authority) names this server: the address
    /// it printed or, with TLS, `NAME:PORT` for any name its certificate is valid for
    /// (off loopback it is reached by a name or address of the machine, not by the
    /// `0.0.0.0` it listens on).
    pub fn is_own_host(&self, host: &str) -> bool {
        if self.hosts.iter().any(|h| h == host) {
            return true;
        }
        let (Some(leaf), Some((name, port))) = (&self.leaf, host.rsplit_once(':')) else {
            return false;
        };
        port.parse() == Ok(self.port) && tls::certificate_names(leaf, name)
    }
}

/// A server running on its own threads.
pub struct RunningUi {
    /// The address served.
    pub addr: SocketAddr,
    /// `http(s)://ADDR`.
    pub base: String,
    /// The one URL that lets a browser in: base + `/login?token=…`.
    pub login_url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningUi {
    /// Blocks until the server stops.
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RunningUi {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Binds and starts serving; returns once the address is bound.
pub fn start(config: UiConfig) -> Result<RunningUi, UiError> {
    if !config.listen.ip().is_loopback() && config.tls.is_none() {
        return Err(UiError::NotLoopback(config.listen));
    }
    let (acceptor, leaf) = match config.tls.as_ref().map(tls::acceptor).transpose()? {
        Some((acceptor, leaf)) => (Some(acceptor), Some(leaf)),
        None => (None, None),
    };
    let approvals = Approvals::open(&config.home)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("cordon-ui")
        .enable_all()
        .build()
        .map_err(|e| UiError::Runtime(e.to_string()))?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(config.listen))
        .map_err(|e| UiError::Listen {
            addr: config.listen,
            detail: e.to_string(),
        })?;
    let addr = listener.local_addr().map_err(|e| UiError::Listen {
        addr: config.listen,
        detail: e.to_string(),
    })?;
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let mut hosts = vec![addr.to_string()];
    if addr.ip().is_loopback() {
        hosts.push(format!("localhost:{}", addr.port()));
    }
    let token = auth::random_token();
    let base = format!("{scheme}://{addr}");
    let login_url = format!("{base}/login?token={token}");
    let state = Arc::new(State {
        approvals,
        home: config.home.clone(),
        token,
        sessions: auth::Sessions::default(),
        tls: acceptor.is_some(),
        leaf,
        port: addr.port(),
        approver: config.approver.clone(),
        hosts,
    });
    let app = routes::router(state);
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("cordon-ui".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                match acceptor {
                    None => {
                        let server = axum::serve(listener, app).with_graceful_shutdown(async {
                            let _ = stop.await;
                        });
                        if let Err(e) = server.await {
                            tracing::error!(error = %e, "web server stopped");
                        }
                    }
                    Some(acceptor) => tls::serve(listener, acceptor, app, stop).await,
                }
            });
        })
        .map_err(|e| UiError::Runtime(e.to_string()))?;
    Ok(RunningUi {
        addr,
        base,
        login_url,
        shutdown: Some(shutdown),
        thread: Some(thread),
    })
}
