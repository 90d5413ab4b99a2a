//! tree-sitter-bash's tree, reduced to the few shapes the engine judges.
//!
//! tree-sitter accepts anything and marks what it could not read with ERROR or MISSING
//! nodes; such a tree is refused whole, because a misread command is worse than none.
//! Some misreads raise no error (a heredoc's pipeline ends up inside the redirect), so
//! this module also straightens those out.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use std::cell::RefCell;

use tree_sitter::{Node as TsNode, ParseOptions, Parser, TreeCursor};

/// Tree levels followed before giving up; every `$(` costs about four.
pub(crate) const MAX_TREE_DEPTH: usize = 192;
/// Larger inputs are not parsed at all.
pub(crate) const MAX_INPUT_BYTES: usize = 1 << 20;
/// A parse taking longer than this is abandoned (tree-sitter's error recovery can be
/// slow on hostile input).
const PARSE_TIME_LIMIT: Duration = Duration::from_millis(500);

/// A statement, as the engine walks it.
#[derive(Debug)]
pub(crate) enum Node {
    /// Statements run one after another (`;`, newlines).
    Seq(Vec<Node>),
    /// `a && b`, `a || b`.
    List {
        left: Box<Node>,
        or: bool,
        right: Box<Node>,
    },
    /// `a | b | c`: each stage's stdout is the next one's stdin.
    Pipeline(Vec<Node>),
    Cmd(Box<Cmd>),
    /// `( … )`: changes to variables and the directory stay inside.
    Subshell(Box<Node>),
    Redirected {
        body: Box<Node>,
        redirects: Vec<Redirect>,
    },
    /// `if`, `while`, `case`, `until`: everything inside is judged, but assignments and
    /// `cd` inside may or may not happen.
    Branches(Vec<Node>),
    For {
        var: String,
        /// `None` for `for x; do` (the positional parameters).
        values: Option<Vec<Word>>,
        body: Box<Node>,
    },
    Function {
        name: String,
        body: Box<Node>,
    },
    Assign(Vec<Assignment>),
    /// Unset variables become unknown.
    Unset(Vec<String>),
    /// A construct whose only effects are the substitutions inside it (tests,
    /// arithmetic, case patterns).
    Inner(Vec<Word>),
    /// Could not be read; judged unknown.
    Unreadable(String),
}

#[derive(Debug)]
pub(crate) struct Cmd {
    pub assigns: Vec<Assignment>,
    pub words: Vec<Word>,
    pub redirects: Vec<Redirect>,
    /// Source text, for findings.
    pub text: String,
}

#[derive(Debug)]
pub(crate) struct Assignment {
    pub name: String,
    pub value: Option<Word>,
}

#[derive(Debug)]
pub(crate) enum Redirect {
    /// `>`, `>>`, `&>`, `>|`, `<>`; `fd` is the descriptor written (1 unless given).
    Out { fd: u32, target: Word },
    /// `< file`.
    In { target: Word },
    /// `<<EOF`; the body is a word (expansions inside unless the delimiter was quoted).
    Heredoc { body: Word },
    /// `<<< word`.
    HereString { word: Word },
    /// `>&2`, `2>&1`, `<&0`: no file involved.
    Dup,
}

/// A shell word: literal pieces, variables and substitutions, concatenated.
#[derive(Debug, Default)]
pub(crate) struct Word {
    pub parts: Vec<Part>,
    /// Source text, for messages and for re-parsing.
    pub raw: String,
}

#[derive(Debug)]
pub(crate) enum Part {
    /// Literal text with quoting and escapes removed. Quoted text is never a glob and
    /// never expands `~`.
    Lit { text: String, quoted: bool },
    /// `$NAME`, `${NAME}`, `${NAME:-default}`; unquoted values are split into words.
    Var {
        name: String,
        default: Option<Box<Word>>,
        quoted: bool,
    },
    /// `$( … )` or backticks.
    Subst(Box<Node>),
    /// `<( … )` or `>( … )`.
    Proc(Box<Node>),
    /// Anything whose value cannot be known (`$#`, `${x:0:4}`, `$(( … ))`); the
    /// substitutions inside still run. Names the variables it reads.
    Dynamic(Vec<Word>, Vec<String>),
}

