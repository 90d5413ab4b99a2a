//! Cloud and platform CLIs: aws, gcloud, gsutil, az, railway, fly, heroku, vercel.

use cordon_core::Effect;

use super::{READ_VERBS, generic, positionals_skipping};
use crate::engine::{Call, Engine, Hit};
use crate::files::judge_write;
use crate::flow::Flow;
use crate::secrets;
use crate::word::Arg;

pub(super) fn aws(e: &mut Engine, c: &Call) -> Option<Flow> {
    let pos = positionals_skipping(
        c.args,
        &[
            "--profile",
            "--region",
            "--output",
            "--endpoint-url",
            "--query",
            "--color",
            "--cli-read-timeout",
            "--cli-connect-timeout",
            "--ca-bundle",
            "--cli-binary-format",
            "--bucket",
            "--key",
            "--secret-id",
            "--name",
            "--names",
            "--instance-ids",
            "--function-name",
            "--cluster",
            "--service",
            "--stack-name",
            "--table-name",
            "--db-instance-identifier",
            "--include",
            "--exclude",
            "--acl",
            "--storage-class",
            "--sse",
            "--content-type",
            "--cache-control",
            "--expires",
            "--metadata",
            "--grants",
            "--page-size",
            "--filters",
            "--max-items",
            "--starting-token",
            "--body",
        ],
    );
    let p = |i: usize| pos.get(i).map(String::as_str).unwrap_or("");
    let service = p(0);
    let op = p(1);
    if service == "s3" {
        return Some(aws_s3(e, c, &pos));
    }
    let secret_op =
        matches!(
            (service, op),
            ("secretsmanager", "get-secret-value")
                | ("kms", "decrypt")
                | (
                    "sts",
                    "get-session-token"
                        | "assume-role"
                        | "assume-role-with-web-identity"
                        | "get-federation-token"
                )
                | ("iam", "create-access-key")
                | ("ecr", "get-login-password" | "get-authorization-token")
                | ("configure", "export-credentials")
                | ("rds", "generate-db-auth-token")
                | ("codeartifact", "get-authorization-token")
        ) || (service == "ssm" && op.starts_with("get-parameter") && c.has("--with-decryption"))
            || (service == "configure"
                && op == "get"
                && pos
                    .get(2)
                    .is_some_and(|k| k.contains("secret") || k.contains("token")));
    if secret_op {
        e.hit(Hit::new(
            Effect::SecretRead,
            format!("aws {service} {op} prints credentials or secret values"),
        ));
    } else if [
        "delete",
        "remove",
        "terminate",
        "destroy",
        "purge",
        "deregister",
        "deactivate",
        "disassociate",
        "detach",
        "revoke",
        "cancel",
        "stop",
        "reset",
        "disable",
        "abort",
        "reboot",
        "release",
    ]
    .iter()
    .any(|v| op.starts_with(&format!("{v}-")) || op == *v)
    {
        let destructive = [
            "delete",
            "remove",
            "terminate",
            "destroy",
            "purge",
            "deregister",
        ]
        .iter()
        .any(|v| op.starts_with(v));
        let effect = if destructive {
            Effect::Destroy
        } else {
            Effect::Write
        };
        e.hit(
            Hit::new(effect, format!("aws {service} {op}")).target(&format!("aws.{service}"), op),
        );
    } else if op.starts_with("describe")
        || op.starts_with("list")
        || op.starts_with("get-")
        || op.starts_with("head-")
        || op.starts_with("batch-get")
        || op == "wait"
        || op.starts_with("lookup")
        || op.starts_with("search")
        || op.starts_with("scan")
        || op == "query"
        || op.starts_with("filter-log")
        || op.starts_with("tail")
        || op == "help"
        || (service == "sts" && op == "get-caller-identity")
        || (service == "configure" && matches!(op, "list" | "get" | "list-profiles"))
        || service.is_empty()
    {
    } else {
        e.hit(Hit::new(
            Effect::Write,
            format!("aws {service} {op} changes cloud resources"),
        ));
    }
    Some(Flow::opaque())
}

