use super::common::{INCIDENT, authorizer, loaded, loaded_with};
use cordon_core::manifest::LoadedManifest;
use cordon_core::policy::{PolicyError, compile};
use cordon_core::{Action, Decision, Effect, Gate};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn decide(manifest: &str, action: Action) -> (Decision, Vec<String>, Vec<String>) {
    let env = authorizer(manifest);
    let (_, evaluation) = env.authorizer.evaluate(&action);
    let e = evaluation.unwrap();
    (e.decision, e.policies, e.reasons)
}

fn graphql(op: &str) -> Action {
    Action::new(Gate::Http, op, Effect::Write)
        .with_host("backboard.railway.com")
        .with_method("POST")
        .with_credential("railway")
}

#[test]
fn volume_delete_with_domain_scoped_token_is_denied_by_scope() {
    let action = Action::new(Gate::Http, "graphql.mutation.volumeDelete", Effect::Destroy)
        .with_host("backboard.railway.com")
        .with_credential("railway")
        .with_target("railway.volume", "vol_prod_7f3");
    let (decision, policies, reasons) = decide(INCIDENT, action);
    assert_eq!(decision, Decision::Deny);
    assert!(
        policies.contains(&"credential.railway.scope".to_owned()),
        "{policies:?}"
    );
    assert!(
        policies.contains(&"task.environment".to_owned()),
        "{policies:?}"
    );
    let text = reasons.join("\n");
    assert!(
        text.contains("not scoped for `graphql.mutation.volumeDelete`"),
        "{text}"
    );
    assert!(text.contains("`production`"), "{text}");
}

#[test]
fn scoped_operations_pass_and_queries_match_the_glob() {
    assert_eq!(
        decide(INCIDENT, graphql("graphql.mutation.customDomainCreate")).0,
        Decision::Allow
    );
    let query = graphql("graphql.query.project").with_method("POST");
    let mut read = query.clone();
    read.effect = Effect::Read;
    assert_eq!(decide(INCIDENT, read).0, Decision::Allow);
    // A name that merely starts like a scoped one is not in scope.
    assert_eq!(
        decide(
            INCIDENT,
            graphql("graphql.mutation.customDomainCreateAndDeleteVolume")
        )
        .0,
        Decision::Deny
    );
}

#[test]
fn credential_cannot_be_sent_to_another_host() {
    let action = graphql("graphql.query.me").with_host("evil.example.com");
    let (decision, policies, reasons) = decide(INCIDENT, action);
    assert_eq!(decision, Decision::Deny);
    assert!(policies.contains(&"credential.railway.hosts".to_owned()));
    assert!(policies.contains(&"network.allow".to_owned()));
    assert!(
        reasons
            .join(" ")
            .contains("may only be sent to backboard.railway.com")
    );
}

#[test]
fn undeclared_credential_is_denied() {
    let action = Action::new(Gate::Http, "http.GET", Effect::Read)
        .with_host("api.anthropic.com")
        .with_credential("aws");
    let (decision, policies, _) = decide(INCIDENT, action);
    assert_eq!(decision, Decision::Deny);
    assert_eq!(policies, vec!["credential.declared".to_owned()]);
}

#[test]
fn resources_of_another_environment_are_out_of_reach_even_for_reads() {
    let action = Action::new(Gate::Http, "graphql.query.volume", Effect::Read)
        .with_target("railway.volume", "vol_prod_7f3");
    let (decision, policies, _) = decide(INCIDENT, action);
    assert_eq!(decision, Decision::Deny);
    assert_eq!(policies, vec!["task.environment".to_owned()]);
}

#[test]
fn destroying_a_staging_resource_needs_a_human() {
    let action = Action::new(Gate::Hook, "shell.exec", Effect::Destroy)
        .with_target("railway.volume", "vol_stg_1");
    let (decision, policies, _) = decide(INCIDENT, action);
    assert_eq!(decision, Decision::Confirm);
    assert_eq!(policies, vec!["approval.require.destroy".to_owned()]);
}

