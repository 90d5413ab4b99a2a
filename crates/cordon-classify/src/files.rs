//! Deleting, overwriting and writing files: `rm`, `shred`, `dd`, `mkfs`, `truncate`,
//! `chmod -R`, `cp`/`mv`/`tee`, `find -delete`, redirects.
//!
//! Deleting build output or scratch files is routine and only a write; deleting the
//! workspace's source, home, or anything else outside the workspace is destroy.

use cordon_core::Effect;

use crate::engine::{Call, Engine, Hit};
use crate::flow::{Content, Flow};
use crate::http;
use crate::paths::{self, covers_all, is_block_device, is_disposable, is_null_device};
use crate::secrets;
use crate::word::{Arg, operands};

pub(crate) fn classify(e: &mut Engine, c: &Call) -> Option<Flow> {
    match c.name {
        "rm" | "unlink" | "rmdir" | "srm" | "wipe" | "rimraf" | "del" | "trash" | "trash-put" => {
            rm(e, c)
        }
        "shred" => shred(e, c),
        "dd" => dd(e, c),
        "truncate" => truncate(e, c),
        "chmod" | "chown" | "chgrp" | "chattr" | "setfacl" => perms(e, c),
        "cp" | "mv" | "install" | "ln" | "rsync" | "scp" => copy(e, c),
        "touch" | "mkdir" | "mkfifo" | "mknod" | "sponge" => {
            for a in c.positionals() {
                judge_write(e, a, c.name);
            }
            Some(Flow::default())
        }
        "tee" => {
            for a in c.positionals() {
                judge_write(e, a, "tee");
            }
            Some(c.stdin.clone())
        }
        "find" | "fd" | "fdfind" => find(e, c),
        "tar" | "bsdtar" => tar(e, c),
        "unzip" => {
            if let Some(dir) = c.opt_value(&["-d"]) {
                judge_write(e, dir, "unzip");
            }
            Some(Flow::opaque())
        }
        "zip" | "7z" | "gzip" | "gunzip" | "bzip2" | "xz" | "zstd" | "unxz" | "bunzip2" => {
            let files: Vec<&Arg> = c.positionals();
            e.secret_tree_args(&files, &format!("{} reads", c.name));
            if let Some(first) = files.first().filter(|_| c.name == "zip") {
                judge_write(e, first, "zip");
            }
            Some(c.stdin.transformed())
        }
        "mkfs" | "mke2fs" | "mkswap" | "wipefs" | "blkdiscard" | "sgdisk" | "fdisk" | "sfdisk"
        | "cfdisk" | "parted" | "mkdosfs" => disk(e, c),
        n if n.starts_with("mkfs.") => disk(e, c),
        "sed" | "gsed" => sed(e, c),
        _ => None,
    }
}

fn recursive(c: &Call) -> bool {
    c.has("--recursive") || c.has_short('r') || c.has_short('R')
}

fn rm(e: &mut Engine, c: &Call) -> Option<Flow> {
    let rec = match c.name {
        "rm" => recursive(c),
        "rmdir" | "unlink" => false,
        // rimraf, del, trash and the secure-delete tools always recurse.
        _ => true,
    };
    let verb = match (c.name, rec) {
        ("rm", true) => "rm -r",
        (n, _) => n,
    };
    let targets = c.positionals();
    for t in targets {
        if c.name == "rmdir" {
            // rmdir only removes empty directories: nothing is lost.
            judge_write(e, t, "rmdir");
        } else {
            judge_delete(e, t, rec, verb);
        }
    }
    Some(Flow::default())
}

