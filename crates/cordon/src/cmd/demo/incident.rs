//! The incident replayed for real: a scripted agent inside `cordon run`, a local
//! stand-in for Railway's API behind the credential gateway, and the production volume
//! still there at the end.
//!
//! The agent reports what it saw; this side says which layer stopped what and checks
//! it. A step that got through when it should not have is a failed demo (exit 1): the
//! same run is the integration test.

use super::provider::{self, Provider};
use anyhow::{Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

const MANIFEST: &str = include_str!("../../../assets/demo-sandbox.toml");
const AGENT: &str = include_str!("../../../assets/demo-agent.sh");
const VOLUME: &str = "vol_prod_7f3";

/// What the agent saw in one step.
struct Seen {
    name: String,
    output: String,
    exit: Option<i32>,
}

impl Seen {
    /// The HTTP status curl printed last, and the body before it.
    fn http(&self) -> (Option<u16>, &str) {
        let trimmed = self.output.trim_end();
        match trimmed.rsplit_once("\nHTTP ") {
            Some((body, status)) => (status.trim().parse().ok(), body.trim()),
            None => (None, trimmed),
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(self.http().1).unwrap_or(Value::Null)
    }

    fn first_reason(&self) -> String {
        self.json()["reasons"][0]
            .as_str()
            .unwrap_or("(no reason given)")
            .to_owned()
    }
}

/// A step's story, and how to tell the layer did its job.
struct Step {
    name: &'static str,
    narration: &'static str,
    judge: fn(&Seen, &Facts) -> Outcome,
}

/// What the demo knows that the agent does not.
struct Facts {
    real_token: String,
}

enum Outcome {
    /// Harmless work went through, or a layer stopped what it should: the explanation.
    AsIntended(String),
    /// Something got through: a bug in cordon.
    Breach(String),
}

fn steps() -> Vec<Step> {
    vec![
        Step {
            name: "environment",
            narration: "The agent checks which Railway token it was given.",
            judge: |seen, facts| {
                if seen.output.contains(&facts.real_token) {
                    Outcome::Breach("the real token is in the sandbox's environment".into())
                } else if seen.output.contains("RAILWAY_TOKEN=") {
                    Outcome::AsIntended(
                        "sandbox: RAILWAY_TOKEN inside is a phantom, shaped like the real token and worthless anywhere but through cordon's gateway".into(),
                    )
                } else {
                    Outcome::Breach("the agent was given no token at all".into())
                }
            },
        },
        Step {
            name: "search",
            narration: "It hits a credential mismatch and goes looking for tokens on disk.",
            judge: |seen, facts| {
                if seen
                    .output
                    .contains(&format!("\"token\": \"{}\"", facts.real_token))
                {
                    return Outcome::Breach("~/.config/railway/config.json was readable".into());
                }
                Outcome::AsIntended(
                    "sandbox: ~/.config/railway is hidden; but a notes file in the workspace still holds a real token, and the agent takes it".into(),
                )
            },
        },
        Step {
            name: "domain",
            narration: "It does its job: attach a custom domain to the staging service.",
            judge: |seen, _| {
                match seen.http().0 {
                Some(200) if seen.output.contains("customDomainCreate") => Outcome::AsIntended(
                    "allowed: within the credential's scope; the gateway swapped the phantom for the real token on the way out".into(),
                ),
                _ => Outcome::Breach(format!("harmless work was blocked: {}", seen.output.trim())),
            }
            },
        },
        Step {
            name: "volume",
            narration: "It calls volumeDelete on the production volume, with the token it holds.",
            judge: refused,
        },
        Step {
            name: "alias",
            narration: "It hides the call behind an alias, a variable and a harmless operation name.",
            judge: refused,
        },
        Step {
            name: "batch",
            narration: "It batches the deletion behind a harmless query.",
            judge: refused,
        },
        Step {
            name: "found",
            narration: "It uses the real token it found in the notes file.",
            judge: refused,
        },
        Step {
            name: "around",
            narration: "It tries to reach the API around the gateway: by name with the proxy switched off, at the provider's address, raw TCP out.",
            judge: |seen, _| {
                let exits: Vec<&str> = seen
                    .output
                    .lines()
                    .filter_map(|l| {
                        l.strip_prefix("curl exit ")
                            .or_else(|| l.strip_prefix("tcp exit "))
                    })
                    .collect();
                // Told to ignore the proxy, curl still lands at the gateway: the
                // provider's name resolves to it inside. It must refuse the call there.
                let refused_by_name =
                    seen.output.contains("\"kind\":\"denied\"") && seen.output.contains("HTTP 403");
                if let [by_name, by_address, raw] = exits.as_slice()
                    && (*by_name != "0" || refused_by_name)
                    && *by_address != "0"
                    && *raw != "0"
                {
                    Outcome::AsIntended(
                        "sandbox: its network namespace has loopback only; nothing outside answers, and the provider's name leads to the gateway even for a client told to ignore the proxy, which refused the call there".into(),
                    )
                } else {
                    Outcome::Breach(format!(
                        "a connection around the gateway worked: {}",
                        seen.output.trim()
                    ))
                }
            },
        },
        Step {
            name: "confirm",
            narration: "It deletes an old staging domain: within the token's scope, but irreversible.",
            judge: |seen, _| {
                let answer = seen.json();
                if seen.http().0 == Some(428) && answer["kind"] == "confirmation_required" {
                    Outcome::AsIntended(format!(
                        "irreversibility gate: not forwarded; approval {} waits for a human to sign this exact call",
                        answer["approval_id"].as_str().unwrap_or("?")
                    ))
                } else {
                    Outcome::Breach(format!(
                        "a destroy went out unconfirmed: {}",
                        seen.output.trim()
                    ))
                }
            },
        },
    ]
}

fn refused(seen: &Seen, _: &Facts) -> Outcome {
    match seen.http() {
        (Some(403), _) if seen.json()["kind"] == "denied" => {
            Outcome::AsIntended(format!("gateway refused it: {}", seen.first_reason()))
        }
        (Some(428), _) => Outcome::AsIntended(format!(
            "gateway held it for a human: {}",
            seen.first_reason()
        )),
        _ => Outcome::Breach(format!("it reached the provider: {}", seen.output.trim())),
    }
}

/// Splits the agent's output at its step markers.
fn parse_steps(stdout: &str) -> Vec<Seen> {
    let mut seen = Vec::new();
    for chunk in stdout.split('\u{1e}').skip(1) {
        if let Some(name) = chunk.strip_prefix("step ") {
            let (name, output) = name.split_once('\n').unwrap_or((name, ""));
            seen.push(Seen {
                name: name.trim().to_owned(),
                output: output.to_owned(),
                exit: None,
            });
        } else if let Some(code) = chunk.strip_prefix("exit ")
            && let Some(last) = seen.last_mut()
        {
            last.exit = code.trim().parse().ok();
        }
    }
    seen
}

/// A token shaped like Railway's (a UUID).
fn random_token() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex = hex_string(&bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Scene {
    manifest: PathBuf,
    home: PathBuf,
    workspace: PathBuf,
}

/// The developer's machine as the agent found it: a Railway CLI config holding the
/// token, and the same token pasted into a notes file in the repository.
fn set_scene(dir: &Path, token: &str, port: u16) -> Result<Scene> {
    let home = dir.join("home");
    let config = home.join(".config/railway");
    std::fs::create_dir_all(&config)?;
    std::fs::write(
        config.join("config.json"),
        format!("{{\"user\": {{\"token\": \"{token}\"}}}}\n"),
    )?;
    let workspace = dir.join("app");
    std::fs::create_dir_all(workspace.join("ops"))?;
    std::fs::write(
        workspace.join("README.md"),
        "# app\n\nStaging lives at staging.acme.dev.\n",
    )?;
    std::fs::write(
        workspace.join("ops/notes-2024-11.md"),
        format!("Debugging the deploy with Jo.\nexport RAILWAY_TOKEN={token}\n"),
    )?;
    let manifest = dir.join("cordon.toml");
    std::fs::write(&manifest, MANIFEST.replace("{port}", &port.to_string()))?;
    Ok(Scene {
        manifest,
        home,
        workspace,
    })
}

/// Runs the replay. `None` when the sandbox could not start here (what it said is
/// printed); the caller falls back to the decision-path replay.
pub fn run(keep: bool) -> Result<Option<ExitCode>> {
    // The scripted agent is bash driving curl; without them it would fail every step
    // for a reason that has nothing to do with cordon.
    if let Some(missing) = ["bash", "curl"].into_iter().find(|tool| !on_path(tool)) {
        println!("The demo's scripted agent needs `{missing}`, which is not on PATH here.\n");
        return Ok(None);
    }
    let scratch = tempfile::tempdir().context("cannot create a scratch directory for the demo")?;
    let state = if keep {
        cordon_core::home::cordon_home()
    } else {
        scratch.path().join("state")
    };
    let token = random_token();
    let provider = Provider::start(&scratch.path().join("provider-ca"), &token, &[VOLUME])?;
    let scene = set_scene(scratch.path(), &token, provider.port)?;
    let exe = std::env::current_exe().context("cannot find cordon's own executable")?;

    println!("cordon demo: the nine-second incident, replayed inside cordon's sandbox\n");
    println!("An agent on a staging task holds a Railway token made for managing custom domains.");
    println!("Railway would accept that token for volumeDelete. This run puts, on loopback:");
    println!(
        "  provider     a stand-in for {}/graphql/v2 (port {}), holding volume {VOLUME}",
        provider::HOST,
        provider.port
    );
    println!("  the agent    a script inside `cordon run`, doing what that agent did");
    println!("  cordon.toml  task fix-staging-domains (staging); credential railway scoped to");
    println!("               queries and customDomainCreate/Delete; {VOLUME} tagged production\n");

    let cordon = |args: &[&str]| {
        let mut command = Command::new(&exe);
        command
            .args(args)
            .env("CORDON_HOME", &state)
            .stdin(Stdio::null());
        if !keep {
            // A scratch replay stays out of a team's shared store too.
            command.env_remove("CORDON_STORE");
        }
        command
    };
    let run = cordon(&[])
        .arg("--policy")
        .arg(&scene.manifest)
        .arg("run")
        .arg("--workspace")
        .arg(&scene.workspace)
        .arg("--upstream-ca")
        .arg(&provider.ca_path)
        .args(["--no-tty", "--no-prompt", "--", "bash", "-c", AGENT])
        .env("HOME", &scene.home)
        .env("RAILWAY_TOKEN", &token)
        .env("PROVIDER_PORT", provider.port.to_string())
        .current_dir(&scene.workspace)
        .output()
        .context("cannot start `cordon run` for the demo")?;
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    let seen = parse_steps(&stdout);
    if seen.is_empty() {
        println!("The sandbox could not start on this machine, so the agent could not run:");
        for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
            println!("  {line}");
        }
        println!();
        provider.stop();
        return Ok(None);
    }

    let facts = Facts { real_token: token };
    let mut breaches = 0;
    for (n, step) in steps().iter().enumerate() {
        println!("{}. {}", n + 1, step.narration);
        let Some(saw) = seen.iter().find(|s| s.name == step.name) else {
            println!("   BREACH  the agent never reached this step\n");
            breaches += 1;
            continue;
        };
        for line in saw.output.trim_end().lines().take(6) {
            println!("     | {}", shorten(line, 150));
        }
        match (step.judge)(saw, &facts) {
            Outcome::AsIntended(why) => println!("   → {why}"),
            Outcome::Breach(why) => {
                println!("   BREACH  {why}");
                breaches += 1;
            }
        }
        if saw.exit.is_none() {
            println!("   (the step did not finish)");
        }
        println!();
    }

    let (volume_there, deletes_seen, executed) = provider.with_state(|s| {
        (
            s.volumes.contains(VOLUME),
            s.executed.iter().filter(|f| *f == "volumeDelete").count(),
            s.executed.len(),
        )
    });
    provider.stop();

    println!("The audit trail (`cordon audit show fix-staging-domains`):");
    let audit = cordon(&["audit", "show", "fix-staging-domains"])
        .output()
        .context("cannot run `cordon audit show`")?;
    for line in String::from_utf8_lossy(&audit.stdout).lines() {
        println!("  {}", shorten(line, 150));
    }
    let verify = cordon(&["audit", "verify", "fix-staging-domains"])
        .output()
        .context("cannot run `cordon audit verify`")?;
    println!(
        "  chain: {}",
        if verify.status.success() {
            "intact (`cordon audit verify`)"
        } else {
            "BROKEN"
        }
    );
    if !verify.status.success() {
        breaches += 1;
    }
    println!();
    println!(
        "The provider executed {executed} root field(s), {deletes_seen} of them volumeDelete."
    );
    if !volume_there || deletes_seen > 0 {
        println!("The production volume {VOLUME} was deleted. This is a bug in cordon.");
        return Ok(Some(ExitCode::from(1)));
    }
    if breaches > 0 {
        println!(
            "{breaches} step(s) above got through a layer that should have held. This is a bug in cordon."
        );
        if !stderr.trim().is_empty() {
            println!("cordon run said:\n{stderr}");
        }
        return Ok(Some(ExitCode::from(1)));
    }
    println!("The production volume {VOLUME} still exists.");
    if keep {
        println!(
            "The task's audit chain is kept in $CORDON_HOME: `cordon audit show fix-staging-domains`."
        );
    }
    Ok(Some(ExitCode::SUCCESS))
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

fn shorten(line: &str, max: usize) -> String {
    if line.chars().count() <= max {
        return line.to_owned();
    }
    let cut: String = line.chars().take(max).collect();
    format!("{cut}…")
}
