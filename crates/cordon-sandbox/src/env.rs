//! Environment scrubbing: the sandboxed command never inherits a variable that looks
//! like it holds a secret, unless the caller keeps it by name.

use std::ffi::{OsStr, OsString};

/// Substrings (of the upper-cased name) that mark a variable as secret-looking.
const SECRET_MARKERS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "KEY",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "AUTH",
    "SESSION",
    "COOKIE",
    "PRIVATE",
];

/// Whether a variable name looks like it names a secret.
///
/// Matching is by substring of the upper-cased name, so it errs on the side of
/// dropping (`XAUTHORITY`, `DBUS_SESSION_BUS_ADDRESS` and `SSH_AUTH_SOCK` all go, which
/// is intended). A name that is not UTF-8 is treated as secret.
#[must_use]
pub fn looks_like_secret(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return true;
    };
    let upper = name.to_ascii_uppercase();
    SECRET_MARKERS.iter().any(|marker| upper.contains(marker))
}

/// Drop every variable whose name [looks like a secret](looks_like_secret), except
/// the names in `keep` (matched exactly). Order is preserved.
pub fn scrub_env<I, K, V>(vars: I, keep: &[&str]) -> Vec<(OsString, OsString)>
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<OsString>,
    V: Into<OsString>,
{
    vars.into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .filter(|(k, _)| keep.iter().any(|kept| OsStr::new(kept) == k) || !looks_like_secret(k))
        .collect()
}

#[cfg(test)]
#[path = "env_tests.rs"]
mod tests;
