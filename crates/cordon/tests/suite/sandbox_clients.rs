//! Real HTTP clients inside `cordon run`, each the way its users run it: Python's
//! requests and httpx (proxy variables), Node's built-in `fetch` (which ignores them
//! before Node 24) and curl told to ignore them. The providers listen outside on
//! loopback, on the real URLs' ports as far as the clients know (`[network.resolve]`
//! moves the port): the Railway mock over TLS for `backboard.railway.com`, and over
//! plain HTTP for `plain.test`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::common::Run;
use super::gateway::{Peer, TOKEN, railway_serving};

struct Clients {
    _dir: tempfile::TempDir,
    cordon_home: PathBuf,
    ws: PathBuf,
    manifest: PathBuf,
    tls_log: PathBuf,
    plain_log: PathBuf,
    upstream_ca: PathBuf,
    _tls: Peer,
    _plain: Peer,
}

impl Clients {
    fn new() -> Clients {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let base = dir.path().canonicalize().unwrap();
        let ws = base.join("ws");
        fs::create_dir_all(&ws).unwrap();
        let tls_log = base.join("tls.jsonl");
        let plain_log = base.join("plain.jsonl");
        fs::write(&tls_log, "").unwrap();
        fs::write(&plain_log, "").unwrap();
        let (upstream_ca, tls) = railway_serving(&base, &tls_log, true);
        let plain_dir = base.join("plain");
        fs::create_dir_all(&plain_dir).unwrap();
        let (_, plain) = railway_serving(&plain_dir, &plain_log, false);
        let manifest = base.join("cordon.toml");
        fs::write(
            &manifest,
            format!(
                r#"
[task]
name = "clients"
environment = "staging"

[filesystem]
workspace = "ws"

[network]
allow = ["backboard.railway.com", "plain.test"]

[network.resolve]
"backboard.railway.com" = "127.0.0.1:{}"
"plain.test" = "127.0.0.1:{}"

[[resource]]
kind = "railway.volume"
id = "vol_prod_7f3"
environment = "production"

[[credential]]
name = "railway"
source = "env:RAILWAY_TOKEN"
hosts = ["backboard.railway.com"]
allow = ["graphql.query.*", "http.GET"]
"#,
                tls.port, plain.port
            ),
        )
        .unwrap();
        Clients {
            _dir: dir,
            cordon_home: base.join("cordon-home"),
            ws,
            manifest,
            tls_log,
            plain_log,
            upstream_ca,
            _tls: tls,
            _plain: plain,
        }
    }

    fn run(&self, script: &str) -> Run {
        self.run_with(&[], script)
    }

    fn run_with(&self, flags: &[&str], script: &str) -> Run {
        let mut command = cordon_run(&self.manifest, &self.upstream_ca, flags, script);
        command
            .current_dir(&self.ws)
            .env("CORDON_HOME", &self.cordon_home)
            .env("RAILWAY_TOKEN", TOKEN);
        finished(&mut command)
    }
}

/// `cordon --policy MANIFEST run FLAGS --upstream-ca CA -- bash -c SCRIPT`, with no
/// input and cordon's own log left off; the caller adds where and with what.
fn cordon_run(manifest: &Path, upstream_ca: &Path, flags: &[&str], script: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cordon"));
    command
        .arg("--policy")
        .arg(manifest)
        .arg("run")
        .args(flags)
        .arg("--upstream-ca")
        .arg(upstream_ca)
        .args(["--", "bash", "-c", script])
        .env_remove("CORDON_LOG")
        .stdin(Stdio::null());
    command
}

fn finished(command: &mut Command) -> Run {
    let out = command.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The text after `name=` on its line of the command's output.
fn field<'a>(run: &'a Run, name: &str) -> &'a str {
    run.stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name}= in {}\n{}", run.stdout, run.stderr))
}