/// Why a command line could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ParseError {
    #[error("the command is longer than {MAX_INPUT_BYTES} bytes")]
    TooLong,
    #[error("bash could not be parsed (syntax error or unfinished construct)")]
    Syntax,
    #[error("parsing took too long")]
    Timeout,
    #[error("the bash parser could not be loaded")]
    Language,
}

/// Parses `source` into a statement sequence.
pub(crate) fn parse(source: &str) -> Result<Node, ParseError> {
    if source.len() > MAX_INPUT_BYTES {
        return Err(ParseError::TooLong);
    }
    // Building a parser and loading the grammar costs more than parsing a short command,
    // so each thread keeps one. A parse never re-enters `parse` while it holds it; if
    // that ever changed, the fallback builds a fresh parser rather than failing.
    PARSER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => {
            if slot.is_none() {
                *slot = Some(new_parser()?);
            }
            match slot.as_mut() {
                Some(parser) => parse_with(parser, source),
                None => Err(ParseError::Language),
            }
        }
        Err(_) => parse_with(&mut new_parser()?, source),
    })
}

thread_local! {
    static PARSER: std::cell::RefCell<Option<Parser>> = const { std::cell::RefCell::new(None) };
}

fn new_parser() -> Result<Parser, ParseError> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_bash::LANGUAGE.into())
        .map_err(|_| ParseError::Language)?;
    Ok(parser)
}

