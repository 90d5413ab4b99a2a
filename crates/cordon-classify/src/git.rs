//! git and the GitHub CLI: history rewrites, force pushes, discarded work, deleted refs.

use cordon_core::Effect;

use crate::engine::{Call, Engine, Hit};
use crate::flow::Flow;
use crate::word::Arg;

const PROTECTED: &[&str] = &[
    "main",
    "master",
    "trunk",
    "production",
    "prod",
    "release",
    "develop",
];

pub(crate) fn classify(e: &mut Engine, c: &Call) -> Option<Flow> {
    match c.name {
        "git" => Some(git(e, c)),
        "gh" => gh(e, c),
        "hub" => Some(git(e, c)),
        _ => None,
    }
}

fn git(e: &mut Engine, c: &Call) -> Flow {
    let mut i = 0;
    while let Some(a) = c.args.get(i) {
        let s = a.s();
        if matches!(
            s,
            "-C" | "--git-dir" | "--work-tree" | "--namespace" | "--exec-path" | "--config-env"
        ) {
            i += 2;
            continue;
        }
        if s == "-c" {
            if let Some(kv) = c.args.get(i + 1) {
                config_override(e, kv);
            }
            i += 2;
            continue;
        }
        if a.is_option() {
            i += 1;
            continue;
        }
        break;
    }
    let Some(sub) = c.args.get(i) else {
        return Flow::opaque();
    };
    let args = c.args.get(i + 1..).unwrap_or_default();
    let g = Git { args };
    match sub.s() {
        "push" => push(e, &g),
        "reset" => {
            if g.has("--hard") {
                e.hit(Hit::new(
                    Effect::Destroy,
                    "git reset --hard throws away uncommitted changes",
                ));
            } else if g.has("--merge") || g.has("--keep") || g.positionals().len() > 1 {
                e.hit(Hit::new(Effect::Write, "git reset moves the branch"));
            } else {
                e.hit(Hit::new(
                    Effect::Write,
                    "git reset moves the branch or unstages files",
                ));
            }
        }
        "clean" => {
            let dry = g.has("-n") || g.has("--dry-run") || g.short('n');
            let force = g.has("--force") || g.short('f');
            if dry {
                // Listing what would go.
            } else if force {
                let ignored = if g.short('x') || g.short('X') {
                    " (ignored files too)"
                } else {
                    ""
                };
                e.hit(Hit::new(
                    Effect::Destroy,
                    format!(
                        "git clean -f deletes untracked files{ignored}, which git cannot bring back"
                    ),
                ));
            } else if g.has("-i") || g.has("--interactive") {
                e.unknown("git clean -i asks interactively what to delete");
            }
        }
        "checkout" => checkout(e, &g),
        "restore" => {
            let staged_only =
                (g.has("--staged") || g.short('S')) && !(g.has("--worktree") || g.short('W'));
            if staged_only {
                e.hit(Hit::new(
                    Effect::Write,
                    "git restore --staged unstages files",
                ));
            } else {
                e.hit(Hit::new(
                    Effect::Destroy,
                    "git restore discards uncommitted changes to files",
                ));
            }
        }
        "switch" => {
            if g.has("--discard-changes") || g.has("-f") || g.has("--force") {
                e.hit(Hit::new(
                    Effect::Destroy,
                    "git switch --discard-changes throws away local changes",
                ));
            } else {
                e.hit(Hit::new(Effect::Write, "git switch changes branch"));
            }
        }
        "branch" => branch(e, &g),
        "stash" => match g.positionals().first().map(|a| a.s()) {
            Some("drop") => e.hit(Hit::new(
                Effect::Destroy,
                "git stash drop deletes stashed work",
            )),
            Some("clear") => e.hit(Hit::new(
                Effect::Destroy,
                "git stash clear deletes all stashed work",
            )),
            Some("list" | "show") => {}
            _ => e.hit(Hit::new(Effect::Write, "git stash saves or reapplies work")),
        },
        "reflog" => match g.positionals().first().map(|a| a.s()) {
            Some("expire") => e.hit(Hit::new(
                Effect::Destroy,
                "git reflog expire erases the history that recovers lost commits",
            )),
            Some("delete") => e.hit(Hit::new(
                Effect::Destroy,
                "git reflog delete erases recovery history",
            )),
            _ => {}
        },
        "filter-branch" | "filter-repo" => e.hit(Hit::new(
            Effect::Destroy,
            format!("git {} rewrites the whole history", sub.s()),
        )),
        "gc" => {
            if g.args
                .iter()
                .any(|a| a.s().starts_with("--prune=now") || a.is("--prune=all"))
            {
                e.hit(Hit::new(
                    Effect::Destroy,
                    "git gc --prune=now deletes unreachable commits for good",
                ));
            } else {
                e.hit(Hit::new(Effect::Write, "git gc packs the repository"));
            }
        }
        "prune" => e.hit(Hit::new(
            Effect::Destroy,
            "git prune deletes unreachable objects for good",
        )),
        "update-ref" => {
            if g.has("-d") {
                let r = g
                    .positionals()
                    .first()
                    .map(|a| a.show().to_string())
                    .unwrap_or_default();
                e.hit(
                    Hit::new(
                        Effect::Destroy,
                        format!("git update-ref -d deletes the ref {r}"),
                    )
                    .target("git.ref", &short_ref(&r)),
                );
            } else {
                e.hit(Hit::new(Effect::Write, "git update-ref moves a ref"));
            }
        }
        "worktree" => {
            let pos = g.positionals();
            if pos.first().is_some_and(|a| a.is("remove")) && (g.has("--force") || g.has("-f")) {
                e.hit(Hit::new(
                    Effect::Destroy,
                    "git worktree remove --force deletes a worktree with uncommitted changes",
                ));
            } else if pos.first().is_some_and(|a| a.is("list")) {
            } else {
                e.hit(Hit::new(Effect::Write, "git worktree changes worktrees"));
            }
        }
        "submodule" => {
            if g.positionals().first().is_some_and(|a| a.is("deinit"))
                && (g.has("-f") || g.has("--force"))
            {
                e.hit(Hit::new(
                    Effect::Destroy,
                    "git submodule deinit --force discards submodule changes",
                ));
            } else if !g
                .positionals()
                .first()
                .is_some_and(|a| a.is("status") || a.is("foreach"))
            {
                e.hit(Hit::new(Effect::Write, "git submodule updates submodules"));
            } else if g.positionals().first().is_some_and(|a| a.is("foreach")) {
                let script: Vec<Arg> = g.positionals().into_iter().skip(1).cloned().collect();
                if let Some(s) = script.first() {
                    e.script_arg(s, "git submodule foreach");
                }
            }
        }
        "config" => config(e, &g),
        "rm" => e.hit(Hit::new(
            Effect::Write,
            "git rm deletes tracked files (recoverable from history)",
        )),
        "tag" => {
            if g.has("-d") || g.has("--delete") {
                e.hit(Hit::new(Effect::Write, "git tag -d deletes a local tag"));
            } else if !g.positionals().is_empty() && !g.has("-l") && !g.has("--list") {
                e.hit(Hit::new(Effect::Write, "git tag creates a tag"));
            }
        }
        "remote" => {
            if g.positionals()
                .first()
                .is_some_and(|a| !a.is("show") && !a.is("get-url"))
            {
                e.hit(Hit::new(Effect::Write, "git remote changes remotes"));
            }
        }
        "status" | "log" | "diff" | "show" | "blame" | "grep" | "ls-files" | "ls-tree"
        | "ls-remote" | "rev-parse" | "rev-list" | "describe" | "shortlog" | "cat-file"
        | "help" | "version" | "whatchanged" | "name-rev" | "merge-base" | "show-ref"
        | "for-each-ref" | "check-ignore" | "check-attr" | "count-objects" | "fsck"
        | "verify-commit" | "verify-tag" | "range-diff" | "var" | "bugreport" | "instaweb"
        | "difftool" | "annotate" | "cherry" | "show-branch" | "archive" | "bundle"
        | "format-patch" | "request-pull" | "check-ref-format" | "get-tar-commit-id" => {
            if sub.is("diff") && g.has("--output") {
                e.hit(Hit::new(Effect::Write, "git diff --output writes a file"));
            }
        }
        "fetch" | "pull" => {
            e.hit(Hit::new(
                Effect::Write,
                format!("git {} updates refs from a remote", sub.s()),
            ));
        }
        "clone" => e.hit(Hit::new(Effect::Write, "git clone creates a repository")),
        other => e.hit(Hit::new(
            Effect::Write,
            format!("git {other} changes the repository"),
        )),
    }
    Flow::opaque()
}

