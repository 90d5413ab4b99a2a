//! The built-in list of secret paths hidden inside every sandbox.

use std::path::{Path, PathBuf};

/// Paths under `$HOME` that hold credentials.
const HOME_SECRETS: &[&str] = &[
    ".aws",
    ".ssh",
    ".gnupg",
    ".kube",
    ".config/gcloud",
    ".azure",
    ".config/railway",
    ".fly",
    ".docker/config.json",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
    ".config/gh",
];

/// The built-in hidden paths for a user whose home is `home`, plus cordon's own state
/// directory `cordon_home` (keys, audit, other tasks' upper dirs).
///
/// Paths that do not exist inside the sandbox are skipped when it starts. Workspace
/// globs such as `**/.env*` and `*.pem` are not covered here yet.
#[must_use]
pub fn default_hidden_paths(home: &Path, cordon_home: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = HOME_SECRETS.iter().map(|rel| home.join(rel)).collect();
    paths.push(cordon_home.to_path_buf());
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_secrets_and_cordon_home_are_listed() {
        let paths = default_hidden_paths(
            Path::new("/home/u"),
            Path::new("/home/u/.local/state/cordon"),
        );
        assert!(paths.contains(&PathBuf::from("/home/u/.aws")));
        assert!(paths.contains(&PathBuf::from("/home/u/.docker/config.json")));
        assert!(paths.contains(&PathBuf::from("/home/u/.local/state/cordon")));
        assert!(paths.iter().all(|p| p.is_absolute()));
    }
}
