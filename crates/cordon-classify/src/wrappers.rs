//! Commands that run another command: `sudo`, `env`, `timeout`, `xargs`, `npx`,
//! `ssh host '…'`, `docker exec`, `kubectl exec`, `watch`, `parallel`. The inner command
//! is judged as if written directly; one on another machine is judged with no
//! workspace, since none of its paths are ours.

use cordon_core::Effect;

use crate::engine::{Call, Engine, Hit};
use crate::flow::Flow;
use crate::shells;
use crate::word::{Arg, operands, shell_split};

pub(crate) fn classify(e: &mut Engine, c: &Call) -> Option<Flow> {
    if let Some(out) = shells::classify(e, c) {
        return Some(out);
    }
    let inner = match c.name {
        "sudo" => return Some(sudo(e, c)),
        "doas" => skip_opts(c.args, &["-u", "-C"]),
        "env" => return Some(env(e, c)),
        "nohup" | "setsid" | "chronic" | "unbuffer" | "caffeinate" | "catchsegv" | "builtin"
        | "proxychains" | "proxychains4" | "torsocks" | "tsp" | "daemonize" | "sem" => {
            skip_opts(c.args, &["-w"])
        }
        "time" => skip_opts(c.args, &["-f", "--format", "-o", "--output"]),
        "nice" => skip_opts(c.args, &["-n", "--adjustment"]),
        "ionice" => {
            if c.has("-p") || c.has("-P") || c.has("-u") {
                return Some(Flow::opaque());
            }
            skip_opts(c.args, &["-c", "--class", "-n", "--classdata"])
        }
        "chrt" | "taskset" => {
            if c.has("-p") || c.has("--pid") {
                return Some(Flow::opaque());
            }
            let rest = skip_opts(c.args, &[]);
            rest.get(1..).unwrap_or_default().to_vec()
        }
        "stdbuf" => skip_opts(
            c.args,
            &["-i", "-o", "-e", "--input", "--output", "--error"],
        ),
        "timeout" | "gtimeout" => {
            let rest = skip_opts(c.args, &["-s", "--signal", "-k", "--kill-after"]);
            rest.get(1..).unwrap_or_default().to_vec()
        }
        "command" => {
            if c.has("-v") || c.has("-V") {
                return Some(Flow::opaque());
            }
            skip_opts(c.args, &[])
        }
        "exec" => skip_opts(c.args, &["-a"]),
        "strace" | "ltrace" => {
            if c.has("-p") {
                return Some(Flow::opaque());
            }
            skip_opts(
                c.args,
                &["-o", "-e", "-s", "-u", "-E", "-a", "-O", "-S", "-X", "-P"],
            )
        }
        "flock" => {
            if let Some(script) = c.opt_value(&["-c", "--command"]) {
                return Some(e.script_arg(script, "flock -c"));
            }
            let rest = skip_opts(c.args, &["-w", "--timeout", "-E", "--conflict-exit-code"]);
            rest.get(1..).unwrap_or_default().to_vec()
        }
        "busybox" | "toybox" => c.args.to_vec(),
        "pkexec" => skip_opts(c.args, &["--user"]),
        "systemd-run" => skip_opts(
            c.args,
            &[
                "-u",
                "--unit",
                "-p",
                "--property",
                "-E",
                "--setenv",
                "--uid",
                "--gid",
                "-M",
                "--machine",
                "--description",
                "--slice",
                "--on-calendar",
                "--on-active",
                "--on-boot",
                "--on-startup",
                "--on-unit-active",
                "--on-unit-inactive",
                "--working-directory",
                "-H",
                "--host",
            ],
        ),
        "chroot" => {
            let rest = skip_opts(c.args, &["--userspec", "--groups"]);
            if rest.len() <= 1 {
                e.unknown("chroot without a command opens a shell");
                return Some(Flow::opaque());
            }
            rest.get(1..).unwrap_or_default().to_vec()
        }
        "at" | "batch" => {
            if c.has("-f") {
                e.unknown(format!(
                    "{} schedules the commands in a file that is not visible here",
                    c.name
                ));
                return Some(Flow::opaque());
            }
            if c.has("-l") || c.has("-r") || c.has("-d") || c.has("-c") {
                return Some(Flow::opaque());
            }
            return Some(e.stdin_script(c.stdin, c.name));
        }
        "tmux" => return tmux(e, c),
        "screen" => return screen(e, c),
        "xargs" => return Some(xargs(e, c)),
        "parallel" => return Some(parallel(e, c)),
        "watch" => return Some(watch(e, c)),
        "npx" | "pnpx" | "bunx" | "uvx" => {
            if let Some(script) = c.opt_value(&["-c", "--call"]) {
                return Some(e.script_arg(script, c.name));
            }
            package_runner(skip_opts(
                c.args,
                &["-p", "--package", "--from", "--with", "--python"],
            ))
        }
        "npm" | "pnpm" | "yarn" | "bun" => return package_manager(e, c),
        "uv" | "poetry" | "pipenv" | "pdm" | "hatch" | "rye" | "conda" | "mamba" | "pixi" => {
            let run = c.args.first().is_some_and(|a| a.is("run") || a.is("exec"));
            if !run {
                return None;
            }
            skip_opts(
                c.args.get(1..).unwrap_or_default(),
                &[
                    "-n",
                    "--name",
                    "-p",
                    "--prefix",
                    "--with",
                    "--python",
                    "--env",
                    "-e",
                    "--project",
                    "--directory",
                    "--package",
                    "--group",
                    "--extra",
                ],
            )
        }
        "bundle" | "mise" | "asdf" | "rbenv" | "pyenv" | "nodenv" | "goenv" | "rtx" | "devbox"
        | "flox" | "direnv" => {
            let exec = c.args.first().is_some_and(|a| a.is("exec") || a.is("run"));
            if !exec {
                return None;
            }
            let mut rest = skip_opts(c.args.get(1..).unwrap_or_default(), &[]);
            if c.name == "direnv" && !rest.is_empty() {
                rest.remove(0);
            }
            rest
        }
        "dotenv" | "dotenvx" | "doppler" | "op" | "infisical" | "aws-vault" | "with-env"
        | "envchain" | "chamber" | "teller" | "sops" | "berglas" | "vals" => {
            let after = after_dashdash(c.args);
            if after.is_empty() {
                return None;
            }
            after
        }
        "nix-shell" | "nix" => {
            if let Some(script) = c.opt_value(&["--run", "--command"]) {
                return Some(e.script_arg(script, c.name));
            }
            let after = c
                .args
                .iter()
                .position(|a| a.is("-c") || a.is("--command"))
                .map(|i| c.args.get(i + 1..).unwrap_or_default().to_vec());
            match after {
                Some(a) if !a.is_empty() => a,
                _ => return None,
            }
        }
        "su" | "runuser" | "sg" => {
            if let Some(script) = c.opt_value(&["-c", "--command"]) {
                return Some(e.script_arg(script, c.name));
            }
            let after = after_dashdash(c.args);
            if after.is_empty() {
                if c.name == "su" {
                    e.unknown(format!(
                        "{} without a command opens an interactive shell as another user",
                        c.name
                    ));
                    return Some(Flow::opaque());
                }
                return None;
            }
            after
        }
        "script" => {
            if let Some(cmd) = c.opt_value(&["-c", "--command"]) {
                return Some(e.script_arg(cmd, "script -c"));
            }
            return None;
        }
        "ssh" => return Some(ssh(e, c)),
        "docker" | "podman" | "nerdctl" => return container_exec(e, c),
        "docker-compose" => return compose_exec(e, c, c.args),
        "kubectl" | "oc" => return kubectl_exec(e, c),
        _ => return None,
    };
    if inner.is_empty() {
        return Some(Flow::default());
    }
    Some(e.dispatch(&inner, c.stdin, c.env))
}

