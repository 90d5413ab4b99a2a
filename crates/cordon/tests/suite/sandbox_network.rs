//! `cordon run`'s network: the command's only way out is the credential gateway the
//! supervisor runs, on a listener inside the sandbox's own network namespace. Real
//! curl and Python inside a real sandbox, the Railway mock (tests/mocks/railway.py)
//! outside as the provider; every test checks what reached the provider too.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::common::Run;
use super::gateway::{Peer, TOKEN, railway_serving};

const GH_PAT: &str = "ghp_realPersonalAccessToken0123456789";

struct Net {
    _dir: tempfile::TempDir,
    home: PathBuf,
    cordon_home: PathBuf,
    ws: PathBuf,
    manifest: PathBuf,
    log: PathBuf,
    upstream_ca: PathBuf,
    railway: Peer,
}

impl Net {
    fn new(tls: bool) -> Net {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let base = dir.path().canonicalize().unwrap();
        let home = base.join("home");
        let ws = base.join("ws");
        fs::create_dir_all(&home).unwrap();
        fs::create_dir_all(&ws).unwrap();
        let log = base.join("railway.jsonl");
        fs::write(&log, "").unwrap();
        let (upstream_ca, railway) = railway_serving(&base, &log, tls);
        let manifest = base.join("cordon.toml");
        fs::write(
            &manifest,
            r#"
[task]
name = "sandboxed-agent"
environment = "staging"

[filesystem]
workspace = "ws"

[network]
allow = ["backboard.railway.com", "allowed.test"]

[network.resolve]
"backboard.railway.com" = "127.0.0.1"
"allowed.test" = "127.0.0.1"

[[resource]]
kind = "railway.volume"
id = "vol_prod_7f3"
environment = "production"

[[credential]]
name = "railway"
source = "env:RAILWAY_TOKEN"
env_var = "RAILWAY_TOKEN"
hosts = ["backboard.railway.com"]
allow = ["graphql.query.*", "http.GET"]

# A source variable whose name the scrubber would not catch.
[[credential]]
name = "github"
source = "env:GH_PAT"
hosts = ["api.github.test"]
allow = ["http.GET"]
"#,
        )
        .unwrap();
        Net {
            cordon_home: base.join("cordon-home"),
            _dir: dir,
            home,
            ws,
            manifest,
            log,
            upstream_ca,
            railway,
        }
    }

    /// `cordon run -- sh -c script`, the real token in the supervisor's environment.
    fn run(&self, script: &str) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_cordon"))
            .arg("--policy")
            .arg(&self.manifest)
            .arg("run")
            // Asking to keep a credential's variable must not let its real value in.
            .args(["--keep-env", "RAILWAY_TOKEN"])
            .arg("--upstream-ca")
            .arg(&self.upstream_ca)
            .args(["--", "sh", "-c", script])
            .current_dir(&self.ws)
            .env("CORDON_HOME", &self.cordon_home)
            .env("HOME", &self.home)
            .env("RAILWAY_TOKEN", TOKEN)
            .env("GH_PAT", GH_PAT)
            // A proxy set on the host must not lead the command past the gateway.
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("SSL_CERT_FILE", "/nonexistent.pem")
            .env_remove("CORDON_LOG")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn provider_saw(&self) -> String {
        fs::read_to_string(&self.log).unwrap()
    }
}

/// The value after `name=` on the line that starts with it.
fn field<'a>(run: &'a Run, name: &str) -> &'a str {
    let prefix = format!("{name}=");
    run.stdout
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no `{name}=` line in:\n{}\n{}", run.stdout, run.stderr))
}

