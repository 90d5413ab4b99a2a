//! Who may use the page: a random token printed once at start is exchanged for an
//! HttpOnly, SameSite=Strict session cookie; every POST carries the session's CSRF
//! token; every request names an expected Host (no DNS rebinding).

use std::collections::HashMap;
use std::sync::Mutex;

pub const COOKIE: &str = "cordon_session";

/// 32 random bytes as hex: unguessable, and safe in a URL and a cookie.
pub fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Equal without telling a timing observer how many leading bytes matched.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[derive(Debug, Default)]
pub struct Sessions {
    /// session id → its CSRF token.
    by_id: Mutex<HashMap<String, String>>,
}

impl Sessions {
    /// A new session; returns (session id, CSRF token).
    pub fn open(&self) -> (String, String) {
        let (id, csrf) = (random_token(), random_token());
        if let Ok(mut map) = self.by_id.lock() {
            map.insert(id.clone(), csrf.clone());
        }
        (id, csrf)
    }

    /// The CSRF token of the session named by the request's cookie header.
    pub fn csrf_for(&self, cookie_header: Option<&str>) -> Option<String> {
        let id = session_cookie(cookie_header?)?;
        let map = self.by_id.lock().ok()?;
        map.iter()
            .find(|(known, _)| same(known, id))
            .map(|(_, csrf)| csrf.clone())
    }
}

fn session_cookie(header: &str) -> Option<&str> {
    header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == COOKIE).then_some(value)
    })
}

/// The `Set-Cookie` value for a session.
pub fn set_cookie(id: &str, tls: bool) -> String {
    format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/{}",
        if tls { "; Secure" } else { "" }
    )
}