fn parse_with(parser: &mut Parser, source: &str) -> Result<Node, ParseError> {
    // Bash reads `cmd` and `cmd\n` alike, but tree-sitter-bash does not: at the end of
    // input some states (the third stage of a pipeline, `a | b | c`) leave a second GLR
    // version in error, and tree-sitter runs its error recovery on it even after the
    // first version has accepted, which costs more than the rest of the parse. With a
    // final newline that version never forms. A trailing backslash is left alone:
    // before a newline it would join lines, at the very end bash keeps it.
    let terminated;
    let source = if source.is_empty() || source.ends_with('\n') || source.ends_with('\\') {
        source
    } else {
        let mut text = String::with_capacity(source.len() + 1);
        text.push_str(source);
        text.push('\n');
        terminated = text;
        terminated.as_str()
    };
    // A parse cancelled by the time limit would otherwise resume on the next call,
    // mixing one command's text into another's tree.
    parser.reset();
    let started = Instant::now();
    let mut progress = |_: &tree_sitter::ParseState| {
        if started.elapsed() > PARSE_TIME_LIMIT {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let bytes = source.as_bytes();
    let mut read = |offset: usize, _| bytes.get(offset..).unwrap_or_default();
    let options = ParseOptions::new().progress_callback(&mut progress);
    let tree = parser
        .parse_with_options(&mut read, None, Some(options))
        .ok_or(ParseError::Timeout)?;
    let root = tree.root_node();
    if root.has_error() {
        return Err(ParseError::Syntax);
    }
    let builder = Builder {
        src: source,
        in_quotes: std::cell::Cell::new(false),
        cursors: RefCell::new(Vec::new()),
    };
    Ok(builder.block(root, 0))
}

struct Builder<'s, 't> {
    src: &'s str,
    /// Inside a double-quoted string while building parts.
    in_quotes: std::cell::Cell<bool>,
    /// Tree cursors not in use. Each walk over a node's children takes one and gives it
    /// back, so building a tree allocates no cursor (nor a list of children) per node.
    cursors: RefCell<Vec<TreeCursor<'t>>>,
}

/// A node's children (all, or only the named ones) with their field names, walked
/// with a cursor borrowed from the builder's pool.
struct Children<'b, 't> {
    pool: &'b RefCell<Vec<TreeCursor<'t>>>,
    cursor: Option<TreeCursor<'t>>,
    named_only: bool,
    started: bool,
}

impl<'t> Iterator for Children<'_, 't> {
    type Item = (Option<&'t str>, TsNode<'t>);

    fn next(&mut self) -> Option<Self::Item> {
        let cursor = self.cursor.as_mut()?;
        loop {
            let moved = if self.started {
                cursor.goto_next_sibling()
            } else {
                self.started = true;
                cursor.goto_first_child()
            };
            if !moved {
                // At the end (or on a leaf, where a sibling step would leave the node):
                // done, and the cursor goes back to the pool.
                if let (Some(c), Ok(mut pool)) = (self.cursor.take(), self.pool.try_borrow_mut()) {
                    pool.push(c);
                }
                return None;
            }
            let node = cursor.node();
            if !self.named_only || node.is_named() {
                return Some((cursor.field_name(), node));
            }
        }
    }
}

impl Drop for Children<'_, '_> {
    fn drop(&mut self) {
        if let (Some(c), Ok(mut pool)) = (self.cursor.take(), self.pool.try_borrow_mut()) {
            pool.push(c);
        }
    }
}

fn is_statement(kind: &str) -> bool {
    matches!(
        kind,
        "command"
            | "redirected_statement"
            | "pipeline"
            | "list"
            | "subshell"
            | "compound_statement"
            | "if_statement"
            | "while_statement"
            | "for_statement"
            | "c_style_for_statement"
            | "case_statement"
            | "function_definition"
            | "negated_command"
            | "declaration_command"
            | "unset_command"
            | "variable_assignment"
            | "variable_assignments"
            | "test_command"
    )
}

impl<'s, 't> Builder<'s, 't> {
    fn text(&self, node: TsNode) -> &'s str {
        self.src.get(node.byte_range()).unwrap_or("")
    }

    fn walk(&self, node: TsNode<'t>, named_only: bool) -> Children<'_, 't> {
        let pooled = self.cursors.try_borrow_mut().ok().and_then(|mut p| p.pop());
        let cursor = match pooled {
            Some(mut c) => {
                c.reset(node);
                c
            }
            None => node.walk(),
        };
        Children {
            pool: &self.cursors,
            cursor: Some(cursor),
            named_only,
            started: false,
        }
    }

    /// The named children of `node`.
    fn named_children(&self, node: TsNode<'t>) -> impl Iterator<Item = TsNode<'t>> + use<'_, 't> {
        self.walk(node, true).map(|(_, n)| n)
    }

    /// Every child of `node`, with its field name.
    fn children_with_fields(&self, node: TsNode<'t>) -> Children<'_, 't> {
        self.walk(node, false)
    }

    /// A node holding statements one after another.
    fn block(&self, node: TsNode<'t>, depth: usize) -> Node {
        if depth > MAX_TREE_DEPTH {
            return too_deep();
        }
        let mut stmts = Vec::new();
        for child in self.named_children(node) {
            if child.kind() == "comment" {
                continue;
            }
            stmts.push(self.stmt(child, depth + 1));
        }
        Node::Seq(stmts)
    }

    fn stmt(&self, node: TsNode<'t>, depth: usize) -> Node {
        if depth > MAX_TREE_DEPTH {
            return too_deep();
        }
        let d = depth + 1;
        match node.kind() {
            "command" => self.command(node, d),
            "redirected_statement" => self.redirected(node, d),
            "pipeline" => {
                let mut stages = Vec::new();
                for child in self.named_children(node) {
                    stages.push(self.stmt(child, d));
                }
                Node::Pipeline(stages)
            }
            "list" => {
                let mut left = None;
                let mut right = None;
                let mut or = false;
                for (_, child) in self.children_with_fields(node) {
                    if !child.is_named() {
                        if child.kind() == "||" {
                            or = true;
                        }
                        continue;
                    }
                    if child.kind() == "comment" {
                        continue;
                    }
                    if left.is_none() {
                        left = Some(self.stmt(child, d));
                    } else {
                        right = Some(self.stmt(child, d));
                    }
                }
                Node::List {
                    left: Box::new(left.unwrap_or(Node::Seq(Vec::new()))),
                    or,
                    right: Box::new(right.unwrap_or(Node::Seq(Vec::new()))),
                }
            }
            "subshell" => Node::Subshell(Box::new(self.block(node, d))),
            "compound_statement" => self.block(node, d),
            "if_statement"
            | "while_statement"
            | "case_statement"
            | "elif_clause"
            | "else_clause"
            | "case_item"
            | "do_group"
            | "c_style_for_statement" => Node::Branches(self.mixed(node, d)),
            "for_statement" => self.for_loop(node, d),
            "function_definition" => {
                let name = node
                    .child_by_field_name("name")
                    .map(|n| self.text(n).to_string())
                    .unwrap_or_default();
                let body = node
                    .child_by_field_name("body")
                    .map(|b| self.stmt(b, d))
                    .unwrap_or(Node::Seq(Vec::new()));
                Node::Function {
                    name,
                    body: Box::new(body),
                }
            }
            "negated_command" => self.block(node, d),
            "declaration_command" => self.declaration(node, d),
            "unset_command" => Node::Unset(
                self.named_children(node)
                    .map(|n| self.text(n).to_string())
                    .collect(),
            ),
            "variable_assignment" => Node::Assign(vec![self.assignment(node, d)]),
            "variable_assignments" => Node::Assign(
                self.named_children(node)
                    .filter(|c| c.kind() == "variable_assignment")
                    .map(|c| self.assignment(c, d))
                    .collect(),
            ),
            _ => Node::Branches(self.mixed(node, d)),
        }
    }

    /// Children of a construct that mixes statements and expressions: statements are
    /// judged as such, everything else only for the substitutions inside.
    fn mixed(&self, node: TsNode<'t>, depth: usize) -> Vec<Node> {
        let mut out = Vec::new();
        let mut words = Vec::new();
        for child in self.named_children(node) {
            if child.kind() == "comment" {
                continue;
            }
            if is_statement(child.kind()) || is_block(child.kind()) {
                out.push(self.stmt(child, depth));
            } else {
                words.push(self.word(child, depth));
            }
        }
        if !words.is_empty() {
            out.insert(0, Node::Inner(words));
        }
        out
    }

    fn for_loop(&self, node: TsNode<'t>, depth: usize) -> Node {
        let mut var = String::new();
        let mut values: Option<Vec<Word>> = None;
        let mut body = Node::Seq(Vec::new());
        for (field, child) in self.children_with_fields(node) {
            match field {
                Some("variable") => var = self.text(child).to_string(),
                Some("value") => values
                    .get_or_insert_with(Vec::new)
                    .push(self.word(child, depth)),
                Some("body") => body = self.stmt(child, depth),
                _ => {}
            }
        }
        Node::For {
            var,
            values,
            body: Box::new(body),
        }
    }

    fn declaration(&self, node: TsNode<'t>, depth: usize) -> Node {
        let mut assigns = Vec::new();
        let mut words = Vec::new();
        for child in self.named_children(node) {
            match child.kind() {
                "variable_assignment" => assigns.push(self.assignment(child, depth)),
                "variable_name" => {}
                _ => words.push(self.word(child, depth)),
            }
        }
        if words.is_empty() {
            Node::Assign(assigns)
        } else {
            Node::Seq(vec![Node::Inner(words), Node::Assign(assigns)])
        }
    }

    fn assignment(&self, node: TsNode<'t>, depth: usize) -> Assignment {
        let name = node
            .child_by_field_name("name")
            .map(|n| self.text(n).to_string())
            .unwrap_or_default();
        let value = node
            .child_by_field_name("value")
            .map(|v| self.word(v, depth + 1));
        Assignment { name, value }
    }

    fn command(&self, node: TsNode<'t>, depth: usize) -> Node {
        let mut cmd = Cmd {
            assigns: Vec::new(),
            words: Vec::new(),
            redirects: Vec::new(),
            text: self.text(node).to_string(),
        };
        for (field, child) in self.children_with_fields(node) {
            match child.kind() {
                "variable_assignment" if cmd.words.is_empty() => {
                    cmd.assigns.push(self.assignment(child, depth));
                }
                "file_redirect" | "herestring_redirect" => {
                    let (redirect, extra) = self.redirect(child, depth);
                    cmd.redirects.push(redirect);
                    cmd.words.extend(extra);
                }
                "heredoc_redirect" => {
                    let h = self.heredoc(child, depth);
                    if !h.conts.is_empty() {
                        return Node::Unreadable("a heredoc in an unexpected place".into());
                    }
                    cmd.redirects.extend(h.redirects);
                    cmd.words.extend(h.words);
                }
                "command_name" => {
                    let mut inner = self.named_children(child);
                    match (inner.next(), inner.next()) {
                        (Some(first), None) => cmd.words.push(self.word(first, depth)),
                        _ => cmd.words.push(self.word(child, depth)),
                    }
                }
                "comment" => {}
                _ if field == Some("argument") || (child.is_named() && !cmd.words.is_empty()) => {
                    cmd.words.push(self.word(child, depth));
                }
                _ if !child.is_named() && !cmd.words.is_empty() => {
                    // tree-sitter leaves a few tokens such as the `$` of `$"…"` anonymous.
                    cmd.words.push(lit_word(self.text(child), false));
                }
                _ => {}
            }
        }
        Node::Cmd(Box::new(cmd))
    }

    fn redirected(&self, node: TsNode<'t>, depth: usize) -> Node {
        let mut body = None;
        let mut redirects = Vec::new();
        let mut extra_words = Vec::new();
        let mut continuation: Vec<Continuation> = Vec::new();
        for (field, child) in self.children_with_fields(node) {
            if field == Some("body") {
                body = Some(self.stmt(child, depth));
                continue;
            }
            match child.kind() {
                "file_redirect" | "herestring_redirect" => {
                    let (r, extra) = self.redirect(child, depth);
                    redirects.push(r);
                    extra_words.extend(extra);
                }
                "heredoc_redirect" => {
                    let h = self.heredoc(child, depth);
                    redirects.extend(h.redirects);
                    extra_words.extend(h.words);
                    continuation.extend(h.conts);
                }
                _ => {}
            }
        }
        let mut body = body.unwrap_or(Node::Seq(Vec::new()));
        if let Node::Cmd(cmd) = &mut body {
            // Findings quote the command with its redirects.
            let text = self.text(node);
            let text = text.split('\n').next().unwrap_or(text);
            if text.len() > cmd.text.len() {
                cmd.text = text.to_string();
            }
        }
        if !extra_words.is_empty() {
            // tree-sitter reads words after a redirect (`> f arg`) as more destinations;
            // bash passes them to the command.
            match &mut body {
                Node::Cmd(cmd) => cmd.words.extend(extra_words),
                _ => {
                    return Node::Unreadable("words after a redirect of a compound command".into());
                }
            }
        }
        let mut result = Node::Redirected {
            body: Box::new(body),
            redirects,
        };
        for cont in continuation {
            result = match cont {
                Continuation::Pipe(next) => attach_pipe(result, next),
                Continuation::List { or, right } => Node::List {
                    left: Box::new(result),
                    or,
                    right: Box::new(right),
                },
            };
        }
        result
    }

    /// A `<<EOF` redirect. tree-sitter puts whatever follows the delimiter on the same
    /// line (`| sh`, `&& next`, `> file`) inside the redirect node.
    fn heredoc(&self, node: TsNode<'t>, depth: usize) -> Heredoc {
        let mut quoted = false;
        let mut strip_tabs = false;
        let mut body = Word::default();
        let mut out = Heredoc::default();
        let mut pending_or: Option<bool> = None;
        for (field, child) in self.children_with_fields(node) {
            match child.kind() {
                "<<-" => strip_tabs = true,
                "heredoc_start" => {
                    let t = self.text(child);
                    quoted = t.contains(['\'', '"', '\\']);
                }
                "heredoc_body" => body = self.heredoc_body(child, quoted, strip_tabs, depth),
                "&&" => pending_or = Some(false),
                "||" => pending_or = Some(true),
                "file_redirect" | "herestring_redirect" => {
                    let (r, e) = self.redirect(child, depth);
                    out.redirects.push(r);
                    out.words.extend(e);
                }
                "pipeline" if field != Some("right") => {
                    out.conts.push(Continuation::Pipe(self.stmt(child, depth)));
                }
                _ if field == Some("right") => {
                    let right = self.stmt(child, depth);
                    out.conts.push(Continuation::List {
                        or: pending_or.take().unwrap_or(false),
                        right,
                    });
                }
                _ => {}
            }
        }
        out.redirects.insert(0, Redirect::Heredoc { body });
        out
    }

    fn heredoc_body(&self, node: TsNode<'t>, quoted: bool, strip_tabs: bool, depth: usize) -> Word {
        let raw = self.text(node).to_string();
        if quoted {
            let text = if strip_tabs {
                strip_leading_tabs(&raw)
            } else {
                raw.clone()
            };
            return Word {
                parts: vec![Part::Lit { text, quoted: true }],
                raw,
            };
        }
        let mut parts = Vec::new();
        let mut pos = node.start_byte();
        for child in self.named_children(node) {
            let start = child.start_byte();
            if start > pos {
                push_heredoc_text(
                    &mut parts,
                    self.src.get(pos..start).unwrap_or(""),
                    strip_tabs,
                );
            }
            match child.kind() {
                "heredoc_content" => push_heredoc_text(&mut parts, self.text(child), strip_tabs),
                _ => parts.extend(self.word(child, depth + 1).parts),
            }
            pos = child.end_byte();
        }
        if node.end_byte() > pos {
            push_heredoc_text(
                &mut parts,
                self.src.get(pos..node.end_byte()).unwrap_or(""),
                strip_tabs,
            );
        }
        Word { parts, raw }
    }

    /// A file or here-string redirect, and any words tree-sitter wrongly hung on it.
    fn redirect(&self, node: TsNode<'t>, depth: usize) -> (Redirect, Vec<Word>) {
        let mut fd: Option<u32> = None;
        let mut op = String::new();
        let mut dests = Vec::new();
        for (field, child) in self.children_with_fields(node) {
            if field == Some("descriptor") {
                fd = self.text(child).parse().ok();
            } else if !child.is_named() {
                op.push_str(child.kind());
            } else {
                dests.push(child);
            }
        }
        // `>& f 2>&1`: tree-sitter hangs the `2` of the next redirect on this one.
        if dests.len() > 1
            && let Some(last) = dests.last()
            && last.kind() == "number"
            && matches!(self.src.as_bytes().get(last.end_byte()), Some(b'>' | b'<'))
        {
            dests.pop();
        }
        let mut words: Vec<Word> = dests.iter().map(|d| self.word(*d, depth)).collect();
        if node.kind() == "herestring_redirect" {
            let word = if words.is_empty() {
                Word::default()
            } else {
                words.remove(0)
            };
            return (Redirect::HereString { word }, words);
        }
        let target = if words.is_empty() {
            Word::default()
        } else {
            words.remove(0)
        };
        let redirect = match op.as_str() {
            ">&" | "<&" | ">&-" | "<&-" if is_fd_word(&target) => Redirect::Dup,
            "<" => Redirect::In { target },
            "<<<" => Redirect::HereString { word: target },
            _ => Redirect::Out {
                fd: fd.unwrap_or(1),
                target,
            },
        };
        (redirect, words)
    }

    /// Any word-like node.
    pub(crate) fn word(&self, node: TsNode<'t>, depth: usize) -> Word {
        let raw = self.text(node).to_string();
        let mut parts = Vec::new();
        self.parts(node, depth, &mut parts);
        Word { parts, raw }
    }

    fn parts(&self, node: TsNode<'t>, depth: usize, out: &mut Vec<Part>) {
        if depth > MAX_TREE_DEPTH {
            out.push(Part::Subst(Box::new(too_deep())));
            return;
        }
        let d = depth + 1;
        match node.kind() {
            "word" | "number" | "brace_expression" | "$" | "{" | "}" => out.push(Part::Lit {
                text: unescape_unquoted(self.text(node)),
                quoted: false,
            }),
            "raw_string" => {
                let t = self.text(node);
                out.push(Part::Lit {
                    text: t
                        .get(1..t.len().saturating_sub(1))
                        .unwrap_or("")
                        .to_string(),
                    quoted: true,
                });
            }
            "ansi_c_string" => {
                let t = self.text(node);
                out.push(Part::Lit {
                    text: unescape_ansi_c(t.get(2..t.len().saturating_sub(1)).unwrap_or("")),
                    quoted: true,
                });
            }
            "string" | "translated_string" => {
                let was = self.in_quotes.replace(true);
                self.string(node, d, out);
                self.in_quotes.set(was);
            }
            "concatenation" | "command_name" => {
                for (_, child) in self.children_with_fields(node) {
                    self.parts(child, d, out);
                }
            }
            "simple_expansion" => {
                let name = self
                    .named_children(node)
                    .next()
                    .map(|n| self.text(n).to_string())
                    .unwrap_or_default();
                out.push(Part::Var {
                    name,
                    default: None,
                    quoted: self.in_quotes.get(),
                });
            }
            "expansion" => out.push(self.expansion(node, d)),
            "command_substitution" | "process_substitution" => {
                // A substitution's body is a new quoting context.
                let was = self.in_quotes.replace(false);
                let body = Box::new(self.block(node, d));
                self.in_quotes.set(was);
                out.push(if node.kind() == "command_substitution" {
                    Part::Subst(body)
                } else {
                    Part::Proc(body)
                });
            }
            _ => {
                let mut inner = Vec::new();
                self.substitutions(node, d, &mut inner);
                out.push(Part::Dynamic(inner, self.variable_names(node)));
            }
        }
    }

    fn string(&self, node: TsNode<'t>, depth: usize, out: &mut Vec<Part>) {
        let open = if node.kind() == "translated_string" {
            2
        } else {
            1
        };
        let start = node.start_byte() + open;
        let end = node.end_byte().saturating_sub(1).max(start);
        let mut pos = start;
        for child in self.named_children(node) {
            let cs = child.start_byte();
            if cs > pos {
                out.push(Part::Lit {
                    text: unescape_double(self.src.get(pos..cs.min(end)).unwrap_or("")),
                    quoted: true,
                });
            }
            match child.kind() {
                "string_content" => out.push(Part::Lit {
                    text: unescape_double(self.text(child)),
                    quoted: true,
                }),
                _ => self.parts(child, depth, out),
            }
            pos = child.end_byte().max(pos);
        }
        if end > pos {
            out.push(Part::Lit {
                text: unescape_double(self.src.get(pos..end).unwrap_or("")),
                quoted: true,
            });
        }
    }

    fn expansion(&self, node: TsNode<'t>, depth: usize) -> Part {
        let kids = self.children_with_fields(node);
        let mut name = None;
        let mut operator = None;
        let mut rest = Vec::new();
        for (field, child) in kids {
            match child.kind() {
                "${" | "}" => {}
                "variable_name" | "special_variable_name"
                    if name.is_none() && operator.is_none() =>
                {
                    name = Some(self.text(child).to_string());
                }
                _ if field == Some("operator") || !child.is_named() => {
                    if operator.is_none() {
                        operator = Some(child.kind().to_string());
                    }
                }
                _ => rest.push(child),
            }
        }
        match (name, operator.as_deref()) {
            (Some(name), None) if rest.is_empty() => Part::Var {
                name,
                default: None,
                quoted: self.in_quotes.get(),
            },
            (Some(name), Some(":-" | "-" | ":=" | "=")) => {
                let mut parts = Vec::new();
                for r in &rest {
                    self.parts(*r, depth, &mut parts);
                }
                Part::Var {
                    name,
                    default: Some(Box::new(Word {
                        parts,
                        raw: String::new(),
                    })),
                    quoted: self.in_quotes.get(),
                }
            }
            _ => {
                let mut inner = Vec::new();
                self.substitutions(node, depth, &mut inner);
                Part::Dynamic(inner, self.variable_names(node))
            }
        }
    }

    /// Names of the variables read directly under `node` (not inside substitutions).
    fn variable_names(&self, node: TsNode<'t>) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            if out.len() > 64 {
                break;
            }
            for child in self.named_children(n) {
                match child.kind() {
                    "variable_name" => out.push(self.text(child).to_string()),
                    "command_substitution" | "process_substitution" => {}
                    _ => stack.push(child),
                }
            }
        }
        out
    }

    /// Collects the substitutions (and any statements) nested anywhere under `node`,
    /// so their commands are judged even inside constructs this module does not model.
    fn substitutions(&self, node: TsNode<'t>, depth: usize, out: &mut Vec<Word>) {
        if depth > MAX_TREE_DEPTH {
            out.push(Word {
                parts: vec![Part::Subst(Box::new(too_deep()))],
                raw: String::new(),
            });
            return;
        }
        for child in self.named_children(node) {
            let kind = child.kind();
            if matches!(kind, "command_substitution" | "process_substitution") {
                out.push(self.word(child, depth + 1));
            } else if is_statement(kind) {
                out.push(Word {
                    parts: vec![Part::Subst(Box::new(self.stmt(child, depth + 1)))],
                    raw: String::new(),
                });
            } else {
                self.substitutions(child, depth + 1, out);
            }
        }
    }
}