fn aws_s3(e: &mut Engine, c: &Call, pos: &[String]) -> Flow {
    let op = pos.get(1).map(String::as_str).unwrap_or("");
    let first = pos.get(2).cloned().unwrap_or_default();
    let bucket = |p: &str| {
        p.strip_prefix("s3://")
            .map(|r| r.split('/').next().unwrap_or(r).to_string())
    };
    match op {
        "rm" | "rb" => {
            let id = bucket(&first).unwrap_or_default();
            let what = if op == "rb" {
                "deletes the bucket"
            } else {
                "deletes objects in"
            };
            let all = if c.has("--recursive") || c.has("--force") {
                " (recursively)"
            } else {
                ""
            };
            e.hit(
                Hit::new(Effect::Destroy, format!("aws s3 {op} {what} {first}{all}"))
                    .target("aws.s3.bucket", &id),
            );
        }
        "sync" | "cp" | "mv" => {
            let dest = pos.last().cloned().unwrap_or_default();
            let sources: Vec<&Arg> = c
                .positionals()
                .into_iter()
                .skip(2)
                .filter(|a| !a.s().starts_with("s3://"))
                .collect();
            if dest.starts_with("s3://") && !sources.is_empty() {
                for s in &sources {
                    if let Some(abs) = e.places.resolve(s).abs
                        && let Some(what) = secrets::secret_file(&abs, e.places.home.as_deref())
                    {
                        e.hit(
                            Hit::new(
                                Effect::Exfiltrate,
                                format!("aws s3 {op} uploads {abs}, {what}, to {dest}"),
                            )
                            .path(Some(abs.clone())),
                        );
                    }
                }
            }
            if c.has("--delete") {
                let id = bucket(&dest).unwrap_or_default();
                e.hit(Hit::new(Effect::Destroy, format!("aws s3 {op} --delete deletes files in {dest} that are not in the source")).target("aws.s3.bucket", &id));
            } else if op == "mv" && first.starts_with("s3://") {
                e.hit(Hit::new(
                    Effect::Write,
                    format!("aws s3 mv moves objects out of {first}"),
                ));
            } else if !dest.starts_with("s3://") {
                judge_write(e, &Arg::literal(dest), &format!("aws s3 {op}"));
            } else {
                e.hit(Hit::new(
                    Effect::Write,
                    format!("aws s3 {op} uploads to {dest}"),
                ));
            }
        }
        "mb" | "website" => e.hit(Hit::new(
            Effect::Write,
            format!("aws s3 {op} changes a bucket"),
        )),
        _ => {}
    }
    Flow::opaque()
}

pub(super) fn gcloud(e: &mut Engine, c: &Call) -> Option<Flow> {
    let pos = positionals_skipping(
        c.args,
        &[
            "--project",
            "--region",
            "--zone",
            "--format",
            "--filter",
            "--account",
            "--configuration",
            "--impersonate-service-account",
            "--verbosity",
        ],
    );
    let line = pos.join(" ");
    let secret = line.starts_with("secrets versions access")
        || line.starts_with("auth print-access-token")
        || line.starts_with("auth print-identity-token")
        || line.starts_with("auth application-default print-access-token")
        || line.contains("keys create")
        || line.starts_with("sql generate-login-token");
    if secret {
        e.hit(Hit::new(
            Effect::SecretRead,
            format!("gcloud {line} prints credentials or secrets"),
        ));
        return Some(Flow::opaque());
    }
    if let Some(i) = pos
        .iter()
        .position(|p| p == "delete" || p == "destroy" || p == "remove-iam-policy-binding")
    {
        let kind = pos.get(..i).unwrap_or_default().join(".");
        let id = pos.get(i + 1).cloned().unwrap_or_default();
        e.hit(
            Hit::new(
                Effect::Destroy,
                format!("gcloud {line} deletes {kind} {id}"),
            )
            .target(&format!("gcloud.{kind}"), &id),
        );
        return Some(Flow::opaque());
    }
    if pos
        .iter()
        .any(|p| READ_VERBS.contains(&p.as_str()) || p.starts_with("get-") || p.starts_with("list"))
        || pos
            .first()
            .is_some_and(|p| p == "info" || p == "version" || p == "help")
    {
        return Some(Flow::opaque());
    }
    e.hit(Hit::new(
        Effect::Write,
        format!("gcloud {line} changes cloud resources"),
    ));
    Some(Flow::opaque())
}

pub(super) fn gsutil(e: &mut Engine, c: &Call) -> Option<Flow> {
    let pos = positionals_skipping(c.args, &["-o", "-h", "-p", "-u"]);
    let p = |i: usize| pos.get(i).map(String::as_str).unwrap_or("");
    match p(0) {
        "rm" | "rb" => e.hit(
            Hit::new(Effect::Destroy, format!("gsutil {} deletes {}", p(0), p(1)))
                .target("gcs.bucket", p(1)),
        ),
        "rsync"
            if c.has("-d")
                || c.args.iter().any(|a| {
                    a.s().starts_with('-') && a.s().contains('d') && !a.s().starts_with("--")
                }) =>
        {
            e.hit(Hit::new(
                Effect::Destroy,
                "gsutil rsync -d deletes destination files missing from the source",
            ));
        }
        "ls" | "cat" | "du" | "stat" | "version" | "help" | "hash" | "signurl" => {}
        other => e.hit(Hit::new(
            Effect::Write,
            format!("gsutil {other} changes storage"),
        )),
    }
    Some(Flow::opaque())
}

