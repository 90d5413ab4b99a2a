//! HTTPS for `cordon ui --listen` off loopback: rustls with the ring provider.

use crate::{TlsFiles, UiError};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// The acceptor, and the leaf certificate (what names the server may be reached by).
pub fn acceptor(files: &TlsFiles) -> Result<(TlsAcceptor, CertificateDer<'static>), UiError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| UiError::Tls(format!("`{}`: {e}", files.cert.display())))?;
    let leaf = certs
        .first()
        .cloned()
        .ok_or_else(|| UiError::Tls(format!("`{}` holds no certificate", files.cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| UiError::Tls(format!("`{}`: {e}", files.key.display())))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| UiError::Tls(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| UiError::Tls(e.to_string()))?;
    Ok((TlsAcceptor::from(Arc::new(config)), leaf))
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let service = hyper::service::service_fn(move |request| app.clone().oneshot(request));
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

/// Whether `name` (a Host header's name part) is one the certificate is valid for. A
/// browser that reached the server by any other name has already failed the
/// handshake's name check, so this is what DNS rebinding cannot get past.
pub fn certificate_names(leaf: &CertificateDer<'_>, name: &str) -> bool {
    let name = name.trim_start_matches('[').trim_end_matches(']');
    let Ok(server_name) = rustls::pki_types::ServerName::try_from(name) else {
        return false;
    };
    webpki::EndEntityCert::try_from(leaf)
        .is_ok_and(|cert| cert.verify_is_valid_for_subject_name(&server_name).is_ok())
}