/// `git -c alias.x='!…'` and friends run shell commands.
fn config_override(e: &mut Engine, kv: &Arg) {
    let Some(text) = kv.lit.as_deref() else {
        return;
    };
    let (key, value) = text.split_once('=').unwrap_or((text, ""));
    let key = key.to_ascii_lowercase();
    let runs = (key.starts_with("alias.") && value.starts_with('!'))
        || matches!(
            key.as_str(),
            "core.sshcommand"
                | "core.pager"
                | "core.editor"
                | "core.fsmonitor"
                | "core.hookspath"
                | "diff.external"
                | "sequence.editor"
                | "gpg.program"
                | "credential.helper"
        )
        || key.ends_with(".textconv")
        || key.ends_with(".command");
    if runs {
        if key.starts_with("alias.") {
            e.script(value.trim_start_matches('!'), &Flow::default());
        } else {
            e.unknown(format!(
                "git -c {key} makes git run a command given on the command line"
            ));
        }
    }
}

struct Git<'a> {
    args: &'a [Arg],
}

impl Git<'_> {
    fn has(&self, flag: &str) -> bool {
        self.args
            .iter()
            .any(|a| a.is(flag) || a.s().starts_with(&format!("{flag}=")))
    }

    fn short(&self, letter: char) -> bool {
        self.args.iter().any(|a| {
            let s = a.s();
            s.starts_with('-')
                && !s.starts_with("--")
                && s.get(1..).is_some_and(|r| r.contains(letter))
        })
    }

    fn positionals(&self) -> Vec<&Arg> {
        let mut out = Vec::new();
        let mut after = false;
        for a in self.args {
            if !after && a.is("--") {
                after = true;
                continue;
            }
            if after || !a.is_option() {
                out.push(a);
            }
        }
        out
    }

    /// Paths after `--`.
    fn after_dashdash(&self) -> Option<&[Arg]> {
        let i = self.args.iter().position(|a| a.is("--"))?;
        self.args.get(i + 1..)
    }
}

