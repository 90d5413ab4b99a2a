//! Inline code for python, node, perl, ruby, php and deno (`-c`, `-e`, heredocs).
//!
//! Code is not executed or parsed as its language; it is searched for calls that delete
//! files or drop tables, for shell-outs (whose string literals are judged as shell),
//! and for paths outside the workspace, which make it unknown.

use cordon_core::Effect;

use crate::engine::{Call, Engine, Hit};
use crate::flow::{Content, Flow};
use crate::secrets;
use crate::sql;
use crate::word::Arg;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lang {
    Python,
    Node,
    Perl,
    Ruby,
    Php,
}

impl Lang {
    fn of(name: &str) -> Option<Lang> {
        let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
        match base {
            "python" | "py" | "pypy" | "ipython" => Some(Lang::Python),
            "node" | "nodejs" | "deno" | "bun" | "tsx" | "ts-node" => Some(Lang::Node),
            "perl" => Some(Lang::Perl),
            "ruby" | "irb" => Some(Lang::Ruby),
            "php" => Some(Lang::Php),
            _ => None,
        }
    }

    /// The option that takes inline code.
    fn code_flags(self) -> &'static [&'static str] {
        match self {
            Lang::Python => &["-c"],
            Lang::Node => &["-e", "--eval", "-p", "--print", "eval"],
            Lang::Perl => &["-e", "-E"],
            Lang::Ruby => &["-e"],
            Lang::Php => &["-r"],
        }
    }
}

/// Calls that delete files, directories or data.
const DESTRUCTIVE_CALLS: &[&str] = &[
    "shutil.rmtree",
    "rmtree(",
    "os.remove(",
    "os.unlink(",
    "os.rmdir(",
    "os.removedirs(",
    ".unlink(",
    ".rmdir(",
    "fs.rmsync",
    "fs.rm(",
    "fs.unlinksync",
    "fs.rmdirsync",
    "fs.unlink(",
    "fs.rmdir(",
    "fs.promises.rm",
    "fs.promises.unlink",
    "fsp.rm(",
    "rimraf",
    "rm_rf",
    "rm_r(",
    "fileutils.rm",
    "file.delete(",
    "dir.rmdir(",
    "dir.delete(",
    "unlink(",
    "rmdir(",
    "remove_tree(",
    "rmsync(",
    "unlinksync(",
    "rmdirsync(",
    "deno.remove(",
    "deno.removesync",
    "os.truncate(",
    "dropdatabase(",
    "flushall(",
    "flushdb(",
];

/// Calls that run shell commands.
const SHELL_CALLS: &[&str] = &[
    "os.system(",
    "subprocess.",
    "os.popen(",
    "os.exec",
    "os.spawn",
    "pty.spawn(",
    "child_process",
    "execsync(",
    "spawnsync(",
    "exec(",
    "spawn(",
    "execfile(",
    "system(",
    "popen(",
    "qx(",
    "qx{",
    "%x(",
    "%x{",
    "shell_exec(",
    "passthru(",
    "proc_open(",
    "deno.command",
    "bun.spawn",
    "bun.$",
    "$`",
    "commands.getoutput",
    "plumbum",
    "open3",
    "ipc::run",
];

/// Calls that reach the network.
const NETWORK_CALLS: &[&str] = &[
    "requests.",
    "urllib",
    "http.client",
    "httpx",
    "aiohttp",
    "socket.",
    "fetch(",
    "axios",
    "http.request",
    "https.request",
    "net.connect",
    "net::http",
    "lwp::",
    "http::tiny",
    "curl_exec",
    "file_get_contents(\"http",
    "file_get_contents('http",
    "smtplib",
    "ftplib",
    "paramiko",
    "websocket",
    "xmlhttprequest",
    "got(",
    "node-fetch",
    "undici",
];

