//! Agent profiles for `cordon run`: what a coding agent needs so that the common case
//! runs without a manifest. Its configuration directory, copy-on-write (the agent
//! writes its state, sessions and settings there, but a settings file the host later
//! trusts is exactly where a hook would be planted, so the host's copy never
//! changes); its model API's hosts; its API key as a credential, so the agent holds a
//! phantom; and its inference calls read as reads, so a read-only task can think.

use anyhow::{Context, Result};
use cordon_core::Effect;
use cordon_core::manifest::{
    Credential, EffectName, Glob, HostPattern, HttpMethod, LoadedManifest, NetworkRoute,
};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// One agent's needs.
#[derive(Debug)]
pub struct Profile {
    pub name: &'static str,
    /// Program names that pick it (the command's first word, without its directory).
    pub commands: &'static [&'static str],
    /// Configuration directories under `$HOME`, shown copy-on-write (created empty on
    /// the host when missing, so there is something to show).
    pub dirs: &'static [&'static str],
    /// Variables pointing the agent at its directory, set inside: the agent's files
    /// outside it (`~/.claude.json`) then live in it too.
    pub dir_vars: &'static [(&'static str, &'static str)],
    /// Files under `$HOME` the agent keeps outside its directory, seeded into the
    /// directory's copy when the directory has none (`~/.claude.json` becomes
    /// `~/.claude/.claude.json` with `CLAUDE_CONFIG_DIR` set).
    pub seeds: &'static [(&'static str, &'static str)],
    /// Hosts it talks to: its model API, sign-in, its own services.
    pub hosts: &'static [&'static str],
    /// API keys it reads from the environment, and the hosts each is for.
    pub keys: &'static [(&'static str, &'static [&'static str])],
    /// Paths (POST) that only ask the model, by host.
    pub inference: &'static [(&'static str, &'static [&'static str])],
}

const ANTHROPIC_INFERENCE: (&str, &[&str]) = (
    "api.anthropic.com",
    &["/v1/messages", "/v1/messages/count_tokens", "/v1/complete"],
);
const OPENAI_INFERENCE: (&str, &[&str]) = (
    "api.openai.com",
    &[
        "/v1/responses",
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
    ],
);
const GEMINI_INFERENCE: (&str, &[&str]) = (
    "generativelanguage.googleapis.com",
    &[
        "/v1beta/models/*:generateContent",
        "/v1beta/models/*:streamGenerateContent",
        "/v1beta/models/*:countTokens",
        "/v1/models/*:generateContent",
        "/v1/models/*:streamGenerateContent",
        "/v1/models/*:countTokens",
    ],
);

