//! Everyday commands: readers, printers and the default for programs not known here.
//!
//! A program this crate knows nothing about (a project script, a build tool) runs with
//! the agent's rights in the workspace: a write, which the sandbox contains. When it
//! names a path outside the workspace, the write carries that path so policy can ask.

use cordon_core::Effect;

use crate::engine::{Call, Engine, Hit};
use crate::flow::{Content, Flow};
use crate::paths;
use crate::secrets;
use crate::word::Arg;

/// Programs that only read and print; no finding unless they read a secret.
const READERS: &[&str] = &[
    "cat",
    "tac",
    "head",
    "tail",
    "less",
    "more",
    "most",
    "bat",
    "batcat",
    "nl",
    "od",
    "hexdump",
    "strings",
    "cut",
    "sort",
    "uniq",
    "paste",
    "join",
    "column",
    "fold",
    "fmt",
    "expand",
    "unexpand",
    "comm",
    "diff",
    "cmp",
    "colordiff",
    "delta",
    "jq",
    "yq",
    "gojq",
    "jless",
    "fx",
    "grep",
    "egrep",
    "fgrep",
    "rg",
    "ag",
    "ack",
    "ugrep",
    "zcat",
    "zless",
    "zgrep",
    "bzcat",
    "xzcat",
    "zstdcat",
    "vim",
    "vi",
    "nvim",
    "nano",
    "emacs",
    "view",
    "pbcopy",
    "xclip",
    "xsel",
    "wl-copy",
    "iconv",
    "dos2unix",
    "unix2dos",
    "csvlook",
    "mlr",
    "xmllint",
    "pr",
    "look",
    "sha256sum",
    "gpg",
    "openssl",
    "ssh-keygen",
    "keytool",
    "certutil",
    "security",
];

/// Programs that only look at metadata or print facts; never a finding.
const LOOKERS: &[&str] = &[
    "ls",
    "dir",
    "vdir",
    "exa",
    "eza",
    "lsd",
    "tree",
    "stat",
    "file",
    "du",
    "df",
    "wc",
    "pwd",
    "whoami",
    "id",
    "groups",
    "date",
    "uname",
    "uptime",
    "free",
    "nproc",
    "lscpu",
    "lsblk",
    "lsusb",
    "lspci",
    "ps",
    "pgrep",
    "pidof",
    "top",
    "htop",
    "btop",
    "which",
    "whereis",
    "type",
    "hash",
    "hostname",
    "true",
    "false",
    ":",
    "test",
    "[",
    "sleep",
    "seq",
    "yes",
    "expr",
    "bc",
    "basename",
    "dirname",
    "realpath",
    "readlink",
    "md5sum",
    "sha1sum",
    "sha512sum",
    "shasum",
    "cksum",
    "b2sum",
    "man",
    "info",
    "help",
    "tldr",
    "history",
    "jobs",
    "wait",
    "fg",
    "bg",
    "disown",
    "locale",
    "tput",
    "clear",
    "stty",
    "tty",
    "dig",
    "nslookup",
    "host",
    "ping",
    "traceroute",
    "tracepath",
    "mtr",
    "whois",
    "ss",
    "netstat",
    "lsof",
    "ifconfig",
    "route",
    "arp",
    "getent",
    "cal",
    "ncal",
    "lsattr",
    "getfacl",
    "namei",
    "numfmt",
    "factor",
    "shuf",
    "set",
    "shopt",
    "export",
    "declare",
    "local",
    "readonly",
    "typeset",
    "unset",
    "shift",
    "return",
    "exit",
    "break",
    "continue",
    "let",
    "umask",
    "ulimit",
    "times",
    "logout",
    "compgen",
    "complete",
    "caller",
    "dirs",
    "enable",
    "printenv",
    "echo",
    "printf",
    "mktemp",
    "tee",
    "nvidia-smi",
    "vmstat",
    "iostat",
    "mpstat",
    "sar",
    "dmesg",
    "journalctl",
    "last",
    "w",
    "who",
    "users",
    "finger",
    "pinky",
    "hostnamectl",
    "timedatectl",
    "localectl",
    "lsmod",
    "arch",
    "sw_vers",
    "system_profiler",
    "sysctl",
    "env",
    "tokei",
    "cloc",
    "scc",
    "hyperfine",
    "ncdu",
    "watchman",
    "fzf",
    "glow",
    "diffstat",
    "checksec",
    "ldd",
    "nm",
    "objdump",
    "readelf",
    "size",
    "otool",
    "identify",
    "ssh-add",
    "ssh-keyscan",
    "exiftool",
    "ffprobe",
    "mediainfo",
    "pdfinfo",
    "pdftotext",
];

