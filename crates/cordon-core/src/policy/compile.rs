//! From `cordon.toml` to two Cedar policy sets. Each generated policy carries an
//! `@reason` template that `authorize()` fills in for the agent, so a refusal says
//! what was refused and why in the manifest's own terms.

use super::cache::{PolicyCache, validation_key};
use super::scope::{CredentialScope, Needs, Scope};
use super::{PolicyError, SCHEMA};
use crate::action::Effect;
use crate::manifest::{Glob, HostPattern, LoadedManifest};
use cedar_policy::{
    Entities, Entity, EntityId, EntityTypeName, EntityUid, Policy, PolicyId, PolicySet,
    RestrictedExpression, Schema, ValidationMode, Validator,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

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
    /// Generated policies only: the policy without the tests its scope stands for.
    pub(crate) residual: Option<Residual>,
}

/// A generated policy minus its scope's guard (the action constraint, the credential
/// comparison, the `has` tests). Every request in a slice that admits the policy
/// passes that guard, so there the residual decides exactly as the whole policy does,
/// with fewer expressions for Cedar to walk. Both are rendered from the same parts.
#[derive(Debug, Clone)]
pub(crate) struct Residual {
    /// Cedar text, parsed under the whole policy's id (so determining policies and
    /// reasons are unchanged) when a slice first needs it: a hook process evaluates
    /// one or two slices, and parsing every residual up front doubled its start-up.
    pub(crate) text: String,
    pub(crate) forbid: bool,
    /// The residual's condition as one Cedar expression; `None` when it always holds.
    pub(crate) condition: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    sets: OnceLock<PolicySets>,
    /// Users' Cedar policies, parsed (and validated) at compile time under their ids.
    user_policies: HashMap<String, Policy>,
    pub origins: BTreeMap<String, PolicyOrigin>,
    /// What residuals look up (host lists); no policy a user can see refers to it.
    pub(crate) entities: Entities,
    /// Where residuals and folded policies, parsed when a slice first needs them, are
    /// looked up before Cedar's text parser is run.
    pub(crate) cache: Arc<PolicyCache>,
}

/// The main set decides allow or deny; the confirm set turns an allow into confirm.
#[derive(Debug, Clone)]
pub struct PolicySets {
    pub main: PolicySet,
    pub confirm: PolicySet,
}

/// One generated policy in parts.
struct Rule<'a> {
    id: &'a str,
    source: &'a str,
    reason: &'a str,
    confirm: bool,
    forbid: bool,
    scope: Scope,
    /// Tested after the scope's guard.
    when: Option<Cond>,
    unless: Option<Cond>,
}

/// A condition in two spellings Cedar evaluates alike: `text`, which users read, and
/// `residual`, which sliced evaluation runs. They differ only where a list of literal
/// hosts becomes one lookup in a set (see [`Builder::hosts`]).
struct Cond {
    text: String,
    residual: String,
}

impl Cond {
    fn same(text: String) -> Cond {
        Cond {
            residual: text.clone(),
            text,
        }
    }
}

impl From<&str> for Cond {
    fn from(text: &str) -> Cond {
        Cond::same(text.to_owned())
    }
}

