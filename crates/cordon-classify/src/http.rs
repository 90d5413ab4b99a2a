//! HTTP clients (curl, wget, httpie, xh), raw sockets, and secrets leaving the machine.
//!
//! A GET is a read of the host it reaches; a DELETE, or a GraphQL mutation whose root
//! field deletes something, is destroy. Any network tool fed secret material, on stdin,
//! as an uploaded file or inside an argument, is exfiltrate.

use cordon_core::Effect;

use crate::engine::{Call, Engine, Hit};
use crate::files::judge_write;
use crate::flow::Flow;
use crate::graphql::graphql_destructive;
use crate::secrets;
use crate::word::Arg;

/// Tools that send data to another machine.
const NETWORK_TOOLS: &[&str] = &[
    "curl",
    "wget",
    "http",
    "https",
    "xh",
    "xhs",
    "nc",
    "ncat",
    "netcat",
    "socat",
    "telnet",
    "ssh",
    "scp",
    "sftp",
    "ftp",
    "rsync",
    "openssl",
    "mail",
    "mailx",
    "sendmail",
    "mutt",
    "rclone",
    "gsutil",
    "s3cmd",
    "wscat",
    "websocat",
    "grpcurl",
    "aria2c",
    "lftp",
    "dig",
    "nslookup",
    "host",
    "ping",
    "drill",
    "whois",
    "traceroute",
];

/// curl options that take a value.
const CURL_VALUE_OPTS: &[&str] = &[
    "-X",
    "--request",
    "-H",
    "--header",
    "-d",
    "--data",
    "--data-raw",
    "--data-binary",
    "--data-ascii",
    "--data-urlencode",
    "--json",
    "-F",
    "--form",
    "--form-string",
    "-o",
    "--output",
    "-u",
    "--user",
    "-A",
    "--user-agent",
    "-e",
    "--referer",
    "-b",
    "--cookie",
    "-c",
    "--cookie-jar",
    "-T",
    "--upload-file",
    "--url",
    "-x",
    "--proxy",
    "-m",
    "--max-time",
    "--connect-timeout",
    "-w",
    "--write-out",
    "--cacert",
    "--capath",
    "--cert",
    "-E",
    "--key",
    "-K",
    "--config",
    "--retry",
    "-r",
    "--range",
    "-C",
    "--continue-at",
    "--resolve",
    "--oauth2-bearer",
    "--limit-rate",
    "-y",
    "-Y",
    "-z",
    "--interface",
    "--dns-servers",
    "--max-redirs",
    "--retry-delay",
    "--retry-max-time",
    "-Q",
    "--quote",
    "--cert-type",
    "--key-type",
    "--pass",
    "--ciphers",
    "-t",
    "--telnet-option",
    "--unix-socket",
    "--abstract-unix-socket",
    "--proto",
    "--proto-redir",
    "--noproxy",
    "--aws-sigv4",
    "--variable",
    "--connect-to",
    "--proxy-user",
    "-U",
    "--trace",
    "--trace-ascii",
    "--stderr",
    "--output-dir",
    "--create-file-mode",
    "--happy-eyeballs-timeout-ms",
    "--keepalive-time",
    "--local-port",
    "--max-filesize",
    "--speed-limit",
    "--speed-time",
    "-P",
    "--ftp-port",
    "--hostpubmd5",
    "--hostpubsha256",
    "--pinnedpubkey",
    "--request-target",
    "--sasl-authzid",
    "--service-name",
    "--socks4",
    "--socks4a",
    "--socks5",
    "--socks5-hostname",
    "--tls-max",
    "--tlsuser",
    "--tlspassword",
    "--url-query",
    "--etag-save",
    "--etag-compare",
    "--mail-from",
    "--mail-rcpt",
    "--mail-auth",
    "--login-options",
];

pub(crate) fn classify(e: &mut Engine, c: &Call) -> Option<Flow> {
    match c.name {
        "curl" => Some(curl(e, c)),
        "wget" | "wget2" => Some(wget(e, c)),
        "http" | "https" | "xh" | "xhs" | "httpie" => Some(httpie(e, c)),
        "nc" | "ncat" | "netcat" | "socat" | "telnet" | "wscat" | "websocat" => Some(socket(e, c)),
        _ => None,
    }
}

