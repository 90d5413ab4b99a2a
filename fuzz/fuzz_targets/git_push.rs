//! Arbitrary bytes as the body of a `git-receive-pack` request: reading its ref
//! updates must never panic or hang, and every update it returns must have the shape
//! receive-pack itself would accept (two object ids of one length, a ref name without
//! spaces), so nothing it reports is a misreading of junk.
#![no_main]

use cordon_classify::git_push::{MAX_REF_UPDATES, receive_pack_updates};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(updates) = receive_pack_updates(data) {
        assert!(updates.len() <= MAX_REF_UPDATES);
        for update in &updates {
            assert!(update.old.len() == 40 || update.old.len() == 64);
            assert_eq!(update.old.len(), update.new.len());
            assert!(
                update
                    .old
                    .bytes()
                    .chain(update.new.bytes())
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
            assert!(!update.name.is_empty() && !update.name.contains(' '));
            assert!(!update.short_name().is_empty());
        }
    }
});
