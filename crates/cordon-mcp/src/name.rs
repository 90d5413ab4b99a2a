//! The name a server's tools carry in policy when the operator does not give one.

use std::ffi::OsString;
use std::path::Path;

/// Programs that start the real server named by a later argument.
const LAUNCHERS: [&str; 10] = [
    "npx", "node", "bunx", "bun", "deno", "uvx", "uv", "python", "python3", "pnpm",
];

/// `npx -y @modelcontextprotocol/server-filesystem /w` gives `filesystem`,
/// `/usr/bin/mcp-server-everything` gives `everything`; `None` when nothing is left.
pub fn derive(command: &[OsString]) -> Option<String> {
    let words: Vec<String> = command
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    let mut index = 0;
    while let Some(word) = words.get(index) {
        let base = Path::new(word)
            .file_name()
            .map(|b| b.to_string_lossy().into_owned())
            .unwrap_or_default();
        let program = base.trim_end_matches(".exe");
        if index == 0 && !LAUNCHERS.contains(&program) {
            return clean(program);
        }
        if index > 0
            && !word.starts_with('-')
            && !matches!(word.as_str(), "run" | "exec" | "dlx" | "x")
        {
            return clean(word.rsplit('/').next().unwrap_or(word));
        }
        index += 1;
    }
    None
}

fn clean(word: &str) -> Option<String> {
    let word = word.split('@').next().unwrap_or(word);
    let word = word
        .strip_suffix(".js")
        .or_else(|| word.strip_suffix(".py"))
        .unwrap_or(word);
    let word = word
        .strip_prefix("mcp-server-")
        .or_else(|| word.strip_prefix("server-"))
        .unwrap_or(word);
    let word = word
        .strip_suffix("-mcp-server")
        .or_else(|| word.strip_suffix("-mcp"))
        .unwrap_or(word);
    let name: String = word
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::derive;

    fn named(words: &[&str]) -> Option<String> {
        derive(&words.iter().map(Into::into).collect::<Vec<_>>())
    }

    #[test]
    fn launchers_and_prefixes_are_seen_through() {
        assert_eq!(
            named(&["npx", "-y", "@modelcontextprotocol/server-filesystem", "/w"]).as_deref(),
            Some("filesystem")
        );
        assert_eq!(
            named(&["/usr/local/bin/mcp-server-everything"]).as_deref(),
            Some("everything")
        );
        assert_eq!(
            named(&["node", "tests/mcp/liar.js"]).as_deref(),
            Some("liar")
        );
        assert_eq!(
            named(&["github-mcp-server", "stdio"]).as_deref(),
            Some("github")
        );
        assert_eq!(
            named(&["uvx", "mcp-server-git@1.2"]).as_deref(),
            Some("git")
        );
        assert_eq!(named(&["npx"]), None);
    }
}