/// Flags a network tool that is fed secret material.
pub(crate) fn exfiltration(e: &mut Engine, c: &Call) {
    if !NETWORK_TOOLS.contains(&c.name) {
        return;
    }
    if c.name == "openssl" && !c.args.first().is_some_and(|a| a.is("s_client")) {
        return;
    }
    let host = tool_host(c);
    let to = host
        .as_deref()
        .map(|h| format!(" to {h}"))
        .unwrap_or_default();
    if c.stdin.secret || c.stdin.env_dump {
        let what = if c.stdin.env_dump && !c.stdin.secret {
            "the environment's variables (which hold tokens)"
        } else {
            "secret data read earlier in the pipeline"
        };
        e.hit(
            Hit::new(Effect::Exfiltrate, format!("{} sends {what}{to}", c.name)).host(host.clone()),
        );
        return;
    }
    if c.args.iter().any(|a| a.tainted) {
        e.hit(
            Hit::new(
                Effect::Exfiltrate,
                format!(
                    "{} sends the output of a secret read in its arguments{to}",
                    c.name
                ),
            )
            .host(host.clone()),
        );
        return;
    }
    for file in uploaded_files(c) {
        let p = e.places.resolve(&file);
        if let Some(abs) = p.abs.as_deref()
            && let Some(what) = secrets::secret_file(abs, e.places.home.as_deref())
        {
            e.hit(
                Hit::new(
                    Effect::Exfiltrate,
                    format!("{} uploads {abs}, {what}{to}", c.name),
                )
                .host(host.clone())
                .path(Some(abs.to_string())),
            );
            return;
        }
    }
}

/// Files whose contents a network tool sends.
fn uploaded_files(c: &Call) -> Vec<Arg> {
    let mut out = Vec::new();
    let at_file = |v: &Arg| -> Option<Arg> {
        let s = v.lit.as_deref()?;
        let rest = s.strip_prefix('@').or_else(|| s.strip_prefix('<'))?;
        (rest != "-").then(|| Arg::literal(rest))
    };
    let mut it = c.args.iter().peekable();
    while let Some(a) = it.next() {
        let s = a.s();
        match c.name {
            "curl" => {
                if matches!(
                    s,
                    "-d" | "--data"
                        | "--data-binary"
                        | "--data-raw"
                        | "--data-ascii"
                        | "--data-urlencode"
                        | "--json"
                ) {
                    if let Some(v) = it.peek() {
                        let vs = v.s();
                        // --data-urlencode name@file
                        let file = vs
                            .split_once('@')
                            .map(|(_, f)| f)
                            .filter(|f| !f.is_empty() && *f != "-");
                        if let Some(f) = at_file(v) {
                            out.push(f);
                        } else if s == "--data-urlencode"
                            && let Some(f) = file
                        {
                            out.push(Arg::literal(f));
                        }
                    }
                } else if matches!(s, "-F" | "--form") {
                    if let Some(v) = it.peek()
                        && let Some((_, val)) = v.s().split_once('=')
                        && let Some(f) =
                            at_file(&Arg::literal(val.split(';').next().unwrap_or(val)))
                    {
                        out.push(f);
                    }
                } else if matches!(s, "-T" | "--upload-file") {
                    if let Some(v) = it.peek() {
                        out.push((*v).clone());
                    }
                } else if let Some(rest) = s.strip_prefix("-d").filter(|r| r.starts_with('@')) {
                    if let Some(f) = at_file(&Arg::literal(rest)) {
                        out.push(f);
                    }
                } else if let Some(v) = a
                    .long_value("--data-binary")
                    .or(a.long_value("--data"))
                    .or(a.long_value("--upload-file"))
                {
                    out.push(Arg::literal(v.trim_start_matches('@')));
                }
            }
            "wget" | "wget2" => {
                if let Some(v) = a.long_value("--post-file").or(a.long_value("--body-file")) {
                    out.push(Arg::literal(v));
                } else if matches!(s, "--post-file" | "--body-file")
                    && let Some(v) = it.peek()
                {
                    out.push((*v).clone());
                }
            }
            "http" | "https" | "xh" | "xhs" | "httpie" => {
                if let Some(f) = at_file(a) {
                    out.push(f);
                } else if let Some((_, f)) = s.split_once("=@").or_else(|| s.split_once(":=@")) {
                    out.push(Arg::literal(f));
                } else if !s.starts_with('-')
                    && let Some((k, f)) = s.split_once('@')
                    && !k.contains(['/', ':'])
                    && !k.is_empty()
                {
                    out.push(Arg::literal(f));
                }
            }
            "scp" | "rsync" | "sftp" | "rclone" | "gsutil" | "s3cmd"
                if !a.is_option() && remote_spec(a).is_none() && !s.contains("://") =>
            {
                out.push(a.clone());
            }
            "mail" | "mailx" | "mutt" => {
                if matches!(s, "-a" | "-A" | "--attach")
                    && let Some(v) = it.peek()
                {
                    out.push((*v).clone());
                }
            }
            _ => {}
        }
    }
    out
}