pub(crate) fn classify(e: &mut Engine, c: &Call) -> Flow {
    match c.name {
        "echo" => return echo(e, c),
        "printf" => return printf(e, c),
        "mktemp" => return mktemp(e, c),
        "pwd" => {
            return match e.places.cwd.clone() {
                Some(cwd) => Flow::text(cwd + "\n"),
                None => Flow::opaque(),
            };
        }
        "printenv" => return printenv(e, c),
        "set" if c.args.is_empty() => {
            return Flow {
                env_dump: true,
                ..Flow::opaque()
            };
        }
        "grep" | "egrep" | "fgrep" | "rg" | "ag" | "ack" | "ugrep" | "zgrep" => return grep(e, c),
        "awk" | "gawk" | "mawk" | "nawk" => return awk(e, c),
        "hostname" if !c.args.is_empty() && !c.args.iter().all(|a| a.is_option()) => {
            e.hit(
                Hit::new(Effect::Write, "hostname renames this machine")
                    .path(Some("/etc/hostname".into())),
            );
            return Flow::default();
        }
        _ => {}
    }
    if READERS.contains(&c.name) {
        return reader(e, c);
    }
    if LOOKERS.contains(&c.name) {
        let mut out = Flow::opaque();
        // `ls *.log | xargs rm` removes what the glob names.
        if c.name == "ls"
            && let [only] = c.positionals().as_slice()
            && let Some(l) = &only.lit
        {
            out.paths = Some(l.clone());
        }
        return out;
    }
    unknown_program(e, c)
}

/// A program that prints files it is given, or its stdin.
fn reader(e: &mut Engine, c: &Call) -> Flow {
    let files = file_args(c);
    let verb = format!("{} reads", c.name);
    let read_secret = e.secret_args(&files, &verb);
    if files.is_empty() || files.iter().all(|f| f.is("-")) {
        // cat passes stdin through unchanged; the others transform it.
        return if c.name == "cat" {
            c.stdin.clone()
        } else {
            c.stdin.transformed()
        };
    }
    let mut out = Flow::opaque();
    out.secret = read_secret;
    out
}

/// Positional arguments, minus the values of options that take one.
fn file_args<'a>(c: &'a Call) -> Vec<&'a Arg> {
    const VALUE_OPTS: &[&str] = &[
        "-n",
        "-c",
        "-o",
        "-e",
        "-f",
        "-t",
        "-k",
        "-s",
        "-d",
        "-w",
        "-m",
        "-A",
        "-B",
        "-C",
        "--lines",
        "--bytes",
        "-r",
        "-H",
        "--arg",
        "--argjson",
        "--slurpfile",
        "--rawfile",
        "-in",
        "-out",
        "-inkey",
        "-passin",
    ];
    let mut out = Vec::new();
    let mut it = c.args.iter();
    let mut dashdash = false;
    while let Some(a) = it.next() {
        if !dashdash && a.is("--") {
            dashdash = true;
            continue;
        }
        if !dashdash && a.is_option() {
            if matches!(c.name, "jq" | "yq" | "gojq")
                && matches!(a.s(), "--arg" | "--argjson" | "--slurpfile" | "--rawfile")
            {
                it.next();
                it.next();
                continue;
            }
            if c.name == "openssl" && matches!(a.s(), "-in" | "-inkey" | "-key") {
                if let Some(v) = it.next() {
                    out.push(v);
                }
                continue;
            }
            if VALUE_OPTS.contains(&a.s())
                && !matches!(c.name, "cat" | "bat" | "less" | "more" | "nl")
            {
                it.next();
            }
            continue;
        }
        out.push(a);
    }
    if matches!(c.name, "jq" | "gojq" | "yq") && !out.is_empty() {
        out.remove(0);
    }
    if matches!(
        c.name,
        "openssl" | "gpg" | "ssh-keygen" | "keytool" | "certutil" | "security"
    ) {
        // Only the files they are asked to print count; `ssh-keygen -y -f key` prints a
        // public key, `gpg -d` decrypts.
        let decrypts = c.has("-d")
            || c.has("--decrypt")
            || c.has("-text")
            || c.has("-noout") && c.has("-text");
        if c.name == "gpg" && !decrypts {
            return Vec::new();
        }
        if c.name == "ssh-keygen"
            || c.name == "keytool"
            || c.name == "certutil"
            || c.name == "security"
        {
            return Vec::new();
        }
    }
    out
}