/// Judges deleting `arg` (recursively or not) and records the finding.
pub(crate) fn judge_delete(e: &mut Engine, arg: &Arg, recursive: bool, verb: &str) {
    let p = e.places.resolve(arg);
    let Some(abs) = p.abs.clone() else {
        let base = p.base.clone();
        let place = base.as_deref().unwrap_or("an unknown directory");
        let inside = |b: &str| {
            if p.below_base {
                format!("{b}/x")
            } else {
                b.to_string()
            }
        };
        if let Some(b) = base.as_deref()
            && e.remote.is_none()
            && ((e.places.in_workspace(b)
                && e.places
                    .relative(b)
                    .is_some_and(|r| !r.is_empty() && is_disposable(r)))
                || e.places.is_scratch(&inside(b)))
        {
            e.hit(
                Hit::new(
                    Effect::Write,
                    format!("{verb} deletes build output or scratch files under {b}"),
                )
                .path(Some(pattern_of(b, p.below_base))),
            );
            return;
        }
        let effect = if recursive {
            Effect::Destroy
        } else {
            Effect::Unknown
        };
        e.hit(
            Hit::new(
                effect,
                format!(
                    "{verb} deletes `{}`, a path only known at run time (under {place})",
                    arg.raw
                ),
            )
            .path(base),
        );
        return;
    };
    let dir = if p.glob {
        p.base.clone().unwrap_or_else(|| "/".to_string())
    } else {
        abs.clone()
    };
    let whole = !p.glob || covers_all(&abs);
    let path = Some(abs.clone());
    if is_null_device(&abs) {
        return;
    }
    if e.remote.is_some() {
        let effect = if e.places.is_scratch(&abs) {
            Effect::Write
        } else {
            Effect::Destroy
        };
        e.hit(Hit::new(effect, format!("{verb} deletes {abs} on a remote machine")).path(path));
        return;
    }
    if abs == "/" || (p.glob && dir == "/") {
        e.hit(
            Hit::new(
                Effect::Destroy,
                format!("{verb} deletes / (the whole file system)"),
            )
            .path(path),
        );
        return;
    }
    if let Some(home) = e.places.home.clone()
        && paths::within(&home, &dir)
        && (whole || dir != home)
    {
        let what = if dir == home {
            format!("the home directory {home}")
        } else {
            format!("{dir}, which holds the home directory")
        };
        let what = if p.glob && dir == home {
            format!("everything in the home directory {home}")
        } else {
            what
        };
        e.hit(Hit::new(Effect::Destroy, format!("{verb} deletes {what}")).path(path));
        return;
    }
    if e.places.is_scratch(&abs) {
        e.hit(
            Hit::new(
                Effect::Write,
                format!("{verb} deletes scratch files in {abs}"),
            )
            .path(path),
        );
        return;
    }
    if e.places.in_workspace(&dir) {
        let rel = e.places.relative(&abs).unwrap_or("").to_string();
        if e.places.is_workspace_root(&dir) && whole {
            e.hit(
                Hit::new(
                    Effect::Destroy,
                    format!("{verb} deletes the whole workspace {dir}"),
                )
                .path(path),
            );
            return;
        }
        if is_disposable(&rel) {
            e.hit(
                Hit::new(
                    Effect::Write,
                    format!("{verb} deletes build output or caches: {rel}"),
                )
                .path(path),
            );
            return;
        }
        if recursive && (p.glob || !looks_like_file(&rel)) {
            e.hit(
                Hit::new(
                    Effect::Destroy,
                    format!("{verb} deletes {rel}, workspace files that are not build output"),
                )
                .path(path),
            );
            return;
        }
        e.hit(
            Hit::new(
                Effect::Write,
                format!("{verb} deletes {rel} in the workspace"),
            )
            .path(path),
        );
        return;
    }
    let what = if abs == "/" {
        "/ (the whole file system)".to_string()
    } else if paths::is_system_dir(&dir) {
        format!("{abs}, a system directory")
    } else {
        format!("{abs} outside the workspace")
    };
    e.hit(Hit::new(Effect::Destroy, format!("{verb} deletes {what}")).path(path));
}

/// A partly known path as a pattern: `/tmp/*` for "something below /tmp".
fn pattern_of(base: &str, below: bool) -> String {
    if below {
        format!("{}/*", base.trim_end_matches('/'))
    } else {
        base.to_string()
    }
}