/// The host a network tool talks to, when it can be read off its arguments.
pub(crate) fn tool_host(c: &Call) -> Option<String> {
    match c.name {
        "curl" | "wget" | "wget2" | "http" | "https" | "xh" | "xhs" | "httpie" | "grpcurl" => {
            urls(c).first().and_then(|u| url_host(u))
        }
        "scp" | "rsync" | "sftp" => c.args.iter().find_map(remote_spec),
        "ssh" | "nc" | "ncat" | "netcat" | "telnet" => c
            .positionals()
            .first()
            .and_then(|a| a.lit.as_deref())
            .map(|h| h.rsplit('@').next().unwrap_or(h).to_ascii_lowercase()),
        "socat" => c.args.iter().find_map(|a| {
            let s = a.s().to_ascii_lowercase();
            let rest = s
                .strip_prefix("tcp:")
                .or(s.strip_prefix("tcp4:"))
                .or(s.strip_prefix("openssl:"))?;
            Some(rest.split(':').next().unwrap_or(rest).to_string())
        }),
        "openssl" => c
            .opt_value(&["-connect"])
            .and_then(|a| a.lit.as_deref())
            .map(|h| h.split(':').next().unwrap_or(h).to_ascii_lowercase()),
        _ => c
            .args
            .iter()
            .find_map(|a| a.lit.as_deref().and_then(url_host_strict)),
    }
}

/// `user@host:path`, `host:path`, `rsync://host/…` → the host.
pub(crate) fn remote_spec(arg: &Arg) -> Option<String> {
    let s = arg.lit.as_deref()?;
    if let Some(rest) = s
        .strip_prefix("rsync://")
        .or(s.strip_prefix("sftp://"))
        .or(s.strip_prefix("scp://"))
    {
        return Some(host_of(rest));
    }
    if s.starts_with(['/', '.', '~', '-']) {
        return None;
    }
    let (head, _) = s.split_once(':')?;
    if head.is_empty() || head.contains('/') {
        return None;
    }
    Some(head.rsplit('@').next().unwrap_or(head).to_ascii_lowercase())
}

/// `/dev/tcp/HOST/PORT` → HOST (bash opens a socket for these).
pub(crate) fn dev_tcp_host(path: &str) -> Option<String> {
    let rest = path
        .strip_prefix("/dev/tcp/")
        .or(path.strip_prefix("/dev/udp/"))?;
    Some(rest.split('/').next().unwrap_or(rest).to_ascii_lowercase())
}

fn host_of(rest: &str) -> String {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or(v6)
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    host.to_ascii_lowercase()
}

/// The host of a URL; a bare `example.com/x` counts, as curl would try it.
pub(crate) fn url_host(url: &str) -> Option<String> {
    if let Some((scheme, rest)) = url.split_once("://") {
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return None;
        }
        let h = host_of(rest);
        return (!h.is_empty()).then_some(h);
    }
    let h = host_of(url);
    (h.contains('.') || h == "localhost").then_some(h)
}

/// Only `scheme://host` URLs.
fn url_host_strict(url: &str) -> Option<String> {
    url.contains("://").then(|| url_host(url)).flatten()
}