fn short_ref(r: &str) -> String {
    r.trim_start_matches("refs/heads/")
        .trim_start_matches("refs/tags/")
        .trim_start_matches("refs/remotes/")
        .to_string()
}

fn push(e: &mut Engine, g: &Git) {
    let value_opts = [
        "--repo",
        "-o",
        "--push-option",
        "--receive-pack",
        "--exec",
        "--signed",
    ];
    let mut force = false;
    let mut delete = false;
    let mut mirror = false;
    let mut prune = false;
    let mut positionals: Vec<&Arg> = Vec::new();
    let mut it = g.args.iter();
    while let Some(a) = it.next() {
        let s = a.s();
        if value_opts.contains(&s) {
            it.next();
            continue;
        }
        if s == "--force" || s.starts_with("--force-with-lease") || s == "--force-if-includes" {
            force = true;
        } else if s == "--delete" {
            delete = true;
        } else if s == "--mirror" {
            mirror = true;
        } else if s == "--prune" {
            prune = true;
        } else if s.starts_with('-') && !s.starts_with("--") {
            let flags = s.get(1..).unwrap_or("");
            force |= flags.contains('f');
            delete |= flags.contains('d');
        } else if !a.is_option() {
            positionals.push(a);
        }
    }
    let refspecs: Vec<&Arg> = positionals.iter().skip(1).copied().collect();
    let remote = positionals
        .first()
        .map(|a| a.show().to_string())
        .unwrap_or_else(|| "the default remote".into());
    if mirror {
        e.hit(
            Hit::new(
                Effect::Destroy,
                format!("git push --mirror overwrites and deletes every ref on {remote}"),
            )
            .target("git.ref", "*"),
        );
        return;
    }
    if prune {
        e.hit(
            Hit::new(
                Effect::Destroy,
                format!("git push --prune deletes branches on {remote} that are not local"),
            )
            .target("git.ref", "*"),
        );
    }
    if refspecs.is_empty() {
        let what = if delete {
            "deletes"
        } else if force {
            "force-pushes over"
        } else {
            "pushes to"
        };
        let effect = if force || delete {
            Effect::Destroy
        } else {
            Effect::Write
        };
        e.hit(
            Hit::new(
                effect,
                format!("git push {what} the current branch on {remote}"),
            )
            .target("git.ref", "HEAD"),
        );
        return;
    }
    for spec in refspecs {
        let text = spec.show().to_string();
        let plus = text.starts_with('+');
        let body = text.trim_start_matches('+');
        let (src, dst) = match body.split_once(':') {
            Some((s, d)) => (s.to_string(), d.to_string()),
            None => (body.to_string(), body.to_string()),
        };
        let branch = short_ref(if dst.is_empty() { &src } else { &dst });
        if delete || (src.is_empty() && !dst.is_empty()) {
            e.hit(
                Hit::new(
                    Effect::Destroy,
                    format!("git push deletes {branch} on {remote}"),
                )
                .target("git.ref", &branch),
            );
        } else if force || plus {
            e.hit(
                Hit::new(
                    Effect::Destroy,
                    format!(
                        "git push force-pushes over {branch} on {remote}, which can erase commits"
                    ),
                )
                .target("git.ref", &branch),
            );
        } else if !spec.known() {
            e.hit(
                Hit::new(
                    Effect::Write,
                    format!("git push pushes `{}` to {remote}", spec.raw),
                )
                .target("git.ref", &spec.raw),
            );
        } else {
            let protected = if PROTECTED.contains(&branch.as_str()) {
                " (a protected branch)"
            } else {
                ""
            };
            e.hit(
                Hit::new(
                    Effect::Write,
                    format!("git push pushes {branch} to {remote}{protected}"),
                )
                .target("git.ref", &branch),
            );
        }
    }
}

