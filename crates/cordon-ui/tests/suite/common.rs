use cordon_core::manifest::{LoadedManifest, Manifest};
use cordon_core::{Action, Authorizer, Effect, Gate};
use cordon_ui::{RunningUi, UiConfig, start};
use std::path::Path;

pub fn authorizer(home: &Path) -> Authorizer {
    let loaded = LoadedManifest {
        manifest: Manifest::parse("[task]\nname = \"fix-domains\"\n", "cordon.toml").unwrap(),
        path: None,
        base_dir: "/work/app".into(),
        extra_policies: Vec::new(),
    };
    Authorizer::open(loaded, home).unwrap()
}

pub fn rm(path: &str) -> Action {
    Action::new(Gate::Hook, "shell.exec", Effect::Destroy)
        .with_path(path)
        .with_detail(format!("rm -rf {path} <script>alert(1)</script>"))
}

pub fn ui(home: &Path) -> RunningUi {
    start(UiConfig {
        home: home.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        approver: "alice".to_owned(),
    })
    .unwrap()
}