/// The URLs among a client's arguments.
fn urls(c: &Call) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = c.args.iter();
    let value_opts: &[&str] = match c.name {
        "curl" => CURL_VALUE_OPTS,
        "wget" | "wget2" => &[
            "-O",
            "-o",
            "-a",
            "-P",
            "-U",
            "-e",
            "-i",
            "-B",
            "-t",
            "-T",
            "-w",
            "--header",
            "--user",
            "--password",
            "--post-data",
            "--post-file",
            "--method",
            "--body-data",
            "--body-file",
            "--output-document",
            "--directory-prefix",
            "--user-agent",
            "--tries",
            "--timeout",
        ],
        _ => &[
            "-a",
            "--auth",
            "-A",
            "--auth-type",
            "-o",
            "--output",
            "--session",
            "--session-read-only",
            "--verify",
            "--cert",
            "--cert-key",
            "--proxy",
            "--timeout",
            "--pretty",
            "-s",
            "--style",
            "--print",
            "-p",
            "--format-options",
            "--default-scheme",
            "--max-redirects",
            "--ssl",
            "--ciphers",
            "--unix-socket",
            "--bearer",
            "--raw",
        ],
    };
    while let Some(a) = it.next() {
        if a.is("--url") {
            if let Some(v) = it.next().and_then(|v| v.lit.clone()) {
                out.push(v);
            }
            continue;
        }
        if let Some(v) = a.long_value("--url") {
            out.push(v.to_string());
            continue;
        }
        if value_opts.contains(&a.s()) {
            it.next();
            continue;
        }
        if a.is_option() {
            continue;
        }
        if let Some(l) = a.lit.as_deref() {
            if c.name != "curl" && c.name != "wget" && c.name != "wget2" && is_http_method(l) {
                continue;
            }
            if l.contains("://")
                || url_host(l).is_some()
                || l.starts_with(':')
                || l.starts_with("localhost")
            {
                out.push(l.to_string());
                if c.name != "curl" {
                    break;
                }
            }
        } else if !a.prefix.is_empty() {
            out.push(a.prefix.clone());
            if c.name != "curl" {
                break;
            }
        }
    }
    out
}

fn is_http_method(s: &str) -> bool {
    matches!(
        s,
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS"
    )
}

fn curl(e: &mut Engine, c: &Call) -> Flow {
    let mut method: Option<String> = None;
    let mut bodies: Vec<String> = Vec::new();
    let mut sends = false;
    let mut output: Option<Arg> = None;
    let mut remote_name = false;
    let mut it = c.args.iter();
    while let Some(a) = it.next() {
        let s = a.s();
        match s {
            "-X" | "--request" => method = it.next().and_then(|m| m.lit.clone()),
            "-I" | "--head" => method = Some("HEAD".into()),
            "-G" | "--get" => method = Some("GET".into()),
            "-d" | "--data" | "--data-raw" | "--data-binary" | "--data-ascii" | "--json"
            | "--data-urlencode" => {
                sends = true;
                if let Some(v) = it.next() {
                    bodies.push(body_text(v, c.stdin));
                }
            }
            "-F" | "--form" | "--form-string" | "-T" | "--upload-file" => {
                sends = true;
                it.next();
            }
            "-o" | "--output" => output = it.next().cloned(),
            "-O" | "--remote-name" | "--remote-name-all" => remote_name = true,
            _ if s.starts_with("-X") && s.len() > 2 => method = s.get(2..).map(str::to_string),
            _ if s.starts_with("-d") && s.len() > 2 && !s.starts_with("--") => {
                sends = true;
                bodies.push(body_text(&a.tail(2), c.stdin));
            }
            _ if s.starts_with("-o") && s.len() > 2 && !s.starts_with("--") => {
                output = Some(a.tail(2))
            }
            _ => {
                if let Some(m) = a.long_value("--request") {
                    method = Some(m.to_string());
                } else if let Some(v) = a
                    .long_value("--data")
                    .or(a.long_value("--data-raw"))
                    .or(a.long_value("--data-binary"))
                    .or(a.long_value("--json"))
                {
                    sends = true;
                    bodies.push(body_text(&Arg::literal(v), c.stdin));
                } else if let Some(v) = a.long_value("--output") {
                    output = Some(Arg::literal(v));
                } else if s.starts_with('-') && !s.starts_with("--") && s.len() > 2 {
                    // Bundled short flags such as -sSLO or -fsSLo.
                    let flags = s.get(1..).unwrap_or("");
                    if flags.ends_with('o') || flags.ends_with('X') || flags.ends_with('d') {
                        let v = it.next();
                        match flags.chars().last() {
                            Some('o') => output = v.cloned(),
                            Some('X') => method = v.and_then(|m| m.lit.clone()),
                            Some('d') => {
                                sends = true;
                                if let Some(v) = v {
                                    bodies.push(body_text(v, c.stdin));
                                }
                            }
                            _ => {}
                        }
                    }
                    if flags.contains('O') {
                        remote_name = true;
                    }
                    if flags.contains('I') {
                        method = Some("HEAD".into());
                    }
                }
            }
        }
    }
    let method = method
        .map(|m| m.to_ascii_uppercase())
        .unwrap_or_else(|| if sends { "POST".into() } else { "GET".into() });
    request(e, c, &method, &bodies);
    if let Some(o) = output {
        if !o.is("-") {
            judge_write(e, &o, "curl -o");
            return Flow::default();
        }
    } else if remote_name {
        if let Some(cwd) = e.places.cwd.clone() {
            judge_write(e, &Arg::literal(cwd), "curl -O");
        }
        return Flow::default();
    }
    Flow {
        remote: true,
        ..Flow::opaque()
    }
}

