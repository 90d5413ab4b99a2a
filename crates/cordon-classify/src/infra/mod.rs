//! Infrastructure CLIs: terraform, pulumi, kubectl, helm, aws, gcloud, az, railway,
//! fly, heroku, vercel, docker. Their delete, destroy and prune commands are destroy;
//! commands that print credentials are secret reads.

use cordon_core::Effect;

use crate::engine::{Call, Engine, Hit};
use crate::flow::Flow;
use crate::word::Arg;

mod cloud;
mod containers;
mod kube;

use cloud::{aws, az, fly, gcloud, gsutil, heroku, railway, vercel};
use containers::{compose, docker};
use kube::kubectl;

pub(crate) fn classify(e: &mut Engine, c: &Call) -> Option<Flow> {
    match c.name {
        "terraform" | "tofu" | "terragrunt" => terraform(e, c),
        "pulumi" => pulumi(e, c),
        "kubectl" | "oc" | "k" | "kubecolor" => kubectl(e, c),
        "helm" => helm(e, c),
        "aws" => aws(e, c),
        "gcloud" => gcloud(e, c),
        "gsutil" => gsutil(e, c),
        "az" => az(e, c),
        "railway" => railway(e, c),
        "fly" | "flyctl" => fly(e, c),
        "heroku" => heroku(e, c),
        "vercel" | "netlify" => vercel(e, c),
        "docker" | "podman" | "nerdctl" => docker(e, c, c.args),
        "docker-compose" | "podman-compose" => compose(e, c, c.args),
        "doctl" | "hcloud" | "linode-cli" | "scw" | "exoscale" | "civo" | "vultr-cli"
        | "upcloud" => Some(generic(e, c, &positional_strings(c))),
        "kind" | "minikube" | "k3d" | "eksctl" | "colima" | "multipass" | "vagrant" => {
            let pos = positional_strings(c);
            if pos
                .iter()
                .any(|p| matches!(p.as_str(), "delete" | "destroy"))
            {
                e.hit(Hit::new(
                    Effect::Destroy,
                    format!("{} {} deletes a cluster or machine", c.name, pos.join(" ")),
                ));
                Some(Flow::opaque())
            } else {
                None
            }
        }
        _ => None,
    }
}

fn positional_strings(c: &Call) -> Vec<String> {
    c.positionals().iter().map(|a| a.s().to_string()).collect()
}

/// Positionals after skipping the values of the listed options.
pub(super) fn positionals_skipping(args: &[Arg], value_opts: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if value_opts.contains(&a.s()) {
            it.next();
            continue;
        }
        if a.is("--") {
            break;
        }
        if a.is_option() {
            continue;
        }
        out.push(a.s().to_string());
    }
    out
}

const DESTROY_VERBS: &[&str] = &[
    "delete",
    "destroy",
    "remove",
    "rm",
    "purge",
    "terminate",
    "drop",
    "wipe",
    "erase",
    "nuke",
    "prune",
    "deregister",
    "decommission",
    "uninstall",
];
pub(super) const READ_VERBS: &[&str] = &[
    "list", "ls", "get", "describe", "show", "status", "info", "logs", "log", "version", "help",
    "whoami", "view", "inspect", "cat", "search", "open", "browse", "diff", "plan", "preview",
    "history", "top", "print", "explain", "validate", "check", "doctor", "context", "ps",
];

/// A cloud CLI read by its verbs: a destructive verb anywhere is destroy.
pub(super) fn generic(e: &mut Engine, c: &Call, pos: &[String]) -> Flow {
    let line = format!("{} {}", c.name, pos.join(" "));
    if pos.iter().any(|p| {
        DESTROY_VERBS.contains(&p.as_str()) || p.starts_with("delete-") || p.starts_with("destroy")
    }) {
        e.hit(Hit::new(
            Effect::Destroy,
            format!("{line} deletes cloud resources"),
        ));
    } else if pos.iter().any(|p| {
        READ_VERBS.contains(&p.as_str())
            || p.starts_with("list")
            || p.starts_with("get-")
            || p.starts_with("describe")
    }) {
    } else {
        e.hit(Hit::new(
            Effect::Write,
            format!("{line} changes cloud resources"),
        ));
    }
    Flow::opaque()
}

