//! Parsed and validated Cedar, remembered between processes.
//!
//! A hook is one short process per tool call, and before this cache most of its time
//! went to Cedar's text parser (its lexer builds a regex automaton on every parse) and
//! to the validator, for policies that are the same on every call. Generating the policy
//! text from the manifest is cheap, so the text itself is the key: a policy whose text
//! is in the cache is rebuilt from its JSON form (no text parser), and a policy set
//! whose exact texts were validated against this exact schema is not validated again.
//! A manifest edit changes the text and so misses the cache; nothing has to be
//! invalidated.
//!
//! The file lives under `$CORDON_HOME/cache/`, beside the approval keys and the audit
//! log: whoever can write it can already sign approvals, so it is trusted as they are.
//! It is never needed: unreadable, corrupt or from another Cedar version, it is ignored
//! and rewritten, and an entry that no longer converts falls back to the text parser.

use cedar_policy::{Policy, PolicyId};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Beyond this many parsed entries the file is started afresh: a manifest edited many
/// times leaves texts behind that no run will ask for again.
const MAX_ENTRIES: usize = 4096;
const FILE_NAME: &str = "policy-v1.json";

#[derive(Debug)]
pub struct PolicyCache {
    file: Option<PathBuf>,
    state: Mutex<State>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    #[serde(default)]
    cedar: String,
    /// SHA-256 of a policy's text → the policy in Cedar's JSON form.
    #[serde(default)]
    parsed: HashMap<String, Box<RawValue>>,
    /// Keys of policy sets that passed validation (see [`validation_key`]).
    #[serde(default)]
    validated: HashSet<String>,
    #[serde(skip)]
    dirty: bool,
}

fn cedar_version() -> String {
    cedar_policy::get_sdk_version().to_string()
}

fn hex_sha256(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The key under which a set of `(id, text)` policies counts as validated against
/// `schema`: any change to an id, a text or the schema is a different key.
pub(crate) fn validation_key(schema: &str, policies: &[(&str, &str)]) -> String {
    let mut sorted = policies.to_vec();
    sorted.sort_unstable();
    let mut parts = vec![schema];
    for (id, text) in &sorted {
        parts.push(id);
        parts.push(text);
    }
    hex_sha256(&parts)
}

impl PolicyCache {
    /// A cache for this process only (`cordon check`, tests).
    pub fn in_memory() -> PolicyCache {
        PolicyCache {
            file: None,
            state: Mutex::new(State {
                cedar: cedar_version(),
                ..State::default()
            }),
        }
    }

    /// The cache kept under `cordon_home`; an absent or unusable file is an empty cache.
    pub fn load(cordon_home: &Path) -> PolicyCache {
        let file = cordon_home.join("cache").join(FILE_NAME);
        let state = std::fs::read(&file)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<State>(&bytes).ok())
            .filter(|s| s.cedar == cedar_version())
            .unwrap_or_else(|| State {
                cedar: cedar_version(),
                ..State::default()
            });
        PolicyCache {
            file: Some(file),
            state: Mutex::new(state),
        }
    }

    /// `text` as a policy named `id`: from the cache when its text was parsed before,
    /// else parsed (and remembered).
    pub(crate) fn parse(&self, id: &str, text: &str) -> Result<Policy, String> {
        let key = hex_sha256(&[text]);
        let cached = self
            .state
            .lock()
            .ok()
            .and_then(|s| s.parsed.get(&key).map(|raw| raw.get().to_owned()));
        if let Some(json) = cached
            && let Ok(value) = serde_json::from_str(&json)
            && let Ok(policy) = Policy::from_json(Some(PolicyId::new(id)), value)
        {
            return Ok(policy);
        }
        let policy = Policy::parse(Some(PolicyId::new(id)), text).map_err(|e| e.to_string())?;
        if let Ok(json) = policy.to_json()
            && let Ok(raw) = serde_json::value::to_raw_value(&json)
            && let Ok(mut state) = self.state.lock()
        {
            if state.parsed.len() >= MAX_ENTRIES {
                state.parsed.clear();
                state.validated.clear();
            }
            state.parsed.insert(key, raw);
            state.dirty = true;
        }
        Ok(policy)
    }

    pub(crate) fn is_validated(&self, key: &str) -> bool {
        self.state
            .lock()
            .is_ok_and(|state| state.validated.contains(key))
    }

    pub(crate) fn mark_validated(&self, key: String) {
        if let Ok(mut state) = self.state.lock()
            && state.validated.insert(key)
        {
            state.dirty = true;
        }
    }

    /// Writes what this process added, atomically (a temporary file renamed over the
    /// old one), so a concurrent reader sees the old cache or the new, never half of
    /// one. Best effort: a cache that cannot be written costs time, not correctness.
    pub fn flush(&self) {
        let Some(file) = &self.file else { return };
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if !state.dirty {
            return;
        }
        if write_atomically(file, &state).is_ok() {
            state.dirty = false;
        } else {
            tracing::debug!(file = %file.display(), "policy cache not written");
        }
    }
}

