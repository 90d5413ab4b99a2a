//! Real secrets held by the gateway, phantom tokens handed to the agent.
//!
//! The agent gets a phantom per credential: random, shaped like the real token (same
//! prefix, same length, so tools that check a prefix accept it), worthless anywhere
//! but here. A request carrying a phantom names its credential to policy; only when
//! every action is allowed and the host is one of the credential's does the phantom
//! become the real secret on the way out. A real secret coming from the agent (it
//! found one somewhere) is refused, and echoes of the secret in responses are
//! replaced by the phantom.

use base64::Engine;
use cordon_core::manifest::{Credential, CredentialSource, Injection, LoadedManifest};
use http::HeaderValue;
use http::header::{self, HeaderMap, HeaderName};
use rand::Rng;
use std::time::{Duration, Instant};
use thiserror::Error;

use crate::scrub::Scrubber;

#[derive(Debug, Error)]
pub enum CredentialError {
    #[error(
        "credential `{name}`: environment variable `{var}` is not set in cordon's environment (the real secret is read there, never inside the sandbox)"
    )]
    MissingEnv { name: String, var: String },
    #[error("credential `{name}`: cannot read `{path}`: {detail}")]
    File {
        name: String,
        path: String,
        detail: String,
    },
    #[error("credential `{name}`: the secret is empty")]
    Empty { name: String },
}

/// One credential, loaded.
struct Held {
    name: String,
    secret: String,
    phantom: String,
    credential: Credential,
}

/// What a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carried {
    Nothing,
    /// The phantom of the credential at this index.
    Phantom(usize),
    /// The real secret of the credential at this index.
    RealSecret(usize),
    /// The phantom of the credential at this index, past the task's `ttl`: dead.
    ExpiredPhantom(usize),
}

#[derive(Default)]
pub struct Credentials {
    held: Vec<Held>,
    /// When the phantoms die: the task's `ttl` after they were minted. A phantom that
    /// leaked (a log, a pasted transcript) is worth nothing once the task is over.
    expires: Option<Instant>,
    ttl: Duration,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets.
        f.debug_list()
            .entries(self.held.iter().map(|h| &h.name))
            .finish()
    }
}

impl Credentials {
    /// Reads every `[[credential]]`'s real secret and mints its phantom.
    pub fn load(loaded: &LoadedManifest) -> Result<Credentials, CredentialError> {
        let mut held = Vec::new();
        for credential in &loaded.manifest.credentials {
            let name = credential.name.get_ref().0.clone();
            let secret = match &credential.source {
                CredentialSource::Env(var) => {
                    std::env::var(var).map_err(|_| CredentialError::MissingEnv {
                        name: name.clone(),
                        var: var.clone(),
                    })?
                }
                CredentialSource::File(path) => {
                    let path = loaded.resolve_path(path);
                    std::fs::read_to_string(&path)
                        .map_err(|e| CredentialError::File {
                            name: name.clone(),
                            path: path.display().to_string(),
                            detail: e.to_string(),
                        })?
                        .trim()
                        .to_owned()
                }
            };
            if secret.is_empty() {
                return Err(CredentialError::Empty { name });
            }
            let phantom = phantom_for(&secret);
            held.push(Held {
                name,
                secret,
                phantom,
                credential: credential.clone(),
            });
        }
        let ttl = loaded.manifest.task.ttl.0;
        Ok(Credentials {
            held,
            expires: Instant::now().checked_add(ttl),
            ttl,
        })
    }

