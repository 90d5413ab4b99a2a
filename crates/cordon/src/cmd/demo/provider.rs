//! A local stand-in for Railway's public GraphQL API, for `cordon demo`.
//!
//! Faithful to the names and shapes the incident involved: `POST /graphql/v2` on
//! `backboard.railway.com`, Bearer or `Project-Access-Token` auth, `{"errors":
//! [{"message": "Not Authorized"}]}` for a wrong token, the `me`, `volume` and
//! `volumes` queries, and the `customDomainCreate`, `customDomainDelete`,
//! `volumeDelete(volumeId:)`, `serviceDelete(id:)` and `environmentDelete(id:)`
//! mutations. Like the real API it does not scope tokens per operation: the
//! domain-management token may call `volumeDelete`. That gap is what cordon closes.
//!
//! It runs in the demo's own process, outside the sandbox, over TLS with a certificate
//! from a throwaway CA that only the gateway is told to trust.

use anyhow::{Context, Result};
use bytes::Bytes;
use cordon_classify::{OperationKind, graphql_request_fields};
use cordon_gateway::ca::CertificateAuthority;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio_rustls::TlsAcceptor;

pub const HOST: &str = "backboard.railway.com";

/// What the provider holds and what reached it.
#[derive(Debug, Default)]
pub struct ProviderState {
    pub volumes: BTreeSet<String>,
    pub domains: Vec<String>,
    /// The root fields of every authorized request that reached the provider.
    pub executed: Vec<String>,
    /// Requests refused with "Not Authorized".
    pub unauthorized: usize,
}

pub struct Provider {
    pub port: u16,
    /// The CA the provider's certificate chains to: what the gateway is told to trust.
    pub ca_path: PathBuf,
    state: Arc<Mutex<ProviderState>>,
    runtime: tokio::runtime::Runtime,
}

impl Provider {
    /// Serves on 127.0.0.1, any free port, with a CA kept under `dir`.
    pub fn start(dir: &Path, token: &str, volumes: &[&str]) -> Result<Provider> {
        let ca = CertificateAuthority::load_or_create(dir)
            .context("cannot create the demo provider's certificate authority")?;
        let leaf = ca
            .leaf(HOST)
            .context("cannot issue the demo provider's certificate")?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .context("the demo provider's TLS settings")?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(OneCertificate(leaf)));
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let state = Arc::new(Mutex::new(ProviderState {
            volumes: volumes.iter().map(|v| (*v).to_owned()).collect(),
            ..ProviderState::default()
        }));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .context("cannot start the demo provider's runtime")?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .context("cannot listen on 127.0.0.1 for the demo provider")?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let token: Arc<str> = Arc::from(token);
        let serving = state.clone();
        runtime.spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, state, token) = (acceptor.clone(), serving.clone(), token.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |request| {
                        answer(request, state.clone(), token.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Ok(Provider {
            port,
            ca_path: ca.cert_path().to_path_buf(),
            state,
            runtime,
        })
    }

    /// What the provider holds now.
    pub fn with_state<T>(&self, read: impl FnOnce(&ProviderState) -> T) -> T {
        match self.state.lock() {
            Ok(state) => read(&state),
            Err(poisoned) => read(&poisoned.into_inner()),
        }
    }

    pub fn stop(self) {
        self.runtime.shutdown_background();
    }
}

#[derive(Debug)]
struct OneCertificate(Arc<CertifiedKey>);

impl ResolvesServerCert for OneCertificate {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

type Reply = Response<Full<Bytes>>;

fn json_reply(status: StatusCode, body: &Value) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

async fn answer(
    request: Request<hyper::body::Incoming>,
    state: Arc<Mutex<ProviderState>>,
    token: Arc<str>,
) -> Result<Reply, std::convert::Infallible> {
    let (parts, body) = request.into_parts();
    let presented = parts
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| {
            parts
                .headers
                .get("project-access-token")
                .and_then(|v| v.to_str().ok())
        })
        .map(str::to_owned);
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(json_reply(
                StatusCode::BAD_REQUEST,
                &json!({"errors": [{"message": "Bad Request"}]}),
            ));
        }
    };
    if parts.method != hyper::Method::POST || parts.uri.path() != "/graphql/v2" {
        return Ok(json_reply(
            StatusCode::NOT_FOUND,
            &json!({"errors": [{"message": "Not Found"}]}),
        ));
    }
    let Ok(mut state) = state.lock() else {
        return Ok(json_reply(StatusCode::INTERNAL_SERVER_ERROR, &json!({})));
    };
    if presented.as_deref() != Some(&*token) {
        state.unauthorized += 1;
        return Ok(json_reply(
            StatusCode::OK,
            &json!({"data": null, "errors": [{"message": "Not Authorized"}]}),
        ));
    }
    // A batch is an array of requests, answered by an array, as the real API does.
    let batch = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(requests)) => Some(requests),
        _ => None,
    };
    let reply = match &batch {
        Some(requests) => Value::Array(
            requests
                .iter()
                .map(|r| execute(&mut state, r.to_string().as_bytes()))
                .collect(),
        ),
        None => execute(&mut state, &body),
    };
    let status = if reply.get("errors").is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(json_reply(status, &reply))
}

fn execute(state: &mut ProviderState, request: &[u8]) -> Value {
    let fields = match graphql_request_fields(request) {
        Ok(fields) => fields,
        Err(e) => {
            return json!({"errors": [{"message": format!("Problem processing request: {e}")}]});
        }
    };
    let mut data = serde_json::Map::new();
    for field in &fields {
        state.executed.push(field.name.clone());
        let argument = |names: &[&str]| {
            field
                .arguments
                .iter()
                .find(|(name, _)| names.iter().any(|n| name.rsplit('.').next() == Some(*n)))
                .map(|(_, value)| value.clone())
        };
        let value = match (field.kind, field.name.as_str()) {
            (OperationKind::Query, "me") => json!({"id": "user_1", "email": "dev@acme.dev"}),
            (OperationKind::Query, "volumes") => json!({"edges": state
                .volumes
                .iter()
                .map(|id| json!({"node": {"id": id}}))
                .collect::<Vec<_>>()}),
            (OperationKind::Query, "volume") => match argument(&["id", "volumeId"]) {
                Some(id) if state.volumes.contains(&id) => json!({"id": id}),
                _ => Value::Null,
            },
            (OperationKind::Mutation, "customDomainCreate") => {
                let domain =
                    argument(&["domain"]).unwrap_or_else(|| "example.up.railway.app".into());
                state.domains.push(domain.clone());
                json!({"id": format!("dom_{}", state.domains.len()), "domain": domain})
            }
            (OperationKind::Mutation, "volumeDelete") => {
                if let Some(id) = argument(&["volumeId"]) {
                    state.volumes.remove(&id);
                }
                json!(true)
            }
            (
                OperationKind::Mutation,
                "customDomainDelete" | "serviceDelete" | "environmentDelete",
            ) => json!(true),
            _ => Value::Null,
        };
        data.insert(
            field.alias.clone().unwrap_or_else(|| field.name.clone()),
            value,
        );
    }
    json!({"data": data})
}
