//! docker, podman and compose: volumes, prunes, forced removals, privileged runs.

use cordon_core::Effect;

use super::positionals_skipping;
use crate::engine::{Call, Engine, Hit};
use crate::files::judge_write;
use crate::flow::Flow;
use crate::word::Arg;

pub(super) fn docker(e: &mut Engine, c: &Call, args: &[Arg]) -> Option<Flow> {
    let pos = positionals_skipping(
        args,
        &[
            "-H",
            "--host",
            "--context",
            "-c",
            "--config",
            "-l",
            "--log-level",
        ],
    );
    let p = |i: usize| pos.get(i).map(String::as_str).unwrap_or("");
    let tool = c.name;
    let force = c.has("-f")
        || c.has("--force")
        || c.args
            .iter()
            .any(|a| a.s().starts_with('-') && !a.s().starts_with("--") && a.s().contains('f'));
    match (p(0), p(1)) {
        ("compose", _) => {
            let i = args.iter().position(|a| a.is("compose")).unwrap_or(0);
            return compose(e, c, args.get(i + 1..).unwrap_or_default());
        }
        ("volume", "rm" | "remove" | "prune") | ("system", "prune") => {
            let id = p(2).to_string();
            e.hit(
                Hit::new(
                    Effect::Destroy,
                    format!("{tool} {} {} deletes volumes or data", p(0), p(1)),
                )
                .target("docker.volume", &id),
            );
        }
        ("rm" | "container", _) if (p(0) == "rm" || matches!(p(1), "rm" | "remove")) && force => {
            let id = if p(0) == "rm" { p(1) } else { p(2) };
            e.hit(
                Hit::new(
                    Effect::Destroy,
                    format!("{tool} rm -f kills and deletes container {id} and its data"),
                )
                .target("docker.container", id),
            );
        }
        ("container", "prune")
        | ("image" | "builder" | "buildx" | "network", "prune")
        | ("rm" | "rmi" | "kill" | "stop" | "restart" | "pause", _)
        | ("image" | "network" | "context", "rm") => {
            e.hit(Hit::new(
                Effect::Write,
                format!(
                    "{tool} {} {} removes or stops containers or images",
                    p(0),
                    p(1)
                ),
            ));
        }
        ("run" | "create", _) => return Some(docker_run(e, c, args)),
        ("cp", _) => {
            if let Some(dest) = c.positionals().last()
                && !dest.s().contains(':')
            {
                judge_write(e, dest, "docker cp");
            } else {
                e.hit(Hit::new(
                    Effect::Write,
                    format!("{tool} cp copies files into a container"),
                ));
            }
        }
        (
            "ps" | "images" | "logs" | "inspect" | "version" | "info" | "stats" | "top" | "port"
            | "history" | "diff" | "events" | "search" | "help",
            _,
        )
        | (
            "volume" | "network" | "image" | "container" | "context" | "system" | "buildx",
            "ls" | "inspect" | "df" | "list" | "show" | "history",
        ) => {}
        ("login", _) => e.hit(Hit::new(
            Effect::Write,
            format!("{tool} login stores registry credentials"),
        )),
        (other, sub) => e.hit(Hit::new(Effect::Write, format!("{tool} {other} {sub}"))),
    }
    Some(Flow::opaque())
}