    /// How long phantoms live: the task's `ttl`.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn name(&self, index: usize) -> &str {
        self.held.get(index).map_or("", |h| h.name.as_str())
    }

    /// `(variable, phantom)` for every credential: what the agent's environment gets.
    /// The variable is `env_var`, else the `env:` source's own name.
    pub fn phantoms(&self) -> Vec<(String, String)> {
        self.held
            .iter()
            .filter_map(|h| {
                let var = match (&h.credential.env_var, &h.credential.source) {
                    (Some(var), _) => var.0.clone(),
                    (None, CredentialSource::Env(var)) => var.clone(),
                    (None, CredentialSource::File(_)) => return None,
                };
                Some((var, h.phantom.clone()))
            })
            .collect()
    }

    /// Which credential a request's headers and query carry.
    pub fn carried(&self, headers: &HeaderMap, query: Option<&str>) -> Carried {
        self.carried_at(headers, query, Instant::now())
    }

    fn carried_at(&self, headers: &HeaderMap, query: Option<&str>, now: Instant) -> Carried {
        let texts: Vec<String> = headers
            .iter()
            .filter_map(|(_, v)| v.to_str().ok().map(str::to_owned))
            .chain(decoded_basic(headers))
            .chain(query.map(str::to_owned))
            .collect();
        for (index, held) in self.held.iter().enumerate() {
            if texts.iter().any(|t| t.contains(&held.secret)) {
                return Carried::RealSecret(index);
            }
        }
        for (index, held) in self.held.iter().enumerate() {
            if texts.iter().any(|t| t.contains(&held.phantom)) {
                if self.expires.is_some_and(|expires| now >= expires) {
                    return Carried::ExpiredPhantom(index);
                }
                return Carried::Phantom(index);
            }
        }
        Carried::Nothing
    }

    /// Whether credential `index` may be sent to `host` at all.
    pub fn goes_to(&self, index: usize, host: &str) -> bool {
        self.held
            .get(index)
            .is_some_and(|h| h.credential.hosts.iter().any(|p| p.matches(host)))
    }

    /// The request as it leaves: every header and query value holding the phantom is
    /// dropped, and the real secret put where the manifest's `inject` says.
    pub fn inject(&self, index: usize, parts: &mut http::request::Parts) {
        let Some(held) = self.held.get(index) else {
            return;
        };
        let carrying: Vec<HeaderName> = parts
            .headers
            .iter()
            .filter(|(name, value)| {
                value.to_str().is_ok_and(|v| v.contains(&held.phantom))
                    || (*name == header::AUTHORIZATION
                        && decoded_basic_value(value).is_some_and(|v| v.contains(&held.phantom)))
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in carrying {
            parts.headers.remove(name);
        }
        let injection = held.credential.inject.clone().unwrap_or(Injection::Header {
            name: "Authorization".to_owned(),
            template: "Bearer {secret}".to_owned(),
        });
        match injection {
            Injection::Header { name, template } => {
                if let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(&template.replace("{secret}", &held.secret)),
                ) {
                    parts.headers.insert(name, value);
                }
            }
            Injection::Basic { user } => {
                let encoded = base64::engine::general_purpose::STANDARD
                    .encode(format!("{user}:{}", held.secret));
                if let Ok(value) = HeaderValue::from_str(&format!("Basic {encoded}")) {
                    parts.headers.insert(header::AUTHORIZATION, value);
                }
            }
            Injection::Query { param } => {
                let mut uri = parts.uri.clone().into_parts();
                if let Some(pq) = &uri.path_and_query {
                    let path = pq.path();
                    let kept: Vec<&str> = pq
                        .query()
                        .unwrap_or("")
                        .split('&')
                        .filter(|kv| !kv.is_empty() && !kv.contains(&held.phantom))
                        .filter(|kv| kv.split('=').next() != Some(param.as_str()))
                        .collect();
                    let mut query = kept.join("&");
                    if !query.is_empty() {
                        query.push('&');
                    }
                    query.push_str(&format!("{param}={}", percent_encode(&held.secret)));
                    if let Ok(new) = format!("{path}?{query}").parse() {
                        uri.path_and_query = Some(new);
                        if let Ok(rebuilt) = http::Uri::from_parts(uri) {
                            parts.uri = rebuilt;
                        }
                    }
                }
            }
        }
    }

    /// `value` with credential `index`'s real secret replaced by its phantom, in the
    /// clear and in the base64 form basic auth sends (`user:secret`), when it holds
    /// either: a response header that echoes the token (`Location`, `Set-Cookie`).
    pub(crate) fn scrub_header(&self, index: usize, value: &str) -> Option<String> {
        let held = self.held.get(index)?;
        let mut forms = vec![(held.secret.clone(), held.phantom.clone())];
        if let Some(Injection::Basic { user }) = &held.credential.inject {
            let encode = |secret: &str| {
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
            };
            forms.push((encode(&held.secret), encode(&held.phantom)));
        }
        forms
            .iter()
            .any(|(secret, _)| value.contains(secret.as_str()))
            .then(|| {
                forms
                    .iter()
                    .fold(value.to_owned(), |text, (secret, phantom)| {
                        text.replace(secret.as_str(), phantom)
                    })
            })
    }

    /// What replaces credential `index`'s real secret by its phantom in a response
    /// (an API that echoes the token it was sent).
    pub(crate) fn scrubber(&self, index: usize) -> Option<Scrubber> {
        let held = self.held.get(index)?;
        Some(Scrubber::new(
            held.secret.as_bytes(),
            held.phantom.as_bytes(),
        ))
    }
}

/// A phantom shaped like `secret`: the same prefix up to its last `_` or `-` within
/// the first 12 characters (`ghp_`, `sk-ant-`, `xoxb-`), then random characters of the
/// same kinds for the same length. Separators stay where they are and a hex body stays
/// hex, so a UUID-shaped token gets a UUID-shaped phantom (clients that validate the
/// format accept it).
pub fn phantom_for(secret: &str) -> String {
    let prefix_len = secret
        .char_indices()
        .take(12)
        .filter(|(_, c)| *c == '_' || *c == '-')
        .map(|(i, c)| i + c.len_utf8())
        .last()
        .unwrap_or(0);
    let (prefix, body) = secret.split_at(prefix_len);
    let separator = |c: char| matches!(c, '-' | '_' | '.');
    let letters = body.chars().filter(|c| !separator(*c));
    let hex: Option<&[u8]> = if letters.clone().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
        Some(b"0123456789abcdef")
    } else if letters.clone().all(|c| matches!(c, '0'..='9' | 'A'..='F')) {
        Some(b"0123456789ABCDEF")
    } else {
        None
    };
    let mut rng = rand::rng();
    let mut random_like = |c: char| {
        if separator(c) {
            return c;
        }
        let pool: &[u8] = if let Some(hex) = hex {
            hex
        } else if c.is_ascii_digit() {
            b"0123456789"
        } else if c.is_ascii_lowercase() {
            b"abcdefghijklmnopqrstuvwxyz"
        } else if c.is_ascii_uppercase() {
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        } else {
            b"abcdefghijklmnopqrstuvwxyz0123456789"
        };
        pool.get(rng.random_range(0..pool.len()))
            .map_or('x', |b| char::from(*b))
    };
    loop {
        let mut minted: String = body.chars().map(&mut random_like).collect();
        // A short secret still gets a phantom nobody guesses.
        while minted.len() < 16 {
            minted.push(random_like('a'));
        }
        let phantom = format!("{prefix}{minted}");
        if phantom != secret {
            return phantom;
        }
    }
}

fn decoded_basic(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(decoded_basic_value)
}

fn decoded_basic_value(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let encoded = text
        .strip_prefix("Basic ")
        .or_else(|| text.strip_prefix("basic "))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    String::from_utf8(bytes).ok()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
#[path = "credentials_tests.rs"]
mod tests;
