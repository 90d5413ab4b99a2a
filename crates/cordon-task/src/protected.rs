//! Paths a host later executes or trusts: a change there runs code outside the
//! sandbox (a git hook, a shell rc file, an editor task, CI) or rewrites the rules
//! (cordon.toml, an agent's settings), so `apply` needs `--include-protected`.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use std::sync::OnceLock;

/// Workspace-relative patterns; each also covers everything below it.
const PROTECTED: &[&str] = &[
    ".git/hooks",
    ".git/config",
    "**/.bashrc",
    "**/.bash_profile",
    "**/.bash_login",
    "**/.bash_logout",
    "**/.profile",
    "**/.zshrc",
    "**/.zshenv",
    "**/.zprofile",
    "**/.zlogin",
    "**/.vscode",
    "**/.mcp.json",
    "**/.claude",
    "**/.cursor",
    ".github/workflows",
    "**/.gitlab-ci.yml",
    "**/cordon.toml",
    "**/.envrc",
];

fn set() -> Option<&'static GlobSet> {
    static SET: OnceLock<Option<GlobSet>> = OnceLock::new();
    SET.get_or_init(|| {
        let mut builder = GlobSetBuilder::new();
        for pattern in PROTECTED {
            for glob in [(*pattern).to_owned(), format!("{pattern}/**")] {
                // Case-insensitive: a case-folding file system or a tool that looks
                // the name up loosely must not slip past.
                let glob = GlobBuilder::new(&glob)
                    .literal_separator(true)
                    .case_insensitive(true)
                    .build()
                    .ok()?;
                builder.add(glob);
            }
        }
        builder.build().ok()
    })
    .as_ref()
}

/// Whether a workspace-relative path (`/`-separated) is protected. If the pattern set
/// could not be built, everything is protected.
#[must_use]
pub fn is_protected(rel: &str) -> bool {
    set().is_none_or(|set| set.is_match(rel))
}

#[cfg(test)]
mod tests {
    use super::is_protected;

    #[test]
    fn hooks_rc_files_agent_settings_and_ci_are_protected() {
        for path in [
            ".git/hooks/pre-commit",
            ".git/hooks",
            ".git/config",
            ".bashrc",
            "sub/.zshrc",
            ".vscode/tasks.json",
            ".mcp.json",
            ".claude/settings.json",
            ".cursor/rules",
            ".github/workflows/ci.yml",
            ".GitHub/Workflows/ci.yml",
            ".gitlab-ci.yml",
            "cordon.toml",
            "infra/cordon.toml",
            ".envrc",
        ] {
            assert!(is_protected(path), "{path}");
        }
        for path in [
            "src/main.rs",
            ".git/HEAD",
            ".github/CODEOWNERS",
            "bashrc",
            "docs/cordon.toml.md",
        ] {
            assert!(!is_protected(path), "{path}");
        }
    }
}