pub(crate) fn classify(e: &mut Engine, c: &Call) -> Option<Flow> {
    let lang = Lang::of(c.name)?;
    // `python -m twine upload`: the module is the program.
    if lang == Lang::Python
        && let Some(i) = c.args.iter().position(|a| a.is("-m"))
    {
        let inner = c.args.get(i + 1..).unwrap_or_default();
        let Some(module) = inner.first().and_then(|m| m.lit.clone()) else {
            return Some(Flow::opaque());
        };
        let program = match module.as_str() {
            "django" => "django-admin".to_string(),
            "http.server" | "SimpleHTTPServer" => {
                e.hit(Hit::new(
                    Effect::Write,
                    "python -m http.server serves files over the network",
                ));
                return Some(Flow::opaque());
            }
            "json.tool" | "pydoc" | "timeit" | "site" | "platform" | "this" | "tabnanny"
            | "py_compile" | "compileall" | "venv" | "unittest" | "doctest" | "pdb"
            | "cProfile" | "trace" => {
                if module == "venv" {
                    e.hit(Hit::new(
                        Effect::Write,
                        "python -m venv creates a virtual environment",
                    ));
                }
                return Some(c.stdin.transformed());
            }
            m => m.rsplit('.').next().unwrap_or(m).to_string(),
        };
        let mut argv = vec![Arg::literal(program)];
        argv.extend(inner.iter().skip(1).cloned());
        return Some(e.dispatch(&argv, c.stdin, c.env));
    }
    if lang == Lang::Node && matches!(c.name, "deno" | "bun") {
        let sub = c.args.first().map(|a| a.s()).unwrap_or("");
        if !matches!(
            sub,
            "eval" | "-e" | "--eval" | "-p" | "--print" | "run" | ""
        ) && !sub.ends_with(".ts")
            && !sub.ends_with(".js")
            && !sub.ends_with(".mjs")
        {
            return None;
        }
    }
    let flags = lang.code_flags();
    let mut code: Vec<&Arg> = Vec::new();
    let mut it = c.args.iter().enumerate();
    let mut script: Option<&Arg> = None;
    let mut in_place = false;
    while let Some((_, a)) = it.next() {
        let s = a.s();
        if flags.contains(&s) {
            if let Some((_, v)) = it.next() {
                code.push(v);
            }
            continue;
        }
        if lang == Lang::Perl && s.starts_with('-') && !s.starts_with("--") {
            // Bundled switches: -pi -e, -ne, -pie 's/…/'.
            let sw = s.get(1..).unwrap_or("");
            if sw.starts_with(['M', 'm', 'I', 'C', 'x', 'd', 'D', 'V']) {
                continue;
            }
            if sw.contains('i') {
                in_place = true;
            }
            if (sw.ends_with('e') || sw.ends_with('E'))
                && let Some((_, v)) = it.next()
            {
                code.push(v);
            }
            continue;
        }
        if lang == Lang::Ruby && s.starts_with("-i") {
            in_place = true;
            continue;
        }
        if a.is_option() {
            if lang == Lang::Python && s.starts_with("-c") && s.len() > 2 {
                code.push(a);
            }
            continue;
        }
        if code.is_empty() && script.is_none() {
            script = Some(a);
            break;
        }
    }
    if in_place {
        let files: Vec<&Arg> = c
            .args
            .iter()
            .filter(|a| !a.is_option())
            .skip(code.len())
            .collect();
        for f in files {
            crate::files::judge_write(e, f, &format!("{} -i", c.name));
        }
    }
    if !code.is_empty() {
        for a in code {
            match &a.script {
                Some(text) => judge_code(e, c.name, lang, text),
                None => e.unknown(format!("{} runs code built at run time", c.name)),
            }
        }
        return Some(Flow::opaque());
    }
    match script {
        Some(s) if s.is("-") || s.is("/dev/stdin") => Some(stdin_code(e, c, lang)),
        Some(s) => {
            if let Some(flow) = &s.flow {
                return Some(match flow.script_text() {
                    Some(text) if !flow.remote => {
                        let text = text.to_string();
                        judge_code(e, c.name, lang, &text);
                        Flow::opaque()
                    }
                    _ => {
                        e.unknown(format!(
                            "{} runs code that is not known before it runs",
                            c.name
                        ));
                        Flow::opaque()
                    }
                });
            }
            let name = s.s().rsplit('/').next().unwrap_or("").to_string();
            if name == "manage.py" {
                let mut argv = vec![Arg::literal("manage.py")];
                argv.extend(
                    c.args
                        .iter()
                        .skip_while(|a| !std::ptr::eq(*a, s))
                        .skip(1)
                        .cloned(),
                );
                return Some(e.dispatch(&argv, c.stdin, c.env));
            }
            e.hit(Hit::new(
                Effect::Write,
                format!("{} runs {}", c.name, s.show()),
            ));
            Some(Flow::opaque())
        }
        None => {
            if c.stdin.is_nothing() {
                // A REPL with nothing to read, or `--version`.
                return Some(Flow::opaque());
            }
            Some(stdin_code(e, c, lang))
        }
    }
}

