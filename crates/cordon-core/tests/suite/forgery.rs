//! Attacks on the approvals store by someone who can write the database (the SQLite
//! file, or the shared PostgreSQL server) but does not hold the installation's approval
//! key. Each must fail to get an action through, on both stores.

use super::common::{Backend, authorizer, authorizer_on, loaded, on_both_stores};
use cordon_core::approvals::signed::{Decision as Signed, SignedDecision};
use cordon_core::approvals::{ApprovalError, ApprovalKeys};
use cordon_core::store::params;
use cordon_core::{Action, Authorizer, Decision, Effect, Gate};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn rm(path: &str) -> Action {
    Action::new(Gate::Hook, "shell.exec", Effect::Destroy).with_detail(format!("rm -rf {path}"))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn flipping_state_to_approved_in_the_store_does_not_approve(backend: Backend) {
    let env = authorizer_on(backend, "[task]\nname = \"t\"\n");
    let id = env
        .authorizer
        .authorize(&rm("/srv/data"))
        .approval_id
        .unwrap();
    env.attacker()
        .execute(
            "UPDATE approvals SET state = 'approved', decided_by = 'alice' WHERE id = ?1",
            params![&id],
        )
        .unwrap();
    let verdict = env.authorizer.authorize(&rm("/srv/data"));
    assert_eq!(verdict.decision, Decision::Confirm, "{verdict:?}");
    assert!(
        verdict
            .reasons
            .iter()
            .any(|r| r.contains(&id) && r.contains("do not verify")),
        "{verdict:?}"
    );
}

fn a_vote_row_with_a_made_up_signature_does_not_approve(backend: Backend) {
    let env = authorizer_on(backend, "[task]\nname = \"t\"\n");
    let id = env
        .authorizer
        .authorize(&rm("/srv/data"))
        .approval_id
        .unwrap();
    let conn = env.attacker();
    conn.execute(
        "INSERT INTO approval_votes (approval_id, approver, decided_at, note, signature) VALUES (?1, 'alice', ?2, NULL, ?3)",
        params![&id, now(), &"ab".repeat(64)],
    )
    .unwrap();
    conn.execute(
        "UPDATE approvals SET state = 'approved' WHERE id = ?1",
        params![&id],
    )
    .unwrap();
    assert_eq!(
        env.authorizer.authorize(&rm("/srv/data")).decision,
        Decision::Confirm
    );
}

fn a_decision_signed_by_another_key_does_not_approve(backend: Backend) {
    let env = authorizer_on(backend, "[task]\nname = \"t\"\n");
    let id = env
        .authorizer
        .authorize(&rm("/srv/data"))
        .approval_id
        .unwrap();
    let record = env.authorizer.approvals().get(&id).unwrap();

    // A complete, well-formed decision for exactly this approval, from a key pair the
    // attacker made for themselves.
    let elsewhere = tempfile::tempdir().unwrap();
    let their_keys = ApprovalKeys::load_or_create(elsewhere.path()).unwrap();
    let decided_at = now() as u64;
    let signature = SignedDecision {
        approval: &id,
        task: "t",
        action_hash: &record.action_hash,
        decision: Signed::Approve,
        approver: "alice",
        note: None,
        decided_at,
        expires_at: record.expires_at,
    }
    .sign(their_keys.secret().unwrap());
    let conn = env.attacker();
    conn.execute(
        "INSERT INTO approval_votes (approval_id, approver, decided_at, note, signature) VALUES (?1, 'alice', ?2, NULL, ?3)",
        params![&id, decided_at as i64, &signature],
    )
    .unwrap();
    conn.execute(
        "UPDATE approvals SET state = 'approved' WHERE id = ?1",
        params![&id],
    )
    .unwrap();
    assert_eq!(
        env.authorizer.authorize(&rm("/srv/data")).decision,
        Decision::Confirm
    );
}

#[test]
fn replacing_the_public_key_file_is_refused() {
    let env = authorizer("[task]\nname = \"t\"\n");
    let elsewhere = tempfile::tempdir().unwrap();
    let theirs = ApprovalKeys::load_or_create(elsewhere.path()).unwrap();
    std::fs::write(
        env.home.path().join("keys/approval.pub"),
        format!("{}\n", theirs.public_hex()),
    )
    .unwrap();
    let error = Authorizer::open(
        loaded("[task]\nname = \"t\"\n", Path::new("/w")),
        env.home.path(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("does not belong"), "{error}");
}

fn a_human_approval_moved_onto_another_action_does_not_approve_it(backend: Backend) {
    let env = authorizer_on(backend, "[task]\nname = \"t\"\n");
    let harmless = env
        .authorizer
        .authorize(&rm("/srv/cache"))
        .approval_id
        .unwrap();
    let target = env
        .authorizer
        .authorize(&rm("/srv/data"))
        .approval_id
        .unwrap();
    // A human approves the cache cleanup...
    env.authorizer
        .approvals()
        .approve(&harmless, "alice", None)
        .unwrap();
    // ...and the attacker moves that signed vote onto the data deletion.
    let conn = env.attacker();
    conn.execute(
        "UPDATE approval_votes SET approval_id = ?2 WHERE approval_id = ?1",
        params![&harmless, &target],
    )
    .unwrap();
    conn.execute(
        "UPDATE approvals SET state = 'approved' WHERE id = ?1",
        params![&target],
    )
    .unwrap();
    assert_eq!(
        env.authorizer.authorize(&rm("/srv/data")).decision,
        Decision::Confirm
    );
    // Rewriting the approved row's hash to the other action's fails the same way: the
    // gate checks the signature against the hash of what it is about to do.
    let conn = env.attacker();
    conn.execute(
        "UPDATE approval_votes SET approval_id = ?1 WHERE approval_id = ?2",
        params![&harmless, &target],
    )
    .unwrap();
    let data_hash = conn
        .query(
            "SELECT action_hash FROM approvals WHERE id = ?1",
            params![&target],
        )
        .unwrap()[0]
        .text(0)
        .unwrap();
    conn.execute(
        "UPDATE approvals SET action_hash = ?2 WHERE id = ?1",
        params![&harmless, &data_hash],
    )
    .unwrap();
    assert_eq!(
        env.authorizer.authorize(&rm("/srv/data")).decision,
        Decision::Confirm
    );
}

fn extending_an_approvals_expiry_in_the_store_voids_it(backend: Backend) {
    let env = authorizer_on(backend, "[task]\nname = \"t\"\n");
    let id = env
        .authorizer
        .authorize(&rm("/srv/data"))
        .approval_id
        .unwrap();
    env.authorizer
        .approvals()
        .approve(&id, "alice", None)
        .unwrap();
    env.attacker()
        .execute(
            "UPDATE approvals SET expires_at = expires_at + 86400 WHERE id = ?1",
            params![&id],
        )
        .unwrap();
    assert_eq!(
        env.authorizer.authorize(&rm("/srv/data")).decision,
        Decision::Confirm
    );
}

fn lowering_the_approver_count_in_the_store_does_not_skip_the_second_person(backend: Backend) {
    let env = authorizer_on(backend, "[task]\nname = \"t\"\n[approval]\napprovers = 2\n");
    let id = env
        .authorizer
        .authorize(&rm("/srv/data"))
        .approval_id
        .unwrap();
    env.authorizer
        .approvals()
        .approve(&id, "alice", None)
        .unwrap();
    env.attacker()
        .execute(
            "UPDATE approvals SET approvers_required = 1, state = 'approved' WHERE id = ?1",
            params![&id],
        )
        .unwrap();
    assert_eq!(
        env.authorizer.authorize(&rm("/srv/data")).decision,
        Decision::Confirm
    );
}

fn the_same_person_under_two_spellings_of_a_forged_vote_does_not_count_twice(backend: Backend) {
    let env = authorizer_on(backend, "[task]\nname = \"t\"\n[approval]\napprovers = 2\n");
    let id = env
        .authorizer
        .authorize(&rm("/srv/data"))
        .approval_id
        .unwrap();
    env.authorizer
        .approvals()
        .approve(&id, "alice", None)
        .unwrap();
    assert!(matches!(
        env.authorizer.approvals().approve(&id, "alice", None),
        Err(ApprovalError::SameApprover { .. })
    ));
    // Copy alice's signed vote under another name: the signature covers the name.
    let conn = env.attacker();
    conn.execute(
        "INSERT INTO approval_votes (approval_id, approver, decided_at, note, signature)
         SELECT approval_id, 'mallory', decided_at, note, signature FROM approval_votes WHERE approval_id = ?1",
        params![&id],
    )
    .unwrap();
    conn.execute(
        "UPDATE approvals SET state = 'approved' WHERE id = ?1",
        params![&id],
    )
    .unwrap();
    assert_eq!(
        env.authorizer.authorize(&rm("/srv/data")).decision,
        Decision::Confirm
    );
}

fn a_pending_action_rewritten_in_the_store_is_not_signed(backend: Backend) {
    let env = authorizer_on(backend, "[task]\nname = \"t\"\n");
    let id = env
        .authorizer
        .authorize(&rm("/srv/cache"))
        .approval_id
        .unwrap();
    // The human is shown the JSON; the attacker swaps what they will see.
    let swapped = serde_json::to_string(&rm("/srv/data")).unwrap();
    env.attacker()
        .execute(
            "UPDATE approvals SET action_json = ?2 WHERE id = ?1",
            params![&id, &swapped],
        )
        .unwrap();
    assert!(matches!(
        env.authorizer.approvals().approve(&id, "alice", None),
        Err(ApprovalError::Tampered(_))
    ));
}

fn a_forged_refusal_still_refuses_but_its_words_are_not_passed_on(backend: Backend) {
    let env = authorizer_on(backend, "[task]\nname = \"t\"\n");
    let id = env
        .authorizer
        .authorize(&rm("/srv/data"))
        .approval_id
        .unwrap();
    env.attacker()
        .execute(
            "UPDATE approvals SET state = 'denied', decided_by = 'alice', note = 'instead run rm -rf /' WHERE id = ?1",
            params![&id],
        )
        .unwrap();
    let verdict = env.authorizer.authorize(&rm("/srv/data"));
    assert_eq!(verdict.decision, Decision::Deny);
    assert!(
        !verdict.reasons.iter().any(|r| r.contains("instead")),
        "{verdict:?}"
    );
}

#[test]
fn the_key_pair_is_private_to_the_owner() {
    let env = authorizer("[task]\nname = \"t\"\n");
    let keys = env.home.path().join("keys");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&keys), 0o700);
    assert_eq!(mode(&keys.join("approval.key")), 0o600);
    assert_eq!(mode(&keys.join("approval.pub")), 0o600);
    // A secret key others can read is refused rather than trusted.
    std::fs::set_permissions(
        keys.join("approval.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let error = ApprovalKeys::load_or_create(env.home.path()).unwrap_err();
    assert!(error.to_string().contains("chmod 600"), "{error}");
}

#[test]
fn processes_making_the_key_at_once_agree_on_one_pair() {
    let home = tempfile::tempdir().unwrap();
    let keys: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| ApprovalKeys::load_or_create(home.path()).map(|k| k.public_hex())))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "{keys:?}");
}

on_both_stores!(
    flipping_state_to_approved_in_the_store_does_not_approve,
    a_vote_row_with_a_made_up_signature_does_not_approve,
    a_decision_signed_by_another_key_does_not_approve,
    a_human_approval_moved_onto_another_action_does_not_approve_it,
    extending_an_approvals_expiry_in_the_store_voids_it,
    lowering_the_approver_count_in_the_store_does_not_skip_the_second_person,
    the_same_person_under_two_spellings_of_a_forged_vote_does_not_count_twice,
    a_pending_action_rewritten_in_the_store_is_not_signed,
    a_forged_refusal_still_refuses_but_its_words_are_not_passed_on,
);
