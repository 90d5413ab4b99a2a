//! Shells inside the command line: `bash -c`, `sh <<EOF`, `… | sh`, `eval`, `source`,
//! and the decoders that feed them (`base64 -d`, `xxd -r`, `rev`, `tr`). Text a shell
//! would run is re-parsed and judged; text that cannot be known before it runs (a
//! download, a variable) is unknown.

use base64::Engine as _;
use cordon_core::Effect;

use crate::engine::{Call, Engine, Hit};
use crate::flow::Flow;
use crate::word::Arg;

const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "rbash", "yash", "posh", "tcsh",
    "csh",
];

/// `eval "$(tool init)"` for these only sets up the environment.
const ENV_SETUP: &[&str] = &[
    "ssh-agent",
    "direnv",
    "pyenv",
    "rbenv",
    "nodenv",
    "goenv",
    "fnm",
    "brew",
    "conda",
    "opam",
    "starship",
    "zoxide",
    "mise",
    "rtx",
    "thefuck",
    "gh",
    "kubectl",
    "helm",
    "jenv",
    "plenv",
    "luarocks",
    "keychain",
    "gpg-agent",
    "dircolors",
    "register-python-argcomplete",
    "atuin",
    "nvm",
    "volta",
    "asdf",
    "rustup",
    "poetry",
    "pip",
    "npm",
    "uv",
    "rye",
    "pdm",
    "hatch",
];

pub(crate) fn classify(e: &mut Engine, c: &Call) -> Option<Flow> {
    match c.name {
        n if SHELLS.contains(&n) => Some(shell(e, c)),
        "eval" => Some(eval(e, c)),
        "source" | "." => Some(source(e, c)),
        "alias" => {
            for a in c.args {
                if let Some((_, value)) = a.s().split_once('=') {
                    e.script(value, &Flow::default());
                }
            }
            Some(Flow::default())
        }
        "trap" => {
            if let Some(first) = c.args.first()
                && !first.is_option()
                && !first.is("-")
                && !first.is("")
            {
                e.script_arg(first, "trap");
            }
            Some(Flow::default())
        }
        "cd" | "pushd" | "chdir" => {
            let target = c.args.iter().find(|a| !a.is_option() || a.is("-"));
            let dir = match target {
                None => e.places.home.clone(),
                Some(a) if a.is("-") => None,
                Some(a) => e.places.resolve(a).abs,
            };
            e.set_cwd(dir);
            Some(Flow::default())
        }
        "popd" => {
            e.set_cwd(None);
            Some(Flow::default())
        }
        "read" | "readarray" | "mapfile" | "getopts" => {
            let with_value = [
                "-a", "-d", "-i", "-n", "-N", "-p", "-t", "-u", "-C", "-c", "-O", "-s",
            ];
            let mut it = c.args.iter();
            while let Some(a) = it.next() {
                if with_value.contains(&a.s()) {
                    if let Some(v) = it.next()
                        && a.is("-a")
                    {
                        e.forget(v.s());
                    }
                    continue;
                }
                if !a.is_option() {
                    e.forget(a.s());
                }
            }
            if matches!(c.name, "readarray" | "mapfile") && !c.args.iter().any(|a| !a.is_option()) {
                e.forget("MAPFILE");
            }
            if c.name == "read" && !c.args.iter().any(|a| !a.is_option()) {
                e.forget("REPLY");
            }
            Some(Flow::default())
        }
        "base64" | "base32" | "basenc" => Some(base64(e, c)),
        "xxd" => Some(xxd(e, c)),
        "rev" => Some(map_stdin(e, c, |t| {
            t.lines()
                .map(|l| l.chars().rev().collect::<String>() + "\n")
                .collect()
        })),
        "tr" => Some(tr(c)),
        "openssl" if is_openssl_decode(c) => Some(decode_stdin(e, c)),
        _ => None,
    }
}

