//! kubectl (and oc): deletions, drains, scale-to-zero, secrets printed.

use cordon_core::Effect;

use super::positionals_skipping;
use crate::engine::{Call, Engine, Hit};
use crate::files::judge_write;
use crate::flow::Flow;

pub(super) fn kubectl(e: &mut Engine, c: &Call) -> Option<Flow> {
    let value_opts = [
        "-n",
        "--namespace",
        "--context",
        "--cluster",
        "--kubeconfig",
        "-s",
        "--server",
        "--user",
        "--token",
        "-l",
        "--selector",
        "-o",
        "--output",
        "-f",
        "--filename",
        "-c",
        "--container",
        "--field-selector",
        "--replicas",
        "--timeout",
        "--grace-period",
        "-p",
        "--patch",
        "--type",
        "--as",
        "--as-group",
        "--request-timeout",
        "-k",
        "--kustomize",
        "--image",
        "--port",
        "--from-file",
        "--from-literal",
        "--for",
        "--since",
        "--tail",
        "--sort-by",
        "--template",
        "--cascade",
        "--dry-run",
    ];
    let pos = positionals_skipping(c.args, &value_opts);
    let p = |i: usize| pos.get(i).map(String::as_str).unwrap_or("");
    let ns = c
        .opt_value(&["-n", "--namespace"])
        .map(|a| a.show().to_string())
        .or_else(|| {
            c.args
                .iter()
                .find_map(|a| a.long_value("--namespace").map(str::to_string))
        });
    let output = c
        .opt_value(&["-o", "--output"])
        .map(|a| a.s().to_string())
        .or_else(|| {
            c.args
                .iter()
                .find_map(|a| a.long_value("--output").map(str::to_string))
        })
        .or_else(|| {
            c.args.iter().find_map(|a| {
                a.s()
                    .strip_prefix("-o")
                    .filter(|v| !v.is_empty() && !a.s().starts_with("--"))
                    .map(str::to_string)
            })
        });
    let dry = c
        .args
        .iter()
        .any(|a| a.s().starts_with("--dry-run") && !a.is("--dry-run=none"));
    let tool = c.name;
    match p(0) {
        "delete" => {
            if dry {
                return Some(Flow::opaque());
            }
            let kind = p(1).to_string();
            let (kind, name) = match kind.split_once('/') {
                Some((k, n)) => (k.to_string(), n.to_string()),
                None => (kind, p(2).to_string()),
            };
            let kind = singular(&kind);
            let what = if c.has("--all") || c.has("-A") || c.has("--all-namespaces") {
                format!("every {kind}")
            } else if c.has("-f") || c.has("--filename") || c.has("-k") {
                "everything the given manifests declare".to_string()
            } else {
                format!("{kind} {name}")
            };
            let mut h = Hit::new(
                Effect::Destroy,
                format!(
                    "{tool} delete deletes {what}{}",
                    ns.as_deref()
                        .map(|n| format!(" in namespace {n}"))
                        .unwrap_or_default()
                ),
            );
            if kind == "namespace" && !name.is_empty() {
                h = h.target("k8s.namespace", &name);
            } else if !name.is_empty() {
                h = h.target(&format!("k8s.{kind}"), &name);
            } else if let Some(n) = &ns {
                h = h.target("k8s.namespace", n);
            }
            e.hit(h);
        }
        "drain" => e.hit(
            Hit::new(
                Effect::Destroy,
                format!("{tool} drain evicts every pod from node {}", p(1)),
            )
            .target("k8s.node", p(1)),
        ),
        "scale" => {
            let replicas = c
                .opt_value(&["--replicas"])
                .map(|a| a.s().to_string())
                .or_else(|| {
                    c.args
                        .iter()
                        .find_map(|a| a.long_value("--replicas").map(str::to_string))
                });
            if replicas.as_deref() == Some("0") {
                e.hit(
                    Hit::new(
                        Effect::Destroy,
                        format!("{tool} scale --replicas=0 stops {}", p(1)),
                    )
                    .target("k8s.workload", p(1)),
                );
            } else {
                e.hit(Hit::new(
                    Effect::Write,
                    format!("{tool} scale resizes {}", p(1)),
                ));
            }
        }
        "replace" if c.has("--force") => e.hit(Hit::new(
            Effect::Destroy,
            format!("{tool} replace --force deletes and re-creates resources"),
        )),
        "apply" if c.has("--prune") => e.hit(Hit::new(
            Effect::Destroy,
            format!("{tool} apply --prune deletes resources missing from the manifests"),
        )),
        "get" | "describe"
            if p(0) == "get"
                && is_secret_kind(p(1))
                && output
                    .as_deref()
                    .is_some_and(|o| o != "name" && o != "wide") =>
        {
            e.hit(Hit::new(
                Effect::SecretRead,
                format!(
                    "{tool} get secret -o {} prints secret values",
                    output.as_deref().unwrap_or("")
                ),
            ));
        }
        "create" if p(1) == "token" => e.hit(Hit::new(
            Effect::SecretRead,
            format!("{tool} create token prints a service-account token"),
        )),
        "config" => match p(1) {
            "view" if c.has("--raw") => e.hit(Hit::new(
                Effect::SecretRead,
                format!("{tool} config view --raw prints cluster credentials"),
            )),
            "view" | "get-contexts" | "current-context" | "get-clusters" | "get-users" => {}
            "delete-context" | "delete-cluster" | "delete-user" | "unset" => e.hit(Hit::new(
                Effect::Write,
                format!("{tool} config {} edits the kubeconfig", p(1)),
            )),
            _ => e.hit(Hit::new(
                Effect::Write,
                format!("{tool} config {} edits the kubeconfig", p(1)),
            )),
        },
        "cp" => {
            if let Some(dest) = c.positionals().last()
                && !dest.s().contains(':')
            {
                judge_write(e, dest, "kubectl cp");
            } else {
                e.hit(Hit::new(
                    Effect::Write,
                    format!("{tool} cp copies files into a pod"),
                ));
            }
        }
        "get" | "describe" | "logs" | "top" | "explain" | "version" | "cluster-info"
        | "api-resources" | "api-versions" | "auth" | "wait" | "diff" | "events"
        | "port-forward" | "proxy" | "completion" | "plugin" | "kustomize" | "options" | "help"
        | "" => {}
        other => {
            if !dry {
                e.hit(Hit::new(
                    Effect::Write,
                    format!("{tool} {other} changes the cluster"),
                ));
            }
        }
    }
    Some(Flow::opaque())
}

fn is_secret_kind(kind: &str) -> bool {
    let k = kind.split('/').next().unwrap_or(kind).to_ascii_lowercase();
    matches!(
        k.as_str(),
        "secret" | "secrets" | "secret.v1" | "sealedsecret" | "sealedsecrets"
    )
}

fn singular(kind: &str) -> String {
    let k = kind.to_ascii_lowercase();
    let k = match k.as_str() {
        "ns" | "namespaces" => "namespace",
        "po" | "pods" => "pod",
        "deploy" | "deployments" => "deployment",
        "svc" | "services" => "service",
        "pvc" | "persistentvolumeclaims" => "persistentvolumeclaim",
        "pv" | "persistentvolumes" => "persistentvolume",
        "sts" | "statefulsets" => "statefulset",
        "ds" | "daemonsets" => "daemonset",
        "cm" | "configmaps" => "configmap",
        "secrets" => "secret",
        "no" | "nodes" => "node",
        "jobs" => "job",
        "cronjobs" | "cj" => "cronjob",
        "ing" | "ingresses" => "ingress",
        other => other,
    };
    k.to_string()
}
