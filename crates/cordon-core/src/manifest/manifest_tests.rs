use super::*;

fn err(text: &str) -> ManifestError {
    match Manifest::parse(text, "cordon.toml") {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

const TASK: &str = "[task]\nname = \"t\"\n";

#[test]
fn default_profile_and_init_template_validate() {
    Manifest::parse(DEFAULT_PROFILE, "default").unwrap();
    let m = Manifest::parse(INIT_TEMPLATE, "init").unwrap();
    assert_eq!(m.task.name.get_ref().0, "my-task");
    assert_eq!(m.approval.production_approvers.0, 2);
}

#[test]
fn misspelt_table_is_reported_with_line_and_suggestion() {
    let e = err("[task]\nname = \"t\"\n\n[[credentails]]\nname = \"x\"\n");
    assert_eq!(e.line(), 4, "{e}");
    assert!(e.message().contains("unknown key `credentails`"), "{e}");
    assert_eq!(e.help(), Some("did you mean `credential`?"));
    assert!(e.to_string().starts_with("cordon.toml:4:"), "{e}");
}

#[test]
fn misspelt_key_names_table_key_line_and_column() {
    let e = err("[task]\nname = \"t\"\nenviroment = \"staging\"\n");
    assert_eq!((e.line(), e.column()), (3, 1), "{e}");
    assert!(e.message().contains("`enviroment`"), "{e}");
    assert!(e.message().contains("task.enviroment"), "{e}");
    assert_eq!(e.help(), Some("did you mean `environment`?"));
}

#[test]
fn unknown_key_in_every_section_is_an_error() {
    let cases = [
        ("[task]\nname = \"t\"\nttl2 = \"1h\"\n", 3, "ttl"),
        (&format!("{TASK}[filesystem]\nwriteable = []\n"), 4, "write"),
        (&format!("{TASK}[network]\nallowed = []\n"), 4, "allow"),
        (
            &format!("{TASK}[[network.rule]]\nhost = \"a.com\"\nmethod = [\"GET\"]\n"),
            5,
            "methods",
        ),
        (
            &format!(
                "{TASK}[[credential]]\nname = \"c\"\nsource = \"env:X\"\nhosts = [\"a.com\"]\nalow = []\n"
            ),
            7,
            "allow",
        ),
        (
            &format!(
                "{TASK}[[resource]]\nkind = \"k\"\nid = \"i\"\nenvironment = \"prod\"\nenv = \"x\"\n"
            ),
            7,
            "environment",
        ),
        (&format!("{TASK}[tools]\nallowed = []\n"), 4, "allow"),
        (&format!("{TASK}[approval]\nrequires = []\n"), 4, "require"),
        (&format!("{TASK}[audit]\nfsync = \"batch\"\n"), 4, "sync"),
        (
            &format!("{TASK}[policy]\ninclude_files = []\n"),
            4,
            "include",
        ),
    ];
    for (text, line, suggestion) in cases {
        let e = err(text);
        assert_eq!(e.line(), line, "{text}\n=> {e}");
        assert!(e.message().starts_with("unknown key"), "{e}");
        assert_eq!(
            e.help(),
            Some(format!("did you mean `{suggestion}`?").as_str()),
            "{text}"
        );
    }
}

#[test]
fn far_off_key_lists_the_valid_ones_instead_of_guessing() {
    let e = err("[task]\nname = \"t\"\nzzzzzzzz = 1\n");
    let help = e.help().unwrap();
    assert!(help.starts_with("valid keys here:"), "{help}");
    assert!(help.contains("`environment`"), "{help}");
}

#[test]
fn task_name_is_required() {
    let e = err("[task]\nttl = \"1h\"\n");
    assert!(e.message().contains("missing required key `name`"), "{e}");
}

#[test]
fn wrong_types_are_errors_with_the_key() {
    let e = err("[task]\nname = 5\n");
    assert_eq!(e.line(), 2);
    assert!(e.message().contains("task.name"), "{e}");
    let e = err(&format!("{TASK}[network]\nallow = \"github.com\"\n"));
    assert_eq!(e.line(), 4, "{e}");
    let e = err("[task]\nname = \"t\"\nread_only = \"yes\"\n");
    assert_eq!(e.line(), 3, "{e}");
}

#[test]
fn bad_values_in_every_section_are_errors() {
    let cases: Vec<(String, usize, &str)> = vec![
        (
            "[task]\nname = \"bad name\"\n".into(),
            2,
            "not a valid name",
        ),
        (
            "[task]\nname = \"t\"\nttl = \"2 hourz\"\n".into(),
            3,
            "is not a duration",
        ),
        (
            "[task]\nname = \"t\"\nttl = \"90d\"\n".into(),
            3,
            "out of range",
        ),
        (
            "[task]\nname = \"t\"\nenvironment = \"prod env\"\n".into(),
            3,
            "not a valid environment",
        ),
        (
            format!("{TASK}[filesystem]\nhide = [\"\"]\n"),
            4,
            "cannot be empty",
        ),
        (
            format!("{TASK}[network]\nallow = [\"https://github.com\"]\n"),
            4,
            "without scheme",
        ),
        (
            format!("{TASK}[network]\nallow = [\"*\"]\n"),
            4,
            "leading `*.`",
        ),
        (
            format!("{TASK}[network]\nallow = [\"git hub.com\"]\n"),
            4,
            "not a valid host",
        ),
        (
            format!("{TASK}[network.resolve]\n\"a.com\" = \"not-an-ip\"\n"),
            4,
            "is not an address",
        ),
        (
            format!("{TASK}[network.resolve]\n\"a.com\" = \"127.0.0.1:0\"\n"),
            4,
            "is not an address",
        ),
        (
            format!("{TASK}[network]\ntunnel_only = [\"https://pinned.test\"]\n"),
            4,
            "without scheme",
        ),
        (
            format!("{TASK}[git]\nprotected = [\"\"]\n"),
            4,
            "a pattern cannot be empty",
        ),
        (
            format!("{TASK}[[network.rule]]\nhost = \"a.com\"\nmethods = [\"GE T\"]\n"),
            5,
            "not an HTTP method",
        ),
        (
            format!(
                "{TASK}[[credential]]\nname = \"c\"\nsource = \"vault:x\"\nhosts = [\"a.com\"]\n"
            ),
            5,
            "`vault:` is not supported",
        ),
        (
            format!(
                "{TASK}[[credential]]\nname = \"c\"\nsource = \"RAILWAY_TOKEN\"\nhosts = [\"a.com\"]\n"
            ),
            5,
            "`env:VARIABLE` or `file:PATH`",
        ),
        (
            format!(
                "{TASK}[[credential]]\nname = \"c\"\nsource = \"env:X\"\nhosts = [\"a.com\"]\ninject = {{ header = \"Authorization\", value = \"Bearer\" }}\n"
            ),
            7,
            "no `{secret}` placeholder",
        ),
        (
            format!(
                "{TASK}[[credential]]\nname = \"c\"\nsource = \"env:X\"\nhosts = [\"a.com\"]\ninject = {{ header = \"A\", query = \"t\" }}\n"
            ),
            7,
            "exactly one form",
        ),
        (
            format!("{TASK}[[resource]]\nkind = \"railway.volume\"\nid = \"v\"\n"),
            3,
            "missing required key `environment`",
        ),
        (
            format!("{TASK}[tools.args.\"gh.*\"]\nrepo = {{ equal = \"a\" }}\n"),
            4,
            "unknown value `equal`",
        ),
        (
            format!("{TASK}[approval]\nrequire = [\"destory\"]\n"),
            4,
            "unknown effect `destory`",
        ),
        (
            format!("{TASK}[approval]\napprovers = 0\n"),
            4,
            "between 1 and 5",
        ),
        (
            format!("{TASK}[approval]\nmode = \"wait\"\n"),
            4,
            "unknown value `wait`",
        ),
        (
            format!("{TASK}[audit]\nsync = \"never\"\n"),
            4,
            "unknown value `never`",
        ),
        (
            format!("{TASK}[approval]\nwebhooks = [{{ url = \"hooks.slack.com/x\" }}]\n"),
            4,
            "not a webhook URL",
        ),
        (
            format!("{TASK}[policy]\ninclude = \"x.cedar\"\n"),
            4,
            "invalid type",
        ),
    ];
    for (text, line, needle) in cases {
        let e = err(&text);
        assert_eq!(e.line(), line, "{text}\n=> {e}");
        assert!(e.message().contains(needle), "{text}\n=> {e}");
    }
}

#[test]
fn misspelt_effect_and_enum_values_get_suggestions() {
    let e = err(&format!("{TASK}[approval]\nrequire = [\"destory\"]\n"));
    assert_eq!(e.help(), Some("did you mean `destroy`?"));
    let e = err(&format!("{TASK}[approval]\nmode = \"hodl\"\n"));
    assert_eq!(e.help(), Some("did you mean `hold`?"));
}

#[test]
fn cross_field_errors_point_at_the_value() {
    let dup = format!(
        "{TASK}[[credential]]\nname = \"c\"\nsource = \"env:X\"\nhosts = [\"a.com\"]\n\n[[credential]]\nname = \"c\"\nsource = \"env:Y\"\nhosts = [\"b.com\"]\n"
    );
    let e = err(&dup);
    assert_eq!(e.line(), 9, "{e}");
    assert!(e.message().contains("declared twice"), "{e}");

    let no_hosts = format!("{TASK}[[credential]]\nname = \"c\"\nsource = \"env:X\"\nhosts = []\n");
    assert!(err(&no_hosts).message().contains("lists no hosts"));

    let file_without_var =
        format!("{TASK}[[credential]]\nname = \"c\"\nsource = \"file:/x\"\nhosts = [\"a.com\"]\n");
    assert!(err(&file_without_var).message().contains("needs `env_var`"));

    let dup_resource = format!(
        "{TASK}[[resource]]\nkind = \"k\"\nid = \"i\"\nenvironment = \"a\"\n[[resource]]\nkind = \"k\"\nid = \"i\"\nenvironment = \"b\"\n"
    );
    let e = err(&dup_resource);
    assert_eq!(e.line(), 9, "{e}");
}

#[test]
fn a_full_manifest_parses_into_typed_values() {
    let text = r#"
[task]
name = "fix-staging-domains"
environment = "Staging"
ttl = "2h"

[filesystem]
workspace = "."
hide = ["**/.env*"]

[network]
allow = ["API.Anthropic.com", "*.npmjs.org"]
[network.resolve]
"backboard.railway.com" = "127.0.0.1"
"api.test" = "[::1]:8443"

[[credential]]
name = "railway"
source = "env:RAILWAY_TOKEN"
hosts = ["backboard.railway.com"]
inject = { header = "Authorization", value = "Bearer {secret}" }
allow = ["graphql.query.*", "graphql.mutation.customDomainCreate"]

[[resource]]
kind = "railway.volume"
id = "vol_prod_7f3"
environment = "production"

[tools]
allow = ["github.get_*"]
[tools.args."github.create_pull_request"]
repo = { equals = "acme/app" }
[tools.args."filesystem.*"]
path = { within = "workspace" }

[approval]
require = ["destroy", "secret-read"]
approvers = 2
mode = "hold"
"#;
    let m = Manifest::parse(text, "cordon.toml").unwrap();
    assert_eq!(m.task.environment.as_ref().unwrap().get_ref().0, "staging");
    assert_eq!(m.task.ttl.0, std::time::Duration::from_secs(7200));
    assert_eq!(m.network.allow[0].0, "api.anthropic.com");
    assert_eq!(m.network.resolve["backboard.railway.com"].port, None);
    assert_eq!(
        m.network.resolve["api.test"],
        Pin {
            ip: "::1".parse().unwrap(),
            port: Some(8443)
        }
    );
    assert_eq!(
        m.credentials[0].source,
        CredentialSource::Env("RAILWAY_TOKEN".into())
    );
    assert_eq!(
        m.credentials[0].inject,
        Some(Injection::Header {
            name: "Authorization".into(),
            template: "Bearer {secret}".into()
        })
    );
    assert_eq!(
        m.tools.args["github.create_pull_request"]["repo"],
        ArgConstraint::Equals("acme/app".into())
    );
    assert_eq!(
        m.tools.args["filesystem.*"]["path"],
        ArgConstraint::Within(PathArea::Workspace)
    );
    assert!(m.requires_approval(Effect::SecretRead));
    assert!(!m.requires_approval(Effect::Publish));
    assert_eq!(m.approval.mode, ApprovalMode::Hold);
    assert!(m.resource("railway.volume", "vol_prod_7f3").is_some());
}

#[test]
fn discovery_walks_upward_then_falls_back_to_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b");
    std::fs::create_dir_all(&nested).unwrap();
    let (loaded, source) = discover(None, &nested).unwrap();
    // tempdirs live under /tmp, which has no cordon.toml above it.
    assert_eq!(source, ManifestSource::BuiltinDefault);
    assert_eq!(loaded.task_name(), "default");
    assert_eq!(loaded.workspace(), nested);

    std::fs::write(dir.path().join("cordon.toml"), "[task]\nname = \"found\"\n").unwrap();
    let (loaded, source) = discover(None, &nested).unwrap();
    assert_eq!(
        source,
        ManifestSource::Discovered(dir.path().join("cordon.toml"))
    );
    assert_eq!(loaded.task_name(), "found");
    assert_eq!(loaded.workspace(), dir.path());

    let missing = dir.path().join("nope.toml");
    let e = discover(Some(&missing), &nested).unwrap_err();
    assert!(e.to_string().contains("cannot read the manifest"), "{e}");
}

#[test]
fn included_cedar_files_are_read_relative_to_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cordon.toml"),
        "[task]\nname = \"t\"\n[policy]\ninclude = [\"extra.cedar\"]\n",
    )
    .unwrap();
    let e = load_file(&dir.path().join("cordon.toml")).unwrap_err();
    assert!(e.to_string().contains("extra.cedar"), "{e}");
    std::fs::write(
        dir.path().join("extra.cedar"),
        "permit(principal, action, resource);",
    )
    .unwrap();
    let loaded = load_file(&dir.path().join("cordon.toml")).unwrap();
    assert_eq!(loaded.extra_policies.len(), 1);
}

