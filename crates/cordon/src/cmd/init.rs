use crate::cli::InitArgs;
use anyhow::{Context, Result, bail};
use cordon_core::manifest::{INIT_TEMPLATE, Manifest};
use std::io::Write;
use std::process::ExitCode;

pub fn run(args: &InitArgs) -> Result<ExitCode> {
    // The template is part of the binary; check it as a user's file would be checked.
    Manifest::parse(INIT_TEMPLATE, "<init template>")?;
    let path = &args.path;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "`{}` already exists; edit it, or pass --force to replace it with the starter",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot create `{}`", path.display())),
    };
    file.write_all(INIT_TEMPLATE.as_bytes())
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    println!("wrote {}", path.display());
    println!("next: edit the task name and environment, then run `cordon policy check`");
    Ok(ExitCode::SUCCESS)
}