fn is_block(kind: &str) -> bool {
    matches!(
        kind,
        "do_group" | "elif_clause" | "else_clause" | "case_item"
    )
}

enum Continuation {
    Pipe(Node),
    List { or: bool, right: Node },
}

/// What a heredoc redirect node holds besides the body.
#[derive(Default)]
struct Heredoc {
    redirects: Vec<Redirect>,
    words: Vec<Word>,
    conts: Vec<Continuation>,
}

/// Makes `base` the first stage of the pipeline `next` begins.
fn attach_pipe(base: Node, next: Node) -> Node {
    match next {
        Node::Pipeline(mut stages) => {
            let first = if stages.is_empty() {
                None
            } else {
                Some(stages.remove(0))
            };
            let mut out = vec![base];
            if let Some(first) = first {
                match attach_pipe_inner(first) {
                    Ok(stage) => out.push(stage),
                    Err((stage, or, right)) => {
                        out.push(stage);
                        out.extend(stages);
                        return Node::List {
                            left: Box::new(Node::Pipeline(out)),
                            or,
                            right,
                        };
                    }
                }
            }
            out.extend(stages);
            Node::Pipeline(out)
        }
        Node::List { left, or, right } => Node::List {
            left: Box::new(attach_pipe(base, *left)),
            or,
            right,
        },
        other => Node::Pipeline(vec![base, other]),
    }
}

