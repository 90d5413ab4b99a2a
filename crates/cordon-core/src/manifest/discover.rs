//! Finding the manifest: `--policy FILE`, else `cordon.toml` upward from the working
//! directory, else the built-in default profile.

use super::{LoadedManifest, Manifest, ManifestError};
use std::path::{Path, PathBuf};

/// The built-in profile used when no manifest is found (docs/manifest.md, "Default").
pub const DEFAULT_PROFILE: &str = include_str!("../../assets/default.toml");

/// What `cordon init` writes: commented, and passes validation as it stands.
pub const INIT_TEMPLATE: &str = include_str!("../../assets/init.toml");

pub const MANIFEST_FILE: &str = "cordon.toml";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestSource {
    /// Named on the command line.
    Explicit(PathBuf),
    /// Found upward from the working directory.
    Discovered(PathBuf),
    /// No manifest: the built-in default profile.
    BuiltinDefault,
}

/// Loads the manifest the way every command does.
pub fn discover(
    explicit: Option<&Path>,
    cwd: &Path,
) -> Result<(LoadedManifest, ManifestSource), ManifestError> {
    if let Some(path) = explicit {
        let loaded = load_file(path)?;
        return Ok((loaded, ManifestSource::Explicit(path.to_path_buf())));
    }
    for dir in cwd.ancestors() {
        let candidate = dir.join(MANIFEST_FILE);
        if candidate.is_file() {
            let loaded = load_file(&candidate)?;
            return Ok((loaded, ManifestSource::Discovered(candidate)));
        }
    }
    let manifest = Manifest::parse(DEFAULT_PROFILE, "<built-in default>")?;
    let loaded = LoadedManifest {
        manifest,
        path: None,
        base_dir: cwd.to_path_buf(),
        extra_policies: Vec::new(),
    };
    Ok((loaded, ManifestSource::BuiltinDefault))
}

/// Reads, parses and validates one manifest file and the Cedar files it includes.
pub fn load_file(path: &Path) -> Result<LoadedManifest, ManifestError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ManifestError::file(&origin, format!("cannot read the manifest: {e}"))
            .with_help("create one with `cordon init`, or name another with `--policy FILE`")
    })?;
    let manifest = Manifest::parse(&text, &origin)?;
    let base_dir = path
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    let base_dir = std::path::absolute(&base_dir).unwrap_or(base_dir);
    let mut extra_policies = Vec::new();
    for include in &manifest.policy.include {
        let file = super::absolutize(&base_dir, include);
        let policy_text = std::fs::read_to_string(&file).map_err(|e| {
            ManifestError::file(
                &origin,
                format!(
                    "cannot read Cedar file `{}` named in [policy] include: {e}",
                    file.display()
                ),
            )
        })?;
        extra_policies.push((file, policy_text));
    }
    Ok(LoadedManifest {
        manifest,
        path: Some(path.to_path_buf()),
        base_dir,
        extra_policies,
    })
}
