//! The installation's interception CA: one key pair under `$CORDON_HOME/ca/`, outside
//! every sandbox, and a leaf certificate per host, minted when first needed.
//!
//! Inside a sandbox the CA is trusted (the sandbox sets the usual bundle variables), so
//! the gateway can read HTTPS requests to judge and credential them. The key never
//! leaves the supervisor: the sandbox sees only the certificate.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CaError {
    #[error("cannot use the interception CA in {path}: {detail}")]
    Io { path: PathBuf, detail: String },
    #[error("cannot make a certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("the interception CA key in {path} is not usable: {detail}")]
    BadKey { path: PathBuf, detail: String },
    #[error("cannot load a certificate into TLS: {0}")]
    Tls(String),
}

/// Leaf certificates minted and kept, at most this many hosts (then the cache starts
/// over: minting one costs about a millisecond).
const MAX_CACHED_LEAVES: usize = 4096;

pub struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    cert_path: PathBuf,
    leaves: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("cert_path", &self.cert_path)
            .finish_non_exhaustive()
    }
}

/// The CA's identity. Rebuilt the same way on every load, so leaves minted after a
/// restart chain to the certificate written on the first run.
fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "cordon interception CA");
    name.push(DnType::OrganizationName, "cordon");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = time_now();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(3650);
    Ok(params)
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

impl CertificateAuthority {
    /// The CA in `dir` (`ca.pem`, `ca.key`), created on first use: the directory
    /// 0700, the key 0600.
    pub fn load_or_create(dir: &Path) -> Result<CertificateAuthority, CaError> {
        let io = |path: &Path, e: std::io::Error| CaError::Io {
            path: path.to_owned(),
            detail: e.to_string(),
        };
        fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| io(dir, e))?;
        let key_path = dir.join("ca.key");
        let cert_path = dir.join("ca.pem");
        if key_path.exists() && cert_path.exists() {
            let key_pem = fs::read_to_string(&key_path).map_err(|e| io(&key_path, e))?;
            let key = KeyPair::from_pem(&key_pem).map_err(|e| CaError::BadKey {
                path: key_path.clone(),
                detail: e.to_string(),
            })?;
            let cert_pem = fs::read_to_string(&cert_path).map_err(|e| io(&cert_path, e))?;
            return Ok(CertificateAuthority {
                issuer: Issuer::new(ca_params()?, key),
                cert_pem,
                cert_path,
                leaves: Mutex::new(HashMap::new()),
            });
        }
        let key = KeyPair::generate()?;
        let params = ca_params()?;
        let cert_pem = params.self_signed(&key)?.pem();
        write_private(&key_path, key.serialize_pem().as_bytes()).map_err(|e| io(&key_path, e))?;
        write_private(&cert_path, cert_pem.as_bytes()).map_err(|e| io(&cert_path, e))?;
        Ok(CertificateAuthority {
            issuer: Issuer::new(params, key),
            cert_pem,
            cert_path,
            leaves: Mutex::new(HashMap::new()),
        })
    }

    /// The CA certificate, PEM: what a sandbox adds to its trust bundle.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// A certificate for `host` (a DNS name or an IP address), signed by the CA.
    pub fn leaf(&self, host: &str) -> Result<Arc<CertifiedKey>, CaError> {
        if let Ok(leaves) = self.leaves.lock()
            && let Some(leaf) = leaves.get(host)
        {
            return Ok(leaf.clone());
        }
        let mut params = CertificateParams::new(vec![host.to_owned()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, host.to_owned());
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let now = time_now();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(30);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing = any_supported_type(&der).map_err(|e| CaError::Tls(e.to_string()))?;
        let leaf = Arc::new(CertifiedKey::new(
            vec![CertificateDer::from(cert.der().to_vec())],
            signing,
        ));
        if let Ok(mut leaves) = self.leaves.lock() {
            if leaves.len() >= MAX_CACHED_LEAVES {
                leaves.clear();
            }
            leaves.insert(host.to_owned(), leaf.clone());
        }
        Ok(leaf)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // Written beside and renamed, so a crash never leaves half a key.
    let partial = path.with_extension("partial");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&partial, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_created_private_and_reloaded_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let ca_dir = dir.path().join("ca");
        let first = CertificateAuthority::load_or_create(&ca_dir).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&ca_dir), 0o700);
        assert_eq!(mode(&ca_dir.join("ca.key")), 0o600);
        let again = CertificateAuthority::load_or_create(&ca_dir).unwrap();
        assert_eq!(first.cert_pem(), again.cert_pem());
        assert!(first.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn leaves_are_cached_per_host() {
        let dir = tempfile::tempdir().unwrap();
        let ca = CertificateAuthority::load_or_create(dir.path()).unwrap();
        let a = ca.leaf("api.example.com").unwrap();
        let b = ca.leaf("api.example.com").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let c = ca.leaf("other.example.com").unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[test]
    fn a_broken_key_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        CertificateAuthority::load_or_create(dir.path()).unwrap();
        fs::write(dir.path().join("ca.key"), "not a key").unwrap();
        let e = CertificateAuthority::load_or_create(dir.path()).unwrap_err();
        assert!(e.to_string().contains("ca.key"), "{e}");
    }
}
