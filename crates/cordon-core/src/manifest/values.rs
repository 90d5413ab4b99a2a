//! Manifest values that have a format. Each is checked while it is deserialized so the
//! error carries the span of the offending value.

use super::{Approvers, EffectName, Environment, HttpMethod, Identifier};
use crate::action::Effect;
use serde::Deserialize;
use serde::de::{self, Deserializer};
use std::time::Duration;

fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d)
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && text.len() <= 64
}

impl<'de> Deserialize<'de> for Identifier {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = string(d)?;
        if is_identifier(&text) {
            Ok(Identifier(text))
        } else {
            Err(de::Error::custom(format!(
                "`{text}` is not a valid name: use 1 to 64 letters, digits, `-`, `_` or `.`, starting with a letter or digit"
            )))
        }
    }
}

impl<'de> Deserialize<'de> for Environment {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = string(d)?;
        if is_identifier(&text) {
            Ok(Environment(text.to_ascii_lowercase()))
        } else {
            Err(de::Error::custom(format!(
                "`{text}` is not a valid environment name: use letters, digits, `-` or `_`, e.g. `staging` or `production`"
            )))
        }
    }
}

impl<'de> Deserialize<'de> for EffectName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = string(d)?;
        // Accept the hyphenated spelling people write in prose.
        let normalized = text.replace('-', "_");
        Effect::parse(&normalized).map(EffectName).ok_or_else(|| {
            let names: Vec<&str> = Effect::ALL.iter().map(|e| e.as_str()).collect();
            de::Error::custom(format!(
                "unknown effect `{text}`, expected one of {}",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }
}

impl<'de> Deserialize<'de> for Approvers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        match u8::try_from(n) {
            Ok(v) if (1..=5).contains(&v) => Ok(Approvers(v)),
            _ => Err(de::Error::custom(format!(
                "approvers must be between 1 and 5, not {n}"
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for HttpMethod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = string(d)?;
        if !text.is_empty() && text.len() <= 16 && text.chars().all(|c| c.is_ascii_alphabetic()) {
            Ok(HttpMethod(text.to_ascii_uppercase()))
        } else {
            Err(de::Error::custom(format!(
                "`{text}` is not an HTTP method, e.g. `GET`, `POST` or `DELETE`"
            )))
        }
    }
}

/// A duration written the human way: `90s`, `15m`, `2h`, `1h 30m`, `7d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttl(pub Duration);

impl Default for Ttl {
    fn default() -> Self {
        Ttl(Duration::from_secs(8 * 3600))
    }
}

impl<'de> Deserialize<'de> for Ttl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = string(d)?;
        let duration = humantime::parse_duration(&text).map_err(|e| {
            de::Error::custom(format!(
                "`{text}` is not a duration ({e}); write it like `90s`, `15m`, `2h` or `1h 30m`"
            ))
        })?;
        if duration.is_zero() || duration > Duration::from_secs(30 * 24 * 3600) {
            return Err(de::Error::custom(format!(
                "`{text}` is out of range: a duration must be more than 0 and at most 30 days"
            )));
        }
        Ok(Ttl(duration))
    }
}

/// A pattern where `*` matches any run of characters (including `/` and `.`), as in
/// Cedar's `like`. Used for operations, tools, paths and hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(pub String);

impl<'de> Deserialize<'de> for Glob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = string(d)?;
        if text.is_empty() {
            return Err(de::Error::custom("a pattern cannot be empty"));
        }
        if text.chars().any(|c| c.is_control()) {
            return Err(de::Error::custom(format!(
                "pattern `{}` contains a control character",
                text.escape_debug()
            )));
        }
        Ok(Glob(text))
    }
}

impl Glob {
    /// Matches like Cedar's `like`: `*` is any run of characters.
    pub fn matches(&self, text: &str) -> bool {
        glob_match(self.0.as_bytes(), text.as_bytes())
    }
}

/// Iterative wildcard match with single-star backtracking: linear in practice and free
/// of recursion, so a hostile pattern cannot blow the stack. Hand-written because the
/// glob crates all give `/` a meaning we do not want here.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if Some(&c) == text.get(t) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

/// A host name, or `*.example.com` for any subdomain of example.com (not the apex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern(pub String);

impl HostPattern {
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match self.0.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.')),
            None => host == self.0,
        }
    }
}

impl HostPattern {
    /// Checks `text` as a manifest would: for hosts given on the command line.
    pub fn parse(text: &str) -> Result<HostPattern, String> {
        let lowered = text.trim_end_matches('.').to_ascii_lowercase();
        let bare = lowered.strip_prefix("*.").unwrap_or(&lowered);
        if lowered.contains("://") || lowered.contains('/') || lowered.contains(':') {
            return Err(format!(
                "`{text}` is not a host: write the name only, without scheme, port or path (e.g. `api.github.com`)"
            ));
        }
        let valid_labels = !bare.is_empty()
            && bare.len() <= 253
            && bare.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !valid_labels {
            let help = if bare == "*" || lowered.contains('*') {
                "only a leading `*.` wildcard is allowed, e.g. `*.githubusercontent.com`"
            } else {
                "a host is letters, digits and `-` in dot-separated labels"
            };
            return Err(format!("`{text}` is not a valid host: {help}"));
        }
        Ok(HostPattern(lowered))
    }
}

impl<'de> Deserialize<'de> for HostPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        HostPattern::parse(&string(d)?).map_err(de::Error::custom)
    }
}

/// Where `[network.resolve]` points a name: an address (`127.0.0.1`, the request's own
/// port kept) or an address and port (`127.0.0.1:8443`, `[::1]:8443`). The port form
/// lets a client keep the real URL (`https://backboard.railway.com/…`, port 443) while
/// the gateway reaches a local stand-in listening elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    pub ip: std::net::IpAddr,
    pub port: Option<u16>,
}

