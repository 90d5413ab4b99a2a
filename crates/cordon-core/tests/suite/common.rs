use cordon_core::Authorizer;
use cordon_core::manifest::{LoadedManifest, Manifest};
use cordon_core::store::{Store, StoreLocation};
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

/// Which store a test runs against: the approvals tests run on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct StoreEnv {
    pub home: tempfile::TempDir,
    pub authorizer: Authorizer,
    pub store: StoreLocation,
    /// The manifest as opened, with its `store` key for PostgreSQL.
    pub manifest: String,
}

/// An authorizer over `backend`: SQLite under a fresh home, or a fresh database on the
/// test binary's PostgreSQL server named by cordon.toml's `store` key.
pub fn authorizer_on(backend: Backend, text: &str) -> StoreEnv {
    let home = tempfile::tempdir().unwrap();
    let (manifest, store) = match backend {
        Backend::Sqlite => (text.to_owned(), StoreLocation::in_home(home.path())),
        Backend::Postgres => {
            let url = super::pg_server::fresh_database();
            (
                format!("store = \"{url}\"\n{text}"),
                StoreLocation::Postgres(url),
            )
        }
    };
    let authorizer = reopen(home.path(), &manifest);
    StoreEnv {
        home,
        authorizer,
        store,
        manifest,
    }
}

fn reopen(home: &Path, manifest: &str) -> Authorizer {
    Authorizer::open(loaded(manifest, Path::new("/work/app")), home).unwrap()
}

impl StoreEnv {
    /// Another gate on the same home and store, with its own connection.
    pub fn another_gate(&self) -> Authorizer {
        reopen(self.home.path(), &self.manifest)
    }

    /// A connection of the attacker's own to the database (`sqlite3 cordon.db`, `psql`),
    /// writing whatever SQL they like without the approval key.
    pub fn attacker(&self) -> Store {
        Store::open_at(&self.store).unwrap()
    }
}

/// Each named `fn(Backend)` as a test on SQLite and one on PostgreSQL.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name($crate::suite::common::Backend::Sqlite)
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                super::$name($crate::suite::common::Backend::Postgres)
            })*
        }
    };
}
pub(crate) use on_both_stores;
