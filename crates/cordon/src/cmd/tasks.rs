//! `cordon tasks`, `diff`, `apply` and `discard`: reviewing what a sandboxed task did.

use crate::cli::{ApplyArgs, DiffArgs, TaskArg, TasksArgs};
use anyhow::Result;
use cordon_task::{ApplyOptions, Change, ChangeKind, Task, Tasks, changes, render_diff};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

fn tasks() -> Tasks {
    Tasks::new(&cordon_core::home::cordon_home())
}

fn find(arg: &TaskArg) -> Result<Task> {
    Ok(tasks().find(arg.task.as_deref())?)
}

fn color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn task_changes(task: &Task) -> Result<Vec<Change>> {
    Ok(changes(&task.meta.workspace, &task.upper())?)
}

pub fn list(args: &TasksArgs) -> Result<ExitCode> {
    let all = tasks().list()?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if !args.json && all.is_empty() {
        writeln!(out, "no tasks yet; `cordon run -- CMD` starts one")?;
        return Ok(ExitCode::SUCCESS);
    }
    if !args.json {
        writeln!(
            out,
            "{:<13}  {:<20}  {:<11}  {:<20}  {:>7}  COMMAND",
            "ID", "NAME", "STATE", "STARTED", "CHANGES"
        )?;
    }
    for task in &all {
        // An applied task's upper directory no longer differs from the workspace in
        // the way it did; a task whose upper directory cannot be read is still listed.
        let count = match task.meta.applied_changes {
            Some(n) => Some(n),
            None => task_changes(task).map(|c| c.len()).ok(),
        };
        let state = task.meta.display_state();
        if args.json {
            let line = serde_json::json!({
                "id": task.meta.id,
                "name": task.meta.name,
                "state": state,
                "started_at": task.meta.started_at,
                "finished_at": task.meta.finished_at,
                "exit_code": task.meta.exit_code,
                "workspace": task.meta.workspace,
                "command": task.meta.command,
                "changes": count,
            });
            writeln!(out, "{line}")?;
        } else {
            let count = count.map_or_else(|| "?".to_owned(), |n| n.to_string());
            writeln!(
                out,
                "{:<13}  {:<20}  {:<11}  {:<20}  {:>7}  {}",
                task.meta.id,
                task.meta.name,
                state,
                task.meta.started_at,
                count,
                task.meta.command.join(" ")
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn marker(change: &Change, color: bool) -> String {
    if !change.protected {
        return String::new();
    }
    if color {
        " \x1b[1;31m[protected]\x1b[0m".to_owned()
    } else {
        " [protected]".to_owned()
    }
}

pub fn diff(args: &DiffArgs) -> Result<ExitCode> {
    let task = find(&args.task)?;
    let all = task_changes(&task)?;
    let color = color();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(
        out,
        "task {} ({}, {}) in {}: {} change{}",
        task.meta.id,
        task.meta.name,
        task.meta.display_state(),
        task.meta.workspace.display(),
        all.len(),
        if all.len() == 1 { "" } else { "s" }
    )?;
    for change in &all {
        let line = format!(
            "{} {}{}",
            change.kind.letter(),
            change.path,
            marker(change, color)
        );
        if color && change.protected {
            writeln!(out, "\x1b[31m{line}\x1b[0m")?;
        } else {
            writeln!(out, "{line}")?;
        }
    }
    if args.stat {
        return Ok(ExitCode::SUCCESS);
    }
    for change in &all {
        if matches!(change.new, Some(cordon_task::Content::Dir { .. }))
            || matches!(change.old, Some(cordon_task::Content::Dir { .. }))
        {
            continue;
        }
        writeln!(out)?;
        let header = format!(
            "{} {}{}",
            match change.kind {
                ChangeKind::Added => "added",
                ChangeKind::Modified => "modified",
                ChangeKind::Deleted => "deleted",
            },
            change.path,
            marker(change, color)
        );
        writeln!(out, "{header}")?;
        write!(
            out,
            "{}",
            render_diff(change, &task.meta.workspace, &task.upper())?
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn apply(args: &ApplyArgs) -> Result<ExitCode> {
    let mut task = find(&args.task)?;
    let options = ApplyOptions {
        force: args.force,
        include_protected: args.include_protected,
    };
    let report = cordon_task::apply(&mut task, options)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for conflict in &report.overridden {
        writeln!(
            out,
            "overwrote {} (it had changed since the task began)",
            conflict.path
        )?;
    }
    writeln!(
        out,
        "applied task {}: {} change{} written to {}",
        task.meta.id,
        report.changes.len(),
        if report.changes.len() == 1 { "" } else { "s" },
        task.meta.workspace.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

pub fn discard(args: &TaskArg) -> Result<ExitCode> {
    let task = find(args)?;
    let id = task.meta.id.clone();
    task.discard()?;
    println!("discarded task {id}");
    Ok(ExitCode::SUCCESS)
}
