use super::common::{Backend, authorizer_on, on_both_stores};
use cordon_core::approvals::ApprovalError;
use cordon_core::store::{Store, StoreLocation};
use cordon_core::{Action, Authorizer, Decision, Effect, Gate};
use std::sync::{Arc, Barrier};

fn rm() -> Action {
    Action::new(Gate::Hook, "shell.exec", Effect::Destroy).with_detail("rm -rf /srv/data")
}

const TASK: &str = "[task]\nname = \"t\"\nenvironment = \"production\"\n[approval]\nproduction_approvers = 2\n[[resource]]\nkind = \"db\"\nid = \"main\"\nenvironment = \"production\"\n";

fn an_approval_lets_exactly_one_identical_action_through(backend: Backend) {
    let env = authorizer_on(backend, "[task]\nname = \"t\"\n");
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

fn a_refusal_travels_back_with_its_reason(backend: Backend) {
    let env = authorizer_on(backend, "[task]\nname = \"t\"\n");
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

fn production_needs_two_distinct_approvers(backend: Backend) {
    let env = authorizer_on(backend, TASK);
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

fn expired_approvals_are_not_used(backend: Backend) {
    let env = authorizer_on(backend, "[task]\nname = \"t\"\n[approval]\nttl = \"1s\"\n");
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

fn racing_gates_in_separate_connections_consume_one_approval_once(backend: Backend) {
    let env = authorizer_on(backend, "[task]\nname = \"t\"\n");
    let first = &env.authorizer;
    let id = first.authorize(&rm()).approval_id.unwrap();
    first.approvals().approve(&id, "alice", None).unwrap();

    let racers = 8;
    let barrier = Arc::new(Barrier::new(racers));
    let authorizers: Vec<Authorizer> = (0..racers).map(|_| env.another_gate()).collect();
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

fn two_people_approving_at_the_same_moment_both_count(backend: Backend) {
    // Each vote counts the votes in its own transaction; unless the approval row is
    // locked, both could count only themselves and the action would never be granted.
    for round in 0..5 {
        let env = authorizer_on(backend, "[task]\nname = \"t\"\n[approval]\napprovers = 2\n");
        let action = Action::new(Gate::Hook, "shell.exec", Effect::Destroy)
            .with_detail(format!("rm -rf /srv/data/{round}"));
        let id = env.authorizer.authorize(&action).approval_id.unwrap();
        let gates = [env.another_gate(), env.another_gate()];
        let barrier = Barrier::new(2);
        std::thread::scope(|s| {
            for (gate, who) in gates.iter().zip(["alice", "carol"]) {
                let (barrier, id) = (&barrier, &id);
                s.spawn(move || {
                    barrier.wait();
                    gate.approvals().approve(id, who, None).unwrap();
                });
            }
        });
        let record = env.authorizer.approvals().get(&id).unwrap();
        assert_eq!(record.state, "approved", "round {round}: {record:?}");
        assert_eq!(env.authorizer.authorize(&action).decision, Decision::Allow);
    }
}

fn many_gates_opening_a_new_store_at_once_migrate_it_once(backend: Backend) {
    let env = authorizer_on(backend, "[task]\nname = \"t\"\n");
    // A second, empty store for the racers (the env's own is already migrated).
    let store = match backend {
        Backend::Sqlite => StoreLocation::Sqlite(env.home.path().join("fresh.db")),
        Backend::Postgres => StoreLocation::Postgres(super::pg_server::fresh_database()),
    };
    let opened: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| s.spawn(|| Store::open_at(&store).is_ok()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(opened.iter().all(|ok| *ok), "{opened:?}");
    let tables = Store::open_at(&store)
        .unwrap()
        .query(
            "SELECT COUNT(*) FROM approvals WHERE state = 'pending'",
            &[],
        )
        .unwrap();
    assert_eq!(tables[0].int(0).unwrap(), 0);
}

const HOLD: &str = "[task]\nname = \"t\"\n[approval]\nmode = \"hold\"\n";

/// The id of the request a held `authorize_holding` filed, once it is there.
fn filed(env: &super::common::StoreEnv) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(record) = env.authorizer.approvals().pending().unwrap().first() {
            return record.id.clone();
        }
        assert!(std::time::Instant::now() < deadline, "nothing was filed");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn a_held_action_waits_for_the_human_and_then_goes_through_once(backend: Backend) {
    let env = authorizer_on(backend, HOLD);
    let gate = env.another_gate();
    std::thread::scope(|s| {
        let held = s.spawn(|| gate.authorize_holding(&rm()));
        let id = filed(&env);
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!held.is_finished(), "answered before anyone decided");
        env.authorizer
            .approvals()
            .approve(&id, "alice", None)
            .unwrap();
        let verdict = held.join().unwrap();
        assert_eq!(verdict.decision, Decision::Allow, "{verdict:?}");
        assert_eq!(verdict.approval_id, Some(id.clone()));
        assert_eq!(
            env.authorizer.approvals().get(&id).unwrap().state,
            "consumed"
        );
    });
}

fn two_identical_held_actions_share_one_approval_and_only_one_goes_out(backend: Backend) {
    let env = authorizer_on(
        backend,
        "[task]\nname = \"t\"\n[approval]\nmode = \"hold\"\nttl = \"3s\"\n",
    );
    let gates = [env.another_gate(), env.another_gate()];
    std::thread::scope(|s| {
        let held: Vec<_> = gates
            .iter()
            .map(|gate| s.spawn(move || gate.authorize_holding(&rm())))
            .collect();
        let id = filed(&env);
        std::thread::sleep(std::time::Duration::from_millis(300));
        env.authorizer
            .approvals()
            .approve(&id, "alice", None)
            .unwrap();
        let verdicts: Vec<_> = held.into_iter().map(|h| h.join().unwrap()).collect();
        let allowed = verdicts
            .iter()
            .filter(|v| v.decision == Decision::Allow)
            .count();
        assert_eq!(allowed, 1, "{verdicts:?}");
        // The other is held on a fresh request that no one answers, until it expires.
        let other = verdicts
            .iter()
            .find(|v| v.decision != Decision::Allow)
            .unwrap();
        assert_eq!(other.decision, Decision::Deny, "{other:?}");
        assert!(other.reasons[0].contains("expired"), "{other:?}");
    });
}

fn a_held_action_refused_comes_back_with_the_reason(backend: Backend) {
    let env = authorizer_on(backend, HOLD);
    let gate = env.another_gate();
    std::thread::scope(|s| {
        let held = s.spawn(|| gate.authorize_holding(&rm()));
        let id = filed(&env);
        env.authorizer
            .approvals()
            .deny(&id, "bob", "that is the live data")
            .unwrap();
        let verdict = held.join().unwrap();
        assert_eq!(verdict.decision, Decision::Deny);
        assert!(
            verdict.reasons[0].contains("that is the live data"),
            "{verdict:?}"
        );
    });
}

fn a_held_action_no_one_decides_is_refused_at_expiry(backend: Backend) {
    let env = authorizer_on(
        backend,
        "[task]\nname = \"t\"\n[approval]\nmode = \"hold\"\nttl = \"1s\"\n",
    );
    let started = std::time::Instant::now();
    let verdict = env.authorizer.authorize_holding(&rm());
    assert_eq!(verdict.decision, Decision::Deny, "{verdict:?}");
    assert!(verdict.reasons[0].contains("expired"), "{verdict:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

on_both_stores!(
    an_approval_lets_exactly_one_identical_action_through,
    a_refusal_travels_back_with_its_reason,
    production_needs_two_distinct_approvers,
    expired_approvals_are_not_used,
    racing_gates_in_separate_connections_consume_one_approval_once,
    two_people_approving_at_the_same_moment_both_count,
    many_gates_opening_a_new_store_at_once_migrate_it_once,
    a_held_action_waits_for_the_human_and_then_goes_through_once,
    two_identical_held_actions_share_one_approval_and_only_one_goes_out,
    a_held_action_refused_comes_back_with_the_reason,
    a_held_action_no_one_decides_is_refused_at_expiry,
);