#[test]
fn destroying_an_unknown_resource_is_confirm_not_allow() {
    let manifest = "[task]\nname = \"t\"\n[approval]\nrequire = []\n";
    let extra_permit = "permit(principal, action == Cordon::Action::\"destroy\", resource);";
    let dir = tempfile::tempdir().unwrap();
    let loaded = loaded_with(
        manifest,
        dir.path(),
        vec![(PathBuf::from("allow.cedar"), extra_permit.to_owned())],
    );
    let authorizer = cordon_core::Authorizer::open(loaded, dir.path()).unwrap();
    let known_nothing = Action::new(Gate::Http, "graphql.mutation.volumeDelete", Effect::Destroy)
        .with_target("railway.volume", "vol_mystery");
    let (_, e) = authorizer.evaluate(&known_nothing);
    let e = e.unwrap();
    assert_eq!(e.decision, Decision::Confirm);
    assert_eq!(e.policies, vec!["builtin.unverified-destroy".to_owned()]);
    // Without a target the user's permit stands.
    let (_, e) = authorizer.evaluate(&Action::new(Gate::Hook, "shell.exec", Effect::Destroy));
    assert_eq!(e.unwrap().decision, Decision::Allow);
}

#[test]
fn destroying_production_is_never_silent_even_when_permitted() {
    let manifest = "[task]\nname = \"t\"\nenvironment = \"production\"\n[approval]\nrequire = []\n[[resource]]\nkind = \"db\"\nid = \"main\"\nenvironment = \"production\"\n";
    let dir = tempfile::tempdir().unwrap();
    let permit = "@id(\"ops-may-destroy\")\npermit(principal, action == Cordon::Action::\"destroy\", resource);";
    let loaded = loaded_with(
        manifest,
        dir.path(),
        vec![(PathBuf::from("ops.cedar"), permit.to_owned())],
    );
    let authorizer = cordon_core::Authorizer::open(loaded, dir.path()).unwrap();
    let (_, e) = authorizer.evaluate(
        &Action::new(Gate::Sql, "sql.drop_table", Effect::Destroy).with_target("db", "main"),
    );
    let e = e.unwrap();
    assert_eq!(e.decision, Decision::Confirm);
    assert_eq!(e.policies, vec!["builtin.production-destroy".to_owned()]);
}

#[test]
fn effects_not_required_and_not_read_or_write_are_denied() {
    let (decision, policies, reasons) = decide(
        INCIDENT,
        Action::new(Gate::Hook, "shell.exec", Effect::Exfiltrate),
    );
    assert_eq!(decision, Decision::Deny);
    assert!(policies.is_empty());
    assert!(
        reasons[0].contains("nothing in this task's manifest allows exfiltrate"),
        "{reasons:?}"
    );
}

#[test]
fn writes_outside_the_writable_set_need_a_human() {
    let inside = [
        "/work/app",
        "/work/app/src/main.rs",
        "/srv/cache/x",
        "/tmp/scratch",
        "/dev/null",
    ];
    for path in inside {
        let (d, _, _) = decide(
            INCIDENT,
            Action::new(Gate::Hook, "fs.write", Effect::Write).with_path(path),
        );
        assert_eq!(d, Decision::Allow, "{path}");
    }
    let outside = [
        "/work/application/x",
        "/etc/passwd",
        "/home/u/.bashrc",
        "/srv/cache2",
    ];
    for path in outside {
        let (d, p, r) = decide(
            INCIDENT,
            Action::new(Gate::Hook, "fs.write", Effect::Write).with_path(path),
        );
        assert_eq!(d, Decision::Confirm, "{path}");
        assert_eq!(p, vec!["filesystem.write-outside".to_owned()]);
        assert!(r[0].contains(path), "{r:?}");
    }
}

