use super::common::{authorizer, loaded};
use cordon_core::approvals::ApprovalError;
use cordon_core::{Action, Authorizer, Decision, Effect, Gate};
use std::path::Path;
use std::sync::{Arc, Barrier};

fn rm() -> Action {
    Action::new(Gate::Hook, "shell.exec", Effect::Destroy).with_detail("rm -rf /srv/data")
}

const TASK: &str = "[task]\nname = \"t\"\nenvironment = \"production\"\n[approval]\nproduction_approvers = 2\n[[resource]]\nkind = \"db\"\nid = \"main\"\nenvironment = \"production\"\n";

#[test]
fn an_approval_lets_exactly_one_identical_action_through() {
    let env = authorizer("[task]\nname = \"t\"\n");
    let first = env.authorizer.authorize(&rm());
    assert_eq!(first.decision, Decision::Confirm);
    let id = first.approval_id.clone().unwrap();
    assert!(
        first
            .reasons
            .last()
            .unwrap()
            .contains(&format!("cordon approve {id}"))
    );

    // Asking again before a human acts files nothing new.
    assert_eq!(
        env.authorizer.authorize(&rm()).approval_id,
        Some(id.clone())
    );

    env.authorizer
        .approvals()
        .approve(&id, "alice", Some("ok"))
        .unwrap();
    // A different action is not covered by that approval.
    let other =
        Action::new(Gate::Hook, "shell.exec", Effect::Destroy).with_detail("rm -rf /srv/other");
    assert_eq!(env.authorizer.authorize(&other).decision, Decision::Confirm);

    let approved = env.authorizer.authorize(&rm());
    assert_eq!(approved.decision, Decision::Allow);
    assert_eq!(approved.approval_id, Some(id.clone()));
    assert!(approved.reasons[0].contains("alice"));

    let again = env.authorizer.authorize(&rm());
    assert_eq!(again.decision, Decision::Confirm);
    assert_ne!(again.approval_id, Some(id));
}

#[test]
fn a_refusal_travels_back_with_its_reason() {
    let env = authorizer("[task]\nname = \"t\"\n");
    let id = env.authorizer.authorize(&rm()).approval_id.unwrap();
    env.authorizer
        .approvals()
        .deny(&id, "bob", "that is the live data")
        .unwrap();
    let verdict = env.authorizer.authorize(&rm());
    assert_eq!(verdict.decision, Decision::Deny);
    assert!(verdict.reasons[0].contains("bob refused"), "{verdict:?}");
    assert!(verdict.reasons[0].contains("that is the live data"));
    assert!(matches!(
        env.authorizer.approvals().approve(&id, "alice", None),
        Err(ApprovalError::NotPending { .. })
    ));
}

#[test]
fn production_needs_two_distinct_approvers() {
    let env = authorizer(TASK);
    let drop_table =
        Action::new(Gate::Sql, "sql.drop_table", Effect::Destroy).with_target("db", "main");
    let id = env.authorizer.authorize(&drop_table).approval_id.unwrap();
    env.authorizer
        .approvals()
        .approve(&id, "alice", None)
        .unwrap();
    assert!(matches!(
        env.authorizer.approvals().approve(&id, "alice", None),
        Err(ApprovalError::SameApprover { .. })
    ));
    assert_eq!(
        env.authorizer.authorize(&drop_table).decision,
        Decision::Confirm
    );
    env.authorizer
        .approvals()
        .approve(&id, "carol", None)
        .unwrap();
    let verdict = env.authorizer.authorize(&drop_table);
    assert_eq!(verdict.decision, Decision::Allow);
    assert!(
        verdict.reasons[0].contains("alice and carol"),
        "{verdict:?}"
    );
}

#[test]
fn expired_approvals_are_not_used() {
    let env = authorizer("[task]\nname = \"t\"\n[approval]\nttl = \"1s\"\n");
    let id = env.authorizer.authorize(&rm()).approval_id.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert!(matches!(
        env.authorizer.approvals().approve(&id, "alice", None),
        Err(ApprovalError::Expired(_))
    ));
    let verdict = env.authorizer.authorize(&rm());
    assert_eq!(verdict.decision, Decision::Confirm);
    assert_ne!(verdict.approval_id, Some(id));
}

#[test]
fn racing_gates_in_separate_connections_consume_one_approval_once() {
    let home = tempfile::tempdir().unwrap();
    let open = || {
        Authorizer::open(
            loaded("[task]\nname = \"t\"\n", Path::new("/w")),
            home.path(),
        )
        .unwrap()
    };
    let first = open();
    let id = first.authorize(&rm()).approval_id.unwrap();
    first.approvals().approve(&id, "alice", None).unwrap();

    let racers = 8;
    let barrier = Arc::new(Barrier::new(racers));
    let authorizers: Vec<Authorizer> = (0..racers).map(|_| open()).collect();
    let allowed = std::thread::scope(|s| {
        let handles: Vec<_> = authorizers
            .iter()
            .map(|a| {
                let barrier = barrier.clone();
                s.spawn(move || {
                    barrier.wait();
                    a.authorize(&rm()).decision == Decision::Allow
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .filter(|allowed| *allowed)
            .count()
    });
    assert_eq!(allowed, 1);
}