#[test]
fn git_protected_refs_default_and_replace() {
    let default = Manifest::parse(TASK, "cordon.toml").unwrap();
    assert!(default.git.is_protected("refs/heads/main", "main"));
    assert!(
        default
            .git
            .is_protected("refs/heads/release/2.1", "release/2.1")
    );
    assert!(!default.git.is_protected("refs/heads/feature", "feature"));
    let own = Manifest::parse(
        &format!("{TASK}[git]\nprotected = [\"trunk\", \"refs/tags/*\"]\n"),
        "cordon.toml",
    )
    .unwrap();
    assert!(!own.git.is_protected("refs/heads/main", "main"));
    assert!(own.git.is_protected("refs/heads/trunk", "trunk"));
    assert!(own.git.is_protected("refs/tags/v1", "refs/tags/v1"));
}

const WITH_SERVERS: &str = r#"
[task]
name = "t"

[network]
allow = ["registry.npmjs.org"]

[[credential]]
name = "github"
source = "env:GITHUB_TOKEN"
hosts = ["api.github.com"]

[[credential]]
name = "stripe"
source = "env:STRIPE_KEY"
hosts = ["api.stripe.com"]

[mcp.servers.github]
command = ["github-mcp-server", "stdio"]
hosts = ["uploads.github.com"]
write = ["~/.cache/github-mcp"]
credentials = ["github"]
"#;