#[test]
fn a_quote_in_a_writable_path_cannot_inject_cedar() {
    let manifest =
        "[task]\nname = \"t\"\n[filesystem]\nworkspace = \"/w\"\nwrite = ['/x\" || true || \"']\n";
    let (d, _, _) = decide(
        manifest,
        Action::new(Gate::Hook, "fs.write", Effect::Write).with_path("/etc/shadow"),
    );
    assert_eq!(d, Decision::Confirm);
    let (d, _, _) = decide(
        manifest,
        Action::new(Gate::Hook, "fs.write", Effect::Write).with_path("/x\" || true || \"/f"),
    );
    assert_eq!(d, Decision::Allow);
}

#[test]
fn a_star_in_a_writable_path_is_literal() {
    let manifest = "[task]\nname = \"t\"\n[filesystem]\nworkspace = \"/w*\"\n";
    let (d, _, _) = decide(
        manifest,
        Action::new(Gate::Hook, "fs.write", Effect::Write).with_path("/wanted/x"),
    );
    assert_eq!(d, Decision::Confirm);
    let (d, _, _) = decide(
        manifest,
        Action::new(Gate::Hook, "fs.write", Effect::Write).with_path("/w*/x"),
    );
    assert_eq!(d, Decision::Allow);
}

#[test]
fn network_allowlist_rules_and_wildcards() {
    let get = |host: &str| {
        Action::new(Gate::Http, "http.GET", Effect::Read)
            .with_host(host)
            .with_method("GET")
    };
    assert_eq!(
        decide(INCIDENT, get("api.anthropic.com")).0,
        Decision::Allow
    );
    assert_eq!(
        decide(INCIDENT, get("registry.npmjs.org")).0,
        Decision::Allow
    );
    assert_eq!(decide(INCIDENT, get("npmjs.org")).0, Decision::Deny);
    assert_eq!(
        decide(INCIDENT, get("registry.npmjs.org.evil.io")).0,
        Decision::Deny
    );
    let (d, p, r) = decide(INCIDENT, get("example.com"));
    assert_eq!(d, Decision::Deny);
    assert_eq!(p, vec!["network.allow".to_owned()]);
    assert!(
        r[0].contains("`example.com` is not in [network] allow"),
        "{r:?}"
    );

    // The rule's host is not in allow, so it stays denied; rules narrow, never widen.
    let gh = get("api.github.com").with_url_path("/repos/acme/app");
    assert_eq!(decide(INCIDENT, gh).0, Decision::Deny);
    let manifest = INCIDENT.replace("\"*.npmjs.org\"]", "\"*.npmjs.org\", \"api.github.com\"]");
    assert_eq!(
        decide(
            &manifest,
            get("api.github.com").with_url_path("/repos/acme/app")
        )
        .0,
        Decision::Allow
    );
    let (d, p, _) = decide(
        &manifest,
        get("api.github.com").with_url_path("/repos/other/app"),
    );
    assert_eq!(
        (d, p),
        (Decision::Deny, vec!["network.rule.0.paths".to_owned()])
    );
    let delete = get("api.github.com")
        .with_method("DELETE")
        .with_url_path("/repos/acme/app");
    let (d, p, _) = decide(&manifest, delete);
    assert_eq!(
        (d, p),
        (Decision::Deny, vec!["network.rule.0.methods".to_owned()])
    );
}

#[test]
fn undeclared_tools_do_not_exist() {
    let call = |tool: &str| Action::new(Gate::Mcp, "mcp.tools.call", Effect::Read).with_tool(tool);
    assert_eq!(
        decide(INCIDENT, call("github.get_issue")).0,
        Decision::Allow
    );
    assert_eq!(
        decide(INCIDENT, call("github.create_pull_request")).0,
        Decision::Allow
    );
    let (d, p, r) = decide(INCIDENT, call("github.delete_repo"));
    assert_eq!((d, p), (Decision::Deny, vec!["tools.allow".to_owned()]));
    assert!(r[0].contains("`github.delete_repo` is not declared"));
}