/// `package-lock.json`, `src/old.rs`: a name with an extension is a file, so `rm -r`
/// removes no more than `rm` would.
fn looks_like_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    match name.rsplit_once('.') {
        Some((stem, ext)) => {
            !stem.is_empty()
                && (1..=8).contains(&ext.len())
                && ext.chars().all(|c| c.is_ascii_alphanumeric())
                && ext.chars().any(|c| c.is_ascii_alphabetic())
                && !matches!(
                    ext,
                    "d" | "git"
                        | "app"
                        | "framework"
                        | "bundle"
                        | "xcodeproj"
                        | "xcworkspace"
                        | "lproj"
                )
        }
        None => false,
    }
}

/// Judges writing to `arg` (a file created or overwritten).
pub(crate) fn judge_write(e: &mut Engine, arg: &Arg, verb: &str) {
    let p = e.places.resolve(arg);
    match p.abs.as_deref() {
        Some(abs) if is_null_device(abs) => {}
        Some(abs) if is_block_device(abs) => {
            e.hit(
                Hit::new(
                    Effect::Destroy,
                    format!("{verb} overwrites the disk device {abs}"),
                )
                .path(Some(abs.to_string())),
            );
        }
        Some(abs) => {
            let reason = if e.remote.is_some() {
                format!("{verb} writes {abs} on a remote machine")
            } else if e.places.writable(abs) {
                format!("{verb} writes {abs}")
            } else {
                format!("{verb} writes {abs} outside the workspace")
            };
            e.hit(Hit::new(Effect::Write, reason).path(Some(abs.to_string())));
        }
        None => match p.base.as_deref() {
            Some(b)
                if e.remote.is_none()
                    && (e.places.in_workspace(b)
                        || e.places.is_scratch(&pattern_of(b, p.below_base))) =>
            {
                e.hit(
                    Hit::new(
                        Effect::Write,
                        format!("{verb} writes `{}` under {b}", arg.raw),
                    )
                    .path(Some(pattern_of(b, p.below_base))),
                );
            }
            base => {
                e.hit(
                    Hit::new(
                        Effect::Unknown,
                        format!("{verb} writes `{}`, a file only known at run time", arg.raw),
                    )
                    .path(base.map(str::to_string)),
                );
            }
        },
    }
}

/// What `< file` feeds a command.
pub(crate) fn read_redirect(e: &mut Engine, arg: &Arg) -> Flow {
    if let Some(flow) = &arg.flow {
        return flow.clone();
    }
    let p = e.places.resolve(arg);
    let Some(abs) = p.abs else {
        return Flow::opaque();
    };
    if is_null_device(&abs) {
        return Flow::default();
    }
    if let Some(host) = http::dev_tcp_host(&abs) {
        e.hit(
            Hit::new(
                Effect::Read,
                format!("reads from a network socket to {host}"),
            )
            .host(Some(host)),
        );
        return Flow {
            remote: true,
            ..Flow::opaque()
        };
    }
    let mut flow = Flow::opaque();
    if let Some(what) = secrets::secret_file(&abs, e.places.home.as_deref()) {
        e.hit(Hit::new(Effect::SecretRead, format!("reads {abs}, {what}")).path(Some(abs.clone())));
        flow.secret = true;
    }
    flow
}

/// Judges `> file` given what the command writes to it.
pub(crate) fn write_redirect(e: &mut Engine, arg: &Arg, out: &Flow) {
    let p = e.places.resolve(arg);
    if let Some(abs) = p.abs.as_deref()
        && let Some(host) = http::dev_tcp_host(abs)
    {
        if out.secret || out.env_dump {
            e.hit(
                Hit::new(
                    Effect::Exfiltrate,
                    format!("sends secret data to {host} over a raw socket"),
                )
                .host(Some(host)),
            );
        } else {
            e.hit(
                Hit::new(
                    Effect::Write,
                    format!("sends output to {host} over a raw socket"),
                )
                .host(Some(host)),
            );
        }
        return;
    }
    judge_write(e, arg, "the redirect");
}

