//! The installation's approval key pair under `$CORDON_HOME/keys/`.
//!
//! A human's decision is signed with the secret key; a gate accepts an approval only
//! if its signature verifies against the public key. The directory is 0700 and both
//! files 0600: nothing in it is for anyone but the installation's owner, and the
//! sandbox hides `$CORDON_HOME` from agents altogether.

use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::TryRngCore;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use thiserror::Error;

pub const SECRET_FILE: &str = "approval.key";
pub const PUBLIC_FILE: &str = "approval.pub";

#[derive(Debug, Error)]
pub enum KeyError {
    #[error("approval key `{path}`: {detail}")]
    Io { path: PathBuf, detail: String },
    #[error(
        "approval key `{path}` is not 64 hex digits: it was damaged or replaced; restore it, or remove both key files to make a new pair (pending approvals then need signing again)"
    )]
    Malformed { path: PathBuf },
    #[error(
        "approval key `{path}` can be read by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error(
        "the public approval key `{path}` does not belong to the secret key beside it: one of them was replaced; restore it, or remove both to make a new pair"
    )]
    Mismatch { path: PathBuf },
    #[error("no randomness for a new approval key: {0}")]
    Random(String),
    #[error(
        "this process holds only the public approval key, so it cannot sign a decision; sign from the machine that holds `keys/{SECRET_FILE}` under $CORDON_HOME"
    )]
    NoSecret,
}

/// The keys one process holds: every process that checks approvals has the public key;
/// those that record a human's decision also have the secret one.
#[derive(Clone)]
pub struct ApprovalKeys {
    public: VerifyingKey,
    secret: Option<SigningKey>,
}

impl std::fmt::Debug for ApprovalKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalKeys")
            .field("public", &hex::encode(self.public.as_bytes()))
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .finish()
    }
}

impl ApprovalKeys {
    /// The pair under `home/keys/`, made on first use. Two processes making it at once
    /// agree on one pair: each writes a private temporary file and links it into place,
    /// and the loser reads the winner's.
    pub fn load_or_create(home: &Path) -> Result<ApprovalKeys, KeyError> {
        let dir = home.join("keys");
        crate::home::create_private_dir(&dir).map_err(|e| io_error(&dir, &e))?;
        let secret_path = dir.join(SECRET_FILE);
        if !secret_path.exists() {
            let mut seed = [0u8; 32];
            rand::rngs::OsRng
                .try_fill_bytes(&mut seed)
                .map_err(|e| KeyError::Random(e.to_string()))?;
            place(&secret_path, &hex::encode(seed))?;
        }
        let secret = SigningKey::from_bytes(&read_key(&secret_path)?);
        let public = secret.verifying_key();
        let public_path = dir.join(PUBLIC_FILE);
        if !public_path.exists() {
            place(&public_path, &hex::encode(public.as_bytes()))?;
        }
        if read_key(&public_path)? != public.to_bytes() {
            return Err(KeyError::Mismatch { path: public_path });
        }
        Ok(ApprovalKeys {
            public,
            secret: Some(secret),
        })
    }

    /// Only the public key: enough to check approvals, never to make one.
    pub fn verify_only(public: VerifyingKey) -> ApprovalKeys {
        ApprovalKeys {
            public,
            secret: None,
        }
    }

    pub fn public(&self) -> &VerifyingKey {
        &self.public
    }

    pub fn secret(&self) -> Result<&SigningKey, KeyError> {
        self.secret.as_ref().ok_or(KeyError::NoSecret)
    }

    /// The public key as 64 hex digits, as `keys/approval.pub` holds it.
    pub fn public_hex(&self) -> String {
        hex::encode(self.public.as_bytes())
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> KeyError {
    KeyError::Io {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// Writes `text` to `path` unless it exists, never leaving a half-written file there.
fn place(path: &Path, text: &str) -> Result<(), KeyError> {
    // Unique per process and thread: racing makers must never share a temporary file.
    let tmp = path.with_extension(format!(
        "tmp.{}.{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(format!("{text}\n").as_bytes())?;
        file.sync_all()
    };
    let result = write().and_then(|()| match std::fs::hard_link(&tmp, path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    });
    // The temporary name was ours alone; it is garbage whether or not the link won.
    let _ = std::fs::remove_file(&tmp);
    result.map_err(|e| io_error(path, &e))
}

fn read_key(path: &Path) -> Result<[u8; 32], KeyError> {
    let metadata = std::fs::metadata(path).map_err(|e| io_error(path, &e))?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Exposed {
            path: path.to_path_buf(),
            mode,
        });
    }
    let text = std::fs::read_to_string(path).map_err(|e| io_error(path, &e))?;
    let bytes = hex::decode(text.trim()).map_err(|_| KeyError::Malformed {
        path: path.to_path_buf(),
    })?;
    bytes.try_into().map_err(|_| KeyError::Malformed {
        path: path.to_path_buf(),
    })
}