/// The first stage after `|` may itself be a list (`| sh && echo done`): split it so the
/// pipeline ends before the `&&`.
fn attach_pipe_inner(stage: Node) -> Result<Node, (Node, bool, Box<Node>)> {
    match stage {
        Node::List { left, or, right } => match attach_pipe_inner(*left) {
            Ok(l) => Err((l, or, right)),
            Err((l, or2, r2)) => Err((
                l,
                or2,
                Box::new(Node::List {
                    left: r2,
                    or,
                    right,
                }),
            )),
        },
        Node::Pipeline(stages) if stages.len() == 1 => {
            let mut s = stages;
            match s.pop() {
                Some(only) => attach_pipe_inner(only),
                None => Ok(Node::Seq(Vec::new())),
            }
        }
        other => Ok(other),
    }
}

fn too_deep() -> Node {
    Node::Unreadable(format!(
        "the command nests more than {MAX_TREE_DEPTH} levels deep"
    ))
}

fn is_fd_word(word: &Word) -> bool {
    let t = word.raw.trim();
    t.is_empty() || t == "-" || t.chars().all(|c| c.is_ascii_digit() || c == '-')
}

fn lit_word(text: &str, quoted: bool) -> Word {
    Word {
        parts: vec![Part::Lit {
            text: text.to_string(),
            quoted,
        }],
        raw: text.to_string(),
    }
}