fn write_atomically(file: &Path, state: &State) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    crate::home::create_private_dir(dir)?;
    let bytes = serde_json::to_vec(state).map_err(std::io::Error::other)?;
    // One temporary name per process, so two hooks writing at once do not interleave.
    let temp = dir.join(format!(".{FILE_NAME}.{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp)
        .and_then(|mut f| f.write_all(&bytes))
        .and_then(|()| std::fs::rename(&temp, file));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str =
        "@reason(\"r\")\npermit(principal, action, resource) when { context.path like \"/w/*\" };";

    #[test]
    fn a_policy_read_back_from_disk_is_the_policy_that_was_parsed() -> Result<(), String> {
        let home = tempfile::tempdir().map_err(|e| e.to_string())?;
        let first = PolicyCache::load(home.path());
        let parsed = first.parse("p1", TEXT)?;
        first.flush();
        let second = PolicyCache::load(home.path());
        let key = hex_sha256(&[TEXT]);
        assert!(
            second
                .state
                .lock()
                .is_ok_and(|s| s.parsed.contains_key(&key)),
            "the second process sees the first one's parse"
        );
        let cached = second.parse("p2", TEXT)?;
        assert_eq!(cached.id(), &PolicyId::new("p2"), "the id is the caller's");
        assert_eq!(cached.to_json().ok(), parsed.to_json().ok());
        assert_eq!(cached.annotation("reason"), Some("r"));
        Ok(())
    }

    #[test]
    fn a_corrupt_or_foreign_cache_is_ignored() -> Result<(), String> {
        let home = tempfile::tempdir().map_err(|e| e.to_string())?;
        let file = home.path().join("cache").join(FILE_NAME);
        std::fs::create_dir_all(file.parent().unwrap_or(home.path())).map_err(|e| e.to_string())?;
        std::fs::write(&file, b"{not json").map_err(|e| e.to_string())?;
        assert!(PolicyCache::load(home.path()).parse("p", TEXT).is_ok());

        // An entry that is valid JSON but not a policy falls back to the text.
        let key = hex_sha256(&[TEXT]);
        let forged = format!(
            "{{\"cedar\":\"{}\",\"parsed\":{{\"{key}\":{{\"effect\":\"nonsense\"}}}},\"validated\":[]}}",
            cedar_version()
        );
        std::fs::write(&file, forged).map_err(|e| e.to_string())?;
        let policy = PolicyCache::load(home.path()).parse("p", TEXT)?;
        assert_eq!(policy.annotation("reason"), Some("r"));

        // Another Cedar version's entries are not trusted at all.
        let other = format!(
            "{{\"cedar\":\"0.0.1\",\"parsed\":{{}},\"validated\":[\"{}\"]}}",
            validation_key("s", &[])
        );
        std::fs::write(&file, other).map_err(|e| e.to_string())?;
        assert!(!PolicyCache::load(home.path()).is_validated(&validation_key("s", &[])));
        Ok(())
    }

    #[test]
    fn validation_keys_change_with_any_text_id_or_schema() {
        let base = validation_key("schema", &[("a", "x"), ("b", "y")]);
        assert_eq!(
            base,
            validation_key("schema", &[("b", "y"), ("a", "x")]),
            "order does not matter"
        );
        assert_ne!(base, validation_key("schema2", &[("a", "x"), ("b", "y")]));
        assert_ne!(base, validation_key("schema", &[("a", "x"), ("b", "z")]));
        assert_ne!(base, validation_key("schema", &[("c", "x"), ("b", "y")]));
        assert_ne!(base, validation_key("schema", &[("a", "xb"), ("", "y")]));
    }
}
