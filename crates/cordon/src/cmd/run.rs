//! `cordon run`: one command in the sandbox, as a task whose changes wait for review.

use crate::cli::RunArgs;
use anyhow::{Context, Result, bail};
use cordon_core::{Action, Authorizer, Decision, Effect, Gate};
use cordon_sandbox::TerminalRelay;
use cordon_sandbox::{Sandbox, default_hidden_paths, scrub_env, workspace_secrets};
use cordon_task::{Snapshot, TaskState, Tasks};
use std::ffi::OsString;
use std::io::{IsTerminal, stderr, stdin, stdout};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use super::egress;
use super::prompt::Prompter;

pub fn run(args: &RunArgs, policy: Option<&Path>) -> Result<ExitCode> {
    let (mut loaded, _) = super::load_manifest(policy)?;
    // Looking, not acting: the manifest's read-only mode at every gate, and a
    // workspace nothing inside can change.
    let read_only = args.read_only || loaded.manifest.task.read_only;
    loaded.manifest.task.read_only = read_only;
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let workspace = match &args.workspace {
        Some(dir) => cwd.join(dir),
        None => loaded.workspace(),
    };
    let workspace = std::fs::canonicalize(&workspace)
        .with_context(|| format!("cannot use the workspace `{}`", workspace.display()))?;
    if !workspace.is_dir() {
        bail!("the workspace `{}` is not a directory", workspace.display());
    }
    let command: Vec<String> = args
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();

    let cordon_home = cordon_core::home::cordon_home();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut sandbox = Sandbox::new(&workspace, PathBuf::new(), &args.command);
    if read_only {
        sandbox = sandbox.workspace_read_only();
    }
    if let Some(home) = home
        .as_deref()
        .filter(|h| h.is_dir() && *h != Path::new("/"))
    {
        sandbox = sandbox.read_only(home);
    }
    let mut hidden = default_hidden_paths(
        home.as_deref().unwrap_or(Path::new("/nonexistent")),
        &cordon_home,
    );
    let filesystem = &loaded.manifest.filesystem;
    for path in &filesystem.read {
        sandbox = sandbox.read_only(loaded.resolve_path(path));
    }
    for path in &filesystem.write {
        // Looking without acting holds for the extra writable paths too: they are
        // the host's own, with no copy to review.
        sandbox = if read_only {
            sandbox.read_only(loaded.resolve_path(path))
        } else {
            sandbox.writable(loaded.resolve_path(path))
        };
    }
    let mut patterns = Vec::new();
    for pattern in &filesystem.hide {
        let pattern = pattern.0.as_str();
        let literal = !pattern.contains(['*', '?', '[', '{']);
        if literal && (pattern.starts_with('/') || pattern.starts_with('~')) {
            hidden.push(loaded.resolve_path(pattern));
        } else {
            patterns.push(pattern);
        }
    }
    let secrets = workspace_secrets(&workspace, &patterns, &hidden)
        .context("cannot check the workspace for secrets to hide; nothing was run")?;
    tracing::debug!(count = secrets.len(), "secrets hidden in the workspace");
    sandbox = sandbox.hide_all(hidden).hide_all(secrets);
    let inside = std::fs::canonicalize(&cwd).unwrap_or_else(|_| cwd.clone());
    sandbox = sandbox.cwd(if inside.starts_with(&workspace) {
        inside
    } else {
        workspace.clone()
    });

    let authorizer = Arc::new(
        Authorizer::open(loaded.clone(), &cordon_home)
            .context("cannot open cordon's audit log and approvals")?,
    );
    let effect = if read_only {
        Effect::Read
    } else {
        Effect::Write
    };
    let action = Action::new(Gate::Sandbox, "sandbox.run", effect)
        .with_path(workspace.display().to_string())
        .with_detail(shell_words(&args.command));
    let verdict = authorizer.authorize(&action);
    match verdict.decision {
        Decision::Allow => {}
        Decision::Deny | Decision::Confirm => {
            eprintln!("cordon: {} `{}`", verdict.decision, action.detail);
            for reason in &verdict.reasons {
                eprintln!("  - {reason}");
            }
            return Ok(ExitCode::from(1));
        }
    }

    let tasks = Tasks::new(&cordon_home);
    let mut task = tasks.create(loaded.task_name(), &workspace, command)?;
    let snapshot = match Snapshot::capture(&workspace) {
        Ok(snapshot) => snapshot,
        Err(e) => {
            task.finish(TaskState::Failed, None, Some(e.to_string()))?;
            return Err(e).context("cannot snapshot the workspace");
        }
    };
    task.save_snapshot(&snapshot)?;
    sandbox = sandbox.task_dir(task.dir());

    let egress = match egress::prepare(
        authorizer.clone(),
        &cordon_home,
        task.dir(),
        &egress::EgressOptions {
            upstream_ca: &args.upstream_ca,
            tunnel_only: &args.tunnel_only,
            max_body: args.max_body,
        },
    ) {
        Ok(egress) => egress,
        Err(e) => {
            task.finish(TaskState::Failed, None, Some(format!("{e:#}")))?;
            return Err(e);
        }
    };
    let keep: Vec<&str> = args.keep_env.iter().map(String::as_str).collect();
    // cordon's own state is hidden inside; its location is no business of the command.
    // Proxy and CA variables from the host would lead past the gateway or away from
    // its bundle, so the gateway's own replace them.
    for name in &args.keep_env {
        if egress.replaced.iter().any(|r| r == name) {
            eprintln!(
                "cordon: not keeping `{name}`: the gateway sets it inside (a credential's phantom, a proxy or a CA bundle)"
            );
        }
    }
    let vars = std::env::vars_os().filter(|(k, _)| {
        k != "CORDON_HOME" && !egress.replaced.iter().any(|name| k == name.as_str())
    });
    sandbox = sandbox
        .envs(scrub_env(vars, &keep))
        .envs(egress.env.iter().cloned())
        .gateway_port(egress::GATEWAY_PORT);
    for port in egress::TRANSPARENT_PORTS {
        sandbox = sandbox.transparent_port(*port);
    }
    for (host, inside) in &egress.files_at {
        sandbox = sandbox.read_only_at(host, inside);
    }
    let own_terminal = !args.no_tty && stdin().is_terminal() && stdout().is_terminal();
    if own_terminal {
        sandbox = sandbox.terminal();
        // Errors sent elsewhere (`2>log`) stay there rather than joining the terminal.
        if !stderr().is_terminal() {
            let err = stderr()
                .as_fd()
                .try_clone_to_owned()
                .context("cannot pass standard error on to the command")?;
            sandbox = sandbox.stderr(err);
        }
    }
    let gateway = egress.gateway.clone();
    let mut runtime = None;
    let mut relay = None;
    let mut prompter = None;

    tracing::debug!(task = %task.meta.id, workspace = %workspace.display(), "starting the sandbox");
    let mut started = false;
    let outcome = sandbox.run_foreground_with(|child| {
        started = true;
        let listener = child.take_gateway_listener().ok_or_else(|| {
            cordon_sandbox::SandboxError::Config("the sandbox gave no gateway listener".to_owned())
        })?;
        runtime = Some(egress::serve(
            gateway,
            listener,
            child.take_transparent_listeners(),
        )?);
        if let Some(master) = child.take_terminal() {
            let terminal = TerminalRelay::start(master)?;
            if !args.no_prompt {
                prompter = Some(Prompter::start(
                    authorizer.clone(),
                    loaded.task_name().to_owned(),
                    terminal.interjector(),
                ));
            }
            relay = Some(terminal);
        }
        Ok(())
    });
    if let Some(prompter) = prompter {
        prompter.stop();
    }
    // The human's terminal back as it was, with the command's last words on it.
    if let Some(relay) = relay
        && let Err(e) = relay.finish()
    {
        tracing::warn!("the terminal relay ended badly: {e}");
    }
    // Connections still open when the command is gone have no one to answer.
    if let Some(runtime) = runtime {
        runtime.shutdown_background();
    }
    match outcome {
        Ok(code) => {
            task.finish(TaskState::Exited, Some(code), None)?;
            if stderr().is_terminal() {
                eprintln!(
                    "cordon: task {} exited {code}; review with `cordon diff`, then `cordon apply` or `cordon discard`",
                    task.meta.id
                );
            }
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(255)))
        }
        Err(e) => {
            task.finish(TaskState::Failed, None, Some(e.to_string()))?;
            let context = if started {
                "the command started, but cordon could not serve it (its gateway or its terminal); it was stopped"
            } else {
                "the sandbox could not be built; nothing was run"
            };
            Err(anyhow::Error::new(e).context(context))
        }
    }
}

/// The command line as a person would type it, for the audit record.
fn shell_words(argv: &[OsString]) -> String {
    argv.iter()
        .map(|arg| {
            let arg = arg.to_string_lossy();
            if !arg.is_empty()
                && arg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@%+,".contains(&b))
            {
                arg.into_owned()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