fn shell(e: &mut Engine, c: &Call) -> Flow {
    let mut i = 0;
    let mut from_arg = false;
    let mut interactive = false;
    let mut from_stdin = false;
    while let Some(a) = c.args.get(i) {
        let s = a.s();
        if s == "--" || s == "-" {
            i += 1;
            if s == "-" {
                return e.stdin_script(c.stdin, c.name);
            }
            break;
        }
        if let Some(long) = s.strip_prefix("--") {
            i += if matches!(long, "rcfile" | "init-file") {
                2
            } else {
                1
            };
            if long == "command" {
                from_arg = true;
                break;
            }
            continue;
        }
        if (s.starts_with('-') || s.starts_with('+')) && s.len() > 1 {
            let flags = s.get(1..).unwrap_or("");
            i += 1;
            if flags.contains('c') {
                from_arg = true;
            }
            if flags.contains('i') {
                interactive = true;
            }
            if flags.contains('s') && s.starts_with('-') {
                from_stdin = true;
            }
            if flags.contains('o') || flags.contains('O') {
                i += 1;
            }
            continue;
        }
        break;
    }
    if from_arg {
        return match c.args.get(i) {
            Some(script) => e.script_arg(script, &format!("{} -c", c.name)),
            None => {
                e.unknown(format!("{} -c without a script", c.name));
                Flow::opaque()
            }
        };
    }
    if from_stdin {
        // `bash -s -- args`: the script is stdin, the words are its parameters.
        return e.stdin_script(c.stdin, c.name);
    }
    match c.args.get(i) {
        Some(file) => {
            if let Some(flow) = &file.flow {
                return e.stdin_script(flow, &format!("{} <( … )", c.name));
            }
            if matches!(file.s(), "/dev/stdin" | "/proc/self/fd/0" | "/dev/fd/0") {
                return e.stdin_script(c.stdin, c.name);
            }
            if !file.known() {
                e.unknown(format!("{} runs a script file named at run time", c.name));
                return Flow::opaque();
            }
            e.hit(Hit::new(
                Effect::Write,
                format!(
                    "{} runs the script {}, whose contents are not visible here",
                    c.name,
                    file.show()
                ),
            ));
            Flow::opaque()
        }
        None => {
            if interactive && c.stdin.is_nothing() {
                e.unknown(format!("{} -i opens an interactive shell", c.name));
                return Flow::opaque();
            }
            e.stdin_script(c.stdin, c.name)
        }
    }
}

fn eval(e: &mut Engine, c: &Call) -> Flow {
    let words: Option<Vec<String>> = c.args.iter().map(|a| a.script.clone()).collect();
    if let Some(w) = words {
        return e.script(&w.join(" "), c.stdin);
    }
    let setup = c.args.len() == 1
        && c.args.first().is_some_and(|a| {
            let raw = a.raw.trim_start_matches('"');
            let inner = raw
                .strip_prefix("$(")
                .or_else(|| raw.strip_prefix('`'))
                .unwrap_or("");
            let tool = inner.split_whitespace().next().unwrap_or("");
            let tool = tool.rsplit('/').next().unwrap_or(tool);
            ENV_SETUP.contains(&tool)
        });
    if !setup {
        e.unknown("eval runs text that is only known at run time");
    }
    Flow::opaque()
}

fn source(e: &mut Engine, c: &Call) -> Flow {
    let Some(file) = c.args.first() else {
        return Flow::default();
    };
    if let Some(flow) = &file.flow {
        return e.stdin_script(flow, "source <( … )");
    }
    if matches!(
        file.s(),
        "/dev/stdin" | "-" | "/proc/self/fd/0" | "/dev/fd/0"
    ) {
        return e.stdin_script(c.stdin, "source /dev/stdin");
    }
    // Sourcing a file sets up the environment (`.venv/bin/activate`, `~/.cargo/env`);
    // its contents are not visible here.
    Flow::default()
}

/// Applies a text transformation to literal stdin; anything else stays opaque.
fn map_stdin(e: &mut Engine, c: &Call, f: impl Fn(&str) -> String) -> Flow {
    let files: Vec<&Arg> = c.args.iter().filter(|a| !a.is_option()).collect();
    if !files.is_empty() {
        e.secret_args(&files, &format!("{} reads", c.name));
        return Flow::opaque();
    }
    match c.stdin.literal() {
        Some(t) => Flow {
            secret: c.stdin.secret,
            ..Flow::text(f(t))
        },
        None => c.stdin.transformed(),
    }
}

fn base64(e: &mut Engine, c: &Call) -> Flow {
    let decode = c.args.iter().any(|a| {
        a.is("-d")
            || a.is("--decode")
            || a.is("-D")
            || (a.s().starts_with('-') && !a.s().starts_with("--") && a.s().contains('d'))
    });
    if !decode || c.name != "base64" {
        let files: Vec<&Arg> = c.args.iter().filter(|a| !a.is_option()).collect();
        e.secret_args(&files, &format!("{} encodes", c.name));
        return c.stdin.transformed();
    }
    decode_stdin(e, c)
}