fn checkout(e: &mut Engine, g: &Git) {
    if g.has("-b") || g.has("-B") || g.has("--orphan") {
        e.hit(Hit::new(Effect::Write, "git checkout -b creates a branch"));
        return;
    }
    if g.has("-f") || g.has("--force") {
        e.hit(Hit::new(
            Effect::Destroy,
            "git checkout --force throws away local changes",
        ));
        return;
    }
    if let Some(paths) = g.after_dashdash()
        && !paths.is_empty()
    {
        let shown: Vec<&str> = paths.iter().map(|p| p.show()).collect();
        e.hit(Hit::new(
            Effect::Destroy,
            format!(
                "git checkout -- {} discards uncommitted changes",
                shown.join(" ")
            ),
        ));
        return;
    }
    let pos = g.positionals();
    let discards = pos.len() > 1
        || pos.first().is_some_and(|p| {
            let s = p.s();
            s == "."
                || s.starts_with("./")
                || s.contains('*')
                || s == ":/"
                || s.ends_with(".rs")
                || s.ends_with(".ts")
                || s.ends_with(".js")
                || s.ends_with(".py")
                || s.ends_with(".go")
                || s.ends_with(".md")
        });
    if discards {
        e.hit(Hit::new(
            Effect::Destroy,
            "git checkout of paths discards uncommitted changes",
        ));
    } else {
        e.hit(Hit::new(Effect::Write, "git checkout switches branch"));
    }
}