const QUERY: &str = r#"{"query":"query { me { email } }"}"#;
const DELETE: &str = r#"{"query":"mutation { volumeDelete(volumeId: \"vol_prod_7f3\") }"}"#;

#[test]
fn python_node_and_curl_reach_the_provider_only_through_the_gateway() {
    let c = Clients::new();
    let url = "https://backboard.railway.com/graphql/v2";
    let run = c.run(&format!(
        r#"
        cat > /tmp/q.json <<'EOF'
{QUERY}
EOF
        cat > /tmp/d.json <<'EOF'
{DELETE}
EOF
        # Debian's interpreter, with Debian's requests and httpx.
        /usr/bin/python3 - {url} <<'PY'
import json, os, sys
import httpx, requests
url = sys.argv[1]
auth = {{"Authorization": "Bearer " + os.environ["RAILWAY_TOKEN"]}}
query = json.load(open("/tmp/q.json"))
print("requests=" + requests.post(url, json=query, headers=auth, timeout=10).text)
with httpx.Client(timeout=10) as client:
    print("httpx=" + client.post(url, json=query, headers=auth).text)
    delete = client.post(url, json=json.load(open("/tmp/d.json")), headers=auth)
    print("httpx_delete=" + str(delete.status_code) + " " + delete.text)
PY
        # Node's fetch reads no proxy variable: the name leads to the gateway anyway.
        node - {url} <<'JS'
const fs = require("fs");
const [url] = process.argv.slice(2);
const post = (file) => fetch(url, {{
  method: "POST",
  headers: {{ "Content-Type": "application/json", Authorization: "Bearer " + process.env.RAILWAY_TOKEN }},
  body: fs.readFileSync(file),
}}).then(async (r) => r.status + " " + (await r.text()));
(async () => {{
  console.log("node=" + await post("/tmp/q.json"));
  console.log("node_delete=" + await post("/tmp/d.json"));
  try {{ await fetch("https://elsewhere.test/"); console.log("node_elsewhere=reached"); }}
  catch (e) {{ console.log("node_elsewhere=" + (e.cause && e.cause.code)); }}
}})();
JS
        # curl told to ignore the proxy, over TLS and over plain HTTP.
        echo "curl_direct=$(curl -sS -m 10 --noproxy '*' -H "Authorization: Bearer $RAILWAY_TOKEN" \
            -H 'Content-Type: application/json' --data @/tmp/q.json {url})"
        echo "curl_plain=$(curl -sS -m 10 --noproxy '*' http://plain.test/health)"
        echo "curl_plain_delete=$(curl -sS -m 10 --noproxy '*' -X DELETE -o /dev/null \
            -w '%{{http_code}}' http://plain.test/volumes/vol_prod_7f3)"
        # Attacks on the name: an SNI the manifest does not allow, and a Host header
        # naming another host than the SNI (domain fronting).
        echo "sni_refused=$(curl -sS -m 5 --noproxy '*' --resolve elsewhere.test:443:127.0.0.1 \
            -o /dev/null -w '%{{http_code}}' https://elsewhere.test/)"
        echo "fronted=$(curl -sS -m 5 --noproxy '*' -H 'Host: elsewhere.test' -o /dev/null \
            -w '%{{http_code}}' https://backboard.railway.com/health)"
        echo "ip_direct=$(curl -sS -m 5 --noproxy '*' -o /dev/null -w '%{{http_code}}' \
            https://127.0.0.1/ 2>&1 | tail -c 80)"
        "#
    ));
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for client in ["requests", "httpx"] {
        assert!(
            field(&run, client).contains("dev@example.com"),
            "{client}: {}",
            run.stdout
        );
    }
    assert!(field(&run, "node").starts_with("200 "), "{}", run.stdout);
    assert!(field(&run, "node").contains("dev@example.com"));
    assert!(field(&run, "curl_direct").contains("dev@example.com"));
    for refused in ["httpx_delete", "node_delete"] {
        let answer = field(&run, refused);
        assert!(answer.starts_with("403 "), "{refused}: {answer}");
        assert!(answer.contains("graphql.mutation.volumeDelete"), "{answer}");
    }
    // A name the manifest does not allow resolves to nothing inside (no DNS server
    // answers: EAI_AGAIN; ENOTFOUND where a resolver says so).
    let elsewhere = field(&run, "node_elsewhere");
    assert!(
        elsewhere == "EAI_AGAIN" || elsewhere == "ENOTFOUND",
        "{elsewhere}"
    );
    assert!(
        field(&run, "curl_plain").contains("\"ok\""),
        "{}",
        run.stdout
    );
    // Plain HTTP straight to port 80 is judged per request like a proxied one: a
    // DELETE is destroy, which needs a human.
    assert_eq!(field(&run, "curl_plain_delete"), "428");
    assert_eq!(field(&run, "sni_refused"), "403");
    assert_eq!(field(&run, "fronted"), "400");
    // A TLS connection that names no host (an address) cannot be judged: closed.
    assert!(
        !field(&run, "ip_direct").starts_with("200"),
        "{}",
        run.stdout
    );

    let audit = super::common::cordon(&c.cordon_home, &c.ws, &["audit", "show", "clients"], None);
    assert!(
        audit
            .stdout
            .contains("deny    read elsewhere.test via http.CONNECT"),
        "the refused SNI is on record: {}",
        audit.stdout
    );

    // The provider saw the real token on every request, never the phantom, and no
    // deletion.
    let saw = fs::read_to_string(&c.tls_log).unwrap();
    let with_token = saw
        .lines()
        .filter(|l| l.contains(&format!("Bearer {TOKEN}")))
        .count();
    assert_eq!(with_token, 4, "{saw}");
    assert!(!saw.contains("volumeDelete"), "{saw}");
    let plain_saw = fs::read_to_string(&c.plain_log).unwrap();
    assert!(!plain_saw.contains("DELETE"), "{plain_saw}");
}

