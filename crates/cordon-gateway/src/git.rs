//! git's smart HTTP protocol, read as actions.
//!
//! A clone or fetch is `GET …/info/refs?service=git-upload-pack` then
//! `POST …/git-upload-pack`: reads (`git.fetch`). A push is
//! `GET …/info/refs?service=git-receive-pack` (a read, named `git.push` so a
//! credential scoped to fetching is not sent there) then `POST …/git-receive-pack`,
//! whose body names every ref it changes: one `git.push` action per ref. Deleting a
//! ref destroys it; moving a protected ref (`[git] protected`) is read as a
//! force-push, since only the server's history could show it is a fast-forward.

use cordon_classify::git_push::{PushError, RefChange, RefUpdate, receive_pack_updates};
use cordon_core::manifest::Manifest;
use cordon_core::{Action, Effect};

use crate::decide::{Reading, RequestFacts, Unreadable};

const RECEIVE_PACK_REQUEST: &str = "application/x-git-receive-pack-request";

/// The request read as git, when it is a smart HTTP request; `None` otherwise.
pub(crate) fn read_git(
    manifest: &Manifest,
    facts: &RequestFacts<'_>,
    base: &dyn Fn(String, Effect) -> Action,
) -> Option<Reading> {
    let repository = facts
        .path
        .strip_suffix("/git-receive-pack")
        .or_else(|| facts.path.strip_suffix("/git-upload-pack"))
        .or_else(|| facts.path.strip_suffix("/info/refs"))
        .unwrap_or(facts.path);
    let at = format!("{}{repository}", facts.authority.host);
    let receive_pack_body = facts
        .content_type
        .is_some_and(|c| c.to_ascii_lowercase().starts_with(RECEIVE_PACK_REQUEST));
    // A body labelled as a push is read as one wherever it is sent: a server that
    // routes by content type would run it.
    if facts.method == "POST" && (facts.path.ends_with("/git-receive-pack") || receive_pack_body) {
        return Some(read_push(manifest, facts.body, &at, base));
    }
    if facts.method == "POST" && facts.path.ends_with("/git-upload-pack") {
        return Some(fetch(base, &at));
    }
    if facts.method == "GET" && facts.path.ends_with("/info/refs") {
        let service = facts.query.and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(key, _)| key == "service")
                .map(|(_, value)| value.into_owned())
        });
        return match service.as_deref() {
            Some("git-upload-pack") => Some(fetch(base, &at)),
            Some("git-receive-pack") => Some(Reading::Actions(vec![
                base("git.push".to_owned(), Effect::Read)
                    .with_detail(format!("git push to {at}: lists the refs it could change")),
            ])),
            _ => None,
        };
    }
    None
}

fn fetch(base: &dyn Fn(String, Effect) -> Action, at: &str) -> Reading {
    Reading::Actions(vec![
        base("git.fetch".to_owned(), Effect::Read).with_detail(format!("git fetch from {at}")),
    ])
}

fn read_push(
    manifest: &Manifest,
    body: &[u8],
    at: &str,
    base: &dyn Fn(String, Effect) -> Action,
) -> Reading {
    match receive_pack_updates(body) {
        Ok(updates) if updates.is_empty() => Reading::Actions(vec![
            base("git.push".to_owned(), Effect::Read)
                .with_detail(format!("git push to {at}: no ref updates")),
        ]),
        Ok(updates) => Reading::Actions(
            updates
                .iter()
                .map(|update| {
                    let (effect, what) = judge(manifest, update);
                    base("git.push".to_owned(), effect)
                        .with_target("git.ref", update.short_name())
                        .with_detail(format!(
                            "git push to {at}: {what} ({} → {})",
                            short_id(&update.old),
                            short_id(&update.new)
                        ))
                })
                .collect(),
        ),
        Err(error) => Reading::Unreadable {
            action: Box::new(
                base("git.unreadable".to_owned(), Effect::Unknown)
                    .with_detail(format!("git push to {at}: {error}")),
            ),
            error: Unreadable::GitPush(error),
        },
    }
}

fn judge(manifest: &Manifest, update: &RefUpdate) -> (Effect, String) {
    let name = &update.name;
    match update.change() {
        RefChange::Create => (Effect::Write, format!("creates {name}")),
        RefChange::Delete => (Effect::Destroy, format!("deletes {name}")),
        RefChange::Update if manifest.git.is_protected(&update.name, update.short_name()) => (
            Effect::Destroy,
            format!(
                "moves protected {name}, which may be a force-push over it (the request cannot show a fast-forward)"
            ),
        ),
        RefChange::Update => (Effect::Write, format!("updates {name}")),
    }
}

fn short_id(id: &str) -> &str {
    id.get(..10).unwrap_or(id)
}

/// What an unreadable push is refused with.
pub(crate) fn unreadable_reason(error: &PushError, host: &str) -> String {
    format!(
        "the git push to {host} cannot be read ({error}); cordon forwards only ref updates it can judge"
    )
}