/// A request body given on the command line: the text, a file (`@file`) or stdin (`@-`).
fn body_text(v: &Arg, stdin: &Flow) -> String {
    let Some(s) = v.lit.as_deref() else {
        return v.script.clone().unwrap_or_default();
    };
    if s == "@-" {
        return stdin.literal().unwrap_or("").to_string();
    }
    if s.starts_with('@') {
        // A body read from a file is not visible here.
        return String::new();
    }
    s.to_string()
}

/// Judges one HTTP request once its method and bodies are known.
fn request(e: &mut Engine, c: &Call, method: &str, bodies: &[String]) {
    let urls = urls(c);
    let host = urls.first().and_then(|u| url_host(u));
    let url = urls
        .first()
        .cloned()
        .unwrap_or_else(|| "an unnamed URL".into());
    for body in bodies {
        if let Some(field) = graphql_destructive(body) {
            e.hit(
                Hit::new(
                    Effect::Destroy,
                    format!(
                        "{} sends the GraphQL mutation `{field}` to {url}, which deletes data",
                        c.name
                    ),
                )
                .host(host.clone())
                .target("graphql.mutation", &field),
            );
            return;
        }
    }
    match method {
        "DELETE" => {
            e.hit(Hit::new(Effect::Destroy, format!("{} sends DELETE to {url}", c.name)).host(host))
        }
        "GET" | "HEAD" | "OPTIONS" => {
            e.hit(Hit::new(Effect::Read, format!("{} fetches {url}", c.name)).host(host));
        }
        m => e.hit(Hit::new(Effect::Write, format!("{} sends {m} to {url}", c.name)).host(host)),
    }
}

fn wget(e: &mut Engine, c: &Call) -> Flow {
    let mut method = "GET".to_string();
    let mut bodies = Vec::new();
    let mut output: Option<Arg> = None;
    let mut dir: Option<Arg> = None;
    let mut it = c.args.iter();
    while let Some(a) = it.next() {
        let s = a.s();
        if let Some(m) = a.long_value("--method") {
            method = m.to_ascii_uppercase();
        } else if s == "--method" {
            method = it
                .next()
                .map(|m| m.s().to_ascii_uppercase())
                .unwrap_or(method);
        } else if let Some(d) = a.long_value("--post-data").or(a.long_value("--body-data")) {
            if method == "GET" {
                method = "POST".into();
            }
            bodies.push(d.to_string());
        } else if matches!(s, "--post-data" | "--body-data") {
            if method == "GET" {
                method = "POST".into();
            }
            if let Some(v) = it.next() {
                bodies.push(v.script.clone().unwrap_or_default());
            }
        } else if a.long_value("--post-file").is_some() || a.long_value("--body-file").is_some() {
            if method == "GET" {
                method = "POST".into();
            }
        } else if matches!(s, "--post-file" | "--body-file") {
            method = "POST".into();
            it.next();
        } else if let Some(o) = a.long_value("--output-document") {
            output = Some(Arg::literal(o));
        } else if s == "--output-document" || s == "-O" {
            output = it.next().cloned();
        } else if s == "-P" || s == "--directory-prefix" {
            dir = it.next().cloned();
        } else if s.starts_with('-') && !s.starts_with("--") && s.len() > 1 {
            let flags = s.get(1..).unwrap_or("");
            if let Some(i) = flags.find('O') {
                let rest = flags.get(i + 1..).unwrap_or("");
                output = if rest.is_empty() {
                    it.next().cloned()
                } else {
                    Some(Arg::literal(rest))
                };
            } else if flags.ends_with('P') {
                dir = it.next().cloned();
            }
        }
    }
    request(e, c, &method, &bodies);
    match output {
        Some(o) if o.is("-") => Flow {
            remote: true,
            ..Flow::opaque()
        },
        Some(o) => {
            judge_write(e, &o, "wget -O");
            Flow::default()
        }
        None => {
            let target = dir.or_else(|| e.places.cwd.clone().map(Arg::literal));
            if let Some(t) = target {
                judge_write(e, &t, "wget saves into");
            }
            Flow::default()
        }
    }
}