fn stdin_code(e: &mut Engine, c: &Call, lang: Lang) -> Flow {
    if c.stdin.remote {
        e.unknown(format!("{} runs code downloaded from the network", c.name));
        return Flow::opaque();
    }
    match (&c.stdin.content, c.stdin.script_text()) {
        (_, Some(t)) => {
            let t = t.to_string();
            judge_code(e, c.name, lang, &t);
        }
        (Content::Nothing, None) => {}
        _ => e.unknown(format!(
            "{} runs code from stdin that is not known before it runs",
            c.name
        )),
    }
    Flow::opaque()
}

/// Judges a snippet of inline code.
fn judge_code(e: &mut Engine, tool: &str, lang: Lang, code: &str) {
    let lower = code.to_ascii_lowercase();
    let compact: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    let literals = string_literals(code);
    let network = NETWORK_CALLS.iter().any(|n| compact.contains(n));
    let home = e.places.home.clone();
    let secret_path = literals.iter().find(|l| {
        let expanded = expand_home(l, home.as_deref());
        expanded.starts_with('/') && secrets::secret_file(&expanded, home.as_deref()).is_some()
            || secrets::secret_name(l.rsplit('/').next().unwrap_or(l)).is_some()
    });
    let secret_env = compact.contains("os.environ") && network
        || compact.contains("process.env")
            && network
            && (compact.contains("json.stringify(process.env")
                || compact.contains("body:process.env"));
    let reverse_shell = network
        && (compact.contains("dup2(")
            || compact.contains("pty.spawn")
            || compact.contains("\"/bin/sh")
            || compact.contains("'/bin/sh")
            || compact.contains("/bin/bash")
            || compact.contains("cmd.exe")
            || compact.contains("exec(\"/bin")
            || compact.contains("exec('/bin")
            || compact.contains("spawn(\"sh")
            || compact.contains("spawn('sh")
            || compact.contains("spawn(\"/bin"));
    if reverse_shell {
        e.hit(Hit::new(
            Effect::Exfiltrate,
            format!("{tool} code connects a shell to a network peer (a reverse shell)"),
        ));
        return;
    }
    let env_names = env_references(code, &literals);
    if let Some(var) = env_names.iter().find(|v| secrets::secret_var(v)) {
        if network {
            e.hit(Hit::new(
                Effect::Exfiltrate,
                format!("{tool} code reads ${var} and talks to the network"),
            ));
        } else {
            e.hit(Hit::new(
                Effect::SecretRead,
                format!("{tool} code reads ${var}, which holds a credential"),
            ));
        }
        return;
    }
    if let Some(p) = secret_path {
        if network {
            e.hit(Hit::new(
                Effect::Exfiltrate,
                format!("{tool} code reads {p} and talks to the network"),
            ));
        } else {
            e.hit(Hit::new(
                Effect::SecretRead,
                format!("{tool} code reads {p}"),
            ));
        }
        return;
    }
    if secret_env
        && (compact.contains("dict(os.environ)")
            || compact.contains("json.dumps(dict(os.environ")
            || compact.contains("json.stringify(process.env"))
    {
        e.hit(Hit::new(
            Effect::Exfiltrate,
            format!("{tool} code sends the environment's variables over the network"),
        ));
        return;
    }
    let word_call = ["unlink ", "rmtree ", "rm_rf ", "remove_tree "]
        .iter()
        .find(|w| lower.contains(*w))
        .filter(|_| matches!(lang, Lang::Perl | Lang::Ruby));
    if let Some(call) = DESTRUCTIVE_CALLS
        .iter()
        .find(|d| compact.contains(*d))
        .or(word_call)
    {
        let call = call.trim_end_matches('(');
        e.hit(Hit::new(
            Effect::Destroy,
            format!("{tool} code calls {call}, which deletes files or data"),
        ));
        return;
    }
    if let Some(v) = literals
        .iter()
        .map(|l| sql::judge_sql(l, sql::Flavor::Generic))
        .find(|v| v.effect == Effect::Destroy)
        .filter(|_| {
            lower.contains("drop ")
                || lower.contains("truncate")
                || lower.contains("delete from")
                || lower.contains("update ")
        })
    {
        e.hit(Hit::new(
            Effect::Destroy,
            format!("{tool} code runs SQL: {}", v.reason),
        ));
        return;
    }
    let backticks = matches!(lang, Lang::Perl | Lang::Ruby) && code.contains('`');
    if backticks || SHELL_CALLS.iter().any(|s| compact.contains(s)) {
        let mark = e.mark();
        for l in literals
            .iter()
            .filter(|l| l.contains(' ') || l.starts_with('/'))
        {
            e.script(l, &Flow::default());
        }
        let judged = e
            .since(mark)
            .iter()
            .any(|f| crate::danger(f.effect) > crate::danger(Effect::Write));
        if !judged {
            e.unknown(format!(
                "{tool} code runs shell commands that cannot be read reliably"
            ));
        }
        return;
    }
    for l in &literals {
        let expanded = expand_home(l, home.as_deref());
        if !expanded.starts_with('/') || expanded.contains(char::is_whitespace) {
            continue;
        }
        let Some(abs) = e.places.resolve_text(&expanded).abs else {
            continue;
        };
        if !e.places.writable(&abs) && !crate::paths::is_null_device(&abs) {
            e.hit(
                Hit::new(
                    Effect::Unknown,
                    format!("{tool} code names {abs}, outside the workspace"),
                )
                .path(Some(abs)),
            );
            return;
        }
    }
    if network {
        e.hit(Hit::new(
            Effect::Write,
            format!("{tool} code talks to the network"),
        ));
    }
}

