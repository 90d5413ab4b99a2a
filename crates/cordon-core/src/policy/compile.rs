//! From `cordon.toml` to two Cedar policy sets. Each generated policy carries an
//! `@reason` template that `authorize()` fills in for the agent, so a refusal says
//! what was refused and why in the manifest's own terms.

use super::scope::{CredentialScope, Needs, Scope};
use super::{PolicyError, SCHEMA};
use crate::action::Effect;
use crate::manifest::{Glob, HostPattern, LoadedManifest};
use cedar_policy::{Policy, PolicyId, PolicySet, Schema, ValidationMode, Validator};
use std::collections::BTreeMap;
use std::str::FromStr;

/// Where a policy came from and what it says, for `cordon explain`.
#[derive(Debug, Clone)]
pub struct PolicyOrigin {
    /// "manifest [[credential]] railway", or the path of a user's Cedar file.
    pub source: String,
    pub text: String,
    /// The reason template (`@reason`), with `{operation}`-style placeholders.
    pub reason: Option<String>,
    /// True for confirmation triggers.
    pub confirm: bool,
    /// What a request must have for this policy to possibly match.
    pub scope: Scope,
}

#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    pub schema: Schema,
    pub main: PolicySet,
    pub confirm: PolicySet,
    pub origins: BTreeMap<String, PolicyOrigin>,
}

struct Builder {
    policies: Vec<(String, PolicyOrigin)>,
}

impl Builder {
    fn add(
        &mut self,
        id: &str,
        source: &str,
        reason: &str,
        confirm: bool,
        scope: Scope,
        body: String,
    ) {
        let text = format!("@id({id:?})\n@reason({})\n{body}", cedar_string(reason));
        self.policies.push((
            id.to_owned(),
            PolicyOrigin {
                source: source.to_owned(),
                text,
                reason: Some(reason.to_owned()),
                confirm,
                scope,
            },
        ));
    }
}

/// A Cedar string literal.
fn cedar_string(text: &str) -> String {
    quote(text, false)
}

fn quote(text: &str, escape_star: bool) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '*' if escape_star => out.push_str("\\*"),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Cedar `like` pattern that matches `text` literally.
#[cfg(test)]
fn like_literal(text: &str) -> String {
    quote(text, true)
}

/// A Cedar `like` pattern for everything below directory `dir`.
fn like_under(dir: &str) -> String {
    let mut pattern = quote(&format!("{dir}/"), true);
    pattern.insert(pattern.len() - 1, '*');
    pattern
}

/// A Cedar `like` pattern from a glob (`*` stays a wildcard).
fn like_glob(glob: &Glob) -> String {
    cedar_string(&glob.0)
}

fn any_of(terms: Vec<String>) -> String {
    if terms.is_empty() {
        "false".to_owned()
    } else {
        terms.join(" || ")
    }
}

fn host_terms(attribute: &str, hosts: &[&HostPattern]) -> Vec<String> {
    hosts
        .iter()
        .map(|h| match h.0.strip_prefix("*.") {
            Some(domain) => format!("{attribute} like {}", cedar_string(&format!("*.{domain}"))),
            None => format!("{attribute} == {}", cedar_string(&h.0)),
        })
        .collect()
}

fn action_uid(effect: Effect) -> String {
    format!("Cordon::Action::{:?}", effect.as_str())
}

/// Paths every task may write without asking: scratch space and the standard streams.
const ALWAYS_WRITABLE_DIRS: [&str; 2] = ["/tmp", "/var/tmp"];
const ALWAYS_WRITABLE_FILES: [&str; 5] = [
    "/dev/null",
    "/dev/stdout",
    "/dev/stderr",
    "/dev/tty",
    "/dev/zero",
];