fn echo(e: &mut Engine, c: &Call) -> Flow {
    let mut args = c.args;
    let mut escapes = false;
    let mut newline = true;
    while let Some(first) = args.first() {
        match first.s() {
            "-n" => newline = false,
            "-e" => escapes = true,
            "-E" => escapes = false,
            "-ne" | "-en" => {
                newline = false;
                escapes = true;
            }
            _ => break,
        }
        args = args.get(1..).unwrap_or_default();
    }
    secret_vars(e, args, "echo");
    let joined = |f: &dyn Fn(&Arg) -> Option<String>| -> Option<String> {
        let parts: Option<Vec<String>> = args.iter().map(f).collect();
        parts.map(|p| {
            let mut text = p.join(" ");
            if escapes {
                text = interpret_escapes(&text);
            }
            if newline {
                text.push('\n');
            }
            text
        })
    };
    let lit = joined(&|a| a.lit.clone());
    let script = joined(&|a| a.script.clone());
    let tainted = args.iter().any(|a| a.tainted);
    Flow {
        content: match lit {
            Some(t) => Content::Text(t),
            None => Content::Opaque,
        },
        script,
        secret: tainted,
        ..Flow::default()
    }
}

fn printf(e: &mut Engine, c: &Call) -> Flow {
    let mut args = c.args;
    if args.first().is_some_and(|a| a.is("-v")) {
        if let Some(var) = args.get(1) {
            e.forget(var.s());
        }
        return Flow::default();
    }
    if args.first().is_some_and(|a| a.is("--")) {
        args = args.get(1..).unwrap_or_default();
    }
    secret_vars(e, args, "printf");
    let Some(format) = args.first() else {
        return Flow::default();
    };
    let rest = args.get(1..).unwrap_or_default();
    let render = |f: &dyn Fn(&Arg) -> Option<String>| -> Option<String> {
        let fmt = f(format)?;
        let values: Option<Vec<String>> = rest.iter().map(f).collect();
        Some(render_printf(&fmt, &values?))
    };
    let lit = render(&|a| a.lit.clone());
    let script = render(&|a| a.script.clone());
    Flow {
        content: match lit {
            Some(t) => Content::Text(t),
            None => Content::Opaque,
        },
        script,
        secret: args.iter().any(|a| a.tainted),
        ..Flow::default()
    }
}