/// Environment variables the code reads: `os.environ['X']`, `os.getenv("X")`,
/// `process.env.X`, `ENV['X']`, `$ENV{X}`, `getenv('X')`.
fn env_references(code: &str, literals: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let lower = code.to_ascii_lowercase();
    let reads_env = ["environ", "getenv", "env[", "env.", "$env{", "env::var"]
        .iter()
        .any(|m| lower.contains(m));
    if reads_env {
        out.extend(
            literals
                .iter()
                .filter(|l| {
                    l.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !l.is_empty()
                })
                .cloned(),
        );
    }
    for marker in ["process.env.", "Deno.env.get(", "Bun.env.", "$ENV{", "ENV."] {
        let mut rest = code;
        while let Some(i) = rest.find(marker) {
            let after = rest.get(i + marker.len()..).unwrap_or("");
            let name: String = after
                .trim_start_matches(['"', '\''])
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
            rest = after;
        }
    }
    out
}

fn expand_home(path: &str, home: Option<&str>) -> String {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(h)) => format!("{h}/{rest}"),
        _ => path.to_string(),
    }
}

/// Quoted string literals in code, without their quotes.
fn string_literals(code: &str) -> Vec<String> {
    const MAX: usize = 512;
    let mut out = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if out.len() >= MAX {
            break;
        }
        if matches!(c, '"' | '\'' | '`') {
            let quote = c;
            let mut lit = String::new();
            i += 1;
            while let Some(&d) = chars.get(i) {
                if d == '\\' {
                    if let Some(&n) = chars.get(i + 1) {
                        lit.push(match n {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        });
                    }
                    i += 2;
                    continue;
                }
                if d == quote {
                    break;
                }
                lit.push(d);
                i += 1;
            }
            out.push(lit);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_extracted() {
        assert_eq!(
            string_literals(r#"os.system("rm -rf /"); x = 'a\'b'"#),
            vec!["rm -rf /", "a'b"]
        );
    }

    #[test]
    fn languages() {
        assert!(Lang::of("python3.11") == Some(Lang::Python));
        assert!(Lang::of("node") == Some(Lang::Node));
        assert!(Lang::of("cargo").is_none());
    }
}