pub(super) fn az(e: &mut Engine, c: &Call) -> Option<Flow> {
    let pos = positionals_skipping(
        c.args,
        &[
            "-g",
            "--resource-group",
            "-n",
            "--name",
            "--subscription",
            "-o",
            "--output",
            "--query",
            "--vault-name",
            "--id",
            "-l",
            "--location",
        ],
    );
    let line = pos.join(" ");
    if line.starts_with("keyvault secret show")
        || line.starts_with("keyvault secret download")
        || line.starts_with("account get-access-token")
        || line.contains("keys list")
        || line.contains("list-keys")
        || line.contains("show-connection-string")
        || line.contains("credential list")
    {
        e.hit(Hit::new(
            Effect::SecretRead,
            format!("az {line} prints credentials or secrets"),
        ));
    } else if pos
        .iter()
        .any(|p| p == "delete" || p == "purge" || p == "remove")
    {
        e.hit(Hit::new(
            Effect::Destroy,
            format!("az {line} deletes Azure resources"),
        ));
    } else if pos.iter().any(|p| READ_VERBS.contains(&p.as_str())) || pos.is_empty() {
    } else {
        e.hit(Hit::new(
            Effect::Write,
            format!("az {line} changes Azure resources"),
        ));
    }
    Some(Flow::opaque())
}

pub(super) fn railway(e: &mut Engine, c: &Call) -> Option<Flow> {
    if c.args.first().is_some_and(|a| a.is("run") || a.is("shell")) {
        let inner: Vec<Arg> = c
            .args
            .get(1..)
            .unwrap_or_default()
            .iter()
            .skip_while(|a| a.is("--"))
            .cloned()
            .collect();
        if inner.is_empty() {
            e.unknown("railway shell opens a shell with production variables");
            return Some(Flow::opaque());
        }
        return Some(e.dispatch(&inner, c.stdin, c.env));
    }
    let pos = positionals_skipping(
        c.args,
        &[
            "-s",
            "--service",
            "-e",
            "--environment",
            "-v",
            "--volume",
            "-p",
            "--project",
        ],
    );
    let p = |i: usize| pos.get(i).map(String::as_str).unwrap_or("");
    match (p(0), p(1)) {
        ("volume", "delete" | "rm" | "detach") | ("volumes", "delete" | "rm") => {
            let id = c
                .opt_value(&["-v", "--volume"])
                .map(|a| a.show().to_string())
                .unwrap_or_else(|| p(2).to_string());
            e.hit(
                Hit::new(
                    Effect::Destroy,
                    format!("railway volume {} deletes volume {id} and its data", p(1)),
                )
                .target("railway.volume", &id),
            );
        }
        ("down", _) => e.hit(Hit::new(
            Effect::Destroy,
            "railway down removes the latest deployment",
        )),
        ("delete", _) => e.hit(Hit::new(
            Effect::Destroy,
            "railway delete deletes the project",
        )),
        ("environment" | "env", "delete" | "rm") => {
            e.hit(
                Hit::new(
                    Effect::Destroy,
                    format!("railway environment delete deletes environment {}", p(2)),
                )
                .target("railway.environment", p(2)),
            );
        }
        ("service", "delete") => e.hit(Hit::new(
            Effect::Destroy,
            "railway service delete deletes a service",
        )),
        ("variables" | "vars" | "variable", "")
        | ("variables" | "vars" | "variable", "list" | "get") => {
            if c.has("--set") || c.has("-s") && !c.has("--service") {
                e.hit(Hit::new(
                    Effect::Write,
                    "railway variables --set changes variables",
                ));
            } else {
                e.hit(Hit::new(
                    Effect::SecretRead,
                    "railway variables prints the service's secrets",
                ));
            }
        }
        ("variables" | "vars" | "variable", "delete" | "rm") => e.hit(Hit::new(
            Effect::Destroy,
            "railway variables delete removes variables",
        )),
        (
            "status" | "logs" | "whoami" | "list" | "open" | "docs" | "help" | "version" | "domain",
            _,
        ) => {}
        (other, _) => e.hit(Hit::new(
            Effect::Write,
            format!("railway {other} changes the project"),
        )),
    }
    Some(Flow::opaque())
}