/// Enough of printf for decoding what it is fed: `%s`, `%b`, `%d`, `%%` and escapes.
fn render_printf(format: &str, values: &[String]) -> String {
    const MAX_ROUNDS: usize = 64;
    let mut out = String::new();
    let mut vi = 0;
    for _ in 0..MAX_ROUNDS {
        let mut chars = format.chars().peekable();
        let mut consumed = false;
        while let Some(ch) = chars.next() {
            if ch == '%' {
                // Skip flags and width.
                let mut spec = String::new();
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_digit() || "-+ #.".contains(n) {
                        spec.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                match chars.next() {
                    Some('%') => out.push('%'),
                    Some('b') => {
                        out.push_str(&interpret_escapes(
                            values.get(vi).map(String::as_str).unwrap_or(""),
                        ));
                        vi += 1;
                        consumed = true;
                    }
                    Some(_) => {
                        out.push_str(values.get(vi).map(String::as_str).unwrap_or(""));
                        vi += 1;
                        consumed = true;
                    }
                    None => out.push('%'),
                }
            } else {
                out.push(ch);
            }
        }
        if !consumed || vi >= values.len() {
            break;
        }
    }
    interpret_escapes(&out)
}

/// Backslash escapes as `echo -e` and printf read them: `\n`, `\t`, `\xHH`, `\0NNN`.
pub(crate) fn interpret_escapes(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        i += 1;
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&n) = chars.get(i) else {
            out.push('\\');
            break;
        };
        i += 1;
        match n {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '\\' => out.push('\\'),
            'a' => out.push('\u{7}'),
            'e' => out.push('\u{1b}'),
            'x' => {
                let digits: String = chars
                    .get(i..)
                    .unwrap_or_default()
                    .iter()
                    .take(2)
                    .take_while(|c| c.is_ascii_hexdigit())
                    .collect();
                i += digits.len();
                match u32::from_str_radix(&digits, 16)
                    .ok()
                    .and_then(char::from_u32)
                {
                    Some(ch) => out.push(ch),
                    None => out.push_str("\\x"),
                }
            }
            '0'..='7' => {
                let mut digits = String::from(n);
                let max = if n == '0' { 3 } else { 2 };
                digits.extend(
                    chars
                        .get(i..)
                        .unwrap_or_default()
                        .iter()
                        .take(max)
                        .take_while(|c| ('0'..='7').contains(*c)),
                );
                i += digits.len() - 1;
                match u32::from_str_radix(&digits, 8)
                    .ok()
                    .and_then(char::from_u32)
                {
                    Some(ch) => out.push(ch),
                    None => out.push('?'),
                }
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out
}

/// Printing a variable named like a credential shows the credential.
fn secret_vars(e: &mut Engine, args: &[Arg], verb: &str) {
    for a in args {
        for v in &a.vars {
            if secrets::secret_var(v) {
                e.hit(Hit::new(
                    Effect::SecretRead,
                    format!("{verb} prints ${v}, which holds a credential"),
                ));
                return;
            }
        }
    }
}

fn printenv(e: &mut Engine, c: &Call) -> Flow {
    let names: Vec<&Arg> = c.args.iter().filter(|a| !a.is_option()).collect();
    if names.is_empty() {
        return Flow {
            env_dump: true,
            ..Flow::opaque()
        };
    }
    for n in names {
        if secrets::secret_var(n.s()) {
            e.hit(Hit::new(
                Effect::SecretRead,
                format!("printenv prints {}, which holds a credential", n.s()),
            ));
        }
    }
    Flow::opaque()
}

fn mktemp(e: &mut Engine, c: &Call) -> Flow {
    let dir = c
        .opt_value(&["-p", "--tmpdir"])
        .and_then(|a| a.lit.clone())
        .or_else(|| {
            c.args
                .iter()
                .find_map(|a| a.long_value("--tmpdir").map(str::to_string))
        });
    let template = c.args.iter().find(|a| {
        !a.is_option()
            && !c
                .opt_value(&["-p", "--tmpdir", "--suffix"])
                .is_some_and(|v| std::ptr::eq(v, *a))
    });
    let path = match (dir, template.and_then(|t| t.lit.as_deref())) {
        (Some(d), Some(t)) => format!("{}/{}", d.trim_end_matches('/'), t.replace('X', "x")),
        (Some(d), None) => format!("{}/tmp.cordon", d.trim_end_matches('/')),
        (None, Some(t)) if t.contains('/') => t.replace('X', "x"),
        (None, Some(t)) => format!("/tmp/{}", t.replace('X', "x")),
        (None, None) => "/tmp/tmp.cordon".to_string(),
    };
    let resolved = e.places.resolve_text(&path).abs.unwrap_or(path);
    e.hit(
        Hit::new(Effect::Write, format!("mktemp creates {resolved}")).path(Some(resolved.clone())),
    );
    Flow::text(resolved + "\n")
}

fn grep(e: &mut Engine, c: &Call) -> Flow {
    let mut pattern: Option<String> = None;
    let mut files: Vec<&Arg> = Vec::new();
    let mut it = c.args.iter();
    let value_opts = [
        "-A",
        "-B",
        "-C",
        "-m",
        "--max-count",
        "-f",
        "--file",
        "-g",
        "--glob",
        "-t",
        "--type",
        "-T",
        "--type-not",
        "--include",
        "--exclude",
        "--exclude-dir",
        "-d",
        "-D",
        "--color",
        "--colour",
        "-M",
        "--max-columns",
        "-j",
        "--threads",
        "--context",
        "--after-context",
        "--before-context",
        "--max-depth",
        "-E",
    ];
    let mut dashdash = false;
    while let Some(a) = it.next() {
        if !dashdash && a.is("--") {
            dashdash = true;
            continue;
        }
        if !dashdash && (a.is("-e") || a.is("--regexp")) {
            pattern = it.next().and_then(|p| p.lit.clone()).or(pattern);
            continue;
        }
        if !dashdash && a.is_option() {
            if value_opts.contains(&a.s()) && !(a.is("-E") && c.name != "rg") {
                it.next();
            }
            continue;
        }
        if pattern.is_none() {
            pattern = Some(a.lit.clone().unwrap_or_default());
            continue;
        }
        files.push(a);
    }
    if c.stdin.env_dump && pattern.as_deref().is_some_and(secrets::secret_pattern) {
        e.hit(Hit::new(
            Effect::SecretRead,
            format!(
                "{} picks credentials (`{}`) out of the environment's variables",
                c.name,
                pattern.as_deref().unwrap_or("")
            ),
        ));
    }
    let recursive = matches!(c.name, "rg" | "ag" | "ack" | "ugrep")
        || c.args.iter().any(|a| {
            a.is("-r")
                || a.is("-R")
                || a.is("--recursive")
                || (a.s().starts_with('-')
                    && !a.s().starts_with("--")
                    && (a.s().contains('r') || a.s().contains('R')))
        });
    let read = if recursive {
        e.secret_tree_args(&files, &format!("{} searches", c.name))
    } else {
        e.secret_args(&files, &format!("{} searches", c.name))
    };
    let mut out = if files.is_empty() {
        c.stdin.transformed()
    } else {
        Flow::opaque()
    };
    out.secret |= read;
    out
}

fn awk(e: &mut Engine, c: &Call) -> Flow {
    let program_from_file = c.has("-f");
    let mut positional = c.args.iter().filter(|a| !a.is_option());
    let program = if program_from_file {
        None
    } else {
        positional.next()
    };
    let files: Vec<&Arg> = positional.collect();
    if let Some(p) = program {
        let text = p.script.clone().unwrap_or_default();
        if text.contains("system(")
            || text.contains("| \"")
            || text.contains("|\"")
            || text.contains("|&")
        {
            e.unknown(format!("{} runs shell commands from its program", c.name));
        } else if text.contains("> \"") || text.contains(">\"") || text.contains(">> \"") {
            e.hit(Hit::new(
                Effect::Write,
                format!("{} writes files from its program", c.name),
            ));
        }
    }
    let read = e.secret_args(&files, &format!("{} reads", c.name));
    let mut out = if files.is_empty() {
        c.stdin.transformed()
    } else {
        Flow::opaque()
    };
    out.secret |= read;
    out
}

/// System paths that programs read as a matter of course.
const READ_ONLY_SYSTEM: &[&str] = &[
    "/usr/share",
    "/usr/include",
    "/usr/lib",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/bin",
    "/usr/sbin",
    "/bin",
    "/sbin",
    "/lib",
    "/lib64",
    "/usr/local/bin",
    "/usr/local/lib",
    "/usr/local/include",
    "/usr/local/share",
    "/opt/homebrew",
    "/nix/store",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/os-release",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/proc",
    "/sys",
    "/dev",
];

fn unknown_program(e: &mut Engine, c: &Call) -> Flow {
    for a in c.args {
        let text = match a.lit.as_deref() {
            Some(t) if t.starts_with('/') || t.starts_with("~/") => t.to_string(),
            Some(t) if t.starts_with("--") && t.contains("=/") => {
                a.after_eq().lit.unwrap_or_default()
            }
            _ => continue,
        };
        let Some(abs) = e.places.resolve_text(&text).abs else {
            continue;
        };
        if e.places.writable(&abs) || READ_ONLY_SYSTEM.iter().any(|d| paths::within(&abs, d)) {
            continue;
        }
        e.hit(
            Hit::new(
                Effect::Write,
                format!(
                    "{} is given {abs}, outside the workspace, and may write there",
                    c.name
                ),
            )
            .path(Some(abs)),
        );
        return Flow::opaque();
    }
    e.hit(Hit::new(Effect::Write, format!("runs {}", c.name)));
    Flow::opaque()
}