/// Drops leading options (and the values of `with_value` options) up to the command.
fn skip_opts(args: &[Arg], with_value: &[&str]) -> Vec<Arg> {
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if a.is("--") {
            i += 1;
            break;
        }
        if !a.is_option() {
            break;
        }
        let s = a.s();
        if with_value.contains(&s) {
            i += 2;
            continue;
        }
        // `nice -5 cmd` and `nice -n5 cmd` carry their value inline.
        i += 1;
    }
    args.get(i..).unwrap_or_default().to_vec()
}

/// The leading options of `args` and the index of the first word after them. The values
/// of `with_value` options are skipped, not returned (`-u root cmd`: the options are
/// `[-u]`, the index is `cmd`'s). Unlike [`skip_opts`], `--` gets no special meaning.
fn leading_options<'a>(args: &'a [Arg], with_value: &[&str]) -> (Vec<&'a Arg>, usize) {
    let mut options = Vec::new();
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if !a.is_option() {
            break;
        }
        options.push(a);
        i += if with_value.contains(&a.s()) { 2 } else { 1 };
    }
    (options, i)
}

fn after_dashdash(args: &[Arg]) -> Vec<Arg> {
    match args.iter().position(|a| a.is("--")) {
        Some(i) => args.get(i + 1..).unwrap_or_default().to_vec(),
        None => Vec::new(),
    }
}