#[test]
fn read_only_tasks_refuse_every_change() {
    let manifest = "[task]\nname = \"t\"\nread_only = true\n";
    for effect in [
        Effect::Write,
        Effect::Destroy,
        Effect::Publish,
        Effect::Unknown,
    ] {
        let (d, p, _) = decide(manifest, Action::new(Gate::Hook, "shell.exec", effect));
        assert_eq!(
            (d, p),
            (Decision::Deny, vec!["task.read-only".to_owned()]),
            "{effect}"
        );
    }
    assert_eq!(
        decide(
            manifest,
            Action::new(Gate::Hook, "shell.exec", Effect::Read)
        )
        .0,
        Decision::Allow
    );
}

#[test]
fn user_cedar_forbid_and_confirm_policies_take_part() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"
@id("no-friday-deploys")
@reason("no deploys today")
forbid(principal, action, resource) when { context.operation like "deploy.*" };

@confirm("pushing to main needs a human")
permit(principal, action == Cordon::Action::"write", resource) when { context.operation == "git.push.main" };
"#;
    let loaded = loaded_with(
        "[task]\nname = \"t\"\n",
        dir.path(),
        vec![(PathBuf::from("team.cedar"), text.to_owned())],
    );
    let authorizer = cordon_core::Authorizer::open(loaded, dir.path()).unwrap();
    let (_, e) = authorizer.evaluate(&Action::new(Gate::Hook, "deploy.prod", Effect::Write));
    let e = e.unwrap();
    assert_eq!(e.decision, Decision::Deny);
    assert_eq!(e.reasons, vec!["no deploys today".to_owned()]);
    let (_, e) = authorizer.evaluate(&Action::new(Gate::Hook, "git.push.main", Effect::Write));
    let e = e.unwrap();
    assert_eq!(e.decision, Decision::Confirm);
    assert_eq!(e.policies, vec!["team.cedar#2".to_owned()]);
}

#[test]
fn user_cedar_errors_name_the_file() {
    let base = Path::new("/w");
    let bad_parse = loaded_with(
        "[task]\nname = \"t\"\n",
        base,
        vec![(
            PathBuf::from("bad.cedar"),
            "permit(principal action, resource);".into(),
        )],
    );
    match compile(&bad_parse) {
        Err(PolicyError::UserParse { file, .. }) => assert_eq!(file, "bad.cedar"),
        other => panic!("expected a parse error, got {other:?}"),
    }
    let typo = "forbid(principal, action, resource) when { context.hots == \"x\" };";
    let bad_attr = loaded_with(
        "[task]\nname = \"t\"\n",
        base,
        vec![(PathBuf::from("typo.cedar"), typo.into())],
    );
    match compile(&bad_attr) {
        Err(PolicyError::UserInvalid { file, id, detail }) => {
            assert_eq!((file.as_str(), id.as_str()), ("typo.cedar", "typo.cedar#1"));
            assert!(detail.contains("hots"), "{detail}");
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn compiled_policies_name_their_manifest_origin() {
    let compiled = compile(&loaded(INCIDENT, Path::new("/work/app"))).unwrap();
    let scope = &compiled.origins["credential.railway.scope"];
    assert_eq!(scope.source, "manifest [[credential]] railway");
    assert!(
        scope
            .text
            .contains("context.operation like \"graphql.query.*\""),
        "{}",
        scope.text
    );
}

/// The values each fact of a request takes in an equivalence grid.
struct Grid<'a> {
    credentials: &'a [Option<&'a str>],
    hosts: &'a [Option<&'a str>],
    tools: &'a [Option<&'a str>],
    paths: &'a [Option<&'a str>],
    /// Resource ids of kind `railway.volume`.
    targets: &'a [Option<&'a str>],
    /// Method and URL path.
    http: &'a [Option<(&'a str, &'a str)>],
    operations: &'a [&'a str],
}