fn loaded(text: &str) -> LoadedManifest {
    LoadedManifest {
        manifest: Manifest::parse(text, "cordon.toml").unwrap(),
        path: None,
        base_dir: PathBuf::from("/ws"),
        extra_policies: Vec::new(),
    }
}

#[test]
fn a_credential_an_mcp_server_claims_is_its_alone() {
    let task = loaded(WITH_SERVERS);
    let names = |l: &LoadedManifest| -> Vec<String> {
        l.manifest
            .credentials
            .iter()
            .map(|c| c.name.get_ref().0.clone())
            .collect()
    };
    assert_eq!(names(&task.for_agent()), ["stripe"]);
    let github = task.for_mcp_server("github");
    assert_eq!(names(&github), ["github"]);
    let hosts: Vec<&str> = github
        .manifest
        .network
        .allow
        .iter()
        .map(|h| h.0.as_str())
        .collect();
    assert_eq!(
        hosts,
        ["uploads.github.com"],
        "the agent's hosts are not the server's"
    );
    assert_eq!(github.manifest.filesystem.write, ["~/.cache/github-mcp"]);
    // A server without an entry gets nothing beyond the workspace.
    let other = task.for_mcp_server("filesystem");
    assert!(other.manifest.credentials.is_empty());
    assert!(other.manifest.network.allow.is_empty());
    assert!(other.manifest.filesystem.write.is_empty());
}

#[test]
fn mcp_server_entries_are_checked() {
    let e = err(&format!(
        "{TASK}[mcp.servers.\"git.hub\"]\ncommand = [\"x\"]\n"
    ));
    assert!(e.message().contains("cannot name an MCP server"), "{e}");
    let e = err(&format!("{TASK}[mcp.servers.gh]\ncommand = []\n"));
    assert!(e.message().contains("empty command"), "{e}");
    assert_eq!(e.line(), 4, "{e}");
    let e = err(&format!(
        "{TASK}[mcp.servers.gh]\ncommand = [\"x\"]\ncredentials = [\"nope\"]\n"
    ));
    assert!(e.message().contains("credential `nope`"), "{e}");
    let e = err(&format!("{TASK}[mcp.servers.gh]\ncomand = [\"x\"]\n"));
    assert!(e.message().contains("comand"), "{e}");
}
