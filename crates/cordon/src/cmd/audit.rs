use crate::cli::{AuditCommand, ExportFormat};
use anyhow::{Context, Result, bail};
use cordon_core::audit::query::{self, Group};
use cordon_core::audit::{AuditRecord, chain_path, list_tasks, read_records, verify_chain};
use cordon_core::home::cordon_home;
use cordon_core::store::{Store, StoreLocation};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

pub fn run(command: AuditCommand) -> Result<ExitCode> {
    let home = cordon_home();
    match command {
        AuditCommand::Tail {
            lines,
            follow,
            json,
        } => tail(&home, lines, follow, json),
        AuditCommand::Show { task, json } => show(&home, &task, json),
        AuditCommand::Export { task, format } => export(&home, task.as_deref(), format),
        AuditCommand::Verify { task, json } => verify(&home, task.as_deref(), json),
    }
}

/// The store, without creating a home where there is none: reading commands must not
/// leave state behind.
fn open_store(home: &Path) -> Result<Option<Store>> {
    let location = StoreLocation::resolve(home, None)?;
    if let StoreLocation::Sqlite(path) = &location
        && !path.exists()
    {
        return Ok(None);
    }
    Ok(Some(Store::open_at(&location)?))
}

fn no_records(home: &Path) {
    eprintln!(
        "no audit records yet in {} (set CORDON_HOME to read another)",
        home.display()
    );
}

fn print_record(out: &mut impl Write, record: &AuditRecord, json: bool) -> std::io::Result<()> {
    if json {
        writeln!(out, "{}", record.to_line())
    } else {
        writeln!(out, "{}", record.summary())
    }
}

/// Prints the records of `groups`, skipping the first `skip`.
fn print_groups(home: &Path, groups: &[Group], skip: usize, json: bool) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut skipped = 0;
    for group in groups {
        for record in query::read_group(home, group)? {
            if skipped < skip {
                skipped += 1;
                continue;
            }
            print_record(&mut out, &record, json)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn tail(home: &Path, lines: usize, follow: bool, json: bool) -> Result<ExitCode> {
    let store = loop {
        match open_store(home)? {
            Some(store) => break store,
            None if follow => std::thread::sleep(Duration::from_millis(250)),
            None => {
                no_records(home);
                return Ok(ExitCode::SUCCESS);
            }
        }
    };
    let groups = query::latest(&store, lines)?;
    let available: u64 = groups.iter().map(Group::len).sum();
    let skip = usize::try_from(available.saturating_sub(lines as u64)).unwrap_or(0);
    print_groups(home, &groups, skip, json)?;
    if !follow {
        return Ok(ExitCode::SUCCESS);
    }
    let mut last = query::newest_id(&store)?.unwrap_or(0);
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let fresh = query::after(&store, last)?;
        if let Some(newest) = fresh.last() {
            last = newest.id;
            print_groups(home, &fresh, 0, json)?;
        }
    }
}

fn parse_chain(home: &Path, task: &str) -> Result<(PathBuf, Vec<AuditRecord>)> {
    let path = chain_path(home, task);
    if !path.exists() {
        let tasks = list_tasks(home).unwrap_or_default();
        if tasks.is_empty() {
            bail!(
                "no audit chain for task `{task}`: {} holds none yet",
                home.display()
            );
        }
        bail!(
            "no audit chain for task `{task}`; tasks with one: {}",
            tasks.join(", ")
        );
    }
    let (lines, _) = read_records(&path)?;
    let mut records = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        let record: AuditRecord = serde_json::from_str(line).with_context(|| {
            format!(
                "{}:{}: not an audit record; run `cordon audit verify {task}`",
                path.display(),
                index + 1
            )
        })?;
        records.push(record);
    }
    Ok((path, records))
}

fn show(home: &Path, task: &str, json: bool) -> Result<ExitCode> {
    let (_, records) = parse_chain(home, task)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for record in &records {
        print_record(&mut out, record, json)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn export(home: &Path, task: Option<&str>, format: ExportFormat) -> Result<ExitCode> {
    let tasks = match task {
        Some(t) => vec![t.to_owned()],
        None => list_tasks(home).context("cannot list audit chains")?,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for task in tasks {
        let path = chain_path(home, &task);
        if !path.exists() {
            bail!("no audit chain for task `{task}`");
        }
        let (lines, torn) = read_records(&path)?;
        match format {
            ExportFormat::Jsonl => {
                for line in lines {
                    writeln!(out, "{line}")?;
                }
            }
        }
        if torn.is_some() {
            eprintln!(
                "note: `{task}` ends in a torn line (a writer stopped mid-write); it was not exported"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(home: &Path, task: Option<&str>, json: bool) -> Result<ExitCode> {
    let Some(store) = open_store(home)? else {
        if task.is_some() {
            bail!("no audit records in {}", home.display());
        }
        no_records(home);
        return Ok(ExitCode::SUCCESS);
    };
    let tasks: Vec<String> = match task {
        Some(t) => vec![t.to_owned()],
        None => {
            let mut all: BTreeSet<String> = list_tasks(home)?.into_iter().collect();
            all.extend(query::indexed_tasks(&store)?);
            all.into_iter().collect()
        }
    };
    let mut tampered = 0;
    for task in &tasks {
        let report = verify_chain(home, &store, task)?;
        if json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            match &report.problem {
                None => println!(
                    "ok        {task}: {} record(s), chain intact",
                    report.verified
                ),
                Some(problem) => println!(
                    "TAMPERED  {task}: {problem} ({} record(s) before it verify)",
                    report.verified
                ),
            }
            if let Some(bytes) = report.torn_bytes {
                println!(
                    "          note: the last line is torn ({bytes} bytes): a writer stopped mid-write; it is not a record, and the next append sets it aside in {}.torn",
                    chain_path(home, task).display()
                );
            }
        }
        if !report.intact() {
            tampered += 1;
        }
    }
    if tampered > 0 {
        if !json {
            eprintln!("{tampered} of {} chain(s) failed verification", tasks.len());
        }
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