/// `npx prisma@5 migrate reset` → `prisma migrate reset`.
fn package_runner(mut args: Vec<Arg>) -> Vec<Arg> {
    if let Some(first) = args.first_mut()
        && let Some(lit) = first.lit.clone()
    {
        let name = if let Some(scoped) = lit.strip_prefix('@') {
            match scoped.split_once('@') {
                Some((n, _)) => format!("@{n}"),
                None => lit.clone(),
            }
        } else {
            lit.split('@').next().unwrap_or(&lit).to_string()
        };
        // `@prisma/cli` and `prisma` alike: the bin is the last path component.
        let bin = name.rsplit('/').next().unwrap_or(&name).to_string();
        *first = Arg::literal(bin);
    }
    args
}

fn sudo(e: &mut Engine, c: &Call) -> Flow {
    let with_value = [
        "-u",
        "-g",
        "-C",
        "-D",
        "-h",
        "-p",
        "-r",
        "-t",
        "-U",
        "-T",
        "--user",
        "--group",
        "--chdir",
        "--prompt",
        "--role",
        "--type",
        "--other-user",
        "--command-timeout",
        "--close-from",
        "--host",
    ];
    let mut i = 0;
    let mut shell = false;
    while let Some(a) = c.args.get(i) {
        if a.is("--") {
            i += 1;
            break;
        }
        if !a.is_option() {
            break;
        }
        let s = a.s();
        if with_value.contains(&s) {
            i += 2;
            continue;
        }
        if s == "-l"
            || s == "--list"
            || s == "-v"
            || s == "--validate"
            || s == "-k"
            || s == "-K"
            || s == "-V"
        {
            return Flow::opaque();
        }
        if !s.starts_with("--") && (s.contains('s') || s.contains('i'))
            || s == "--shell"
            || s == "--login"
        {
            shell = true;
        }
        i += 1;
    }
    let inner = c.args.get(i..).unwrap_or_default();
    if inner.is_empty() {
        if shell {
            e.unknown("sudo opens an interactive root shell");
            return Flow::opaque();
        }
        return Flow::default();
    }
    if shell {
        let text: Option<Vec<String>> = inner.iter().map(|a| a.script.clone()).collect();
        return match text {
            Some(words) => e.script(&words.join(" "), c.stdin),
            None => {
                e.unknown("sudo -s runs a command built at run time");
                Flow::opaque()
            }
        };
    }
    e.dispatch(inner, c.stdin, c.env)
}