fn push_heredoc_text(parts: &mut Vec<Part>, text: &str, strip_tabs: bool) {
    let text = if strip_tabs {
        strip_leading_tabs(text)
    } else {
        text.to_string()
    };
    // In an unquoted heredoc only `\$`, `` \` `` and `\\` are escapes.
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some(&n @ ('$' | '`' | '\\')) => {
                    out.push(n);
                    chars.next();
                }
                Some('\n') => {
                    chars.next();
                }
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    parts.push(Part::Lit {
        text: out,
        quoted: true,
    });
}

fn strip_leading_tabs(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|l| l.trim_start_matches('\t'))
        .collect()
}

/// Removes backslash escapes from an unquoted word.
pub(crate) fn unescape_unquoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\n') | None => {}
                Some(n) => out.push(n),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Removes the escapes bash honours inside double quotes.
fn unescape_double(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some(&n @ ('$' | '`' | '"' | '\\')) => {
                    out.push(n);
                    chars.next();
                }
                Some('\n') => {
                    chars.next();
                }
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Decodes `$'…'` escapes.
fn unescape_ansi_c(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        i += 1;
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&n) = chars.get(i) else {
            out.push('\\');
            break;
        };
        i += 1;
        match n {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'e' | 'E' => out.push('\u{1b}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            '\\' | '\'' | '"' | '?' => out.push(n),
            'x' | 'u' | 'U' => {
                let max = match n {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let digits: String = chars
                    .get(i..)
                    .unwrap_or_default()
                    .iter()
                    .take(max)
                    .take_while(|c| c.is_ascii_hexdigit())
                    .collect();
                i += digits.len();
                match u32::from_str_radix(&digits, 16)
                    .ok()
                    .and_then(char::from_u32)
                {
                    Some(ch) => out.push(ch),
                    None => {
                        out.push('\\');
                        out.push(n);
                    }
                }
            }
            '0'..='7' => {
                let mut digits = String::from(n);
                digits.extend(
                    chars
                        .get(i..)
                        .unwrap_or_default()
                        .iter()
                        .take(2)
                        .take_while(|c| ('0'..='7').contains(*c)),
                );
                i += digits.len() - 1;
                match u32::from_str_radix(&digits, 8)
                    .ok()
                    .and_then(char::from_u32)
                {
                    Some(ch) => out.push(ch),
                    None => out.push('?'),
                }
            }
            'c' => {
                // Control character: `\cX`.
                if let Some(&x) = chars.get(i) {
                    i += 1;
                    out.push(char::from_u32((x as u32) & 0x1f).unwrap_or('?'));
                }
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out
}
