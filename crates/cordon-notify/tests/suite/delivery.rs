use super::receiver::receiver;
use cordon_core::audit::{chain_path, read_records};
use cordon_core::manifest::{LoadedManifest, Manifest};
use cordon_core::outbox::Attempt;
use cordon_core::{Action, Authorizer, Decision, Effect, Gate};
use cordon_notify::{Backoff, Deliverer};
use std::path::Path;
use std::time::{Duration, Instant};

fn authorizer(home: &Path, approval: &str) -> Authorizer {
    let text = format!("[task]\nname = \"fix-domains\"\n[approval]\n{approval}\n");
    let loaded = LoadedManifest {
        manifest: Manifest::parse(&text, "cordon.toml").unwrap(),
        path: None,
        base_dir: "/work/app".into(),
        extra_policies: Vec::new(),
    };
    Authorizer::open(loaded, home).unwrap()
}

fn rm() -> Action {
    Action::new(Gate::Hook, "shell.exec", Effect::Destroy)
        .with_path("/srv/data")
        .with_detail("rm -rf /srv/data <!channel> & more")
}

fn fast() -> Backoff {
    Backoff {
        first: Duration::from_secs(1),
        longest: Duration::from_secs(2),
        attempts: 5,
    }
}

/// The `approval.notify` records of the task's chain, as (detail, reason).
fn notify_records(home: &Path) -> Vec<(String, String)> {
    let (lines, _) = read_records(&chain_path(home, "fix-domains")).unwrap();
    lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["action"]["operation"] == "approval.notify")
        .map(|r| {
            (
                r["action"]["detail"].as_str().unwrap().to_owned(),
                r["verdict"]["reasons"][0].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_receiver_that_fails_twice_gets_the_third_attempt_and_every_attempt_is_audited() {
    let home = tempfile::tempdir().unwrap();
    let flaky = receiver("/hook", vec![500, 503]);
    let auth = authorizer(
        home.path(),
        &format!(
            "page_url = \"https://cordon.example.test:8443\"\nwebhooks = [{{ url = \"{}\" }}]",
            flaky.url
        ),
    );
    let started = Instant::now();
    let verdict = auth.authorize(&rm());
    // Filing queues the notification; it never waits for the network.
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(verdict.decision, Decision::Confirm);
    let id = verdict.approval_id.unwrap();

    let deliverer = Deliverer::open(home.path()).unwrap().with_backoff(fast());
    let deliveries = deliverer.run_until_idle(Duration::from_secs(30)).unwrap();
    let outcomes: Vec<bool> = deliveries
        .iter()
        .map(|d| d.outcome == Attempt::Delivered)
        .collect();
    assert_eq!(outcomes, [false, false, true], "{deliveries:?}");

    let received = flaky.received.lock().unwrap().clone();
    assert_eq!(received.len(), 3);
    let body = &received[2].body;
    assert_eq!(received[2].content_type, "application/json");
    assert_eq!(body["type"], "cordon.approval.pending");
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["task"], "fix-domains");
    assert_eq!(body["summary"], "DELETE /srv/data via a shell command");
    assert_eq!(
        body["url"],
        format!("https://cordon.example.test:8443/approvals/{id}").as_str()
    );
    assert_eq!(body["action_hash"].as_str().unwrap().len(), 64);
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));

    let audited = notify_records(home.path());
    assert_eq!(audited.len(), 3, "{audited:?}");
    assert!(
        audited[0]
            .0
            .contains(&format!("json webhook for approval {id}, attempt 1"))
    );
    assert!(audited[0].1.starts_with("failed (HTTP 500"), "{audited:?}");
    assert!(audited[0].1.contains("next attempt in"), "{audited:?}");
    assert!(audited[1].1.starts_with("failed (HTTP 503"), "{audited:?}");
    assert_eq!(audited[2].1, "delivered");

    // Nothing is sent twice, and asking again does not notify again.
    assert!(deliverer.deliver_due().unwrap().is_empty());
    assert_eq!(
        auth.authorize(&rm()).approval_id.as_deref(),
        Some(id.as_str())
    );
    assert!(deliverer.deliver_due().unwrap().is_empty());
}

#[test]
fn slack_urls_get_a_slack_message_with_the_agents_text_escaped() {
    let home = tempfile::tempdir().unwrap();
    let slack = receiver("/services/T0/B0/secret", vec![]);
    let auth = authorizer(
        home.path(),
        &format!(
            "webhooks = [{{ url = \"{}\", format = \"slack\" }}]",
            slack.url
        ),
    );
    let id = auth.authorize(&rm()).approval_id.unwrap();
    let deliveries = Deliverer::open(home.path()).unwrap().deliver_due().unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].host, "127.0.0.1");

    let body = slack.received.lock().unwrap()[0].body.clone();
    assert_eq!(
        slack.received.lock().unwrap()[0].path,
        "/services/T0/B0/secret"
    );
    assert!(body["text"].as_str().unwrap().contains("DELETE /srv/data"));
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    let all = serde_json::to_string(blocks).unwrap();
    assert!(all.contains("&lt;!channel&gt; &amp; more"), "{all}");
    assert!(!all.contains("<!channel>"), "{all}");
    assert!(all.contains(&format!("cordon approve {id}")));

    // The audit log names the host, never the secret path.
    let audited = notify_records(home.path());
    let chain = std::fs::read_to_string(chain_path(home.path(), "fix-domains")).unwrap();
    assert_eq!(audited.len(), 1);
    assert!(!chain.contains("secret"), "{chain}");
}

#[test]
fn hooks_slack_com_is_slack_without_saying_so() {
    let manifest = Manifest::parse(
        "[task]\nname = \"t\"\n[approval]\nwebhooks = [{ url = \"https://hooks.slack.com/services/x\" }, { url = \"https://example.test/h\" }, { url = \"https://hooks.slack.com/x\", format = \"json\" }]\n",
        "cordon.toml",
    )
    .unwrap();
    let formats: Vec<&str> = manifest
        .approval
        .webhooks
        .iter()
        .map(|w| w.format().as_str())
        .collect();
    assert_eq!(formats, ["slack", "json", "json"]);
}

#[test]
fn a_receiver_that_never_answers_is_given_up_on_and_the_decision_is_not_held_up() {
    let home = tempfile::tempdir().unwrap();
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let auth = authorizer(
        home.path(),
        &format!("webhooks = [{{ url = \"http://127.0.0.1:{port}/h\" }}]"),
    );
    let id = auth.authorize(&rm()).approval_id.unwrap();
    let deliverer = Deliverer::open(home.path()).unwrap().with_backoff(Backoff {
        first: Duration::from_secs(1),
        longest: Duration::from_secs(1),
        attempts: 2,
    });
    let deliveries = deliverer.run_until_idle(Duration::from_secs(20)).unwrap();
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    assert!(matches!(
        &deliveries[1].outcome,
        Attempt::Failed { retry_at: None, .. }
    ));
    let audited = notify_records(home.path());
    assert!(audited[1].1.ends_with("giving up"), "{audited:?}");
    // The approval itself is untouched.
    auth.approvals().approve(&id, "alice", None).unwrap();
    assert!(auth.authorize(&rm()).is_allow());
}