pub fn compile(loaded: &LoadedManifest) -> Result<CompiledPolicy, PolicyError> {
    let m = &loaded.manifest;
    let mut b = Builder {
        policies: Vec::new(),
    };

    // What is allowed at all.
    b.add(
        "baseline.read",
        "built-in",
        "reading is allowed",
        false,
        Scope::effects(&[Effect::Read]),
        "permit(principal, action == Cordon::Action::\"read\", resource);".to_owned(),
    );
    b.add(
        "baseline.write",
        "built-in",
        "writing is allowed",
        false,
        Scope::effects(&[Effect::Write]),
        "permit(principal, action == Cordon::Action::\"write\", resource);".to_owned(),
    );
    for effect in &m.approval.require {
        let effect = effect.0;
        let id = format!("approval.require.{}", effect.as_str());
        b.add(
            &format!("{id}.permit"),
            "manifest [approval] require",
            "allowed once a human approves",
            false,
            Scope::effects(&[effect]),
            format!(
                "permit(principal, action == {}, resource);",
                action_uid(effect)
            ),
        );
        b.add(
            &id,
            "manifest [approval] require",
            &format!("{} needs a human's approval: {{action}}", effect.as_str()),
            true,
            Scope::effects(&[effect]),
            format!(
                "permit(principal, action == {}, resource);",
                action_uid(effect)
            ),
        );
    }

    // Writes outside the writable set need a human.
    let mut writable: Vec<String> = vec![loaded.workspace().display().to_string()];
    writable.extend(
        m.filesystem
            .write
            .iter()
            .map(|p| loaded.resolve_path(p).display().to_string()),
    );
    writable.extend(ALWAYS_WRITABLE_DIRS.iter().map(|s| (*s).to_owned()));
    let mut seen = std::collections::HashSet::new();
    writable.retain(|dir| seen.insert(dir.clone()));
    let mut inside: Vec<String> = Vec::new();
    for dir in &writable {
        let dir = dir.trim_end_matches('/');
        if dir.is_empty() {
            // The root is writable: every path is inside.
            inside.push("true".to_owned());
            continue;
        }
        inside.push(format!("context.path == {}", cedar_string(dir)));
        inside.push(format!("context.path like {}", like_under(dir)));
    }
    inside.extend(
        ALWAYS_WRITABLE_FILES
            .iter()
            .map(|f| format!("context.path == {}", cedar_string(f))),
    );
    b.add(
        "filesystem.write-outside",
        "manifest [filesystem]",
        &format!(
            "{{path}} is outside the writable set ({}); writing there needs a human's approval",
            writable.join(", ")
        ),
        true,
        Scope::effects(&[Effect::Write, Effect::Destroy]).with_needs(Needs::PATH),
        format!(
            "permit(principal, action in [Cordon::Action::\"write\", Cordon::Action::\"destroy\"], resource)\nwhen {{ context has path }}\nunless {{ {} }};",
            any_of(inside)
        ),
    );

    // Never silently: destruction of production, or of anything the inventory does not know.
    b.add(
        "builtin.production-destroy",
        "built-in",
        "{resource} is tagged production; destroying it always needs a human",
        true,
        Scope::effects(&[Effect::Destroy]).with_needs(Needs::RESOURCE_ENVIRONMENT),
        "permit(principal, action == Cordon::Action::\"destroy\", resource)\nwhen { context has resource_environment && context.resource_environment == \"production\" };".to_owned(),
    );
    b.add(
        "builtin.unverified-destroy",
        "built-in",
        "{resource} is not in the manifest's [[resource]] inventory, so cordon cannot verify which environment it belongs to; destroying it needs a human",
        true,
        Scope::effects(&[Effect::Destroy]).with_needs(Needs::RESOURCE_ID),
        "permit(principal, action == Cordon::Action::\"destroy\", resource)\nwhen { context has resource_id && !context.resource_known };".to_owned(),
    );

    if m.task.read_only {
        b.add(
            "task.read-only",
            "manifest [task] read_only",
            "this task is read-only (diagnosis): {effect} is refused; ask the user to start a task that may act",
            false,
            Scope::always(),
            "forbid(principal, action, resource)\nunless { action == Cordon::Action::\"read\" };".to_owned(),
        );
    }

    if let Some(env) = loaded.environment() {
        b.add(
            "task.environment",
            "manifest [task] environment",
            &format!(
                "{{resource}} belongs to environment {{resource_environment}}, and this task is scoped to `{env}`; ask the user to do it, or to run a task for that environment"
            ),
            false,
            Scope::needs(Needs::RESOURCE_ENVIRONMENT),
            format!(
                "forbid(principal, action, resource)\nwhen {{ context has resource_environment && context.resource_environment != {} }};",
                cedar_string(env)
            ),
        );
    }

    // The network: declared hosts plus every credential's hosts.
    let mut hosts: Vec<&HostPattern> = m.network.allow.iter().collect();
    for c in &m.credentials {
        hosts.extend(c.hosts.iter());
    }
    b.add(
        "network.allow",
        "manifest [network] allow",
        "host {host} is not in [network] allow; ask the user to add it if the task needs it",
        false,
        Scope::needs(Needs::HOST),
        format!(
            "forbid(principal, action, resource)\nwhen {{ context has host }}\nunless {{ {} }};",
            any_of(host_terms("context.host", &hosts))
        ),
    );
    for (index, rule) in m.network.rules.iter().enumerate() {
        let host = host_terms("context.host", &[&rule.host]).join("");
        if !rule.methods.is_empty() {
            let methods: Vec<String> = rule
                .methods
                .iter()
                .map(|meth| format!("context.method == {}", cedar_string(&meth.0)))
                .collect();
            b.add(
                &format!("network.rule.{index}.methods"),
                &format!("manifest [[network.rule]] #{} ({})", index + 1, rule.host.0),
                &format!(
                    "{{method}} to {{host}} is not allowed; [[network.rule]] allows only {}",
                    rule.methods.iter().map(|x| x.0.as_str()).collect::<Vec<_>>().join(", ")
                ),
                false,
                Scope::needs(Needs::HOST.and(Needs::METHOD)),
                format!(
                    "forbid(principal, action, resource)\nwhen {{ context has host && ({host}) && context has method }}\nunless {{ {} }};",
                    any_of(methods)
                ),
            );
        }
        if !rule.paths.is_empty() {
            let paths: Vec<String> = rule
                .paths
                .iter()
                .map(|p| format!("context.url_path like {}", like_glob(p)))
                .collect();
            b.add(
                &format!("network.rule.{index}.paths"),
                &format!("manifest [[network.rule]] #{} ({})", index + 1, rule.host.0),
                "path {url_path} on {host} is outside the paths [[network.rule]] allows",
                false,
                Scope::needs(Needs::HOST.and(Needs::URL_PATH)),
                format!(
                    "forbid(principal, action, resource)\nwhen {{ context has host && ({host}) && context has url_path }}\nunless {{ {} }};",
                    any_of(paths)
                ),
            );
        }
    }

    // Credentials: only declared ones, only to their hosts, only for their scopes,
    // only in their environment.
    let names: Vec<String> = m
        .credentials
        .iter()
        .map(|c| {
            format!(
                "context.credential == {}",
                cedar_string(&c.name.get_ref().0)
            )
        })
        .collect();
    b.add(
        "credential.declared",
        "manifest [[credential]]",
        "credential `{credential}` is not declared in the manifest",
        false,
        Scope::always().with_credential(CredentialScope::Undeclared),
        format!(
            "forbid(principal, action, resource)\nwhen {{ context has credential }}\nunless {{ {} }};",
            any_of(names)
        ),
    );
    for c in &m.credentials {
        let name = &c.name.get_ref().0;
        let is_this = format!(
            "context has credential && context.credential == {}",
            cedar_string(name)
        );
        let source = format!("manifest [[credential]] {name}");
        let host_list: Vec<&HostPattern> = c.hosts.iter().collect();
        b.add(
            &format!("credential.{name}.hosts"),
            &source,
            &format!(
                "credential `{name}` may only be sent to {}, not {{host}}",
                c.hosts.iter().map(|h| h.0.as_str()).collect::<Vec<_>>().join(", ")
            ),
            false,
            Scope::needs(Needs::HOST).with_credential(CredentialScope::Named(name.clone())),
            format!(
                "forbid(principal, action, resource)\nwhen {{ {is_this} && context has host }}\nunless {{ {} }};",
                any_of(host_terms("context.host", &host_list))
            ),
        );
        let scopes: Vec<String> = c
            .allow
            .iter()
            .map(|g| format!("context.operation like {}", like_glob(g)))
            .collect();
        let scope_words = if c.allow.is_empty() {
            "no operations".to_owned()
        } else {
            c.allow
                .iter()
                .map(|g| g.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        b.add(
            &format!("credential.{name}.scope"),
            &source,
            &format!(
                "credential `{name}` is not scoped for {{operation}} (it may do: {scope_words}); ask the user to do this themselves"
            ),
            false,
            Scope::always().with_credential(CredentialScope::Named(name.clone())),
            format!(
                "forbid(principal, action, resource)\nwhen {{ {is_this} }}\nunless {{ {} }};",
                any_of(scopes)
            ),
        );
        let env = c
            .environment
            .as_ref()
            .map(|e| e.0.clone())
            .or_else(|| loaded.environment().map(str::to_owned));
        if let Some(env) = env {
            b.add(
                &format!("credential.{name}.environment"),
                &source,
                &format!(
                    "credential `{name}` belongs to `{env}`, but {{resource}} belongs to {{resource_environment}}"
                ),
                false,
                Scope::needs(Needs::RESOURCE_ENVIRONMENT).with_credential(CredentialScope::Named(name.clone())),
                format!(
                    "forbid(principal, action, resource)\nwhen {{ {is_this} && context has resource_environment && context.resource_environment != {} }};",
                    cedar_string(&env)
                ),
            );
        }
    }

    // MCP tools: a tool not declared does not exist.
    let tools: Vec<String> = m
        .tools
        .allow
        .iter()
        .map(|g| format!("context.tool like {}", like_glob(g)))
        .collect();
    b.add(
        "tools.allow",
        "manifest [tools] allow",
        "tool {tool} is not declared for this task",
        false,
        Scope::needs(Needs::TOOL),
        format!(
            "forbid(principal, action, resource)\nwhen {{ context has tool }}\nunless {{ {} }};",
            any_of(tools)
        ),
    );

    assemble(b.policies, &loaded.extra_policies)
}

fn assemble(
    generated: Vec<(String, PolicyOrigin)>,
    user_files: &[(std::path::PathBuf, String)],
) -> Result<CompiledPolicy, PolicyError> {
    let (schema, _warnings) =
        Schema::from_cedarschema_str(SCHEMA).map_err(|e| PolicyError::Schema(e.to_string()))?;
    let mut main = PolicySet::new();
    let mut confirm = PolicySet::new();
    let mut origins = BTreeMap::new();

    for (id, origin) in generated {
        let policy = Policy::parse(Some(PolicyId::new(&id)), &origin.text).map_err(|e| {
            PolicyError::Generated {
                id: id.clone(),
                detail: e.to_string(),
            }
        })?;
        let set = if origin.confirm {
            &mut confirm
        } else {
            &mut main
        };
        set.add(policy)
            .map_err(|_| PolicyError::DuplicateId(id.clone()))?;
        origins.insert(id, origin);
    }

    for (file, text) in user_files {
        let file_name = file.display().to_string();
        let parsed = PolicySet::from_str(text).map_err(|e| PolicyError::UserParse {
            file: file_name.clone(),
            detail: format!("{:?}", miette::Report::new(e)),
        })?;
        for (index, policy) in parsed.policies().enumerate() {
            let id = policy
                .annotation("id")
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{}#{}", file_name, index + 1));
            let is_confirm = policy.annotation("confirm").is_some();
            let origin = PolicyOrigin {
                scope: Scope::always(),
                source: file_name.clone(),
                text: policy.to_string(),
                reason: policy
                    .annotation("reason")
                    .or_else(|| policy.annotation("confirm"))
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned),
                confirm: is_confirm,
            };
            let renamed = policy.new_id(PolicyId::new(&id));
            let single = {
                let mut s = PolicySet::new();
                s.add(renamed.clone())
                    .map_err(|_| PolicyError::DuplicateId(id.clone()))?;
                s
            };
            let result = Validator::new(schema.clone()).validate(&single, ValidationMode::Strict);
            if !result.validation_passed() {
                let detail = result
                    .validation_errors()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(PolicyError::UserInvalid {
                    file: file_name.clone(),
                    id,
                    detail,
                });
            }
            if origins.contains_key(&id) {
                return Err(PolicyError::DuplicateId(id));
            }
            let set = if is_confirm { &mut confirm } else { &mut main };
            set.add(renamed)
                .map_err(|_| PolicyError::DuplicateId(id.clone()))?;
            origins.insert(id, origin);
        }
    }

    for set in [&main, &confirm] {
        let result = Validator::new(schema.clone()).validate(set, ValidationMode::Strict);
        if !result.validation_passed() {
            let detail = result
                .validation_errors()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(PolicyError::Validation(detail));
        }
    }

    Ok(CompiledPolicy {
        schema,
        main,
        confirm,
        origins,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_like_escapes_star_and_quotes() {
        assert_eq!(like_literal("/a*b\"c"), "\"/a\\*b\\\"c\"");
        assert_eq!(cedar_string("x\\y"), "\"x\\\\y\"");
        assert_eq!(like_under("/w*s"), "\"/w\\*s/*\"");
    }
}
