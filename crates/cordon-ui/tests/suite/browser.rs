//! The page in headless Chromium: a pending action shows up by itself, a real click on
//! approve lets the gate's identical retry through, and a refusal's reason reaches it.

use super::cdp::Browser;
use super::common::{authorizer, rm, ui};
use cordon_core::Decision;

#[test]
fn approve_and_deny_with_real_clicks_in_chromium() {
    let home = tempfile::tempdir().unwrap();
    let gate = authorizer(home.path());
    let server = ui(home.path());
    let mut browser = Browser::launch(&server.login_url);
    browser.wait_for(
        "document.body && document.body.innerText.includes('No approvals are waiting')",
        "the empty queue",
    );
    assert_eq!(
        browser.eval("location.pathname"),
        "/",
        "the token left the address bar"
    );

    // The agent asks while the page is open; the queue updates without a reload.
    let verdict = gate.authorize(&rm("/srv/data"));
    assert_eq!(verdict.decision, Decision::Confirm);
    let id = verdict.approval_id.unwrap();
    browser.wait_for(
        &format!("document.getElementById('pending-{id}')"),
        "the new approval in the queue",
    );
    browser.click(&format!("#pending-{id} a"));
    browser.wait_for("document.getElementById('approve')", "the approval page");
    if let Ok(path) = std::env::var("CORDON_UI_SCREENSHOT") {
        browser.screenshot(std::path::Path::new(&path));
    }
    browser.type_into("#approve-note", "checked with the team");
    browser.click("#approve");
    let state = browser.wait_for(
        "(() => { const s = document.getElementById('state'); return s && s.textContent === 'approved' ? s.textContent : null; })()",
        "the approved state",
    );
    assert_eq!(state, "approved");
    let record = gate.approvals().get(&id).unwrap();
    assert_eq!(record.approvers, ["alice"]);
    assert_eq!(record.note.as_deref(), Some("checked with the team"));

    let retry = gate.authorize(&rm("/srv/data"));
    assert_eq!(retry.decision, Decision::Allow, "{retry:?}");
    assert_eq!(gate.authorize(&rm("/srv/data")).decision, Decision::Confirm);

    // Refusing: the reason typed on the page is what the agent reads.
    let other = gate.authorize(&rm("/srv/other")).approval_id.unwrap();
    browser.call(
        "Page.navigate",
        serde_json::json!({"url": format!("{}/approvals/{other}", server.base)}),
    );
    browser.wait_for(
        &format!(
            "location.pathname === '/approvals/{other}' && document.readyState === 'complete' \
             && document.getElementById('deny')"
        ),
        "the second approval page",
    );
    browser.type_into("#deny-reason", "that is the live data; use staging");
    browser.click("#deny");
    browser.wait_for(
        "(() => { const s = document.getElementById('state'); return s && s.textContent === 'denied'; })()",
        "the denied state",
    );
    let refused = gate.authorize(&rm("/srv/other"));
    assert_eq!(refused.decision, Decision::Deny);
    assert!(
        refused.reasons[0].contains("alice refused") && refused.reasons[0].contains("use staging"),
        "{refused:?}"
    );
}