fn shred(e: &mut Engine, c: &Call) -> Option<Flow> {
    for t in c.positionals() {
        let p = e.places.resolve(t);
        match p.abs {
            Some(abs) if e.places.is_scratch(&abs) => {
                e.hit(
                    Hit::new(Effect::Write, format!("shred destroys scratch file {abs}"))
                        .path(Some(abs)),
                );
            }
            Some(abs) if is_null_device(&abs) => {}
            other => {
                let shown = other.or(p.base);
                e.hit(
                    Hit::new(
                        Effect::Destroy,
                        format!("shred overwrites `{}` beyond recovery", t.show()),
                    )
                    .path(shown),
                );
            }
        }
    }
    Some(Flow::default())
}

fn dd(e: &mut Engine, c: &Call) -> Option<Flow> {
    let mut out_flow = Flow::opaque();
    for a in c.args {
        if a.s().starts_with("if=") || (!a.known() && a.prefix.starts_with("if=")) {
            let src = a.after_eq();
            e.secret_args(&[&src], "dd reads");
            if let Some(abs) = e.places.resolve(&src).abs
                && secrets::secret_file(&abs, e.places.home.as_deref()).is_some()
            {
                out_flow.secret = true;
            }
        }
    }
    for a in c.args {
        if a.s().starts_with("of=") || (!a.known() && a.prefix.starts_with("of=")) {
            let dest = a.after_eq();
            judge_write(e, &dest, "dd");
            out_flow = Flow::default();
        }
    }
    Some(out_flow)
}

fn truncate(e: &mut Engine, c: &Call) -> Option<Flow> {
    for a in operands(c.args, &["-s", "--size", "-r", "--reference"]) {
        let p = e.places.resolve(a);
        match p.abs {
            Some(abs) if e.remote.is_none() && e.places.writable(&abs) => {
                e.hit(Hit::new(Effect::Write, format!("truncate resizes {abs}")).path(Some(abs)));
            }
            other => {
                let shown = other.or(p.base);
                e.hit(
                    Hit::new(
                        Effect::Destroy,
                        format!(
                            "truncate erases the contents of `{}` outside the workspace",
                            a.show()
                        ),
                    )
                    .path(shown),
                );
            }
        }
    }
    Some(Flow::default())
}

fn perms(e: &mut Engine, c: &Call) -> Option<Flow> {
    let rec = c.has("-R") || c.has("--recursive") || (c.name == "setfacl" && c.has_short('R'));
    let mut targets = c.positionals();
    // The first positional of chmod/chown/chgrp is the mode or owner.
    if matches!(c.name, "chmod" | "chown" | "chgrp" | "chattr") && !targets.is_empty() {
        targets.remove(0);
    }
    let verb = if rec {
        format!("{} -R", c.name)
    } else {
        c.name.to_string()
    };
    for t in targets {
        let p = e.places.resolve(t);
        match p.abs {
            Some(abs) if e.remote.is_none() && e.places.writable(&abs) => {
                e.hit(Hit::new(Effect::Write, format!("{verb} changes {abs}")).path(Some(abs)));
            }
            Some(abs) if !rec && !paths::is_system_dir(&abs) && abs != "/" => {
                e.hit(
                    Hit::new(
                        Effect::Write,
                        format!("{verb} changes {abs} outside the workspace"),
                    )
                    .path(Some(abs)),
                );
            }
            other => {
                let shown = other.or(p.base);
                e.hit(
                    Hit::new(
                        Effect::Destroy,
                        format!(
                            "{verb} changes permissions or ownership of everything under `{}`",
                            t.show()
                        ),
                    )
                    .path(shown),
                );
            }
        }
    }
    Some(Flow::default())
}