pub const PROFILES: &[Profile] = &[
    Profile {
        name: "claude",
        commands: &["claude"],
        dirs: &[".claude"],
        dir_vars: &[("CLAUDE_CONFIG_DIR", ".claude")],
        seeds: &[(".claude.json", ".claude/.claude.json")],
        hosts: &[
            "api.anthropic.com",
            "console.anthropic.com",
            "claude.ai",
            "statsig.anthropic.com",
        ],
        keys: &[("ANTHROPIC_API_KEY", &["api.anthropic.com"])],
        inference: &[ANTHROPIC_INFERENCE],
    },
    Profile {
        name: "codex",
        commands: &["codex"],
        dirs: &[".codex"],
        dir_vars: &[("CODEX_HOME", ".codex")],
        seeds: &[],
        hosts: &["api.openai.com", "chatgpt.com", "auth.openai.com"],
        keys: &[
            ("OPENAI_API_KEY", &["api.openai.com"]),
            ("CODEX_API_KEY", &["api.openai.com"]),
        ],
        inference: &[OPENAI_INFERENCE],
    },
    Profile {
        name: "gemini",
        commands: &["gemini"],
        dirs: &[".gemini"],
        dir_vars: &[],
        seeds: &[],
        hosts: &[
            "generativelanguage.googleapis.com",
            "cloudcode-pa.googleapis.com",
            "oauth2.googleapis.com",
            "accounts.google.com",
            "www.googleapis.com",
        ],
        keys: &[
            ("GEMINI_API_KEY", &["generativelanguage.googleapis.com"]),
            ("GOOGLE_API_KEY", &["generativelanguage.googleapis.com"]),
        ],
        inference: &[GEMINI_INFERENCE],
    },
    Profile {
        name: "cursor-agent",
        commands: &["cursor-agent"],
        dirs: &[".cursor"],
        dir_vars: &[],
        seeds: &[],
        hosts: &["*.cursor.sh", "cursor.com", "*.cursor.com"],
        keys: &[("CURSOR_API_KEY", &["*.cursor.sh", "*.cursor.com"])],
        inference: &[],
    },
    Profile {
        name: "aider",
        commands: &["aider"],
        dirs: &[".aider"],
        dir_vars: &[],
        seeds: &[],
        hosts: &[
            "api.openai.com",
            "api.anthropic.com",
            "openrouter.ai",
            "generativelanguage.googleapis.com",
            "api.deepseek.com",
            "pypi.org",
        ],
        keys: &[
            ("OPENAI_API_KEY", &["api.openai.com"]),
            ("ANTHROPIC_API_KEY", &["api.anthropic.com"]),
            ("OPENROUTER_API_KEY", &["openrouter.ai"]),
            ("GEMINI_API_KEY", &["generativelanguage.googleapis.com"]),
            ("DEEPSEEK_API_KEY", &["api.deepseek.com"]),
        ],
        inference: &[
            ANTHROPIC_INFERENCE,
            OPENAI_INFERENCE,
            GEMINI_INFERENCE,
            ("openrouter.ai", &["/api/v1/chat/completions"]),
            (
                "api.deepseek.com",
                &["/chat/completions", "/v1/chat/completions"],
            ),
        ],
    },
];

