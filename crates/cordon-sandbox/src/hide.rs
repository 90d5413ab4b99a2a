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

/// Directories under `$HOME` where container engines, VMs and agents keep the unix
/// sockets of services that run as the user: Docker Desktop and rootless Docker,
/// Colima, Lima, OrbStack, Rancher Desktop, Podman, 1Password's SSH agent, and the
/// remote servers of VS Code and Cursor. Connecting to a socket needs no write access
/// to its file system, only to the socket, so a read-only `$HOME` does not stop it, and
/// one `docker.sock` is the whole host (`docker run -v /:/host`). Landlock controls
/// this from its `RESOLVE_UNIX` right (Linux 7.1); until a kernel has it, hiding where
/// the sockets live is what keeps them out of reach.
const HOME_SOCKET_DIRS: &[&str] = &[
    ".docker/run",
    ".docker/desktop",
    ".colima",
    ".config/colima",
    ".lima",
    ".orbstack",
    ".rd",
    ".local/share/containers",
    ".1password",
    ".vscode-server",
    ".cursor-server",
];

/// The built-in hidden paths for a user whose home is `home`, plus cordon's own state
/// directory `cordon_home` (keys, audit, other tasks' upper dirs).
///
/// Paths that do not exist inside the sandbox are skipped when it starts. Workspace
/// globs such as `**/.env*` and `*.pem` are not covered here yet.
#[must_use]
pub fn default_hidden_paths(home: &Path, cordon_home: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = HOME_SECRETS
        .iter()
        .chain(HOME_SOCKET_DIRS)
        .map(|rel| home.join(rel))
        .collect();
    paths.push(cordon_home.to_path_buf());
    paths
}

/// Where the hidden files worth finding hard links to live: the credential paths
/// under `home` and cordon's own keys. Not the socket directories and not the tasks
/// under `cordon_home`: walking them (an editor's server, every earlier task's
/// workspace copy) cost start-up time that grew with each run, for no secret file.
#[must_use]
pub fn linked_secret_paths(home: &Path, cordon_home: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = HOME_SECRETS.iter().map(|rel| home.join(rel)).collect();
    paths.extend(
        ["keys", "ca", "audit", "cordon.db"]
            .iter()
            .map(|name| cordon_home.join(name)),
    );
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
        assert!(paths.contains(&PathBuf::from("/home/u/.docker/run")));
        assert!(paths.contains(&PathBuf::from("/home/u/.local/state/cordon")));
        assert!(paths.iter().all(|p| p.is_absolute()));
    }
}