#[test]
fn inside_the_sandbox_only_the_gateway_leads_out() {
    let net = Net::new(false);
    let port = net.railway.port;
    let run = net.run(&format!(
        r#"
        echo "allowed=$(curl -sS -m 10 http://allowed.test:{port}/volumes 2>&1 | tr '\n' ' ')"
        echo "refused=$(curl -sS -m 10 -o /dev/null -w '%{{http_code}}' http://example.com/)"
        curl -sS -m 5 --noproxy '*' http://127.0.0.1:{port}/health >/dev/null 2>&1
        echo "host_loopback=$?"
        curl -sS -m 5 --noproxy '*' http://93.184.216.34/ >/dev/null 2>&1
        echo "raw_tcp=$?"
        getent hosts example.com >/dev/null 2>&1
        echo "dns=$?"
        python3 - <<'PY'
import errno, socket
try:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("8.8.8.8", 53))
    print("udp=sent")
except OSError as e:
    print("udp=" + errno.errorcode.get(e.errno, str(e.errno)))
s = socket.socket()
try:
    s.bind(("127.0.0.1", 3128))
    print("take_port=bound")
except OSError as e:
    print("take_port=" + errno.errorcode.get(e.errno, str(e.errno)))
PY
        echo "proxy=$HTTPS_PROXY"
        echo "gh=$GH_PAT"
        echo "environ=$(tr '\0' '\n' </proc/self/environ | grep -c -e ghp_real -e rw_real_token_7f3)"
        "#
    ));
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        field(&run, "allowed").contains("vol_prod_7f3"),
        "{}",
        run.stdout
    );
    assert_eq!(field(&run, "refused"), "403");
    assert_eq!(field(&run, "proxy"), "http://127.0.0.1:3128");
    // curl's 7 is "could not connect": the host's loopback is not the sandbox's.
    assert_eq!(field(&run, "host_loopback"), "7");
    assert_ne!(field(&run, "raw_tcp"), "0");
    assert_ne!(field(&run, "dns"), "0");
    assert_eq!(field(&run, "udp"), "ENETUNREACH");
    // The gateway's port is held outside; nothing inside can listen in its place.
    assert_eq!(field(&run, "take_port"), "EADDRINUSE");
    // Credentials' real values never reach the command, whatever their names.
    let gh = field(&run, "gh");
    assert!(gh.starts_with("ghp_") && gh != GH_PAT, "{gh}");
    assert_eq!(field(&run, "environ"), "0");
    assert!(!run.stdout.contains(GH_PAT) && !run.stdout.contains(TOKEN));
    assert!(
        run.stderr.contains("not keeping `RAILWAY_TOKEN`"),
        "{}",
        run.stderr
    );

    let saw = net.provider_saw();
    assert!(saw.contains("/volumes"), "{saw}");
    assert!(
        !saw.contains("/health"),
        "a direct connection got out: {saw}"
    );
}