impl<'de> Deserialize<'de> for Pin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = string(d)?;
        if let Ok(ip) = text.parse::<std::net::IpAddr>() {
            return Ok(Pin { ip, port: None });
        }
        match text.parse::<std::net::SocketAddr>() {
            Ok(address) if address.port() != 0 => Ok(Pin {
                ip: address.ip(),
                port: Some(address.port()),
            }),
            _ => Err(de::Error::custom(format!(
                "`{text}` is not an address: write an IP, optionally with a port, like `127.0.0.1`, `127.0.0.1:8443` or `[::1]:8443`"
            ))),
        }
    }
}

/// An `http://` or `https://` URL with a host, checked when the manifest loads rather
/// than when the first approval tries to notify it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(pub String);

impl<'de> Deserialize<'de> for WebhookUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = string(d)?;
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"));
        let host = rest
            .and_then(|r| r.split(['/', '?', '#']).next())
            .unwrap_or("");
        if host.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(de::Error::custom(format!(
                "`{text}` is not a webhook URL: write it like `https://hooks.slack.com/services/…`"
            )));
        }
        Ok(WebhookUrl(text))
    }
}

/// cordon.toml's `store`: a PostgreSQL URL, checked when the manifest loads. The
/// default SQLite store under `$CORDON_HOME` needs no key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreUrl(pub String);

impl<'de> Deserialize<'de> for StoreUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = string(d)?;
        match crate::store::StoreLocation::parse(&text) {
            Ok(crate::store::StoreLocation::Postgres(url)) => Ok(StoreUrl(url)),
            Ok(crate::store::StoreLocation::Sqlite(_)) => Err(de::Error::custom(
                "`store` names a shared PostgreSQL store, like `postgres://cordon@db.internal/cordon`; the default SQLite file under $CORDON_HOME needs no key",
            )),
            Err(e) => Err(de::Error::custom(e.to_string())),
        }
    }
}

/// Where cordon reads a credential's real secret. It is read by the supervisor outside
/// every sandbox and never written anywhere an agent can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    Env(String),
    File(String),
}

impl<'de> Deserialize<'de> for CredentialSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = string(d)?;
        let (scheme, rest) = text.split_once(':').ok_or_else(|| {
            de::Error::custom(format!(
                "`{text}` is not a secret source: write `env:VARIABLE` or `file:PATH`"
            ))
        })?;
        match scheme {
            "env"
                if !rest.is_empty()
                    && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                Ok(CredentialSource::Env(rest.to_owned()))
            }
            "env" => Err(de::Error::custom(format!(
                "`{rest}` is not an environment variable name"
            ))),
            "file" if !rest.is_empty() => Ok(CredentialSource::File(rest.to_owned())),
            "file" => Err(de::Error::custom(
                "`file:` needs a path, e.g. `file:~/.config/acme/token`",
            )),
            other => Err(de::Error::custom(format!(
                "secret source `{other}:` is not supported; use `env:` or `file:`"
            ))),
        }
    }
}

/// How the gateway puts the real secret on an outgoing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injection {
    /// A header whose value is a template containing `{secret}`.
    Header { name: String, template: String },
    /// HTTP basic auth with this user name and the secret as password.
    Basic { user: String },
    /// A query parameter carrying the secret.
    Query { param: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInjection {
    header: Option<String>,
    value: Option<String>,
    basic_user: Option<String>,
    query: Option<String>,
}

impl<'de> Deserialize<'de> for Injection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawInjection::deserialize(d)?;
        match (raw.header, raw.value, raw.basic_user, raw.query) {
            (Some(name), template, None, None) => {
                let template = template.unwrap_or_else(|| "{secret}".to_owned());
                if !template.contains("{secret}") {
                    return Err(de::Error::custom(format!(
                        "inject value `{template}` has no `{{secret}}` placeholder"
                    )));
                }
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    return Err(de::Error::custom(format!("`{name}` is not a header name")));
                }
                Ok(Injection::Header { name, template })
            }
            (None, None, Some(user), None) => Ok(Injection::Basic { user }),
            (None, None, None, Some(param)) if !param.is_empty() => Ok(Injection::Query { param }),
            _ => Err(de::Error::custom(
                "inject takes exactly one form: `{ header = \"Authorization\", value = \"Bearer {secret}\" }`, `{ basic_user = \"git\" }` or `{ query = \"access_token\" }`",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_star_spans_dots_and_slashes() {
        let g = Glob("graphql.query.*".to_owned());
        assert!(g.matches("graphql.query.me"));
        assert!(g.matches("graphql.query.a.b"));
        assert!(!g.matches("graphql.mutation.volumeDelete"));
        assert!(Glob("*".to_owned()).matches(""));
        assert!(Glob("a*b*c".to_owned()).matches("aXXbYYc"));
        assert!(!Glob("a*b*c".to_owned()).matches("aXXbYY"));
    }

    #[test]
    fn glob_matching_is_linear_on_hostile_patterns() {
        let pattern = Glob("*a".repeat(200));
        let text = "a".repeat(199);
        assert!(!pattern.matches(&text));
    }

    #[test]
    fn host_wildcard_does_not_match_apex_or_lookalikes() {
        let p = HostPattern("*.github.com".to_owned());
        assert!(p.matches("api.github.com"));
        assert!(p.matches("API.GitHub.com."));
        assert!(!p.matches("github.com"));
        assert!(!p.matches("evilgithub.com"));
        assert!(!p.matches("github.com.evil.io"));
    }
}