fn env(e: &mut Engine, c: &Call) -> Flow {
    let mut i = 0;
    let mut env: Vec<(String, Arg)> = c.env.to_vec();
    let mut chdir: Option<Arg> = None;
    while let Some(a) = c.args.get(i) {
        let s = a.s();
        if a.is("--") {
            i += 1;
            continue;
        }
        if matches!(s, "-S" | "--split-string") {
            if let Some(script) = c.args.get(i + 1) {
                return e.script_arg(script, "env -S");
            }
            return Flow::default();
        }
        if let Some(rest) = s.strip_prefix("-S").filter(|r| !r.is_empty()) {
            return e.script(rest, c.stdin);
        }
        if let Some(v) = a.long_value("--split-string") {
            return e.script(v, c.stdin);
        }
        if matches!(s, "-u" | "--unset") {
            i += 2;
            continue;
        }
        if matches!(s, "-C" | "--chdir") {
            chdir = c.args.get(i + 1).cloned();
            i += 2;
            continue;
        }
        if a.is_option() {
            i += 1;
            continue;
        }
        if let Some((name, _)) = s.split_once('=')
            && !name.is_empty()
            && name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        {
            env.push((name.to_string(), a.after_eq()));
            i += 1;
            continue;
        }
        if !a.known() && a.prefix.contains('=') {
            i += 1;
            continue;
        }
        break;
    }
    let inner = c.args.get(i..).unwrap_or_default();
    if inner.is_empty() {
        // `env` alone prints every variable, tokens included.
        return Flow {
            env_dump: true,
            ..Flow::opaque()
        };
    }
    let saved = e.places.cwd.clone();
    if let Some(dir) = chdir {
        let p = e.places.resolve(&dir);
        e.places.cwd = p.abs;
    }
    let out = e.dispatch(inner, c.stdin, &env);
    e.places.cwd = saved;
    out
}

fn xargs(e: &mut Engine, c: &Call) -> Flow {
    let with_value = [
        "-I",
        "-n",
        "-P",
        "-L",
        "-d",
        "-a",
        "-E",
        "-s",
        "--max-args",
        "--max-procs",
        "--delimiter",
        "--arg-file",
        "--max-lines",
        "--eof",
        "--max-chars",
        "--process-slot-var",
    ];
    let mut i = 0;
    let mut replace: Option<String> = None;
    while let Some(a) = c.args.get(i) {
        if !a.is_option() {
            break;
        }
        let s = a.s();
        if s == "-I" {
            replace = c.args.get(i + 1).and_then(|r| r.lit.clone());
            i += 2;
            continue;
        }
        if let Some(r) = a.long_value("--replace") {
            replace = Some(if r.is_empty() {
                "{}".into()
            } else {
                r.to_string()
            });
        } else if s == "-i" || s == "--replace" {
            replace = Some("{}".into());
        } else if let Some(r) = s.strip_prefix("-i") {
            replace = Some(r.to_string());
        } else if let Some(r) = s.strip_prefix("-I") {
            replace = Some(r.to_string());
        }
        if with_value.contains(&s) {
            i += 2;
            continue;
        }
        i += 1;
    }
    let mut inner: Vec<Arg> = c.args.get(i..).unwrap_or_default().to_vec();
    if inner.is_empty() {
        inner.push(Arg::literal("echo"));
    }
    // What stdin holds becomes arguments: literal words, find's file pattern, or
    // something unknown.
    let supplied: Vec<Arg> = match (c.stdin.literal(), &c.stdin.paths) {
        (Some(text), _) => shell_split(text)
            .unwrap_or_default()
            .into_iter()
            .take(64)
            .map(|w| Arg {
                tainted: c.stdin.secret,
                ..Arg::literal(w)
            })
            .collect(),
        (None, Some(pattern)) => vec![Arg::literal(pattern.clone())],
        (None, None) => vec![Arg {
            tainted: c.stdin.secret,
            ..Arg::unknown("(arguments read from stdin)")
        }],
    };
    match replace {
        Some(r) if !r.is_empty() => {
            for arg in inner.iter_mut().skip(1) {
                if arg.s().contains(r.as_str()) {
                    let replacement = match supplied.as_slice() {
                        [one] if one.known() && arg.is(&r) => one.clone(),
                        _ => Arg {
                            tainted: c.stdin.secret,
                            ..Arg::unknown(&arg.raw)
                        },
                    };
                    *arg = replacement;
                }
            }
        }
        _ => inner.extend(supplied),
    }
    e.dispatch(&inner, &Flow::default(), c.env)
}