/// The profile `--profile` names, or the one the command's program picks. `none`
/// turns detection off.
pub fn choose(
    explicit: Option<&str>,
    command: &[std::ffi::OsString],
) -> Result<Option<&'static Profile>> {
    match explicit {
        Some("none") => Ok(None),
        Some(name) => PROFILES
            .iter()
            .find(|p| p.name == name)
            .map(Some)
            .with_context(|| {
                format!(
                    "no agent profile `{name}`; there are: {}, and `none`",
                    PROFILES
                        .iter()
                        .map(|p| p.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }),
        None => {
            let program = command
                .first()
                .map(Path::new)
                .and_then(Path::file_name)
                .and_then(OsStr::to_str)
                .unwrap_or_default();
            Ok(PROFILES.iter().find(|p| p.commands.contains(&program)))
        }
    }
}

impl Profile {
    /// The task widened by what the agent needs: its hosts, its inference paths, and
    /// a credential for each API key the host's environment holds (unless the manifest
    /// already carries that variable).
    pub fn widen(&self, loaded: &mut LoadedManifest) -> Result<()> {
        let manifest = &mut loaded.manifest;
        for host in self.hosts {
            if !manifest.network.allow.iter().any(|h| h.0 == *host) {
                manifest.network.allow.push(HostPattern((*host).to_owned()));
            }
        }
        for (host, paths) in self.inference {
            manifest.network.inference.push(NetworkRoute {
                host: HostPattern((*host).to_owned()),
                methods: vec![HttpMethod("POST".to_owned())],
                paths: paths.iter().map(|p| Glob((*p).to_owned())).collect(),
                effect: EffectName(Effect::Read),
            });
        }
        for (var, hosts) in self.keys {
            let present = std::env::var_os(var).is_some_and(|v| !v.is_empty());
            let carried = manifest.credentials.iter().any(|c| {
                c.env_var.as_ref().is_some_and(|e| e.0 == *var)
                    || matches!(&c.source, cordon_core::manifest::CredentialSource::Env(v) if v == var)
            });
            if !present || carried {
                continue;
            }
            let name = format!(
                "{}-{}",
                self.name,
                var.to_ascii_lowercase().replace('_', "-")
            );
            let hosts: Vec<String> = hosts.iter().map(|h| format!("{h:?}")).collect();
            // Parsed like a manifest's own entry, so it is checked the same way.
            let text = format!(
                "name = {name:?}\nsource = \"env:{var}\"\nenv_var = {var:?}\nhosts = [{}]\nallow = [\"model.inference\", \"http.GET\", \"http.POST\"]\n",
                hosts.join(", ")
            );
            let credential: Credential = toml::from_str(&text)
                .with_context(|| format!("the {} profile's credential for {var}", self.name))?;
            manifest.credentials.push(credential);
        }
        Ok(())
    }

    /// The configuration directories to show copy-on-write, created on the host when
    /// missing (empty, owner-only).
    pub fn config_dirs(&self, home: &Path) -> Result<Vec<PathBuf>> {
        let mut dirs = Vec::new();
        for dir in self.dirs {
            let path = home.join(dir);
            if !path.exists() {
                std::fs::create_dir_all(&path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
                    .with_context(|| format!("cannot make {} private", path.display()))?;
            }
            dirs.push(path);
        }
        Ok(dirs)
    }

    /// Variables set inside.
    pub fn env(&self, home: &Path) -> Vec<(String, String)> {
        self.dir_vars
            .iter()
            .map(|(var, dir)| ((*var).to_owned(), home.join(dir).display().to_string()))
            .collect()
    }

    /// Copies the agent's files that live outside its directory into the copy's upper
    /// layer, `upper_of(dir)`, where the agent will look for them.
    pub fn seed(&self, home: &Path, upper_of: impl Fn(&Path) -> PathBuf) -> Result<()> {
        for (from, to) in self.seeds {
            let source = home.join(from);
            let inside = home.join(to);
            if !source.is_file() || inside.exists() {
                continue;
            }
            let Some(dir) = self
                .dirs
                .iter()
                .map(|d| home.join(d))
                .find(|d| inside.starts_with(d))
            else {
                continue;
            };
            let Ok(rest) = inside.strip_prefix(&dir) else {
                continue;
            };
            let target = upper_of(&dir).join(rest);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            std::fs::copy(&source, &target)
                .with_context(|| format!("cannot copy {} for the agent", source.display()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing test fails loudly")]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn the_program_picks_the_profile_and_none_turns_it_off() {
        let cmd = |s: &str| vec![OsString::from(s), OsString::from("-p")];
        assert_eq!(
            choose(None, &cmd("/usr/local/bin/claude"))
                .unwrap()
                .unwrap()
                .name,
            "claude"
        );
        assert_eq!(choose(None, &cmd("codex")).unwrap().unwrap().name, "codex");
        assert!(choose(None, &cmd("npm")).unwrap().is_none());
        assert!(choose(None, &cmd("claude-helper")).unwrap().is_none());
        assert!(choose(Some("none"), &cmd("claude")).unwrap().is_none());
        assert_eq!(
            choose(Some("aider"), &cmd("bash")).unwrap().unwrap().name,
            "aider"
        );
        let unknown = choose(Some("clade"), &cmd("bash")).unwrap_err().to_string();
        assert!(unknown.contains("claude, codex"), "{unknown}");
    }

    #[test]
    fn every_profile_is_well_formed() {
        for profile in PROFILES {
            assert!(
                !profile.commands.is_empty() && !profile.dirs.is_empty(),
                "{}",
                profile.name
            );
            for (_, dir) in profile.dir_vars {
                assert!(profile.dirs.contains(dir), "{}", profile.name);
            }
            for (host, _) in profile.inference {
                assert!(profile.hosts.contains(host), "{} {host}", profile.name);
            }
            for (_, hosts) in profile.keys {
                for host in *hosts {
                    assert!(profile.hosts.contains(host), "{} {host}", profile.name);
                }
            }
        }
    }
}
