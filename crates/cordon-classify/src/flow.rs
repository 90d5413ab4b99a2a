//! What flows through a pipe, a redirect or a substitution, as far as it can be known.

/// The data a command reads on stdin or writes on stdout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Flow {
    pub content: Content,
    /// The text with unknown variables left as `$NAME`, for a shell that would run it
    /// (`echo "rm -rf $DIR" | sh`).
    pub script: Option<String>,
    /// Carries secret material (a key file, a credentials file, a token).
    pub secret: bool,
    /// Carries the environment's variables (`env`, `printenv`), which hold tokens.
    pub env_dump: bool,
    /// Was downloaded from the network, so its text is not ours to see.
    pub remote: bool,
    /// A path pattern naming the files listed (`find . -name '*.pyc'`), for `xargs`.
    pub paths: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Content {
    /// Nothing: a terminal, or `/dev/null`.
    #[default]
    Nothing,
    /// Exactly this text.
    Text(String),
    /// Something not known before the command runs.
    Opaque,
}

impl Flow {
    pub fn text(text: impl Into<String>) -> Flow {
        let text = text.into();
        Flow {
            script: Some(text.clone()),
            content: Content::Text(text),
            ..Flow::default()
        }
    }

    /// Text a shell reading this would run, as far as it is known.
    pub fn script_text(&self) -> Option<&str> {
        match &self.content {
            Content::Text(t) => Some(t),
            Content::Nothing => None,
            Content::Opaque => self.script.as_deref(),
        }
    }

    pub fn opaque() -> Flow {
        Flow {
            content: Content::Opaque,
            ..Flow::default()
        }
    }

    pub fn literal(&self) -> Option<&str> {
        match &self.content {
            Content::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn is_nothing(&self) -> bool {
        self.content == Content::Nothing
    }

    /// An opaque flow that keeps this one's taint: what a filter (`sort`, `gzip`, `tr`)
    /// makes of its input.
    pub fn transformed(&self) -> Flow {
        Flow {
            content: Content::Opaque,
            script: None,
            paths: None,
            ..self.clone()
        }
    }

    /// Output of two commands written one after another to the same place.
    pub fn then(self, next: Flow) -> Flow {
        let script = match (self.script_text(), next.script_text()) {
            (Some(a), Some(b)) => Some(format!("{a}{b}")),
            (Some(a), None) if next.is_nothing() => Some(a.to_string()),
            (None, Some(b)) if self.is_nothing() => Some(b.to_string()),
            _ => None,
        };
        let content = match (self.content, next.content) {
            (Content::Nothing, c) | (c, Content::Nothing) => c,
            (Content::Text(a), Content::Text(b)) => Content::Text(a + &b),
            _ => Content::Opaque,
        };
        Flow {
            content,
            script,
            secret: self.secret || next.secret,
            env_dump: self.env_dump || next.env_dump,
            remote: self.remote || next.remote,
            paths: None,
        }
    }
}