/// git inside the sandbox, the way an agent uses it: clone over HTTPS with the phantom
/// as its password, commit, push a branch; a push to `main` waits for a human.
#[test]
fn git_clones_and_pushes_from_inside_the_sandbox() {
    use super::gateway_git::{GIT_TOKEN, HOST, git_at, git_server, ok};
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let base = dir.path().canonicalize().unwrap();
    let forge = git_server(&base);
    let ws = base.join("ws");
    fs::create_dir_all(&ws).unwrap();
    let manifest = base.join("cordon.toml");
    fs::write(
        &manifest,
        format!(
            r#"
[task]
name = "git-agent"

[filesystem]
workspace = "ws"

[network.resolve]
"{HOST}" = "127.0.0.1:{}"

[[credential]]
name = "forge"
source = "env:GIT_TOKEN"
hosts = ["{HOST}"]
inject = {{ basic_user = "x-access-token" }}
allow = ["git.fetch", "git.push"]
"#,
            forge.peer.port
        ),
    )
    .unwrap();
    let script = format!(
        r#"
        set -u
        g() {{ git -c user.name=Agent -c user.email=agent@example.com "$@"; }}
        g clone -q "https://x-access-token:$GIT_TOKEN@{HOST}/acme/app.git" app || exit 10
        cd app
        echo fix > fix.txt && g add fix.txt && g commit -q -m fix || exit 11
        g push -q origin HEAD:refs/heads/agent-fix 2>&1 || exit 12
        echo "feature=$(g rev-parse HEAD)"
        g push origin HEAD:main > /tmp/main.out 2>&1
        echo "main_exit=$?"
        grep -o 'HTTP [0-9]*' /tmp/main.out | head -n 1 | sed 's/^/main_error=/'
        "#
    );
    let run = finished(
        cordon_run(&manifest, &forge.upstream_ca, &[], &script)
            .current_dir(&ws)
            .env("CORDON_HOME", base.join("cordon-home"))
            .env("GIT_TOKEN", GIT_TOKEN),
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let pushed = ok(&git_at(&forge.bare, &["rev-parse", "refs/heads/agent-fix"]));
    assert_eq!(field(&run, "feature"), pushed);
    assert_ne!(field(&run, "main_exit"), "0");
    assert_eq!(field(&run, "main_error"), "HTTP 428", "{}", run.stdout);
    let main = ok(&git_at(&forge.bare, &["rev-parse", "refs/heads/main"]));
    assert_ne!(main, pushed, "main moved without a human");

    let saw = fs::read_to_string(&forge.log).unwrap();
    assert!(
        saw.contains(&format!("x-access-token:{GIT_TOKEN}")),
        "the forge got the real token: {saw}"
    );
    // The clone wrote its URL, credentials included, into the task's copy of the
    // workspace: the phantom is there, never the token.
    let tasks = base.join("cordon-home/tasks");
    let task = fs::read_dir(&tasks)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let config = fs::read_to_string(task.join("upper/app/.git/config")).unwrap();
    assert!(config.contains("x-access-token:"), "{config}");
    assert!(
        !config.contains(GIT_TOKEN),
        "the real token is in the workspace"
    );
}

/// pip, npm and cargo inside the sandbox, each fetching a package from its own kind of
/// registry (tests/mocks/registries.py) through the gateway, trusting it through the
/// variables and bundle `cordon run` sets, with nothing configured for the proxy.
#[test]
fn pip_npm_and_cargo_fetch_from_their_registries_through_the_gateway() {
    use super::gateway::{port_after, upstream_tls_for};
    const NAMES: [&str; 3] = ["pypi.acme.test", "registry.acme.test", "crates.acme.test"];
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let base = dir.path().canonicalize().unwrap();
    let (upstream_ca, cert, key) = upstream_tls_for(&base, &NAMES);
    let log = base.join("registries.jsonl");
    fs::write(&log, "").unwrap();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/mocks/registries.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg("--log")
        .arg(&log)
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the registries");
    let (port, _) = port_after(child.stdout.take().unwrap(), "port ");
    let _registries = Peer::new(child, port);

    let ws = base.join("ws");
    fs::create_dir_all(ws.join(".cargo")).unwrap();
    fs::create_dir_all(ws.join("src")).unwrap();
    fs::write(
        ws.join("Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\ncordon-probe = { version = \"0.1\", registry = \"acme\" }\n",
    )
    .unwrap();
    fs::write(ws.join("src/lib.rs"), "").unwrap();
    fs::write(
        ws.join(".cargo/config.toml"),
        "[registries.acme]\nindex = \"sparse+https://crates.acme.test/index/\"\n",
    )
    .unwrap();
    let resolve: String = NAMES
        .iter()
        .map(|name| format!("\"{name}\" = \"127.0.0.1:{port}\"\n"))
        .collect();
    let manifest = base.join("cordon.toml");
    fs::write(
        &manifest,
        format!(
            "[task]\nname = \"registries\"\n\n[filesystem]\nworkspace = \"ws\"\n\n[network]\nallow = {NAMES:?}\n\n[network.resolve]\n{resolve}"
        ),
    )
    .unwrap();
    let cargo = Command::new("rustup")
        .args(["which", "cargo"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .ok()
        .filter(|p| !p.is_empty())
        .or_else(|| {
            // Without rustup (an ordinary user beside root's private toolchain): the
            // cargo on PATH, as a path, since rustc is looked for beside it.
            Command::new("sh")
                .args(["-c", "command -v cargo"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .ok()
                .filter(|p| !p.is_empty())
        })
        .unwrap_or_else(|| "cargo".to_owned());
    let script = format!(
        r#"
        export HOME=/tmp/home CARGO_HOME=/tmp/cargo-home
        mkdir -p $HOME
        /usr/bin/python3 -m pip download --quiet --no-deps --disable-pip-version-check \
            --index-url https://pypi.acme.test/simple/ -d /tmp/wheels cordon-probe > /tmp/pip.out 2>&1
        echo "pip=$? $(ls /tmp/wheels 2>/dev/null)"
        (cd /tmp && npm pack cordon-probe@0.1.0 --registry https://registry.acme.test/ \
            --cache /tmp/npm-cache > /tmp/npm.out 2>&1)
        echo "npm=$? $(ls /tmp/*.tgz 2>/dev/null)"
        RUSTC="$(dirname {cargo})/rustc" {cargo} fetch --quiet > /tmp/cargo.out 2>&1
        echo "cargo=$? $(ls $CARGO_HOME/registry/cache/*/ 2>/dev/null)"
        tail -n 5 /tmp/pip.out /tmp/npm.out /tmp/cargo.out
        "#
    );
    let run = finished(
        cordon_run(&manifest, &upstream_ca, &[], &script)
            .current_dir(&ws)
            .env("CORDON_HOME", base.join("cordon-home"))
            .env_remove("CARGO_TARGET_DIR"),
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        field(&run, "pip"),
        "0 cordon_probe-0.1.0-py3-none-any.whl",
        "{}",
        run.stdout
    );
    assert_eq!(
        field(&run, "npm"),
        "0 /tmp/cordon-probe-0.1.0.tgz",
        "{}",
        run.stdout
    );
    assert_eq!(
        field(&run, "cargo"),
        "0 cordon-probe-0.1.0.crate",
        "{}",
        run.stdout
    );
    let saw = fs::read_to_string(&log).unwrap();
    for name in NAMES {
        assert!(saw.contains(name), "{name} was not reached: {saw}");
    }
}

/// `cordon run --read-only`: the natural first step when an agent meets an unexpected
/// state. It can look at everything it could look at before, and change nothing: not
/// the workspace, not a remote system through the gateway.
#[test]
fn read_only_looks_and_cannot_act() {
    let c = Clients::new();
    fs::write(c.ws.join("notes.txt"), "as it was\n").unwrap();
    let url = "https://backboard.railway.com/graphql/v2";
    let script = format!(
        r#"
        echo "read=$(cat notes.txt)"
        echo changed > notes.txt 2>/dev/null; echo "write=$?"
        rm -f notes.txt 2>/dev/null; echo "remove=$?"
        touch /tmp/scratch; echo "tmp=$?"
        echo "query=$(curl -sS -m 10 -H "Authorization: Bearer $RAILWAY_TOKEN" \
            -H 'Content-Type: application/json' --data '{QUERY}' {url})"
        echo "post=$(curl -sS -m 10 -o /dev/null -w '%{{http_code}}' -X POST --data '{{}}' \
            http://plain.test/volumes)"
        "#
    );
    let run = c.run_with(&["--read-only"], &script);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(field(&run, "read"), "as it was");
    assert_ne!(field(&run, "write"), "0", "the workspace took a write");
    assert_ne!(field(&run, "remove"), "0", "the workspace lost a file");
    assert_eq!(
        field(&run, "tmp"),
        "0",
        "/tmp stays the sandbox's own scratch space"
    );
    assert!(
        field(&run, "query").contains("dev@example.com"),
        "a read through the gateway works: {}",
        run.stdout
    );
    assert_eq!(
        field(&run, "post"),
        "403",
        "a write through the gateway is refused"
    );
    assert_eq!(
        fs::read_to_string(c.ws.join("notes.txt")).unwrap(),
        "as it was\n"
    );
    assert!(!fs::read_to_string(&c.plain_log).unwrap().contains("POST"));

    // The same POST without --read-only is an ordinary write the gateway forwards.
    let run = c.run(
        "echo \"post=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -X POST --data '{}' http://plain.test/volumes)\"",
    );
    assert_ne!(field(&run, "post"), "403", "{}", run.stdout);
    assert!(fs::read_to_string(&c.plain_log).unwrap().contains("POST"));
}