fn terraform(e: &mut Engine, c: &Call) -> Option<Flow> {
    let mut pos = positionals_skipping(
        c.args,
        &[
            "-chdir",
            "-var",
            "-var-file",
            "-target",
            "-state",
            "-lock-timeout",
            "-parallelism",
            "-out",
        ],
    );
    // terragrunt run-all destroy / terragrunt run -- destroy
    if c.name == "terragrunt" {
        pos.retain(|p| p != "run-all" && p != "run" && p != "stack");
        if let Some(i) = c.args.iter().position(|a| a.is("--")) {
            pos = c
                .args
                .get(i + 1..)
                .unwrap_or_default()
                .iter()
                .filter(|a| !a.is_option())
                .map(|a| a.s().to_string())
                .collect();
        }
    }
    let sub = pos.first().cloned().unwrap_or_default();
    let flag = |f: &str| {
        c.args.iter().any(|a| {
            a.is(f)
                || a.s().starts_with(&format!("{f}="))
                || a.is(&format!("-{f}"))
                || a.s().starts_with(&format!("-{f}="))
        })
    };
    let targets: Vec<String> = c
        .args
        .iter()
        .filter_map(|a| a.s().strip_prefix("-target=").map(str::to_string))
        .collect();
    let tool = c.name;
    let hit = |effect: Effect, why: String| {
        let h = Hit::new(effect, why);
        match targets.first() {
            Some(t) => h.target("terraform.resource", t),
            None => h,
        }
    };
    match sub.as_str() {
        "destroy" => e.hit(hit(
            Effect::Destroy,
            format!("{tool} destroy deletes the infrastructure it manages"),
        )),
        "apply" if flag("-destroy") => e.hit(hit(
            Effect::Destroy,
            format!("{tool} apply -destroy deletes the infrastructure it manages"),
        )),
        "apply" if c.args.iter().any(|a| a.s().starts_with("-replace")) => {
            e.hit(hit(
                Effect::Destroy,
                format!("{tool} apply -replace destroys and re-creates resources"),
            ));
        }
        "apply" | "import" | "taint" | "untaint" | "force-unlock" | "refresh" => {
            e.hit(hit(
                Effect::Write,
                format!("{tool} {sub} changes real infrastructure or its state"),
            ));
        }
        "state" => match pos.get(1).map(String::as_str) {
            Some("rm") => e.hit(hit(
                Effect::Destroy,
                format!(
                    "{tool} state rm makes it forget resources, which then leak or get re-created"
                ),
            )),
            Some("push") => e.hit(hit(
                Effect::Destroy,
                format!("{tool} state push overwrites the remote state"),
            )),
            Some("mv" | "replace-provider") => e.hit(hit(
                Effect::Write,
                format!("{tool} state changes the state"),
            )),
            _ => {}
        },
        "workspace" => match pos.get(1).map(String::as_str) {
            Some("delete") => e.hit(Hit::new(
                Effect::Destroy,
                format!("{tool} workspace delete deletes a workspace's state"),
            )),
            Some("new" | "select") => e.hit(Hit::new(
                Effect::Write,
                format!("{tool} workspace changes workspace"),
            )),
            _ => {}
        },
        "init" | "fmt" | "get" | "providers" if sub != "providers" => {
            e.hit(Hit::new(
                Effect::Write,
                format!("{tool} {sub} writes files in the workspace"),
            ));
        }
        "plan" | "show" | "output" | "graph" | "version" | "validate" | "console" | "providers"
        | "login" | "logout" | "metadata" | "test" | "" => {}
        other => e.hit(Hit::new(Effect::Write, format!("{tool} {other}"))),
    }
    Some(Flow::opaque())
}

fn pulumi(e: &mut Engine, c: &Call) -> Option<Flow> {
    let pos = positionals_skipping(c.args, &["-s", "--stack", "-C", "--cwd", "--target", "-t"]);
    let p = |i: usize| pos.get(i).map(String::as_str).unwrap_or("");
    match (p(0), p(1)) {
        ("destroy" | "down", _) => e.hit(Hit::new(
            Effect::Destroy,
            "pulumi destroy deletes the stack's resources",
        )),
        ("stack", "rm") => e.hit(Hit::new(Effect::Destroy, "pulumi stack rm deletes a stack")),
        ("state", "delete") => e.hit(Hit::new(
            Effect::Destroy,
            "pulumi state delete makes it forget resources",
        )),
        ("stack", "output") if c.has("--show-secrets") => e.hit(Hit::new(
            Effect::SecretRead,
            "pulumi stack output --show-secrets prints secrets",
        )),
        ("config", "get") if c.has("--show-secrets") => e.hit(Hit::new(
            Effect::SecretRead,
            "pulumi config --show-secrets prints secrets",
        )),
        ("up" | "update" | "refresh" | "import", _) => {
            if c.args.iter().any(|a| a.s().starts_with("--replace")) {
                e.hit(Hit::new(
                    Effect::Destroy,
                    "pulumi up --replace destroys and re-creates resources",
                ));
            } else {
                e.hit(Hit::new(
                    Effect::Write,
                    format!("pulumi {} changes real infrastructure", p(0)),
                ));
            }
        }
        ("preview" | "whoami" | "version" | "about" | "logs", _)
        | ("stack", "ls" | "output" | "history" | "export" | "") => {}
        _ => e.hit(Hit::new(Effect::Write, format!("pulumi {} {}", p(0), p(1)))),
    }
    Some(Flow::opaque())
}

fn helm(e: &mut Engine, c: &Call) -> Option<Flow> {
    let pos = positionals_skipping(
        c.args,
        &[
            "-n",
            "--namespace",
            "--kube-context",
            "--kubeconfig",
            "-f",
            "--values",
            "--set",
            "--version",
            "--repo",
            "-o",
            "--output",
            "--timeout",
        ],
    );
    let p = |i: usize| pos.get(i).map(String::as_str).unwrap_or("");
    match p(0) {
        "uninstall" | "delete" | "del" | "un" if !c.has("--dry-run") => {
            e.hit(
                Hit::new(
                    Effect::Destroy,
                    format!("helm uninstall removes release {}", p(1)),
                )
                .target("helm.release", p(1)),
            );
        }
        "rollback" | "install" | "upgrade" | "repo" | "dependency" | "dep" | "plugin"
        | "package" | "pull" | "registry"
            if !(p(0) == "repo" && p(1) == "list") =>
        {
            e.hit(Hit::new(
                Effect::Write,
                format!("helm {} changes releases or charts", p(0)),
            ));
        }
        _ => {}
    }
    Some(Flow::opaque())
}
