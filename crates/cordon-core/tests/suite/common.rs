use cordon_core::Authorizer;
use cordon_core::manifest::{LoadedManifest, Manifest};
use std::path::{Path, PathBuf};

/// The incident's task: staging work with a domain-scoped Railway token, and the
/// production volume in the inventory.
pub const INCIDENT: &str = r#"
[task]
name = "fix-staging-domains"
environment = "staging"

[filesystem]
workspace = "/work/app"
write = ["/srv/cache"]

[network]
allow = ["api.anthropic.com", "*.npmjs.org"]
[[network.rule]]
host = "api.github.com"
methods = ["GET"]
paths = ["/repos/acme/*"]

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

[[resource]]
kind = "railway.volume"
id = "vol_stg_1"
environment = "staging"

[tools]
allow = ["github.get_*", "github.create_pull_request"]
"#;

pub fn loaded(text: &str, base: &Path) -> LoadedManifest {
    loaded_with(text, base, Vec::new())
}

pub fn loaded_with(text: &str, base: &Path, extra: Vec<(PathBuf, String)>) -> LoadedManifest {
    LoadedManifest {
        manifest: Manifest::parse(text, "cordon.toml").expect("test manifest parses"),
        path: Some(base.join("cordon.toml")),
        base_dir: base.to_path_buf(),
        extra_policies: extra,
    }
}

pub struct Env {
    pub home: tempfile::TempDir,
    pub authorizer: Authorizer,
}

pub fn authorizer(text: &str) -> Env {
    let home = tempfile::tempdir().unwrap();
    let authorizer = Authorizer::open(loaded(text, Path::new("/work/app")), home.path()).unwrap();
    Env { home, authorizer }
}