/// `cp`, `mv`, `install`, `ln`, `rsync`, `scp`: sources are read, the destination written.
fn copy(e: &mut Engine, c: &Call) -> Option<Flow> {
    const VALUE_OPTS: &[&str] = &[
        "-t",
        "-S",
        "--suffix",
        "-m",
        "--mode",
        "-o",
        "--owner",
        "-g",
        "--group",
        "-e",
        "--rsh",
        "-P",
        "-i",
        "-F",
        "-J",
        "-l",
        "-c",
        "--exclude",
        "--include",
        "--filter",
        "-f",
        "--exclude-from",
        "--include-from",
        "--files-from",
        "--port",
        "--chmod",
        "--chown",
        "-B",
        "--backup-dir",
        "--rsync-path",
        "--password-file",
        "--log-file",
    ];
    let takes_value = |a: &Arg| match c.name {
        "scp" => ["-P", "-i", "-F", "-J", "-l", "-c", "-o", "-S"].contains(&a.s()),
        "rsync" => [
            "-e",
            "--rsh",
            "--exclude",
            "--include",
            "--filter",
            "-f",
            "--exclude-from",
            "--include-from",
            "--files-from",
            "--port",
            "--chmod",
            "--chown",
            "--backup-dir",
            "--rsync-path",
            "--password-file",
            "--log-file",
            "-B",
            "-T",
            "--temp-dir",
        ]
        .contains(&a.s()),
        _ => VALUE_OPTS.contains(&a.s()) && !["-i", "-f", "-P", "-l", "-c", "-e"].contains(&a.s()),
    };
    let mut positionals: Vec<&Arg> = Vec::new();
    let mut target_dir: Option<&Arg> = None;
    let mut it = c.args.iter();
    let mut dashdash = false;
    while let Some(a) = it.next() {
        if !dashdash && a.is("--") {
            dashdash = true;
            continue;
        }
        if !dashdash && a.is_option() {
            if (a.is("-t") && c.name != "scp" && c.name != "rsync") || a.is("--target-directory") {
                target_dir = it.next();
            } else if let Some(_v) = a.long_value("--target-directory") {
                target_dir = Some(a);
            } else if takes_value(a) {
                it.next();
            }
            continue;
        }
        positionals.push(a);
    }
    let owned_target;
    let (sources, dest): (Vec<&Arg>, Option<&Arg>) = match target_dir {
        Some(t) if t.long_value("--target-directory").is_some() => {
            owned_target = t.after_eq();
            (positionals, Some(&owned_target))
        }
        Some(t) => (positionals, Some(t)),
        None if c.name == "ln" && positionals.len() == 1 => (Vec::new(), None),
        None => {
            let dest = positionals.pop();
            (positionals, dest)
        }
    };
    let remote_dest = dest.and_then(http::remote_spec);
    if c.name != "mv" && c.name != "ln" {
        let local: Vec<&Arg> = sources
            .iter()
            .copied()
            .filter(|s| http::remote_spec(s).is_none())
            .collect();
        e.secret_tree_args(&local, &format!("{} copies", c.name));
    }
    if c.name == "mv" {
        for s in &sources {
            let p = e.places.resolve(s);
            if let Some(abs) = p.abs.as_deref()
                && !e.places.writable(abs)
            {
                e.hit(
                    Hit::new(
                        Effect::Write,
                        format!("mv moves {abs} away from outside the workspace"),
                    )
                    .path(Some(abs.to_string())),
                );
            }
        }
    }
    let deletes = c
        .args
        .iter()
        .any(|a| a.s().starts_with("--delete") || a.is("--remove-source-files"));
    match (dest, remote_dest) {
        (_, Some(host)) => {
            let effect = if deletes {
                Effect::Destroy
            } else {
                Effect::Write
            };
            let why = if deletes {
                format!(
                    "{} --delete removes files on {host} that are not in the source",
                    c.name
                )
            } else {
                format!("{} copies files to {host}", c.name)
            };
            e.hit(Hit::new(effect, why).host(Some(host)));
        }
        (Some(d), None) => {
            if c.name == "mv" && d.lit.as_deref().is_some_and(|l| l == "/dev/null") {
                for s in &sources {
                    judge_delete(e, s, true, "mv to /dev/null");
                }
            } else if deletes {
                judge_delete(e, d, true, &format!("{} --delete", c.name));
            } else {
                judge_write(e, d, c.name);
            }
        }
        (None, None) => {}
    }
    for s in &sources {
        if let Some(host) = http::remote_spec(s) {
            e.hit(
                Hit::new(Effect::Read, format!("{} copies files from {host}", c.name))
                    .host(Some(host)),
            );
        }
    }
    Some(Flow::default())
}