fn httpie(e: &mut Engine, c: &Call) -> Flow {
    let mut method: Option<String> = None;
    let mut bodies = Vec::new();
    let mut has_data = false;
    let mut output: Option<Arg> = None;
    let mut seen_url = false;
    let mut form_query = String::new();
    let mut it = c.args.iter();
    while let Some(a) = it.next() {
        let s = a.s();
        if matches!(s, "-o" | "--output") {
            output = it.next().cloned();
            continue;
        }
        if matches!(
            s,
            "-a" | "--auth"
                | "-A"
                | "--auth-type"
                | "--session"
                | "--verify"
                | "--cert"
                | "--cert-key"
                | "--proxy"
                | "--timeout"
                | "--bearer"
                | "--raw"
        ) {
            if let Some(v) = it.next()
                && s == "--raw"
            {
                bodies.push(v.script.clone().unwrap_or_default());
                has_data = true;
            }
            continue;
        }
        if a.is_option() {
            continue;
        }
        if !seen_url && method.is_none() && is_http_method(s) {
            method = Some(s.to_string());
            continue;
        }
        if !seen_url {
            seen_url = true;
            continue;
        }
        // Request items: key=value, key:=json, key==query, Header:value, key@file.
        if let Some((k, v)) = s.split_once(":=").or_else(|| s.split_once('=')) {
            if s.contains("==") {
                continue;
            }
            has_data = true;
            if k == "query" || k == "mutation" {
                form_query = v.to_string();
            }
        } else if s.contains('@') {
            has_data = true;
        }
    }
    if !form_query.is_empty() {
        bodies.push(form_query);
    }
    if let Some(text) = c.stdin.literal() {
        bodies.push(text.to_string());
        has_data = true;
    }
    let method = method.unwrap_or_else(|| {
        if has_data {
            "POST".into()
        } else {
            "GET".into()
        }
    });
    request(e, c, &method, &bodies);
    if let Some(o) = output {
        judge_write(e, &o, c.name);
        return Flow::default();
    }
    Flow {
        remote: true,
        ..Flow::opaque()
    }
}

fn socket(e: &mut Engine, c: &Call) -> Flow {
    let host = tool_host(c);
    let exec = c.args.iter().any(|a| {
        matches!(a.s(), "-e" | "-c" | "--exec" | "--sh-exec" | "--lua-exec")
            || a.s().to_ascii_lowercase().starts_with("exec:")
            || a.s().to_ascii_lowercase().starts_with("system:")
    });
    if exec {
        e.hit(
            Hit::new(
                Effect::Exfiltrate,
                format!(
                    "{} hands a program on this machine to a network peer (a remote shell)",
                    c.name
                ),
            )
            .host(host),
        );
        return Flow::opaque();
    }
    let listen = c.has_short('l') || c.has("--listen");
    if listen {
        e.hit(Hit::new(
            Effect::Write,
            format!("{} listens for network connections", c.name),
        ));
    } else if !c.stdin.is_nothing() {
        e.hit(
            Hit::new(
                Effect::Write,
                format!(
                    "{} sends data to {}",
                    c.name,
                    host.as_deref().unwrap_or("a host")
                ),
            )
            .host(host),
        );
    } else {
        e.hit(
            Hit::new(
                Effect::Read,
                format!(
                    "{} connects to {}",
                    c.name,
                    host.as_deref().unwrap_or("a host")
                ),
            )
            .host(host),
        );
    }
    Flow {
        remote: true,
        ..Flow::opaque()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            url_host("https://User@API.Example.com:8443/x?y").as_deref(),
            Some("api.example.com")
        );
        assert_eq!(url_host("example.com/path").as_deref(), Some("example.com"));
        assert_eq!(url_host("http://[::1]:80/").as_deref(), Some("::1"));
        assert_eq!(url_host("notaurl"), None);
        assert_eq!(
            remote_spec(&Arg::literal("deploy@prod:/srv")).as_deref(),
            Some("prod")
        );
        assert_eq!(remote_spec(&Arg::literal("./a:b")), None);
        assert_eq!(
            dev_tcp_host("/dev/tcp/evil.com/443").as_deref(),
            Some("evil.com")
        );
    }
}