fn parallel(e: &mut Engine, c: &Call) -> Flow {
    let with_value = [
        "-j",
        "--jobs",
        "-N",
        "-n",
        "-S",
        "--sshlogin",
        "--joblog",
        "--results",
        "--delay",
        "--timeout",
        "-d",
        "--delimiter",
        "-a",
        "--arg-file",
        "--colsep",
        "-I",
        "--tmpdir",
        "--workdir",
        "--env",
    ];
    let (options, i) = leading_options(c.args, &with_value);
    let remote = options.iter().any(|a| a.is("-S") || a.is("--sshlogin"));
    let template: Vec<&Arg> = c
        .args
        .get(i..)
        .unwrap_or_default()
        .iter()
        .take_while(|a| !matches!(a.s(), ":::" | "::::" | ":::+" | "::::+"))
        .collect();
    if template.is_empty() {
        return e.stdin_script(c.stdin, "parallel");
    }
    let words: Option<Vec<String>> = template.iter().map(|a| a.script.clone()).collect();
    let Some(words) = words else {
        e.unknown("parallel runs a command built at run time");
        return Flow::opaque();
    };
    let template_text = words.join(" ");
    // The values after `:::` fill the placeholders, or are appended when there is none.
    let values: Vec<&Arg> = c
        .args
        .iter()
        .skip_while(|a| !matches!(a.s(), ":::" | ":::+"))
        .skip(1)
        .filter(|a| !matches!(a.s(), ":::" | ":::+" | "::::" | "::::+"))
        .collect();
    let literal: Option<Vec<String>> = values.iter().map(|a| a.lit.clone()).collect();
    let texts: Vec<String> = match literal {
        Some(vals) if !vals.is_empty() && vals.len() <= 16 => vals
            .iter()
            .map(|v| fill_placeholders(&template_text, &quote(v)))
            .collect(),
        _ => vec![fill_placeholders(&template_text, "\"$PARALLEL_ARG\"")],
    };
    let mut out = Flow::default();
    for text in texts {
        let o = if remote {
            e.remote_script("parallel's ssh hosts", None, Some(&text), &Flow::default())
        } else {
            e.script(&text, &Flow::default())
        };
        out = out.then(o);
    }
    out
}

/// Puts `value` where GNU parallel would: in each placeholder, or at the end.
fn fill_placeholders(template: &str, value: &str) -> String {
    let replaced = replace_placeholders(template, value);
    if replaced == template {
        format!("{template} {value}")
    } else {
        replaced
    }
}