fn find(e: &mut Engine, c: &Call) -> Option<Flow> {
    if c.name != "find" {
        // fd: `-x`/`--exec` and `-X`/`--exec-batch` run a command per result.
        return fd(e, c);
    }
    let mut roots: Vec<&Arg> = Vec::new();
    let mut i = 0;
    while let Some(a) = c.args.get(i) {
        if a.s().starts_with('-') || a.is("(") || a.is("!") {
            break;
        }
        if matches!(a.s(), "-H" | "-L" | "-P") {
            i += 1;
            continue;
        }
        roots.push(a);
        i += 1;
    }
    let exprs = c.args.get(i..).unwrap_or_default();
    let mut names: Vec<String> = Vec::new();
    let mut or = false;
    for (j, a) in exprs.iter().enumerate() {
        if matches!(
            a.s(),
            "-name" | "-iname" | "-path" | "-ipath" | "-wholename"
        ) && let Some(v) = exprs.get(j + 1).and_then(|v| v.lit.clone())
        {
            names.push(v);
        }
        if a.is("-o") || a.is("-or") {
            or = true;
        }
    }
    let pattern = match (names.as_slice(), or) {
        ([one], false) => {
            let one = one
                .trim_start_matches("./")
                .trim_start_matches('*')
                .trim_start_matches('/');
            if names.first().is_some_and(|n| n.starts_with('*')) {
                format!("**/*{one}")
            } else {
                format!("**/{one}")
            }
        }
        _ => "**".to_string(),
    };
    let root_args: Vec<Arg> = if roots.is_empty() {
        vec![Arg::literal(".")]
    } else {
        roots.iter().map(|r| (*r).clone()).collect()
    };
    let placeholders: Vec<Arg> = root_args
        .iter()
        .map(|r| match &r.lit {
            Some(root) => Arg::literal(format!("{}/{pattern}", root.trim_end_matches('/'))),
            None => r.clone(),
        })
        .collect();
    let mut out = Flow::opaque();
    out.paths = placeholders.first().and_then(|p| p.lit.clone());
    let mut j = 0;
    while let Some(a) = exprs.get(j) {
        match a.s() {
            "-delete" => {
                for p in &placeholders {
                    judge_delete(e, p, true, "find -delete");
                }
            }
            "-exec" | "-execdir" | "-ok" | "-okdir" => {
                let mut inner: Vec<Arg> = Vec::new();
                j += 1;
                while let Some(x) = exprs.get(j) {
                    if x.is(";") || x.is("+") {
                        break;
                    }
                    if x.is("{}") {
                        inner.extend(placeholders.iter().cloned());
                    } else if x.s().contains("{}") {
                        inner.push(Arg::unknown(&x.raw));
                    } else {
                        inner.push(x.clone());
                    }
                    j += 1;
                }
                e.dispatch(&inner, &Flow::default(), &[]);
            }
            "-fprint" | "-fprint0" | "-fprintf" | "-fls" => {
                if let Some(f) = exprs.get(j + 1) {
                    judge_write(e, f, "find -fprint");
                }
            }
            _ => {}
        }
        j += 1;
    }
    Some(out)
}

fn fd(e: &mut Engine, c: &Call) -> Option<Flow> {
    let mut it = c.args.iter();
    while let Some(a) = it.next() {
        if matches!(a.s(), "-x" | "--exec" | "-X" | "--exec-batch") {
            let inner: Vec<Arg> = it
                .by_ref()
                .take_while(|x| !x.is(";"))
                .map(|x| {
                    if x.s().contains('{') {
                        Arg::unknown(&x.raw)
                    } else {
                        x.clone()
                    }
                })
                .collect();
            e.dispatch(&inner, &Flow::default(), &[]);
            break;
        }
    }
    Some(Flow::opaque())
}