fn branch(e: &mut Engine, g: &Git) {
    let force_delete =
        g.has("-D") || (g.has("--delete") || g.short('d')) && (g.has("--force") || g.short('f'));
    let pos = g.positionals();
    let name = pos
        .first()
        .map(|a| a.show().to_string())
        .unwrap_or_default();
    if force_delete {
        e.hit(
            Hit::new(
                Effect::Destroy,
                format!("git branch -D deletes {name} even if it is not merged"),
            )
            .target("git.ref", &name),
        );
    } else if g.has("-d") || g.has("--delete") {
        e.hit(
            Hit::new(
                Effect::Write,
                format!("git branch -d deletes the merged branch {name}"),
            )
            .target("git.ref", &name),
        );
    } else if g.has("-M")
        || g.has("-m")
        || g.has("-C")
        || g.has("-c")
        || g.has("-f")
        || g.has("--force")
        || g.has("-u")
        || g.has("--set-upstream-to")
        || g.has("--unset-upstream")
        || g.has("--edit-description")
    {
        e.hit(Hit::new(Effect::Write, "git branch changes a branch"));
    } else if !pos.is_empty()
        && !g.has("--list")
        && !g.has("-l")
        && !g.has("--contains")
        && !g.has("--merged")
        && !g.has("--no-merged")
        && !g.has("--points-at")
    {
        e.hit(Hit::new(
            Effect::Write,
            format!("git branch creates {name}"),
        ));
    }
}

fn config(e: &mut Engine, g: &Git) {
    let reading = g.has("--get")
        || g.has("--get-all")
        || g.has("--list")
        || g.has("-l")
        || g.has("--get-regexp")
        || g.positionals().len() == 1
        || g.positionals()
            .first()
            .is_some_and(|a| a.is("get") || a.is("list"));
    if reading {
        return;
    }
    let pos = g.positionals();
    let key = pos
        .first()
        .map(|a| a.s().to_ascii_lowercase())
        .unwrap_or_default();
    let value = pos.get(1).map(|a| a.s().to_string()).unwrap_or_default();
    if key.starts_with("alias.") && value.starts_with('!') {
        e.script(value.trim_start_matches('!'), &Flow::default());
    }
    if g.has("--global") || g.has("--system") {
        let file = if g.has("--system") {
            "/etc/gitconfig".to_string()
        } else {
            e.places
                .home
                .clone()
                .map(|h| format!("{h}/.gitconfig"))
                .unwrap_or_else(|| "~/.gitconfig".into())
        };
        e.hit(
            Hit::new(
                Effect::Write,
                format!("git config changes {file} outside the workspace"),
            )
            .path(Some(file)),
        );
    } else {
        e.hit(Hit::new(
            Effect::Write,
            "git config changes the repository's settings",
        ));
    }
}