/// GNU parallel's `{}`, `{.}`, `{/}`, `{1}` … stand for run-time arguments.
fn replace_placeholders(text: &str, value: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(rest.get(..start).unwrap_or(""));
        let after = rest.get(start..).unwrap_or("");
        match after.find('}') {
            Some(end)
                if after.get(1..end).is_some_and(|inner| {
                    inner
                        .chars()
                        .all(|c| c.is_ascii_digit() || "./#%".contains(c))
                }) =>
            {
                out.push_str(value);
                rest = after.get(end + 1..).unwrap_or("");
            }
            _ => {
                out.push('{');
                rest = after.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out
}

fn watch(e: &mut Engine, c: &Call) -> Flow {
    let with_value = ["-n", "--interval", "-q", "--equexit"];
    let (options, i) = leading_options(c.args, &with_value);
    let exec = options.iter().any(|a| a.is("-x") || a.is("--exec"));
    let inner = c.args.get(i..).unwrap_or_default();
    if exec {
        return e.dispatch(inner, &Flow::default(), c.env);
    }
    let words: Option<Vec<String>> = inner.iter().map(|a| a.script.clone()).collect();
    match words {
        Some(w) => e.script(&w.join(" "), &Flow::default()),
        None => {
            e.unknown("watch runs a command built at run time");
            Flow::opaque()
        }
    }
}

fn package_manager(e: &mut Engine, c: &Call) -> Option<Flow> {
    let first = c.args.iter().position(|a| !a.is_option())?;
    let sub = c.args.get(first)?.s().to_string();
    let rest = c.args.get(first + 1..).unwrap_or_default();
    let inner: Vec<Arg> = match (c.name, sub.as_str()) {
        ("npm", "exec" | "x")
        | ("pnpm", "exec" | "dlx")
        | ("yarn", "exec" | "dlx")
        | ("bun", "x") => {
            let after = after_dashdash(rest);
            let args = if after.is_empty() {
                skip_opts(rest, &["-p", "--package", "-c", "--call"])
            } else {
                after
            };
            if let Some(script) = rest
                .iter()
                .position(|a| a.is("-c") || a.is("--call"))
                .and_then(|i| rest.get(i + 1))
            {
                return Some(e.script_arg(script, c.name));
            }
            package_runner(args)
        }
        ("pnpm" | "yarn", s) if !is_pm_builtin(s) => {
            c.args.get(first..).unwrap_or_default().to_vec()
        }
        ("bun", "run") => {
            // `bun run file.ts` runs a script; `bun run prisma …` a package bin.
            let args = rest.to_vec();
            match args.first() {
                Some(a) if a.s().contains('.') || a.s().contains('/') => return None,
                Some(_) => args,
                None => return None,
            }
        }
        _ => return None,
    };
    if inner.is_empty() {
        return Some(Flow::default());
    }
    Some(e.dispatch(&inner, c.stdin, c.env))
}

/// Commands of pnpm/yarn that are not a package bin.
fn is_pm_builtin(s: &str) -> bool {
    matches!(
        s,
        "add"
            | "install"
            | "i"
            | "remove"
            | "rm"
            | "uninstall"
            | "up"
            | "update"
            | "upgrade"
            | "run"
            | "test"
            | "t"
            | "start"
            | "build"
            | "publish"
            | "pack"
            | "link"
            | "unlink"
            | "list"
            | "ls"
            | "outdated"
            | "why"
            | "info"
            | "view"
            | "init"
            | "create"
            | "config"
            | "cache"
            | "store"
            | "audit"
            | "licenses"
            | "workspace"
            | "workspaces"
            | "recursive"
            | "-r"
            | "import"
            | "prune"
            | "rebuild"
            | "root"
            | "bin"
            | "env"
            | "patch"
            | "patch-commit"
            | "deploy"
            | "fetch"
            | "dedupe"
            | "setup"
            | "server"
            | "version"
            | "npm"
            | "plugin"
            | "constraints"
            | "dlx"
            | "exec"
            | "node"
            | "login"
            | "logout"
            | "whoami"
            | "owner"
            | "tag"
            | "team"
            | "global"
            | "help"
            | "import-meta"
            | "lint"
            | "format"
            | "dev"
            | "typecheck"
            | "check"
            | "preview"
            | "generate"
            | "clean"
            | "unpublish"
            | "deprecate"
            | "dist-tag"
            | "pkg"
            | "set"
            | "search"
            | "explain"
            | "doctor"
            | "stats"
            | "rebuild-all"
            | "upgrade-interactive"
            | "autoclean"
    )
}

/// `tmux new -d 'cmd'`, `tmux send-keys 'cmd' Enter`: a shell command as one string.
fn tmux(e: &mut Engine, c: &Call) -> Option<Flow> {
    let value_opts = [
        "-s", "-n", "-t", "-c", "-x", "-y", "-F", "-e", "-l", "-L", "-S", "-f", "-T", "-p",
    ];
    let sub = c.args.iter().find(|a| !a.is_option())?;
    let runs = matches!(
        sub.s(),
        "new-session"
            | "new"
            | "new-window"
            | "neww"
            | "split-window"
            | "splitw"
            | "run-shell"
            | "run"
            | "respawn-pane"
            | "respawnp"
            | "respawn-window"
            | "respawnw"
    );
    let keys = matches!(sub.s(), "send-keys" | "send");
    if !runs && !keys {
        return Some(Flow::opaque());
    }
    let start = c
        .args
        .iter()
        .position(|a| std::ptr::eq(a, sub))
        .map_or(0, |i| i + 1);
    let words: Vec<&Arg> = operands(c.args.get(start..).unwrap_or_default(), &value_opts)
        .into_iter()
        .filter(|a| !keys || !matches!(a.s(), "Enter" | "C-m" | "KPEnter" | "C-c" | "C-d"))
        .collect();
    if words.is_empty() {
        return Some(Flow::opaque());
    }
    let text: Option<Vec<String>> = words.iter().map(|a| a.script.clone()).collect();
    Some(match text {
        Some(t) => e.script(&t.join(" "), &Flow::default()),
        None => {
            e.unknown("tmux runs a command built at run time");
            Flow::opaque()
        }
    })
}

/// `screen -dmS name cmd…` runs argv; `screen -X stuff 'text'` types into a session.
fn screen(e: &mut Engine, c: &Call) -> Option<Flow> {
    if let Some(i) = c.args.iter().position(|a| a.is("-X")) {
        let rest = c.args.get(i + 1..).unwrap_or_default();
        if rest.first().is_some_and(|a| a.is("stuff")) {
            let text = rest.get(1).and_then(|a| a.script.clone());
            return Some(match text {
                Some(t) => e.script(&crate::commands::interpret_escapes(&t), &Flow::default()),
                None => {
                    e.unknown("screen types a command built at run time");
                    Flow::opaque()
                }
            });
        }
        return Some(Flow::opaque());
    }
    // Options such as `-dmS name` end in a letter that takes the next word.
    let mut i = 0;
    while let Some(a) = c.args.get(i) {
        if !a.is_option() {
            break;
        }
        let s = a.s();
        let takes = matches!(s, "-Logfile")
            || (!s.starts_with("--") && s.ends_with(['S', 'c', 't', 'p', 'T', 'e', 'h']));
        i += if takes { 2 } else { 1 };
    }
    let inner = c.args.get(i..).unwrap_or_default().to_vec();
    if inner.is_empty() {
        return Some(Flow::opaque());
    }
    Some(e.dispatch(&inner, &Flow::default(), c.env))
}

fn ssh(e: &mut Engine, c: &Call) -> Flow {
    let with_value = [
        "-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O", "-o", "-p",
        "-Q", "-R", "-S", "-W", "-w", "-B", "-P",
    ];
    let (options, i) = leading_options(c.args, &with_value);
    let no_command = options.iter().any(|a| {
        let s = a.s();
        matches!(s, "-N" | "-G" | "-V" | "-O" | "-Q")
            || (s.starts_with('-') && s.contains('N') && !with_value.contains(&s))
    });
    let Some(dest) = c.args.get(i) else {
        return Flow::default();
    };
    let host = dest
        .lit
        .as_deref()
        .map(|d| {
            let d = d.strip_prefix("ssh://").unwrap_or(d);
            let d = d.rsplit('@').next().unwrap_or(d);
            d.split(':').next().unwrap_or(d).to_ascii_lowercase()
        })
        .unwrap_or_else(|| dest.raw.clone());
    let words = c.args.get(i + 1..).unwrap_or_default();
    e.hit(Hit::new(Effect::Read, format!("ssh connects to {host}")).host(Some(host.clone())));
    if no_command {
        return Flow::opaque();
    }
    if words.is_empty() {
        if c.stdin.is_nothing() {
            e.hit(
                Hit::new(
                    Effect::Unknown,
                    format!("ssh opens an interactive shell on {host}"),
                )
                .host(Some(host.clone())),
            );
            return Flow::opaque();
        }
        return e.remote_script(&host, Some(host.clone()), None, c.stdin);
    }
    // ssh joins its arguments with spaces and the remote shell parses the result.
    let text: Option<Vec<String>> = words.iter().map(|a| a.script.clone()).collect();
    match text {
        Some(t) => e.remote_script(&host, Some(host.clone()), Some(&t.join(" ")), c.stdin),
        None => {
            e.hit(
                Hit::new(
                    Effect::Unknown,
                    format!("ssh runs a command on {host} that is built at run time"),
                )
                .host(Some(host.clone())),
            );
            Flow::opaque()
        }
    }
}

/// `docker exec CONTAINER cmd…` (and `compose exec`): the command runs in the container.
fn container_exec(e: &mut Engine, c: &Call) -> Option<Flow> {
    let sub = c.args.first()?;
    if sub.is("compose") {
        return compose_exec(e, c, c.args.get(1..).unwrap_or_default());
    }
    if sub.is("container") && c.args.get(1).is_some_and(|a| a.is("exec")) {
        return exec_in_container(e, c, c.args.get(2..).unwrap_or_default(), c.name);
    }
    if !sub.is("exec") {
        return None;
    }
    exec_in_container(e, c, c.args.get(1..).unwrap_or_default(), c.name)
}

fn exec_in_container(e: &mut Engine, c: &Call, args: &[Arg], tool: &str) -> Option<Flow> {
    let with_value = [
        "-e",
        "--env",
        "--env-file",
        "-u",
        "--user",
        "-w",
        "--workdir",
        "--detach-keys",
    ];
    let (_, i) = leading_options(args, &with_value);
    let container = args.get(i)?.show().to_string();
    let inner = args.get(i + 1..).unwrap_or_default();
    Some(run_in(
        e,
        &format!("{tool} container {container}"),
        inner,
        c.stdin,
    ))
}

fn compose_exec(e: &mut Engine, c: &Call, args: &[Arg]) -> Option<Flow> {
    let with_value = [
        "-f",
        "--file",
        "-p",
        "--project-name",
        "--profile",
        "--env-file",
        "--project-directory",
    ];
    let (_, i) = leading_options(args, &with_value);
    let sub = args.get(i)?;
    if !(sub.is("exec") || sub.is("run")) {
        return None;
    }
    let with_value = [
        "-e",
        "--env",
        "-u",
        "--user",
        "-w",
        "--workdir",
        "--index",
        "--name",
        "-p",
        "--publish",
        "-v",
        "--volume",
        "--entrypoint",
        "-l",
        "--label",
    ];
    let after_sub = args.get(i + 1..).unwrap_or_default();
    let (_, j) = leading_options(after_sub, &with_value);
    let j = i + 1 + j;
    let service = args.get(j)?.show().to_string();
    let inner = args.get(j + 1..).unwrap_or_default();
    if inner.is_empty() {
        return Some(Flow::opaque());
    }
    Some(run_in(
        e,
        &format!("compose service {service}"),
        inner,
        c.stdin,
    ))
}

fn kubectl_exec(e: &mut Engine, c: &Call) -> Option<Flow> {
    let pos = c.args.iter().position(|a| !a.is_option())?;
    if !c.args.get(pos)?.is("exec") {
        return None;
    }
    let args = c.args.get(pos + 1..).unwrap_or_default();
    let pod = args
        .iter()
        .take_while(|a| !a.is("--"))
        .scan(false, |skip, a| {
            let was = *skip;
            *skip = matches!(
                a.s(),
                "-n" | "--namespace"
                    | "-c"
                    | "--container"
                    | "--context"
                    | "-f"
                    | "--filename"
                    | "--kubeconfig"
            );
            Some((was, a))
        })
        .find(|(was, a)| !was && !a.is_option())
        .map(|(_, a)| a.show().to_string())
        .unwrap_or_else(|| "a pod".into());
    let inner = after_dashdash(args);
    if inner.is_empty() {
        e.unknown(format!("{} exec into {pod} without `--` runs a command that cannot be told apart from its options", c.name));
        return Some(Flow::opaque());
    }
    Some(run_in(e, &format!("pod {pod}"), &inner, c.stdin))
}

/// Judges `argv` as run on another machine or in a container.
fn run_in(e: &mut Engine, label: &str, argv: &[Arg], stdin: &Flow) -> Flow {
    if argv.is_empty() {
        return Flow::opaque();
    }
    let words: Option<Vec<String>> = argv
        .iter()
        .map(|a| a.script.clone().map(|s| quote(&s)))
        .collect();
    match words {
        Some(w) => e.remote_script(label, None, Some(&w.join(" ")), stdin),
        None => {
            e.unknown(format!(
                "runs a command in {label} that is built at run time"
            ));
            Flow::opaque()
        }
    }
}

/// Quotes a word so re-parsing yields it unchanged; `$NAME` references stay live.
fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+$^{}~".contains(c))
    {
        return word.to_string();
    }
    format!(
        "\"{}\"",
        word.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('`', "\\`")
    )
}
