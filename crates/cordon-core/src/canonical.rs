//! Canonical JSON and hashing, shared by the audit chain and approvals.
//!
//! The encoding is RFC 8785 (JCS) restricted to what cordon hashes: objects with ASCII
//! keys, strings, booleans, null and integers. Under those restrictions serde_json's
//! compact output with keys sorted byte-wise is exactly JCS (same escapes, no spaces,
//! and byte order equals UTF-16 order for ASCII keys), so no extra crate is needed.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Rebuilds `value` with every object's keys in sorted order.
pub fn canonicalize(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut sorted = Map::with_capacity(map.len());
            for key in keys {
                if let Some(v) = map.get(key) {
                    sorted.insert(key.clone(), canonicalize(v));
                }
            }
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonicalize).collect()),
        other => other.clone(),
    }
}

/// Sorts every object's keys in place: the cheap way to canonicalize a value that is
/// about to be serialized anyway.
pub fn sort_keys_deep(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.sort_keys();
            for v in map.values_mut() {
                sort_keys_deep(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys_deep),
        _ => {}
    }
}

/// The canonical bytes of `value`.
pub fn canonical_bytes(value: &Value) -> Vec<u8> {
    // Serializing a Value cannot fail: every key is a string.
    serde_json::to_vec(&canonicalize(value)).unwrap_or_default()
}

/// Lower-case hex SHA-256 of the canonical encoding of `value`.
pub fn canonical_hash(value: &Value) -> String {
    hex::encode(Sha256::digest(canonical_bytes(value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a = json!({"b": 1, "a": {"d": [1, {"y": 2, "x": 1}], "c": "é\n"}});
        let b = json!({"a": {"c": "é\n", "d": [1, {"x": 1, "y": 2}]}, "b": 1});
        assert_eq!(canonical_hash(&a), canonical_hash(&b));
        assert_eq!(
            String::from_utf8(canonical_bytes(&a)).unwrap(),
            r#"{"a":{"c":"é\n","d":[1,{"x":1,"y":2}]},"b":1}"#
        );
    }

    #[test]
    fn any_change_changes_the_hash() {
        assert_ne!(
            canonical_hash(&json!({"a": "x"})),
            canonical_hash(&json!({"a": "y"}))
        );
    }
}