fn docker_run(e: &mut Engine, c: &Call, args: &[Arg]) -> Flow {
    let value_opts = [
        "-v",
        "--volume",
        "-e",
        "--env",
        "-p",
        "--publish",
        "--name",
        "-w",
        "--workdir",
        "-u",
        "--user",
        "--network",
        "--net",
        "--entrypoint",
        "--env-file",
        "--mount",
        "-l",
        "--label",
        "--platform",
        "-m",
        "--memory",
        "--cpus",
        "-h",
        "--hostname",
        "--add-host",
        "--restart",
        "--pull",
        "--pid",
        "--ipc",
        "--cap-add",
        "--cap-drop",
        "--device",
        "--security-opt",
        "--shm-size",
        "--ulimit",
        "--tmpfs",
        "--gpus",
        "--runtime",
        "--log-driver",
        "--log-opt",
        "--dns",
        "--link",
        "--expose",
        "-a",
        "--attach",
        "--cidfile",
        "--health-cmd",
        "--stop-signal",
        "--stop-timeout",
        "--init-path",
        "--userns",
        "--uts",
        "--cgroupns",
        "--volumes-from",
        "--group-add",
    ];
    let mut mounts_host = false;
    let mut it = args.iter().skip(1);
    let mut image: Option<usize> = None;
    let mut idx = 1;
    while let Some(a) = it.next() {
        let s = a.s();
        if s == "--privileged"
            || s == "--pid=host"
            || s.starts_with("--cap-add=ALL")
            || s.starts_with("--cap-add=SYS_ADMIN")
        {
            mounts_host = true;
        }
        if value_opts.contains(&s) {
            if let Some(v) = it.next() {
                let vs = v.s();
                if matches!(s, "-v" | "--volume" | "--mount") && host_mount(vs, e) {
                    mounts_host = true;
                }
                if s == "--pid" && vs == "host"
                    || s == "--cap-add" && (vs == "ALL" || vs == "SYS_ADMIN")
                {
                    mounts_host = true;
                }
            }
            idx += 2;
            continue;
        }
        if let Some(v) = a.long_value("--volume").or(a.long_value("--mount"))
            && host_mount(v, e)
        {
            mounts_host = true;
        }
        if a.is_option() {
            idx += 1;
            continue;
        }
        image = Some(idx);
        break;
    }
    if mounts_host {
        e.unknown(format!("{} runs a container with access to the host (privileged or mounting a host system path)", c.name));
    }
    let Some(i) = image else {
        return Flow::opaque();
    };
    let image_name = args
        .get(i)
        .map(|a| a.show().to_string())
        .unwrap_or_default();
    e.hit(Hit::new(
        Effect::Write,
        format!("{} runs the container image {image_name}", c.name),
    ));
    let inner = args.get(i + 1..).unwrap_or_default();
    if !inner.is_empty() {
        let words: Option<Vec<String>> = inner.iter().map(|a| a.script.clone()).collect();
        match words {
            Some(w) => {
                e.remote_script(
                    &format!("container {image_name}"),
                    None,
                    Some(&w.join(" ")),
                    &Flow::default(),
                );
            }
            None => e.unknown("the container runs a command built at run time"),
        }
    }
    Flow::opaque()
}

/// A bind mount of `/`, home, a system directory or the docker socket.
fn host_mount(spec: &str, e: &Engine) -> bool {
    let src = if let Some(rest) = spec.strip_prefix("type=bind,") {
        rest.split(',')
            .find_map(|kv| kv.strip_prefix("source=").or(kv.strip_prefix("src=")))
            .unwrap_or("")
    } else {
        spec.split(':').next().unwrap_or("")
    };
    if src.contains("docker.sock") {
        return true;
    }
    let Some(abs) = e.places.resolve_text(src).abs else {
        return false;
    };
    if !src.starts_with('/')
        && !src.starts_with('~')
        && !src.starts_with('.')
        && !src.starts_with('$')
    {
        // A named volume.
        return false;
    }
    abs == "/" || e.places.is_home(&abs) || crate::paths::is_system_dir(&abs) && abs != "/tmp"
}

pub(super) fn compose(e: &mut Engine, c: &Call, args: &[Arg]) -> Option<Flow> {
    let pos = positionals_skipping(
        args,
        &[
            "-f",
            "--file",
            "-p",
            "--project-name",
            "--profile",
            "--env-file",
            "--project-directory",
        ],
    );
    let sub = pos.first().cloned().unwrap_or_default();
    let has = |f: &str| args.iter().any(|a| a.is(f));
    let short = |l: char| {
        args.iter()
            .any(|a| a.s().starts_with('-') && !a.s().starts_with("--") && a.s().contains(l))
    };
    match sub.as_str() {
        "down" if has("-v") || has("--volumes") || short('v') => {
            e.hit(
                Hit::new(
                    Effect::Destroy,
                    "compose down -v deletes the project's volumes and their data",
                )
                .target("docker.volume", "*"),
            );
        }
        "rm" if has("-v") || has("--volumes") || short('v') => {
            e.hit(Hit::new(
                Effect::Destroy,
                "compose rm -v deletes containers with their volumes",
            ));
        }
        "ps" | "logs" | "config" | "images" | "top" | "ls" | "version" | "port" | "events" => {}
        other => e.hit(Hit::new(
            Effect::Write,
            format!("{} compose {other} changes containers", c.name),
        )),
    }
    Some(Flow::opaque())
}