#[test]
fn a_credential_is_never_sent_in_the_clear_past_this_machine() {
    let net = Net::new(false);
    // `api.github.test` is the credential's host but not pinned to this machine: over
    // plain HTTP the real token would cross the network readable.
    let run =
        net.run(r#"curl -sS -m 10 -H "Authorization: Bearer $GH_PAT" http://api.github.test/user"#);
    assert!(
        run.stdout.contains("HTTPS only") && run.stdout.contains("credential_cleartext"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(!run.stdout.contains(GH_PAT));
}

#[test]
fn https_inside_is_intercepted_trusted_and_scoped_without_any_flag() {
    let net = Net::new(true);
    let url = format!(
        "https://backboard.railway.com:{}/graphql/v2",
        net.railway.port
    );
    let run = net.run(&format!(
        r#"
        echo "token=$RAILWAY_TOKEN"
        post() {{ curl -sS -m 10 -H 'Content-Type: application/json' \
            -H "Authorization: Bearer $RAILWAY_TOKEN" --data-raw "$1" {url}; }}
        echo "query=$(post '{{"query":"query {{ me {{ email }} }}"}}')"
        echo "delete=$(post '{{"query":"mutation {{ volumeDelete(volumeId: \"vol_prod_7f3\") }}"}}')"
        # A client that reads no variable still trusts the gateway: the system bundle
        # path holds the merged bundle.
        echo "bare=$(env -u CURL_CA_BUNDLE -u SSL_CERT_FILE curl -sS -m 10 \
            -H "Authorization: Bearer $RAILWAY_TOKEN" -H 'Content-Type: application/json' \
            --data-raw '{{"query":"query {{ me {{ id }} }}"}}' {url})"
        python3 - {url} <<'PY'
import json, os, sys, urllib.request
request = urllib.request.Request(sys.argv[1],
    data=json.dumps({{"query": "query {{ me {{ email }} }}"}}).encode(),
    headers={{"Content-Type": "application/json",
             "Authorization": "Bearer " + os.environ["RAILWAY_TOKEN"]}})
print("python=" + urllib.request.urlopen(request, timeout=10).read().decode())
PY
        "#
    ));
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let phantom = field(&run, "token");
    assert!(!phantom.is_empty() && phantom != TOKEN, "{phantom}");
    assert!(
        !run.stdout.contains(TOKEN),
        "the real token reached the command"
    );
    assert!(
        field(&run, "query").contains("dev@example.com"),
        "{}",
        run.stdout
    );
    assert!(
        field(&run, "python").contains("dev@example.com"),
        "{}",
        run.stdout
    );
    assert!(field(&run, "bare").contains("\"me\""), "{}", run.stdout);
    let refused: serde_json::Value = serde_json::from_str(field(&run, "delete")).unwrap();
    assert_eq!(
        refused["action"]["operation"],
        "graphql.mutation.volumeDelete"
    );

    let saw = net.provider_saw();
    assert!(saw.contains(&format!("Bearer {TOKEN}")), "{saw}");
    assert!(!saw.contains(phantom), "the phantom went upstream: {saw}");
    assert!(!saw.contains("volumeDelete"), "{saw}");
}

/// The manifest of `net`, changed so that deleting the two staging volumes is within
/// the Railway credential's scopes and so needs a human (in approval `mode`).
fn destroys_need_a_human(net: &Net, mode: &str) {
    let manifest = fs::read_to_string(&net.manifest)
        .unwrap()
        .replace(
            "environment = \"staging\"\n",
            &format!("environment = \"staging\"\n\n[approval]\nmode = \"{mode}\"\n"),
        )
        .replace(
            "allow = [\"graphql.query.*\", \"http.GET\"]",
            "allow = [\"graphql.query.*\", \"graphql.mutation.*\", \"http.GET\"]",
        )
        + "\n[[resource]]\nkind = \"railway.volume\"\nid = \"vol_stage_1\"\nenvironment = \"staging\"\n\
           \n[[resource]]\nkind = \"railway.volume\"\nid = \"vol_stage_2\"\nenvironment = \"staging\"\n";
    fs::write(&net.manifest, manifest).unwrap();
}

/// `cordon run FLAGS -- sh -c script` on a terminal, a scripted human playing `steps`.
fn run_at_a_terminal(
    net: &Net,
    steps: &serde_json::Value,
    flags: &[&str],
    script: &str,
) -> super::sandbox_terminal::Seen {
    let manifest = net.manifest.to_str().unwrap();
    let mut args = vec!["--policy", manifest, "run"];
    args.extend_from_slice(flags);
    args.extend(["--", "sh", "-c", script]);
    super::sandbox_terminal::at_a_terminal(
        steps,
        &net.ws,
        &[
            ("HOME", net.home.as_os_str()),
            ("CORDON_HOME", net.cordon_home.as_os_str()),
            ("RAILWAY_TOKEN", TOKEN.as_ref()),
            ("GH_PAT", GH_PAT.as_ref()),
        ],
        &args,
    )
}

#[test]
fn a_destroy_held_by_the_gateway_is_asked_about_at_the_terminal() {
    let net = Net::new(false);
    destroys_need_a_human(&net, "hold");
    let url = format!(
        "http://backboard.railway.com:{}/graphql/v2",
        net.railway.port
    );
    let script = format!(
        r#"post() {{ curl -sS -m 60 -H 'Content-Type: application/json' \
            -H "Authorization: Bearer $RAILWAY_TOKEN" --data-raw "$1" {url}; }}
        echo "first=$(post '{{"query":"mutation {{ volumeDelete(volumeId: \"vol_stage_1\") }}"}}')"
        read -r line; echo "command read <$line>"
        echo "second=$(post '{{"query":"mutation {{ volumeDelete(volumeId: \"vol_stage_2\") }}"}}')"
        "#
    );
    let seen = run_at_a_terminal(
        &net,
        &serde_json::json!([
            ["expect", "approval needed"],
            // A key typed for the agent just as the question appears is not an answer.
            ["send", "x"],
            ["expect", "y = yes"],
            ["send", "y\r"],
            ["expect", "first="],
            ["send", "after\r"],
            ["expect", "command read"],
            ["expect", "y = yes"],
            ["send", "n\r"],
            ["expect", "reason"],
            ["send", "not on a friday\r"],
            ["expect", "second="],
        ]),
        &[],
        &script,
    );
    let screen = &seen.screen;
    assert_eq!(seen.code, 0, "{screen}");
    assert!(
        screen.contains("vol_stage_1"),
        "the question names the volume: {screen}"
    );
    assert!(
        screen.contains("approved: the identical call passes once"),
        "{screen}"
    );
    // The keys typed for the prompt never reached the command, nor the stray one.
    assert!(screen.contains("command read <after>"), "{screen}");
    assert!(
        screen.contains("denied; the agent gets your reason"),
        "{screen}"
    );
    let second = screen
        .lines()
        .find_map(|l| l.strip_prefix("second="))
        .unwrap_or_default();
    assert!(second.contains("\"denied\""), "{screen}");
    assert!(second.contains("not on a friday"), "{screen}");
    let saw = net.provider_saw();
    assert_eq!(
        saw.matches("vol_stage_1").count(),
        1,
        "approved once, sent once: {saw}"
    );
    assert!(
        !saw.contains("vol_stage_2"),
        "a denied call went out: {saw}"
    );
    assert!(seen.modes_restored);
}

/// `cordon ui` on the host's loopback, as a human would run it beside the agent.
struct UiServing {
    child: std::process::Child,
    login_url: String,
}

impl UiServing {
    fn start(net: &Net) -> UiServing {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_cordon"))
            .args(["--policy", net.manifest.to_str().unwrap(), "ui"])
            .env("CORDON_HOME", &net.cordon_home)
            .env("HOME", &net.home)
            .env("GH_PAT", GH_PAT)
            .env("RAILWAY_TOKEN", TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let login_url = std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                line.trim()
                    .strip_prefix("http://")
                    .map(|u| format!("http://{u}"))
            })
            .expect("cordon ui printed its login URL");
        UiServing { child, login_url }
    }
}

impl Drop for UiServing {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn from_inside_the_sandbox_the_approval_store_and_the_web_page_are_out_of_reach() {
    // An agent that wants to approve its own destroy: forge a row in the store, steal
    // the signing key, or click "approve" on the page. None of it is there.
    let net = Net::new(false);
    let ui = UiServing::start(&net);
    // The page answers on the host, so the test below is not vacuous.
    let from_host = Command::new("curl")
        .args([
            "-sS",
            "-m",
            "5",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &ui.login_url,
        ])
        .output()
        .unwrap();
    let code = String::from_utf8_lossy(&from_host.stdout).into_owned();
    assert!(
        code.starts_with('3') || code == "200",
        "the page is not up: {code}"
    );
    let store = net.cordon_home.join("cordon.db");
    let key = net.cordon_home.join("keys");
    assert!(store.is_file() && key.is_dir(), "cordon ui made no store");
    let before = fs::read(&store).unwrap();

    let home = net.cordon_home.display();
    let run = net.run(&format!(
        r#"
        ls -A {home} 2>&1 | sed 's/^/listing: /'
        echo forged >> {home}/cordon.db && echo "wrote the store"
        cat {home}/keys/* 2>/dev/null && echo "read the key"
        ls /proc/*/root{home} 2>/dev/null && echo "found it through /proc"
        # Straight to the page's port: the sandbox's loopback is its own.
        curl -sS -m 5 --noproxy '*' '{url}' && echo "direct reached the page"
        # Through the gateway (loopback is in NO_PROXY inside): refused however named.
        echo "proxied=$(env -u NO_PROXY -u no_proxy curl -sS -m 5 -o /dev/null \
            -w '%{{http_code}}' '{url}')"
        echo done
        "#,
        url = ui.login_url,
    ));
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("done"), "{}", run.stdout);
    for breach in [
        "wrote the store",
        "read the key",
        "found it through /proc",
        "direct reached the page",
        "listing: cordon.db",
        "listing: keys",
    ] {
        assert!(!run.stdout.contains(breach), "{breach}:\n{}", run.stdout);
    }
    assert_eq!(field(&run, "proxied"), "403", "{}", run.stdout);
    assert_eq!(fs::read(&store).unwrap(), before, "the store changed");
}

#[test]
fn no_prompt_leaves_the_approval_to_other_ways() {
    let net = Net::new(false);
    destroys_need_a_human(&net, "ask");
    let url = format!(
        "http://backboard.railway.com:{}/graphql/v2",
        net.railway.port
    );
    let script = format!(
        r#"echo "answer=$(curl -sS -m 10 -H 'Content-Type: application/json' \
            -H "Authorization: Bearer $RAILWAY_TOKEN" \
            --data-raw '{{"query":"mutation {{ volumeDelete(volumeId: \"vol_stage_1\") }}"}}' {url})"
        sleep 1; echo finished"#
    );
    let seen = run_at_a_terminal(
        &net,
        &serde_json::json!([["expect", "finished"]]),
        &["--no-prompt"],
        &script,
    );
    assert_eq!(seen.code, 0, "{}", seen.screen);
    assert!(
        seen.screen.contains("confirmation_required"),
        "{}",
        seen.screen
    );
    assert!(!seen.screen.contains("approval needed"), "{}", seen.screen);
    assert!(!net.provider_saw().contains("vol_stage_1"));
}