/// What a grid's decisions came to, to show it reached every kind of answer.
#[derive(Debug, Default)]
struct Tally {
    allow: usize,
    deny: usize,
    confirm: usize,
    /// Fail-closed denials, by the policy that failed to evaluate.
    failed_closed: BTreeMap<String, usize>,
}

/// Every combination of `grid` against `loaded`: `evaluate` (slices of residual
/// policies, pruned contexts, folded fast sets) must agree with `evaluate_unsliced`
/// (every whole policy, the full context) on decision, policies and reasons.
fn assert_sliced_matches_unsliced(loaded: &LoadedManifest, grid: &Grid<'_>) -> Tally {
    let compiled = compile(loaded).unwrap();
    let engine = cordon_core::policy::PolicyEngine::new(compiled, "t").unwrap();
    let mut tally = Tally::default();
    for effect in Effect::ALL {
        for &credential in grid.credentials {
            for &host in grid.hosts {
                for &tool in grid.tools {
                    for &path in grid.paths {
                        for &target in grid.targets {
                            for &request in grid.http {
                                for &operation in grid.operations {
                                    let mut action = Action::new(Gate::Http, operation, effect);
                                    action.credential = credential.map(str::to_owned);
                                    action.host = host.map(str::to_owned);
                                    action.tool = tool.map(str::to_owned);
                                    action.path = path.map(str::to_owned);
                                    if let Some((method, url_path)) = request {
                                        action = action.with_method(method).with_url_path(url_path);
                                    }
                                    if let Some(id) = target {
                                        action = action.with_target("railway.volume", id);
                                    }
                                    let (resolved, known) =
                                        cordon_core::resolve_target(&loaded.manifest, &action);
                                    let sliced = engine.evaluate(&resolved, known).unwrap();
                                    let full = engine.evaluate_unsliced(&resolved, known).unwrap();
                                    assert_eq!(sliced, full, "{resolved:?}");
                                    // After a refusal its slice skips the fast set for the
                                    // next request (`fast_missed`): asking twice sends
                                    // every refused request down both routes.
                                    let again = engine.evaluate(&resolved, known).unwrap();
                                    assert_eq!(again, full, "again: {resolved:?}");
                                    match full.decision {
                                        _ if full.policies == ["builtin.fail-closed"] => {
                                            let failed = full.reasons[0]
                                                .split("evaluating policy `")
                                                .nth(1)
                                                .and_then(|r| r.split('`').next())
                                                .unwrap_or_default()
                                                .to_owned();
                                            *tally.failed_closed.entry(failed).or_default() += 1;
                                        }
                                        Decision::Allow => tally.allow += 1,
                                        Decision::Deny => tally.deny += 1,
                                        Decision::Confirm => tally.confirm += 1,
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    tally
}

/// Slicing leaves out policies a request cannot match and evaluates the rest as
/// residuals against a context of only the attributes they read, asking a folded fast
/// set first; none of it may change a decision. Every combination of the facts slicing
/// looks at, against the incident manifest plus user policies: a forbid, a permit,
/// a confirmation trigger, and two that fail to evaluate for some requests (fail
/// closed, in the main set and in the confirm set).
#[test]
fn slicing_never_changes_a_decision() {
    let dir = tempfile::tempdir().unwrap();
    let user = r#"
@id("user")
forbid(principal, action, resource) when { context has host && context.host == "api.anthropic.com" && context.operation == "x" };

@id("user-permit")
permit(principal, action == Cordon::Action::"exfiltrate", resource) when { context has host && context.host == "api.anthropic.com" };

@id("user-overflow")
forbid(principal, action, resource) when { context.operation == "boom" && 9223372036854775807 + 1 > 0 };

@id("user-confirm")
@confirm("a human looks at writes to GitHub")
permit(principal, action == Cordon::Action::"write", resource) when { context has host && context.host == "api.github.com" };

@id("user-confirm-overflow")
@confirm("never reached without an error")
permit(principal, action, resource) when { context.operation == "boom-confirm" && 9223372036854775807 + 1 > 0 };
"#;
    let text = INCIDENT.replace(
        "[tools]",
        "[approval]\nrequire = [\"destroy\", \"publish\"]\n[tools]",
    );
    let loaded = loaded_with(
        &text,
        dir.path(),
        vec![(PathBuf::from("u.cedar"), user.to_owned())],
    );
    let tally = assert_sliced_matches_unsliced(
        &loaded,
        &Grid {
            credentials: &[None, Some("railway"), Some("aws")],
            hosts: &[
                None,
                Some("backboard.railway.com"),
                Some("api.anthropic.com"),
                Some("api.github.com"),
                Some("evil.io"),
            ],
            tools: &[None, Some("github.get_issue"), Some("github.delete_repo")],
            paths: &[None, Some("/work/app/x"), Some("/etc/passwd")],
            targets: &[
                None,
                Some("vol_prod_7f3"),
                Some("vol_stg_1"),
                Some("vol_unknown"),
            ],
            http: &[
                None,
                Some(("GET", "/repos/acme/x")),
                Some(("DELETE", "/repos/other/x")),
            ],
            operations: &[
                "x",
                "graphql.query.me",
                "graphql.mutation.volumeDelete",
                "boom",
                "boom-confirm",
            ],
        },
    );
    assert!(
        tally.allow > 0 && tally.deny > 0 && tally.confirm > 0,
        "{tally:?}"
    );
    let failed: Vec<&str> = tally.failed_closed.keys().map(String::as_str).collect();
    assert_eq!(
        failed,
        ["user-confirm-overflow", "user-overflow"],
        "{tally:?}"
    );
}

/// Manifests whose slices hold no user policy (so the fast set is a single permit),
/// with host lists long enough to be looked up as sets, wildcards among them, and a
/// read-only task.
#[test]
fn slicing_never_changes_a_decision_with_host_sets() {
    let text = r#"
[task]
name = "many"
environment = "staging"

[filesystem]
workspace = "/work/app"

[network]
allow = ["api.anthropic.com", "*.npmjs.org", "crates.io", "pypi.org"]
[[network.rule]]
host = "crates.io"
methods = ["GET"]

[[credential]]
name = "c0"
source = "env:C0"
hosts = ["api0.example.com", "h0b.example.com", "h0c.example.com"]
allow = ["graphql.query.*", "graphql.mutation.thing0Create"]

[[credential]]
name = "c1"
source = "env:C1"
hosts = ["api1.example.com", "*.c1.example.com"]
allow = ["graphql.query.*"]
environment = "production"

[[resource]]
kind = "railway.volume"
id = "vol_prod"
environment = "production"

[[resource]]
kind = "railway.volume"
id = "vol_stg"
environment = "staging"

[tools]
allow = ["github.get_*"]

[approval]
require = ["destroy", "publish"]
"#;
    let grid = Grid {
        credentials: &[None, Some("c0"), Some("c1"), Some("undeclared")],
        hosts: &[
            None,
            Some("api.anthropic.com"),
            Some("registry.npmjs.org"),
            Some("crates.io"),
            Some("h0c.example.com"),
            Some("x.c1.example.com"),
            Some("evil.io"),
        ],
        tools: &[None, Some("github.get_issue"), Some("github.delete_repo")],
        paths: &[None, Some("/etc/passwd")],
        targets: &[None, Some("vol_prod"), Some("vol_stg")],
        http: &[None, Some(("POST", "/graphql"))],
        operations: &["x", "graphql.query.me", "graphql.mutation.thing0Create"],
    };
    for text in [
        text.to_owned(),
        text.replace("[filesystem]", "read_only = true\n[filesystem]"),
    ] {
        let tally = assert_sliced_matches_unsliced(&loaded(&text, Path::new("/work/app")), &grid);
        assert!(tally.allow > 0 && tally.deny > 0, "{tally:?}");
    }
}