fn gh(e: &mut Engine, c: &Call) -> Option<Flow> {
    let pos: Vec<&Arg> = c.args.iter().filter(|a| !a.is_option()).collect();
    let noun = pos.first().map(|a| a.s()).unwrap_or("");
    let verb = pos.get(1).map(|a| a.s()).unwrap_or("");
    let object = pos.get(2).map(|a| a.show().to_string()).unwrap_or_default();
    match (noun, verb) {
        ("repo", "delete") => {
            let repo = if object.is_empty() {
                "the current repository".to_string()
            } else {
                object.clone()
            };
            e.hit(
                Hit::new(
                    Effect::Destroy,
                    format!("gh repo delete deletes {repo} on GitHub"),
                )
                .target("github.repo", &object),
            );
        }
        ("repo", "archive") => e.hit(Hit::new(
            Effect::Write,
            "gh repo archive archives a repository",
        )),
        ("release", "delete" | "delete-asset") => {
            e.hit(
                Hit::new(
                    Effect::Destroy,
                    format!("gh release {verb} deletes release {object}"),
                )
                .target("github.release", &object),
            );
        }
        ("release", "create" | "upload" | "edit") => {
            e.hit(
                Hit::new(
                    Effect::Publish,
                    format!("gh release {verb} publishes release {object}"),
                )
                .target("github.release", &object),
            );
        }
        ("gist", "create") => {
            let files: Vec<&Arg> = pos.iter().skip(2).copied().collect();
            let secret = files.iter().any(|f| {
                e.places.resolve(f).abs.is_some_and(|p| {
                    crate::secrets::secret_file(&p, e.places.home.as_deref()).is_some()
                })
            });
            if secret || c.stdin.secret {
                e.hit(
                    Hit::new(
                        Effect::Exfiltrate,
                        "gh gist create uploads a secret file to GitHub",
                    )
                    .host(Some("github.com".into())),
                );
            } else if c.has("--public") || c.has("-p") {
                e.hit(Hit::new(
                    Effect::Publish,
                    "gh gist create publishes a public gist",
                ));
            } else {
                e.hit(Hit::new(
                    Effect::Write,
                    "gh gist create uploads a secret gist",
                ));
            }
        }
        ("auth", "token") => e.hit(Hit::new(
            Effect::SecretRead,
            "gh auth token prints the GitHub token",
        )),
        ("auth", "status") if c.has("--show-token") || c.has("-t") => {
            e.hit(Hit::new(
                Effect::SecretRead,
                "gh auth status --show-token prints the GitHub token",
            ));
        }
        ("api", _) => return Some(gh_api(e, c)),
        ("pr", "merge") => e.hit(Hit::new(Effect::Write, "gh pr merge merges a pull request")),
        ("secret" | "variable", "list") => {}
        (_, "delete" | "remove" | "rm") => {
            e.hit(
                Hit::new(
                    Effect::Destroy,
                    format!("gh {noun} {verb} deletes {noun} {object} on GitHub"),
                )
                .target(&format!("github.{noun}"), &object),
            );
        }
        (
            _,
            "list" | "view" | "status" | "diff" | "checks" | "watch" | "download" | "browse"
            | "search",
        )
        | ("", _) => {
            e.hit(
                Hit::new(Effect::Read, format!("gh {noun} {verb} reads from GitHub"))
                    .host(Some("github.com".into())),
            );
        }
        _ => e.hit(Hit::new(
            Effect::Write,
            format!("gh {noun} {verb} changes GitHub state"),
        )),
    }
    Some(Flow::opaque())
}

fn gh_api(e: &mut Engine, c: &Call) -> Flow {
    let mut method: Option<String> = None;
    let mut fields = false;
    let mut query = String::new();
    let mut it = c.args.iter();
    while let Some(a) = it.next() {
        let s = a.s();
        if matches!(s, "-X" | "--method") {
            method = it.next().and_then(|m| m.lit.clone());
        } else if let Some(m) = a.long_value("--method") {
            method = Some(m.to_string());
        } else if let Some(m) = s.strip_prefix("-X").filter(|m| !m.is_empty()) {
            method = Some(m.to_string());
        } else if matches!(s, "-f" | "-F" | "--field" | "--raw-field" | "--input") {
            fields = true;
            if let Some(v) = it.next()
                && let Some(q) = v.s().strip_prefix("query=")
            {
                query = q.to_string();
            }
        }
    }
    if let Some(field) = crate::graphql::graphql_destructive(&query) {
        e.hit(
            Hit::new(
                Effect::Destroy,
                format!("gh api sends the GraphQL mutation `{field}`, which deletes data"),
            )
            .host(Some("api.github.com".into()))
            .target("graphql.mutation", &field),
        );
        return Flow::opaque();
    }
    let method = method
        .map(|m| m.to_ascii_uppercase())
        .unwrap_or_else(|| if fields { "POST".into() } else { "GET".into() });
    let host = Some("api.github.com".to_string());
    match method.as_str() {
        "DELETE" => e.hit(Hit::new(Effect::Destroy, "gh api sends DELETE to GitHub").host(host)),
        "GET" | "HEAD" => e.hit(Hit::new(Effect::Read, "gh api reads from GitHub").host(host)),
        m => e.hit(Hit::new(Effect::Write, format!("gh api sends {m} to GitHub")).host(host)),
    }
    Flow::opaque()
}
