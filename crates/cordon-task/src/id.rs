//! Task ids: short, sortable by start time, unique.

use rand::Rng;
use std::time::{SystemTime, UNIX_EPOCH};

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// Milliseconds since 1970 in base 36 (8 digits until 2059, so ids sort by time as
/// strings), a dash, and 4 random base-36 digits for tasks started in the same
/// millisecond: `mibz3k2q-7f3a`.
pub(crate) fn new_id() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut digits = Vec::new();
    let mut n = millis;
    while n > 0 || digits.len() < 8 {
        let d = usize::try_from(n % 36).unwrap_or(0);
        digits.push(ALPHABET.get(d).copied().unwrap_or(b'0'));
        n /= 36;
    }
    digits.reverse();
    let mut id = String::from_utf8_lossy(&digits).into_owned();
    id.push('-');
    let mut rng = rand::rng();
    for _ in 0..4 {
        let i = rng.random_range(0..ALPHABET.len());
        id.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'0')));
    }
    id
}

/// Whether `text` could be an id (used before joining it to a path).
pub(crate) fn is_valid(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 32
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_differ() {
        let a = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id();
        assert!(a < b, "{a} !< {b}");
        assert_eq!(a.len(), 13);
        assert!(is_valid(&a));
        assert!(!is_valid("../x"));
        assert!(!is_valid(""));
    }
}