/// Base64-decodes literal stdin (or a literal file argument given as `<<<`).
fn decode_stdin(e: &mut Engine, c: &Call) -> Flow {
    let files: Vec<&Arg> = c
        .args
        .iter()
        .filter(|a| !a.is_option() && !matches!(a.s(), "base64" | "enc" | "-in"))
        .collect();
    if c.name == "base64" && !files.is_empty() {
        e.secret_args(&files, "base64 decodes");
        return Flow::opaque();
    }
    let Some(text) = c.stdin.literal() else {
        return c.stdin.transformed();
    };
    let cleaned: String = text.chars().filter(|ch| !ch.is_whitespace()).collect();
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    for engine in engines {
        if let Ok(bytes) = engine.decode(cleaned.as_bytes()) {
            return Flow {
                secret: c.stdin.secret,
                ..Flow::text(String::from_utf8_lossy(&bytes).into_owned())
            };
        }
    }
    c.stdin.transformed()
}

fn is_openssl_decode(c: &Call) -> bool {
    let first = c.args.first().map(|a| a.s()).unwrap_or("");
    let b64 = first == "base64" || (first == "enc" && (c.has("-base64") || c.has("-a")));
    b64 && c.has("-d")
}

fn xxd(e: &mut Engine, c: &Call) -> Flow {
    let reverse = c.args.iter().any(|a| {
        a.is("-r")
            || a.is("-revert")
            || (a.s().starts_with('-') && a.s().contains('r') && a.s().len() <= 4)
    });
    let plain = c.args.iter().any(|a| {
        a.is("-p")
            || a.is("-ps")
            || a.is("-plain")
            || a.is("-postscript")
            || (a.s().starts_with('-') && a.s().contains('p') && a.s().len() <= 4)
    });
    let files: Vec<&Arg> = c.args.iter().filter(|a| !a.is_option()).collect();
    if !files.is_empty() {
        e.secret_args(&files, "xxd dumps");
        return Flow::opaque();
    }
    if !reverse {
        return c.stdin.transformed();
    }
    let Some(text) = c.stdin.literal() else {
        return c.stdin.transformed();
    };
    let hex: String = if plain {
        text.chars().filter(|ch| !ch.is_whitespace()).collect()
    } else {
        text.lines()
            .map(|l| {
                let data = l.split_once(':').map(|(_, d)| d).unwrap_or(l);
                let data = data.trim_start();
                let data = data.split("  ").next().unwrap_or(data);
                data.chars()
                    .filter(|ch| !ch.is_whitespace())
                    .collect::<String>()
            })
            .collect()
    };
    match decode_hex(&hex) {
        Some(bytes) => Flow {
            secret: c.stdin.secret,
            ..Flow::text(String::from_utf8_lossy(&bytes).into_owned())
        },
        None => c.stdin.transformed(),
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = hex
        .chars()
        .map(|c| c.to_digit(16).and_then(|d| u8::try_from(d).ok()))
        .collect::<Option<Vec<u8>>>()?;
    Some(
        digits
            .chunks(2)
            .map(|pair| match pair {
                [hi, lo] => hi * 16 + lo,
                [hi] => *hi,
                _ => 0,
            })
            .collect(),
    )
}

fn tr(c: &Call) -> Flow {
    let sets: Vec<&Arg> = c.args.iter().filter(|a| !a.is_option()).collect();
    let delete = c.has("-d");
    let Some(text) = c.stdin.literal() else {
        return c.stdin.transformed();
    };
    let (Some(from), to) = (
        sets.first().and_then(|a| a.lit.as_deref()),
        sets.get(1).and_then(|a| a.lit.as_deref()),
    ) else {
        return c.stdin.transformed();
    };
    if c.args.iter().any(|a| a.is_option() && !a.is("-d")) {
        return c.stdin.transformed();
    }
    let from = expand_set(from);
    let out: String = if delete {
        text.chars().filter(|ch| !from.contains(ch)).collect()
    } else {
        let Some(to) = to else {
            return c.stdin.transformed();
        };
        let to = expand_set(to);
        let Some(&last) = to.last() else {
            return c.stdin.transformed();
        };
        text.chars()
            .map(|ch| match from.iter().rposition(|f| *f == ch) {
                Some(i) => to.get(i).copied().unwrap_or(last),
                None => ch,
            })
            .collect()
    };
    Flow {
        secret: c.stdin.secret,
        ..Flow::text(out)
    }
}

/// `a-z0-9` → the characters; classes other than ranges are not expanded.
fn expand_set(set: &str) -> Vec<char> {
    let chars: Vec<char> = set.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if let (Some('-'), Some(&end)) = (chars.get(i + 1), chars.get(i + 2))
            && end >= c
            && (end as u32 - c as u32) < 256
        {
            out.extend((c as u32..=end as u32).filter_map(char::from_u32));
            i += 3;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}