fn tar(e: &mut Engine, c: &Call) -> Option<Flow> {
    let first = c.args.first().map(|a| a.s()).unwrap_or("");
    let bundle =
        |letter: char| (!first.starts_with('-') && first.contains(letter)) || c.has_short(letter);
    if c.args.iter().any(|a| {
        a.s().starts_with("--to-command")
            || a.s().starts_with("--checkpoint-action")
            || a.s().starts_with("--info-script")
    }) {
        e.unknown("tar runs a command given in its options");
    }
    let extract = bundle('x') || c.has("--extract") || c.has("--get");
    let create = bundle('c') || c.has("--create") || bundle('r') || bundle('u');
    let file = c.opt_value(&["-f", "--file"]).cloned().or_else(|| {
        c.args
            .iter()
            .find_map(|a| a.long_value("--file").map(|_| a.after_eq()))
    });
    let file = file.or_else(|| {
        // `tar czf out.tgz src`: the archive follows the bundle.
        if !first.starts_with('-') && first.contains('f') {
            c.args.get(1).cloned()
        } else {
            None
        }
    });
    if extract {
        match c.opt_value(&["-C", "--directory"]) {
            Some(dir) => judge_write(e, dir, "tar extracts into"),
            None => {
                if let Some(cwd) = e.places.cwd.clone() {
                    judge_write(e, &Arg::literal(cwd), "tar extracts into");
                }
            }
        }
        return Some(Flow::opaque());
    }
    if create {
        let mut skip_next = false;
        let mut sources: Vec<&Arg> = Vec::new();
        for (i, a) in c.args.iter().enumerate() {
            if skip_next {
                skip_next = false;
                continue;
            }
            if i == 0 && !a.s().starts_with('-') {
                if a.s().contains('f') {
                    skip_next = true;
                }
                continue;
            }
            if matches!(
                a.s(),
                "-f" | "--file" | "-C" | "--directory" | "--exclude" | "-T" | "-X" | "-I"
            ) {
                skip_next = true;
                continue;
            }
            if a.is_option() {
                continue;
            }
            sources.push(a);
        }
        let read = e.secret_tree_args(&sources, "tar archives");
        if let Some(f) = &file
            && !f.is("-")
        {
            judge_write(e, f, "tar writes");
            return Some(Flow::default());
        }
        let mut out = Flow::opaque();
        out.secret = read;
        return Some(out);
    }
    Some(Flow::opaque())
}

fn disk(e: &mut Engine, c: &Call) -> Option<Flow> {
    let listing = c.has("-l") || c.has("--list") || c.has("-p") && c.name == "sgdisk";
    if matches!(c.name, "fdisk" | "sfdisk" | "parted" | "sgdisk" | "cfdisk")
        && (listing || c.args.is_empty())
    {
        return Some(Flow::opaque());
    }
    if c.name == "parted"
        && c.args.iter().any(|a| a.is("print"))
        && !c
            .args
            .iter()
            .any(|a| matches!(a.s(), "mklabel" | "rm" | "mkpart" | "resizepart"))
    {
        return Some(Flow::opaque());
    }
    let device = c
        .positionals()
        .into_iter()
        .find(|a| a.s().starts_with("/dev/"))
        .map(|a| a.show().to_string());
    e.hit(
        Hit::new(
            Effect::Destroy,
            format!(
                "{} rewrites a disk or partition{}, erasing what is on it",
                c.name,
                device
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
        )
        .path(device),
    );
    Some(Flow::default())
}

fn sed(e: &mut Engine, c: &Call) -> Option<Flow> {
    let in_place = c.args.iter().any(|a| {
        let s = a.s();
        s.starts_with("--in-place")
            || (s.starts_with('-')
                && !s.starts_with("--")
                && s.get(1..).is_some_and(|r| {
                    r.starts_with('i') || r.contains('i') && !r.contains('e') && !r.contains('f')
                }))
    });
    let has_script_opt = c.has("-e") || c.has("-f") || c.has("--expression") || c.has("--file");
    // Without `-e`/`-f` the first operand is the script.
    let files: Vec<&Arg> = operands(c.args, &["-e", "-f", "--expression", "--file", "-l"])
        .into_iter()
        .skip(usize::from(!has_script_opt))
        .collect();
    if in_place {
        for f in files {
            judge_write(e, f, "sed -i");
        }
        return Some(Flow::default());
    }
    e.secret_args(&files, "sed prints");
    let mut out = c.stdin.transformed();
    if !files.is_empty() {
        out.content = Content::Opaque;
    }
    Some(out)
}
