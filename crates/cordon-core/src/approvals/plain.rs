//! An approval in plain words, for the person deciding: "DELETE production volume
//! vol_prod_7f3 via Railway GraphQL volumeDelete".

use super::ApprovalRecord;
use crate::action::{Action, Effect};

/// One line for a pending approval: "DELETE production volume vol_prod_7f3 via Railway
/// GraphQL volumeDelete — task fix-domains, asked 12:03, expires 12:18".
pub fn line(record: &ApprovalRecord) -> String {
    let what = record
        .action()
        .map_or_else(|| record.summary.clone(), |a| summary(&a));
    format!(
        "{what} — task {}, asked {}, expires {}",
        record.task,
        clock(record.created_at),
        clock(record.expires_at)
    )
}

/// `HH:MM` in the machine's time zone: the person deciding reads their own clock.
pub fn clock(secs: u64) -> String {
    let Ok(at) = jiff::Timestamp::from_second(i64::try_from(secs).unwrap_or(i64::MAX)) else {
        return "?".to_owned();
    };
    at.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%H:%M")
        .to_string()
}

/// What the action does, to what, through which interface.
pub fn summary(action: &Action) -> String {
    let mut text = verb(action.effect).to_owned();
    // A classifier that saw a GraphQL call inside something else (curl in a shell)
    // names the field as the target; say it as the API call it is.
    if let Some(target) = &action.target
        && target.kind.starts_with("graphql.")
    {
        text.push_str(&format!(" via GraphQL {}", target.id));
        if let Some(host) = &action.host {
            text.push_str(&format!(" on {host}"));
        }
        let (interface, _) = interface(&action.operation);
        text.push_str(&format!(", sent by {interface}"));
        return text;
    }
    let provider = provider(action);
    match &action.target {
        Some(target) => {
            if let Some(env) = &target.environment {
                text.push(' ');
                text.push_str(env);
            }
            let noun = target
                .kind
                .rsplit_once('.')
                .map_or(target.kind.as_str(), |(_, noun)| noun);
            text.push_str(&format!(" {noun} {}", target.id));
        }
        None => match (&action.path, &action.host, &action.tool) {
            (Some(path), _, _) => text.push_str(&format!(" {path}")),
            (None, _, Some(tool)) => text.push_str(&format!(" with tool {tool}")),
            (None, Some(host), None) => text.push_str(&format!(" on {host}")),
            (None, None, None) => {}
        },
    }
    let (interface, remote) = interface(&action.operation);
    text.push_str(" via ");
    // "Railway GraphQL volumeDelete" names whose API; "Railway a shell command" would not.
    let named = remote.then_some(provider).flatten();
    if let Some(provider) = &named {
        text.push_str(provider);
        text.push(' ');
    }
    text.push_str(&interface);
    if let Some(credential) = &action.credential
        && named.as_deref().map(str::to_lowercase) != Some(credential.to_lowercase())
    {
        text.push_str(&format!(" with credential `{credential}`"));
    }
    text
}

fn verb(effect: Effect) -> &'static str {
    match effect {
        Effect::Read => "READ",
        Effect::Write => "CHANGE",
        Effect::Destroy => "DELETE",
        Effect::Exfiltrate => "SEND OUT",
        Effect::SecretRead => "READ SECRET",
        Effect::Publish => "PUBLISH",
        Effect::Unknown => "RUN (unrecognised)",
    }
}

/// `railway.volume` names its provider; so does a credential called `railway`.
fn provider(action: &Action) -> Option<String> {
    let from_kind = action
        .target
        .as_ref()
        .and_then(|t| t.kind.split_once('.'))
        .map(|(provider, _)| provider.to_owned());
    from_kind
        .or_else(|| action.credential.clone())
        .map(|p| capitalize(&p))
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// `graphql.mutation.volumeDelete` → `GraphQL volumeDelete`, `shell.exec` → `a shell
/// command`, `http.DELETE` → `HTTP DELETE`; and whether it is a provider's API.
fn interface(operation: &str) -> (String, bool) {
    let mut parts = operation.splitn(3, '.');
    let family = parts.next().unwrap_or("");
    let second = parts.next();
    let rest = parts.next();
    match (family, second, rest) {
        ("graphql", Some(_), Some(field)) => (format!("GraphQL {field}"), true),
        ("http", Some(method), None) => (format!("HTTP {method}"), true),
        ("mcp", _, _) => ("an MCP tool call".to_owned(), true),
        ("shell", _, _) => ("a shell command".to_owned(), false),
        ("sql", Some(statement), None) => (
            format!("SQL {}", statement.replace('_', " ").to_uppercase()),
            false,
        ),
        ("fs", Some(op), None) => (format!("a file {op}"), false),
        ("net", Some(op), None) => (format!("a network {op}"), false),
        _ => (operation.to_owned(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::summary;
    use crate::action::{Action, Effect, Gate};

    #[test]
    fn the_incident_reads_as_the_person_deciding_needs_it() {
        let mut action = Action::new(Gate::Http, "graphql.mutation.volumeDelete", Effect::Destroy)
            .with_target("railway.volume", "vol_prod_7f3")
            .with_credential("railway");
        if let Some(t) = action.target.as_mut() {
            t.environment = Some("production".to_owned());
        }
        assert_eq!(
            summary(&action),
            "DELETE production volume vol_prod_7f3 via Railway GraphQL volumeDelete"
        );
    }

    #[test]
    fn other_gates_read_plainly_too() {
        let rm = Action::new(Gate::Hook, "shell.exec", Effect::Destroy).with_path("/srv/data");
        assert_eq!(summary(&rm), "DELETE /srv/data via a shell command");
        let curl = Action::new(Gate::Hook, "shell.exec", Effect::Destroy)
            .with_target("graphql.mutation", "volumeDelete")
            .with_host("backboard.railway.com");
        assert_eq!(
            summary(&curl),
            "DELETE via GraphQL volumeDelete on backboard.railway.com, sent by a shell command"
        );
        let drop =
            Action::new(Gate::Sql, "sql.drop_table", Effect::Destroy).with_target("db", "main");
        assert_eq!(summary(&drop), "DELETE db main via SQL DROP TABLE");
        let publish = Action::new(Gate::Hook, "shell.exec", Effect::Publish)
            .with_host("registry.npmjs.org")
            .with_credential("npm");
        assert_eq!(
            summary(&publish),
            "PUBLISH on registry.npmjs.org via a shell command with credential `npm`"
        );
    }
}