pub(super) fn fly(e: &mut Engine, c: &Call) -> Option<Flow> {
    let pos = positionals_skipping(
        c.args,
        &[
            "-a", "--app", "-c", "--config", "-r", "--region", "--org", "-o",
        ],
    );
    if let Some(cmd) = c.opt_value(&["-C", "--command"])
        && pos.first().is_some_and(|p| p == "ssh")
    {
        let app = c
            .opt_value(&["-a", "--app"])
            .map(|a| a.show().to_string())
            .unwrap_or_else(|| "the app".into());
        let text = cmd.script.clone();
        return Some(e.remote_script(
            &format!("fly machine of {app}"),
            None,
            text.as_deref(),
            &Flow::default(),
        ));
    }
    Some(generic(e, c, &pos))
}

pub(super) fn heroku(e: &mut Engine, c: &Call) -> Option<Flow> {
    let pos = positionals_skipping(c.args, &["-a", "--app", "-r", "--remote"]);
    let sub = pos.first().cloned().unwrap_or_default();
    if sub == "run" || sub == "run:detached" {
        let inner: Vec<Arg> = {
            let mut it = c.args.iter().skip(1);
            let mut out = Vec::new();
            while let Some(a) = it.next() {
                if matches!(
                    a.s(),
                    "-a" | "--app" | "-r" | "--remote" | "-s" | "--size" | "-e" | "--env"
                ) {
                    it.next();
                    continue;
                }
                if a.is_option() && out.is_empty() {
                    continue;
                }
                out.push(a.clone());
            }
            out
        };
        let words: Option<Vec<String>> = inner.iter().map(|a| a.script.clone()).collect();
        return Some(e.remote_script(
            "a heroku dyno",
            None,
            words.map(|w| w.join(" ")).as_deref(),
            &Flow::default(),
        ));
    }
    let destructive = matches!(
        sub.as_str(),
        "apps:destroy"
            | "destroy"
            | "pg:reset"
            | "addons:destroy"
            | "pg:killall"
            | "pg:kill"
            | "redis:reset"
            | "domains:clear"
            | "apps:delete"
            | "spaces:destroy"
            | "pipelines:destroy"
            | "config:unset"
            | "releases:rollback"
            | "pg:backups:delete"
            | "certs:remove"
    );
    let secret = matches!(
        sub.as_str(),
        "config"
            | "config:get"
            | "pg:credentials"
            | "pg:credentials:url"
            | "auth:token"
            | "redis:credentials"
    );
    if destructive {
        e.hit(Hit::new(
            Effect::Destroy,
            format!("heroku {sub} deletes or resets app data"),
        ));
    } else if secret && !c.has("--shell") || sub == "config" && c.has("--shell") {
        e.hit(Hit::new(
            Effect::SecretRead,
            format!("heroku {sub} prints the app's secrets"),
        ));
    } else if sub.contains("info")
        || sub.starts_with("logs")
        || sub.starts_with("ps")
            && !sub.contains(":scale")
            && !sub.contains(":kill")
            && !sub.contains(":stop")
        || sub.starts_with("apps") && !sub.contains(':')
        || sub.ends_with(":list")
        || sub.is_empty()
        || sub == "status"
        || sub == "whoami"
    {
    } else {
        e.hit(Hit::new(
            Effect::Write,
            format!("heroku {sub} changes the app"),
        ));
    }
    Some(Flow::opaque())
}

pub(super) fn vercel(e: &mut Engine, c: &Call) -> Option<Flow> {
    let pos = positionals_skipping(
        c.args,
        &[
            "--scope",
            "-S",
            "--token",
            "-t",
            "--cwd",
            "-A",
            "--local-config",
            "--site",
            "--auth",
        ],
    );
    let p = |i: usize| pos.get(i).map(String::as_str).unwrap_or("");
    let tool = c.name;
    match (p(0), p(1)) {
        ("remove" | "rm", _)
        | (
            "project" | "projects" | "domains" | "domain" | "dns" | "alias" | "certs" | "secrets"
            | "teams",
            "rm" | "remove" | "delete",
        )
        | ("env", "rm" | "remove")
        | ("sites:delete" | "env:unset" | "env:delete" | "functions:delete" | "blobs:delete", _) => {
            e.hit(Hit::new(
                Effect::Destroy,
                format!("{tool} {} {} deletes it", p(0), p(1)),
            ));
        }
        ("env", "pull") | ("env:get" | "env:list" | "env:export", _) => {
            e.hit(Hit::new(
                Effect::SecretRead,
                format!("{tool} {} {} fetches the project's secrets", p(0), p(1)),
            ));
        }
        (
            "ls" | "list" | "inspect" | "logs" | "whoami" | "help" | "status" | "open" | "env:ls",
            _,
        )
        | ("env", "ls") => {}
        _ => e.hit(Hit::new(
            Effect::Write,
            format!("{tool} {} deploys or changes the project", pos.join(" ")),
        )),
    }
    Some(Flow::opaque())
}