impl Rule<'_> {
    /// The whole policy: the scope's guard first, so slicing records exactly what the
    /// policy requires, then the rule's own conditions.
    fn text(&self) -> String {
        let action = match self.scope.effects.as_deref() {
            None => "action".to_owned(),
            Some([effect]) => format!("action == {}", action_uid(*effect)),
            Some(effects) => format!(
                "action in [{}]",
                effects
                    .iter()
                    .map(|e| action_uid(*e))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut when = guard(&self.scope);
        when.extend(self.when.as_ref().map(|c| c.text.clone()));
        self.render(
            &action,
            &when,
            self.unless.as_ref().map(|c| c.text.as_str()),
        )
    }

    fn residual_text(&self) -> String {
        let when: Vec<String> = self.when.iter().map(|c| c.residual.clone()).collect();
        self.render(
            "action",
            &when,
            self.unless.as_ref().map(|c| c.residual.as_str()),
        )
    }

    fn render(&self, action: &str, when: &[String], unless: Option<&str>) -> String {
        let effect = if self.forbid { "forbid" } else { "permit" };
        let mut text = format!("{effect}(principal, {action}, resource)");
        if !when.is_empty() {
            text.push_str(&format!("\nwhen {{ {} }}", when.join(" && ")));
        }
        if let Some(unless) = unless {
            text.push_str(&format!("\nunless {{ {unless} }}"));
        }
        text.push(';');
        text
    }

    /// The residual's condition as one expression, in the order Cedar evaluates a
    /// policy's `when` and `unless`.
    fn condition(&self) -> Option<String> {
        let when = self.when.as_ref().map(|c| &c.residual);
        let unless = self.unless.as_ref().map(|c| &c.residual);
        match (when, unless) {
            (None, None) => None,
            (Some(when), None) => Some(format!("({when})")),
            (None, Some(unless)) => Some(format!("!({unless})")),
            (Some(when), Some(unless)) => Some(format!("({when}) && !({unless})")),
        }
    }
}

/// The Cedar tests a scope stands for, apart from the action constraint. An
/// undeclared-credential scope has no guard of its own: naming every declared
/// credential is the rule's condition.
fn guard(scope: &Scope) -> Vec<String> {
    let mut terms = Vec::new();
    if let CredentialScope::Named(name) = &scope.credential {
        terms.push("context has credential".to_owned());
        terms.push(format!("context.credential == {}", cedar_string(name)));
    }
    terms.extend(
        scope
            .needs
            .attributes()
            .map(|attribute| format!("context has {attribute}")),
    );
    terms
}

struct Generated {
    id: String,
    origin: PolicyOrigin,
    residual_text: String,
    forbid: bool,
    condition: Option<String>,
}

struct Builder {
    policies: Vec<Generated>,
    /// Host lists that residuals look up as sets, by entity id.
    host_lists: Vec<(String, Vec<String>)>,
}

/// Entities holding the host lists residuals look up. Not in the schema: only
/// residuals, which are never validated or shown, refer to them, and a user's policy
/// naming them would not validate.
const HOST_LIST_TYPE: &str = "Cordon::HostList";

/// Below this many literal hosts a chain of `==` is as quick as a set lookup.
const HOST_SET_MIN: usize = 3;

impl Builder {
    /// `context.host` is one of `hosts`. Cedar walks a chain of `==` term by term, a
    /// few hundred nanoseconds per host; the residual asks a set held by an entity
    /// instead, one hash lookup whatever the length. Wildcards stay `like` terms.
    fn hosts(&mut self, list: &str, hosts: &[&HostPattern]) -> Cond {
        let text = any_of(host_terms("context.host", hosts));
        let exact: Vec<String> = hosts
            .iter()
            .filter(|h| !h.0.starts_with("*."))
            .map(|h| h.0.clone())
            .collect();
        if exact.len() < HOST_SET_MIN {
            return Cond::same(text);
        }
        let wildcards: Vec<&HostPattern> = hosts
            .iter()
            .copied()
            .filter(|h| h.0.starts_with("*."))
            .collect();
        let mut terms = vec![format!(
            "{HOST_LIST_TYPE}::{}.hosts.contains(context.host)",
            cedar_string(list)
        )];
        terms.extend(host_terms("context.host", &wildcards));
        self.host_lists.push((list.to_owned(), exact));
        Cond {
            text,
            residual: terms.join(" || "),
        }
    }

    fn add(&mut self, rule: Rule<'_>) {
        let text = format!(
            "@id({:?})\n@reason({})\n{}",
            rule.id,
            cedar_string(rule.reason),
            rule.text()
        );
        self.policies.push(Generated {
            id: rule.id.to_owned(),
            residual_text: rule.residual_text(),
            forbid: rule.forbid,
            condition: rule.condition(),
            origin: PolicyOrigin {
                source: rule.source.to_owned(),
                text,
                reason: Some(rule.reason.to_owned()),
                confirm: rule.confirm,
                scope: rule.scope,
                residual: None,
            },
        });
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

/// The manifest's policies, parsed and validated in this process alone.
pub fn compile(loaded: &LoadedManifest) -> Result<CompiledPolicy, PolicyError> {
    compile_with(loaded, Arc::new(PolicyCache::in_memory()))
}

/// The manifest's policies, with what `cache` already parsed and validated reused.
pub fn compile_with(
    loaded: &LoadedManifest,
    cache: Arc<PolicyCache>,
) -> Result<CompiledPolicy, PolicyError> {
    let m = &loaded.manifest;
    let mut b = Builder {
        policies: Vec::new(),
        host_lists: Vec::new(),
    };

    // What is allowed at all.
    b.add(Rule {
        id: "baseline.read",
        source: "built-in",
        reason: "reading is allowed",
        confirm: false,
        forbid: false,
        scope: Scope::effects(&[Effect::Read]),
        when: None,
        unless: None,
    });
    b.add(Rule {
        id: "baseline.write",
        source: "built-in",
        reason: "writing is allowed",
        confirm: false,
        forbid: false,
        scope: Scope::effects(&[Effect::Write]),
        when: None,
        unless: None,
    });
    for effect in &m.approval.require {
        let effect = effect.0;
        let id = format!("approval.require.{}", effect.as_str());
        b.add(Rule {
            id: &format!("{id}.permit"),
            source: "manifest [approval] require",
            reason: "allowed once a human approves",
            confirm: false,
            forbid: false,
            scope: Scope::effects(&[effect]),
            when: None,
            unless: None,
        });
        b.add(Rule {
            id: &id,
            source: "manifest [approval] require",
            reason: &format!("{} needs a human's approval: {{action}}", effect.as_str()),
            confirm: true,
            forbid: false,
            scope: Scope::effects(&[effect]),
            when: None,
            unless: None,
        });
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
    b.add(Rule {
        id: "filesystem.write-outside",
        source: "manifest [filesystem]",
        reason: &format!(
            "{{path}} is outside the writable set ({}); writing there needs a human's approval",
            writable.join(", ")
        ),
        confirm: true,
        forbid: false,
        scope: Scope::effects(&[Effect::Write, Effect::Destroy]).with_needs(Needs::PATH),
        when: None,
        unless: Some(Cond::same(any_of(inside))),
    });

    // Never silently: destruction of production, or of anything the inventory does not know.
    b.add(Rule {
        id: "builtin.production-destroy",
        source: "built-in",
        reason: "{resource} is tagged production; destroying it always needs a human",
        confirm: true,
        forbid: false,
        scope: Scope::effects(&[Effect::Destroy]).with_needs(Needs::RESOURCE_ENVIRONMENT),
        when: Some("context.resource_environment == \"production\"".into()),
        unless: None,
    });
    b.add(Rule {
        id: "builtin.unverified-destroy",
        source: "built-in",
        reason: "{resource} is not in the manifest's [[resource]] inventory, so cordon cannot verify which environment it belongs to; destroying it needs a human",
        confirm: true,
        forbid: false,
        scope: Scope::effects(&[Effect::Destroy]).with_needs(Needs::RESOURCE_ID),
        when: Some("!context.resource_known".into()),
        unless: None,
    });

    if m.task.read_only {
        b.add(Rule {
            id: "task.read-only",
            source: "manifest [task] read_only",
            reason: "this task is read-only (diagnosis): {effect} is refused; ask the user to start a task that may act",
            confirm: false,
            forbid: true,
            scope: Scope::always(),
            when: None,
            unless: Some("action == Cordon::Action::\"read\"".into()),
        });
    }

    if let Some(env) = loaded.environment() {
        b.add(Rule {
            id: "task.environment",
            source: "manifest [task] environment",
            reason: &format!(
                "{{resource}} belongs to environment {{resource_environment}}, and this task is scoped to `{env}`; ask the user to do it, or to run a task for that environment"
            ),
            confirm: false,
            forbid: true,
            scope: Scope::needs(Needs::RESOURCE_ENVIRONMENT),
            when: Some(Cond::same(format!(
                "context.resource_environment != {}",
                cedar_string(env)
            ))),
            unless: None,
        });
    }

    // The network: declared hosts plus every credential's hosts.
    let mut hosts: Vec<&HostPattern> = m.network.allow.iter().collect();
    for c in &m.credentials {
        hosts.extend(c.hosts.iter());
    }
    let unless = b.hosts("network.allow", &hosts);
    b.add(Rule {
        id: "network.allow",
        source: "manifest [network] allow",
        reason: "host {host} is not in [network] allow; ask the user to add it if the task needs it",
        confirm: false,
        forbid: true,
        scope: Scope::needs(Needs::HOST),
        when: None,
        unless: Some(unless),
    });
    for (index, rule) in m.network.rules.iter().enumerate() {
        let host = host_terms("context.host", &[&rule.host]).join("");
        let source = format!("manifest [[network.rule]] #{} ({})", index + 1, rule.host.0);
        if !rule.methods.is_empty() {
            let methods: Vec<String> = rule
                .methods
                .iter()
                .map(|meth| format!("context.method == {}", cedar_string(&meth.0)))
                .collect();
            b.add(Rule {
                id: &format!("network.rule.{index}.methods"),
                source: &source,
                reason: &format!(
                    "{{method}} to {{host}} is not allowed; [[network.rule]] allows only {}",
                    rule.methods
                        .iter()
                        .map(|x| x.0.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                confirm: false,
                forbid: true,
                scope: Scope::needs(Needs::HOST.and(Needs::METHOD)),
                when: Some(Cond::same(format!("({host})"))),
                unless: Some(Cond::same(any_of(methods))),
            });
        }
        if !rule.paths.is_empty() {
            let paths: Vec<String> = rule
                .paths
                .iter()
                .map(|p| format!("context.url_path like {}", like_glob(p)))
                .collect();
            b.add(Rule {
                id: &format!("network.rule.{index}.paths"),
                source: &source,
                reason: "path {url_path} on {host} is outside the paths [[network.rule]] allows",
                confirm: false,
                forbid: true,
                scope: Scope::needs(Needs::HOST.and(Needs::URL_PATH)),
                when: Some(Cond::same(format!("({host})"))),
                unless: Some(Cond::same(any_of(paths))),
            });
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
    b.add(Rule {
        id: "credential.declared",
        source: "manifest [[credential]]",
        reason: "credential `{credential}` is not declared in the manifest",
        confirm: false,
        forbid: true,
        scope: Scope::always().with_credential(CredentialScope::Undeclared),
        when: Some("context has credential".into()),
        unless: Some(Cond::same(any_of(names))),
    });
    for c in &m.credentials {
        let name = &c.name.get_ref().0;
        let this = || CredentialScope::Named(name.clone());
        let source = format!("manifest [[credential]] {name}");
        let host_list: Vec<&HostPattern> = c.hosts.iter().collect();
        let hosts_id = format!("credential.{name}.hosts");
        let unless = b.hosts(&hosts_id, &host_list);
        b.add(Rule {
            id: &hosts_id,
            source: &source,
            reason: &format!(
                "credential `{name}` may only be sent to {}, not {{host}}",
                c.hosts
                    .iter()
                    .map(|h| h.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            confirm: false,
            forbid: true,
            scope: Scope::needs(Needs::HOST).with_credential(this()),
            when: None,
            unless: Some(unless),
        });
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
        b.add(Rule {
            id: &format!("credential.{name}.scope"),
            source: &source,
            reason: &format!(
                "credential `{name}` is not scoped for {{operation}} (it may do: {scope_words}); ask the user to do this themselves"
            ),
            confirm: false,
            forbid: true,
            scope: Scope::always().with_credential(this()),
            when: None,
            unless: Some(Cond::same(any_of(scopes))),
        });
        let env = c
            .environment
            .as_ref()
            .map(|e| e.0.clone())
            .or_else(|| loaded.environment().map(str::to_owned));
        if let Some(env) = env {
            b.add(Rule {
                id: &format!("credential.{name}.environment"),
                source: &source,
                reason: &format!(
                    "credential `{name}` belongs to `{env}`, but {{resource}} belongs to {{resource_environment}}"
                ),
                confirm: false,
                forbid: true,
                scope: Scope::needs(Needs::RESOURCE_ENVIRONMENT).with_credential(this()),
                when: Some(Cond::same(format!(
                    "context.resource_environment != {}",
                    cedar_string(&env)
                ))),
                unless: None,
            });
        }
    }

    // MCP tools: a tool not declared does not exist.
    let tools: Vec<String> = m
        .tools
        .allow
        .iter()
        .map(|g| format!("context.tool like {}", like_glob(g)))
        .collect();
    b.add(Rule {
        id: "tools.allow",
        source: "manifest [tools] allow",
        reason: "tool {tool} is not declared for this task",
        confirm: false,
        forbid: true,
        scope: Scope::needs(Needs::TOOL),
        when: None,
        unless: Some(Cond::same(any_of(tools))),
    });

    let entities = host_list_entities(&b.host_lists)?;
    let mut compiled = assemble(b.policies, &loaded.extra_policies, cache)?;
    compiled.entities = entities;
    Ok(compiled)
}

fn host_list_entities(lists: &[(String, Vec<String>)]) -> Result<Entities, PolicyError> {
    let type_name =
        EntityTypeName::from_str(HOST_LIST_TYPE).map_err(|e| PolicyError::Generated {
            id: HOST_LIST_TYPE.to_owned(),
            detail: e.to_string(),
        })?;
    let entities = lists
        .iter()
        .map(|(list, hosts)| {
            let uid = EntityUid::from_type_name_and_id(type_name.clone(), EntityId::new(list));
            let set = RestrictedExpression::new_set(
                hosts
                    .iter()
                    .map(|h| RestrictedExpression::new_string(h.clone())),
            );
            Entity::new(
                uid,
                HashMap::from([("hosts".to_owned(), set)]),
                HashSet::new(),
            )
            .map_err(|e| PolicyError::Generated {
                id: list.clone(),
                detail: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Entities::from_entities(entities, None).map_err(|e| PolicyError::Generated {
        id: HOST_LIST_TYPE.to_owned(),
        detail: e.to_string(),
    })
}

/// Parsed on first use: with a warm cache nothing needs validating, and parsing the
/// schema was a quarter of a hook call.
fn schema(slot: &mut Option<Schema>) -> Result<&Schema, PolicyError> {
    if slot.is_none() {
        let (schema, _warnings) =
            Schema::from_cedarschema_str(SCHEMA).map_err(|e| PolicyError::Schema(e.to_string()))?;
        *slot = Some(schema);
    }
    slot.as_ref()
        .ok_or_else(|| PolicyError::Schema("not parsed".to_owned()))
}

/// Strict validation of `set` against cordon's schema, skipped when `cache` saw these
/// exact policies pass before. Returns the validator's errors, joined.
fn validate(
    set: &PolicySet,
    texts: &[(&str, &str)],
    slot: &mut Option<Schema>,
    cache: &PolicyCache,
) -> Result<Result<(), String>, PolicyError> {
    let key = validation_key(SCHEMA, texts);
    if cache.is_validated(&key) {
        return Ok(Ok(()));
    }
    let result = Validator::new(schema(slot)?.clone()).validate(set, ValidationMode::Strict);
    if !result.validation_passed() {
        return Ok(Err(result
            .validation_errors()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ")));
    }
    cache.mark_validated(key);
    Ok(Ok(()))
}

fn assemble(
    generated: Vec<Generated>,
    user_files: &[(std::path::PathBuf, String)],
    cache: Arc<PolicyCache>,
) -> Result<CompiledPolicy, PolicyError> {
    let mut schema_slot = None;
    let mut origins = BTreeMap::new();
    let mut user_policies = HashMap::new();

    for generated in generated {
        let Generated {
            id,
            mut origin,
            residual_text,
            forbid,
            condition,
        } = generated;
        origin.residual = Some(Residual {
            text: residual_text,
            forbid,
            condition,
        });
        if origins.insert(id.clone(), origin).is_some() {
            return Err(PolicyError::DuplicateId(id));
        }
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
                residual: None,
            };
            let renamed = policy.new_id(PolicyId::new(&id));
            let single = {
                let mut s = PolicySet::new();
                s.add(renamed.clone())
                    .map_err(|_| PolicyError::DuplicateId(id.clone()))?;
                s
            };
            let checked = validate(
                &single,
                &[(id.as_str(), origin.text.as_str())],
                &mut schema_slot,
                &cache,
            )?;
            if let Err(detail) = checked {
                return Err(PolicyError::UserInvalid {
                    file: file_name.clone(),
                    id,
                    detail,
                });
            }
            if origins.contains_key(&id) {
                return Err(PolicyError::DuplicateId(id));
            }
            origins.insert(id.clone(), origin);
            user_policies.insert(id, renamed);
        }
    }

    let compiled = CompiledPolicy {
        sets: OnceLock::new(),
        user_policies,
        origins,
        entities: Entities::empty(),
        cache,
    };
    // With a warm cache these exact policies parsed and validated before: the whole
    // sets are built only if something asks for them (a slice needs only residuals).
    let keys = [false, true].map(|confirming| {
        let texts: Vec<(&str, &str)> = compiled
            .origins
            .iter()
            .filter(|(_, o)| o.confirm == confirming)
            .map(|(id, o)| (id.as_str(), o.text.as_str()))
            .collect();
        validation_key(SCHEMA, &texts)
    });
    if keys.iter().all(|key| compiled.cache.is_validated(key)) {
        return Ok(compiled);
    }
    let sets = compiled.sets()?;
    for (set, key) in [&sets.main, &sets.confirm].into_iter().zip(keys) {
        let result =
            Validator::new(schema(&mut schema_slot)?.clone()).validate(set, ValidationMode::Strict);
        if !result.validation_passed() {
            return Err(PolicyError::Validation(
                result
                    .validation_errors()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            ));
        }
        compiled.cache.mark_validated(key);
    }
    Ok(compiled)
}

impl CompiledPolicy {
    /// Every policy, main and confirm, parsed (from the cache where it can be).
    pub fn sets(&self) -> Result<&PolicySets, PolicyError> {
        if let Some(sets) = self.sets.get() {
            return Ok(sets);
        }
        let mut main = PolicySet::new();
        let mut confirm = PolicySet::new();
        for (id, origin) in &self.origins {
            let policy =
                match self.user_policies.get(id) {
                    Some(policy) => policy.clone(),
                    None => self.cache.parse(id, &origin.text).map_err(|detail| {
                        PolicyError::Generated {
                            id: id.clone(),
                            detail,
                        }
                    })?,
                };
            let set = if origin.confirm {
                &mut confirm
            } else {
                &mut main
            };
            set.add(policy)
                .map_err(|_| PolicyError::DuplicateId(id.clone()))?;
        }
        // Two threads may both build; either result is the same sets.
        let _ = self.sets.set(PolicySets { main, confirm });
        self.sets
            .get()
            .ok_or_else(|| PolicyError::Request("policy sets not built".to_owned()))
    }

    /// A policy by id: a user's as parsed, a generated one from its text.
    pub(crate) fn policy(&self, id: &str) -> Result<Policy, PolicyError> {
        if let Some(policy) = self.user_policies.get(id) {
            return Ok(policy.clone());
        }
        let sets = self.sets()?;
        sets.main
            .policy(&PolicyId::new(id))
            .or_else(|| sets.confirm.policy(&PolicyId::new(id)))
            .cloned()
            .ok_or_else(|| PolicyError::Request(format!("policy `{id}` vanished from its set")))
    }
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
