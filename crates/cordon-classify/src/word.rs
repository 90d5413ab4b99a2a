//! A word after expansion, as far as it can be known before the command runs.

use crate::flow::Flow;

/// Marker returned by [`Arg::s`] for a word whose value is not known; it never equals
/// an option or a keyword.
const UNKNOWN: &str = "\u{0}unknown";

#[derive(Debug, Clone, Default)]
pub(crate) struct Arg {
    /// The full value, when every part of the word is known.
    pub lit: Option<String>,
    /// The known text before the first unknown part.
    pub prefix: String,
    /// The value with unknown variables left as `$NAME`, for re-parsing a script
    /// string; `None` when a command substitution makes the text unknowable.
    pub script: Option<String>,
    /// Source text, for messages.
    pub raw: String,
    /// Carries output of a command that read a secret.
    pub tainted: bool,
    /// Variables the word refers to.
    pub vars: Vec<String>,
    /// For `<( … )`: what the file it names would contain.
    pub flow: Option<Flow>,
    /// Contains a command substitution.
    pub has_subst: bool,
    /// Holds an unquoted variable whose value has spaces: bash splits it into words.
    pub split: bool,
}

impl Arg {
    pub fn literal(text: impl Into<String>) -> Arg {
        let text = text.into();
        Arg {
            lit: Some(text.clone()),
            prefix: text.clone(),
            script: Some(text.clone()),
            raw: text,
            ..Arg::default()
        }
    }

    /// A word whose value is only known at run time (what `xargs` appends).
    pub fn unknown(raw: &str) -> Arg {
        Arg {
            raw: raw.to_string(),
            script: Some("\"$CORDON_UNKNOWN\"".to_string()),
            vars: vec!["CORDON_UNKNOWN".to_string()],
            ..Arg::default()
        }
    }

    /// The value, or a marker that matches nothing when it is not known.
    pub fn s(&self) -> &str {
        self.lit.as_deref().unwrap_or(UNKNOWN)
    }

    pub fn known(&self) -> bool {
        self.lit.is_some()
    }

    pub fn is(&self, value: &str) -> bool {
        self.lit.as_deref() == Some(value)
    }

    /// Best text for messages: the value if known, else the source.
    pub fn show(&self) -> &str {
        self.lit.as_deref().unwrap_or(&self.raw)
    }

    pub fn is_option(&self) -> bool {
        self.s().starts_with('-') && self.s() != "-"
    }

    /// `--name=value` → the value of a long option.
    pub fn long_value(&self, name: &str) -> Option<&str> {
        self.lit
            .as_deref()
            .and_then(|s| s.strip_prefix(name))
            .and_then(|s| s.strip_prefix('='))
    }

    /// The part after `=` as an argument of its own (`of=/dev/sda`, `--output=x`),
    /// keeping what is known of it.
    pub fn after_eq(&self) -> Arg {
        let split = |s: &str| s.split_once('=').map(|(_, v)| v.to_string());
        Arg {
            lit: self.lit.as_deref().and_then(split),
            prefix: split(&self.prefix).unwrap_or_default(),
            script: self.script.as_deref().and_then(split),
            raw: split(&self.raw).unwrap_or_else(|| self.raw.clone()),
            tainted: self.tainted,
            vars: self.vars.clone(),
            flow: None,
            has_subst: self.has_subst,
            split: false,
        }
    }

    /// A copy holding only the text after the first `n` bytes (`-oFILE` → `FILE`).
    pub fn tail(&self, n: usize) -> Arg {
        let cut = |s: &str| s.get(n..).map(str::to_string);
        Arg {
            lit: self.lit.as_deref().and_then(cut),
            prefix: cut(&self.prefix).unwrap_or_default(),
            script: self.script.as_deref().and_then(cut),
            raw: cut(&self.raw).unwrap_or_default(),
            tainted: self.tainted,
            vars: self.vars.clone(),
            flow: None,
            has_subst: self.has_subst,
            split: false,
        }
    }
}

/// The operands among `args`: the words that are not options, with the value after each
/// of `value_opts` skipped (`truncate -s 0 f` → `f`). `--` counts as an option.
pub(crate) fn operands<'a>(args: &'a [Arg], value_opts: &[&str]) -> Vec<&'a Arg> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if value_opts.contains(&a.s()) {
            it.next();
        } else if !a.is_option() {
            out.push(a);
        }
    }
    out
}

/// Expands `{a,b}` alternatives in a literal word (bash does this before anything
/// else), up to a bounded number of results.
pub(crate) fn brace_expand(text: &str) -> Vec<String> {
    const LIMIT: usize = 64;
    let mut out = Vec::new();
    expand_into(text, &mut out, LIMIT, 0);
    if out.is_empty() {
        out.push(text.to_string());
    }
    out
}

fn expand_into(text: &str, out: &mut Vec<String>, limit: usize, depth: usize) {
    if out.len() >= limit {
        return;
    }
    let Some((open, close)) = find_brace(text) else {
        out.push(text.to_string());
        return;
    };
    if depth > 8 {
        out.push(text.to_string());
        return;
    }
    let (Some(head), Some(body), Some(tail)) = (
        text.get(..open),
        text.get(open + 1..close),
        text.get(close + 1..),
    ) else {
        out.push(text.to_string());
        return;
    };
    for alt in split_top_commas(body) {
        expand_into(&format!("{head}{alt}{tail}"), out, limit, depth + 1);
        if out.len() >= limit {
            return;
        }
    }
}

/// The first `{…}` holding a top-level comma.
fn find_brace(text: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes.get(i) == Some(&b'{') && (i == 0 || bytes.get(i - 1) != Some(&b'$')) {
            let mut depth = 0usize;
            let mut comma = false;
            for (j, &b) in bytes.iter().enumerate().skip(i) {
                match b {
                    b'{' => depth += 1,
                    b'}' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            if comma {
                                return Some((i, j));
                            }
                            break;
                        }
                    }
                    b',' if depth == 1 => comma = true,
                    _ => {}
                }
            }
        }
        i += 1;
    }
    None
}

fn split_top_commas(body: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(body.get(start..i).unwrap_or(""));
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(body.get(start..).unwrap_or(""));
    parts
}

/// The program name bash would look up: the last path component.
pub(crate) fn program_name(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// Splits a string into words the way a simple shell would (quotes, backslashes), for
/// tools that take a command as one string (`watch`, `ssh`). Returns `None` on
/// unbalanced quotes.
pub(crate) fn shell_split(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return None,
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x @ ('"' | '\\' | '$' | '`')) => cur.push(x),
                            Some(x) => {
                                cur.push('\\');
                                cur.push(x);
                            }
                            None => return None,
                        },
                        Some(x) => cur.push(x),
                        None => return None,
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(x) = chars.next() {
                    cur.push(x);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_expand_alternatives() {
        assert_eq!(brace_expand("{dist,build}"), vec!["dist", "build"]);
        assert_eq!(brace_expand("a/{b,c}/d"), vec!["a/b/d", "a/c/d"]);
        assert_eq!(brace_expand("${x}"), vec!["${x}"]);
        assert_eq!(brace_expand("{a}"), vec!["{a}"]);
    }

    #[test]
    fn split_honours_quotes() {
        assert_eq!(
            shell_split(r#"rm -rf "a b" 'c d' e\ f"#),
            Some(vec![
                "rm".into(),
                "-rf".into(),
                "a b".into(),
                "c d".into(),
                "e f".into()
            ])
        );
        assert_eq!(shell_split("'open"), None);
    }
}
