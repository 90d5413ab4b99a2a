//! One client's conversation with one server, as a state machine with no I/O: each
//! message in gives the messages out. The proxy's tasks only move bytes.
//!
//! Every client request is forwarded under an id the proxy chose, and its answer is
//! matched by that id alone, so a client reusing an id (or a server answering one
//! twice, or one never asked) cannot make a `tools/call` answer pass for a
//! `tools/list` one or the reverse. Server-initiated requests keep their ids.

use crate::frame::Frame;
use crate::jsonrpc::{self, Id, Message};
use crate::judge::Judge;
use crate::tools::{self, Reading};
use crate::versions;
use cordon_core::manifest::ApprovalMode;
use cordon_core::{Action, Decision, Effect, Verdict};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What an undeclared tool's call is answered with: the same as that server family
/// answers for a tool it does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownTool {
    /// The TypeScript SDK's `McpServer` (both reference servers): a tool result with
    /// `isError: true` and the text `MCP error -32602: Tool NAME not found`.
    #[default]
    Sdk,
    /// The specification's example: JSON-RPC error -32602 `Unknown tool: NAME`.
    JsonRpc,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// The server's name in policy: tools are `server.tool`.
    pub server: String,
    pub unknown_tool: UnknownTool,
    /// Largest message, in bytes, either way.
    pub max_message: usize,
    /// How long a request may wait for the server's answer.
    pub request_timeout: Duration,
    /// `mcp.session.id` in the audit log.
    pub session_id: String,
}

/// Something to do after a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    ToServer(Value),
    ToClient(Value),
    /// A line for the operator's stderr.
    Note(String),
    /// The conversation cannot go on (the server is gone or broke the framing).
    Stop,
    /// A call that needs a human, in hold mode (`approval.mode = "hold"`): the proxy
    /// decides it with [`Judge::authorize_holding`] off the session, which goes on
    /// with other messages meanwhile, and hands the verdict to [`Session::decided`].
    Hold(Box<Held>),
}

/// A `tools/call` waiting for a human's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    /// What is decided (the call's strictest reading, attributed).
    pub action: Action,
    client_id: Id,
    params: Option<Value>,
    why: String,
}

struct Pending {
    client_id: Id,
    method: String,
    sent: Instant,
}

pub struct Session {
    judge: Arc<dyn Judge>,
    options: Options,
    pending: HashMap<i64, Pending>,
    by_client: HashMap<Id, i64>,
    next_id: i64,
    /// The annotations of every visible tool as last listed.
    annotations: HashMap<String, Value>,
    /// Whether each tool called so far is declared: it depends on the name alone and
    /// the manifest, which a session never changes, so a call asks policy once less.
    declared: HashMap<String, bool>,
    protocol: Option<String>,
    /// `approval.mode = "hold"`: calls that need a human wait for one.
    hold: bool,
    /// Client ids of held calls: still in use until their answer.
    held: std::collections::HashSet<Id>,
}

impl Session {
    pub fn new(judge: Arc<dyn Judge>, options: Options) -> Session {
        Session {
            judge: judge.clone(),
            options,
            pending: HashMap::new(),
            by_client: HashMap::new(),
            next_id: 1,
            annotations: HashMap::new(),
            declared: HashMap::new(),
            protocol: None,
            hold: judge.manifest().manifest.approval.mode == ApprovalMode::Hold,
            held: std::collections::HashSet::new(),
        }
    }

    /// Requests forwarded and not yet answered.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    pub fn from_client(&mut self, frame: Frame, now: Instant) -> Vec<Out> {
        let line = match frame {
            Frame::Line(line) => line,
            Frame::TooLong { len } => {
                let text = format!(
                    "a message of {len} bytes or more is over the limit of {} bytes (--max-message)",
                    self.options.max_message
                );
                return vec![
                    Out::Note(format!("cordon mcp: refused from the client: {text}")),
                    Out::ToClient(jsonrpc::error(None, jsonrpc::INVALID_REQUEST, &text, None)),
                ];
            }
            Frame::Eof => return vec![Out::Stop],
        };
        match jsonrpc::parse(&line) {
            Err((error, id)) => vec![
                Out::Note(format!("cordon mcp: refused from the client: {error}")),
                Out::ToClient(jsonrpc::error(
                    id.as_ref(),
                    error.code(),
                    &error.to_string(),
                    None,
                )),
            ],
            Ok(Message::Request { id, method, params }) => {
                self.client_request(id, method, params, now)
            }
            // MCP's notifications are all `notifications/…`. Anything else without an
            // id (`tools/call` with the id left out) would reach the server unjudged,
            // and a lax server might run it; it cannot be answered, so it is dropped.
            Ok(Message::Notification { method, .. }) if !method.starts_with("notifications/") => {
                vec![Out::Note(format!(
                    "cordon mcp: dropped `{method}` from the client: it has no id, and only \
                     `notifications/…` may be sent without one"
                ))]
            }
            Ok(Message::Notification { method, params }) => {
                vec![Out::ToServer(self.client_notification(method, params))]
            }
            // Answers to the server's own requests (sampling, roots, elicitation).
            Ok(message @ Message::Response { .. }) => vec![Out::ToServer(message.to_value())],
        }
    }

    fn client_request(
        &mut self,
        id: Id,
        method: String,
        mut params: Option<Value>,
        now: Instant,
    ) -> Vec<Out> {
        if self.by_client.contains_key(&id) || self.held.contains(&id) {
            return vec![Out::ToClient(jsonrpc::error(
                Some(&id),
                jsonrpc::INVALID_REQUEST,
                &format!(
                    "request id {id} is already in use by a request still waiting for its answer"
                ),
                None,
            ))];
        }
        if let Err(refusal) = versions::check_meta(params.as_ref()) {
            return vec![
                Out::Note(format!("cordon mcp: {}", refusal.message)),
                Out::ToClient(refusal.to_error(&id)),
            ];
        }
        let mut notes = Vec::new();
        if method == "initialize"
            && let Some(note) = versions::propose_handshake(params.as_mut())
        {
            notes.push(Out::Note(format!("cordon mcp: {note}")));
        }
        if method == "tools/call" {
            match self.gate_call(&id, params.as_ref()) {
                Gated::Forward => {}
                Gated::Answer(answer) => {
                    notes.push(Out::ToClient(answer));
                    return notes;
                }
                Gated::Hold(action, why) => {
                    self.held.insert(id.clone());
                    notes.push(Out::Note(format!(
                        "cordon mcp: holding `{}` until a human decides: {why}",
                        action.detail
                    )));
                    notes.push(Out::Hold(Box::new(Held {
                        action: *action,
                        client_id: id,
                        params,
                        why,
                    })));
                    return notes;
                }
            }
        }
        notes.push(self.forward(id, method, params, now));
        notes
    }

    /// The verdict on a held call: it goes to the server, or its answer is the refusal.
    pub fn decided(&mut self, held: Held, verdict: &Verdict, now: Instant) -> Vec<Out> {
        let Held {
            action,
            client_id,
            params,
            why,
        } = held;
        self.held.remove(&client_id);
        let name = action.attributes.get("gen_ai.tool.name").cloned();
        let answer = match verdict.decision {
            Decision::Allow => {
                return vec![self.forward(client_id, "tools/call".to_owned(), params, now)];
            }
            Decision::Deny if undeclared(verdict) => {
                self.unknown_tool(&client_id, name.as_deref().unwrap_or(""))
            }
            Decision::Deny => refusal(&client_id, verdict),
            Decision::Confirm => confirmation(&client_id, &why, verdict),
        };
        vec![Out::ToClient(answer)]
    }

    /// Sends a request on under an id of the proxy's.
    fn forward(&mut self, id: Id, method: String, params: Option<Value>, now: Instant) -> Out {
        let proxy_id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        self.by_client.insert(id.clone(), proxy_id);
        self.pending.insert(
            proxy_id,
            Pending {
                client_id: id,
                method: method.clone(),
                sent: now,
            },
        );
        Out::ToServer(
            Message::Request {
                id: Id::Number(proxy_id),
                method,
                params,
            }
            .to_value(),
        )
    }

    /// A cancellation names the request by the client's id; the server knows it by
    /// the proxy's.
    fn client_notification(&mut self, method: String, mut params: Option<Value>) -> Value {
        if method == "notifications/cancelled"
            && let Some(Value::Object(p)) = params.as_mut()
            && let Some(raw) = p.get("requestId")
            && let Some(client_id) = Id::from_value(raw)
            && let Some(proxy_id) = self.by_client.get(&client_id)
        {
            p.insert("requestId".into(), json!(proxy_id));
        }
        Message::Notification { method, params }.to_value()
    }

    pub fn from_server(&mut self, frame: Frame) -> Vec<Out> {
        let line = match frame {
            Frame::Line(line) => line,
            Frame::TooLong { len } => {
                // Which request it answered cannot be told without reading it.
                let why = format!(
                    "the MCP server sent a message of {len} bytes or more, over the limit of {} bytes (--max-message)",
                    self.options.max_message
                );
                return self.fail_all(&why, jsonrpc::UPSTREAM_GONE);
            }
            Frame::Eof => {
                return self.fail_all(
                    "the MCP server closed its output (it exited or crashed)",
                    jsonrpc::UPSTREAM_GONE,
                );
            }
        };
        match jsonrpc::parse(&line) {
            Err((error, _)) => vec![Out::Note(format!(
                "cordon mcp: dropped a message from the server: {error}"
            ))],
            Ok(Message::Response { id, body }) => self.server_response(id, body),
            Ok(message) => vec![Out::ToClient(message.to_value())],
        }
    }

    fn server_response(&mut self, id: Id, mut body: Map<String, Value>) -> Vec<Out> {
        let Some(pending) = (match id {
            Id::Number(n) => self.pending.remove(&n),
            Id::Text(_) => None,
        }) else {
            return vec![Out::Note(format!(
                "cordon mcp: dropped an answer from the server to request {id}, which nobody is waiting for"
            ))];
        };
        self.by_client.remove(&pending.client_id);
        body.insert("id".into(), pending.client_id.to_value());
        let mut out = Vec::new();
        match pending.method.as_str() {
            "initialize" => {
                if let Some(result) = body.get("result") {
                    match versions::check_handshake(result) {
                        Ok(version) => self.protocol = Some(version),
                        Err(refusal) => {
                            out.push(Out::Note(format!("cordon mcp: {}", refusal.message)));
                            out.push(Out::ToClient(refusal.to_error(&pending.client_id)));
                            return out;
                        }
                    }
                }
            }
            "tools/list" => {
                if let Some(Value::Object(result)) = body.get_mut("result") {
                    self.filter_tools(result, &pending.client_id);
                }
            }
            _ => {}
        }
        out.push(Out::ToClient(Value::Object(body)));
        out
    }

    /// Answers every request that has waited longer than the timeout.
    pub fn expire(&mut self, now: Instant) -> Vec<Out> {
        let timeout = self.options.request_timeout;
        let late: Vec<i64> = self
            .pending
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.sent) >= timeout)
            .map(|(id, _)| *id)
            .collect();
        let mut out = Vec::new();
        for proxy_id in late {
            if let Some(p) = self.pending.remove(&proxy_id) {
                self.by_client.remove(&p.client_id);
                let text = format!(
                    "the MCP server did not answer `{}` within {}s (--request-timeout)",
                    p.method,
                    timeout.as_secs()
                );
                out.push(Out::Note(format!("cordon mcp: {text}")));
                out.push(Out::ToClient(jsonrpc::error(
                    Some(&p.client_id),
                    jsonrpc::UPSTREAM_TIMEOUT,
                    &text,
                    None,
                )));
            }
        }
        out
    }

    fn fail_all(&mut self, why: &str, code: i64) -> Vec<Out> {
        let mut out = vec![Out::Note(format!("cordon mcp: {why}"))];
        let mut waiting: Vec<Pending> = self.pending.drain().map(|(_, p)| p).collect();
        waiting.sort_by_key(|p| p.sent);
        self.by_client.clear();
        for p in waiting {
            out.push(Out::ToClient(jsonrpc::error(
                Some(&p.client_id),
                code,
                why,
                None,
            )));
        }
        out.push(Out::Stop);
        out
    }

    fn attributes(&self, action: Action, method: &str, id: &Id, tool: Option<&str>) -> Action {
        let mut action = action
            .with_attribute("mcp.method.name", method)
            .with_attribute("mcp.session.id", &self.options.session_id)
            .with_attribute("jsonrpc.request.id", id.to_string());
        if let Some(tool) = tool {
            action = action
                .with_attribute("gen_ai.tool.name", tool)
                .with_attribute("gen_ai.operation.name", "execute_tool");
        }
        if let Some(version) = &self.protocol {
            action = action.with_attribute("mcp.protocol.version", version);
        }
        action
    }

    /// Keeps the tools policy lets the agent know of; records one decision for the
    /// listing.
    fn filter_tools(&mut self, result: &mut Map<String, Value>, id: &Id) {
        let Some(Value::Array(listed)) = result.get_mut("tools") else {
            return;
        };
        let ctx = tools::shell_context(self.judge.manifest());
        let server = self.options.server.clone();
        let total = listed.len();
        let mut hidden = Vec::new();
        listed.retain(|tool| {
            let name = tool.get("name").and_then(Value::as_str).unwrap_or_default();
            let visible = tools::listing_action(&server, tool, &ctx).is_some_and(|action| {
                let verdict = self.judge.evaluate(&action);
                !(verdict.decision == Decision::Deny && undeclared(&verdict))
            });
            if visible {
                self.annotations.insert(
                    name.to_owned(),
                    tool.get("annotations").cloned().unwrap_or(Value::Null),
                );
            } else {
                hidden.push(name.escape_debug().to_string());
            }
            visible
        });
        let detail = format!(
            "tools/list: {} of {total} tools shown; hidden: {}",
            total - hidden.len(),
            if hidden.is_empty() {
                "none".to_owned()
            } else {
                hidden.join(", ")
            }
        );
        let action =
            Action::new(cordon_core::Gate::Mcp, "mcp.tools.list", Effect::Read).with_detail(detail);
        let action = self.attributes(action, "tools/list", id, None);
        // A listing is recorded like every decision; what it shows is policy's per tool.
        let _ = self.judge.authorize(&action);
    }

    fn gate_call(&mut self, id: &Id, params: Option<&Value>) -> Gated {
        let Some(name) = params.and_then(|p| p.get("name")).and_then(Value::as_str) else {
            return Gated::Answer(jsonrpc::error(
                Some(id),
                jsonrpc::INVALID_PARAMS,
                "tools/call needs `params.name`, the tool's name",
                None,
            ));
        };
        let empty = json!({});
        let arguments = params.and_then(|p| p.get("arguments")).unwrap_or(&empty);
        let server = self.options.server.clone();

        // An undeclared tool is unknown before anything about its arguments is said.
        let probe = self.attributes(
            tools::call_action(&server, name, Effect::Read)
                .with_detail(format!("{} {arguments}", tools::qualified(&server, name))),
            "tools/call",
            id,
            Some(name),
        );
        let declared = match self.declared.get(name) {
            Some(known) => *known,
            None => {
                let probed = self.judge.evaluate(&probe);
                let known = !(probed.decision == Decision::Deny && undeclared(&probed));
                if self.declared.len() < MAX_REMEMBERED_TOOLS {
                    self.declared.insert(name.to_owned(), known);
                }
                known
            }
        };
        if !declared {
            let _ = self.judge.authorize(&probe);
            return Gated::Answer(self.unknown_tool(id, name));
        }

        let manifest = self.judge.manifest();
        let annotations = self.annotations.get(name).filter(|a| !a.is_null());
        match tools::read_call(manifest, &server, name, arguments, annotations) {
            Reading::Violation { action, reason } => {
                let action = self.attributes(*action, "tools/call", id, Some(name));
                let verdict = Verdict::deny(reason, vec!["tools.args".to_owned()]);
                self.judge.record(&action, &verdict);
                Gated::Answer(refusal(id, &verdict))
            }
            Reading::Actions(actions) => {
                let chosen = self.strictest(actions);
                let action = self.attributes(chosen.0, "tools/call", id, Some(name));
                // Policy alone says whether a human is needed; nothing is recorded
                // here, holding records each step itself.
                if self.hold && self.judge.evaluate(&action).decision == Decision::Confirm {
                    return Gated::Hold(Box::new(action), chosen.1);
                }
                let verdict = self.judge.authorize(&action);
                match verdict.decision {
                    Decision::Allow => Gated::Forward,
                    Decision::Deny if undeclared(&verdict) => {
                        Gated::Answer(self.unknown_tool(id, name))
                    }
                    Decision::Deny => Gated::Answer(refusal(id, &verdict)),
                    Decision::Confirm => Gated::Answer(confirmation(id, &chosen.1, &verdict)),
                }
            }
        }
    }

    /// The action whose verdict is strictest under policy alone; it is the one decided
    /// and recorded, so an approval covers the call's worst reading.
    fn strictest(&self, mut actions: Vec<(Action, String)>) -> (Action, String) {
        // One reading (the usual case) needs no comparing.
        if actions.len() == 1
            && let Some(only) = actions.pop()
        {
            return only;
        }
        let rank = |d: Decision| match d {
            Decision::Allow => 0,
            Decision::Confirm => 1,
            Decision::Deny => 2,
        };
        let mut best: Option<((Action, String), u8)> = None;
        for candidate in actions {
            let strictness = rank(self.judge.evaluate(&candidate.0).decision);
            if best.as_ref().is_none_or(|(_, s)| strictness > *s) {
                best = Some((candidate, strictness));
            }
        }
        best.map(|(c, _)| c).unwrap_or_else(|| {
            (
                Action::new(cordon_core::Gate::Mcp, "mcp.tool", Effect::Unknown),
                "nothing to judge".to_owned(),
            )
        })
    }

    fn unknown_tool(&self, id: &Id, name: &str) -> Value {
        match self.options.unknown_tool {
            UnknownTool::Sdk => jsonrpc::result(
                id,
                json!({
                    "content": [{"type": "text", "text": format!("MCP error -32602: Tool {name} not found")}],
                    "isError": true,
                }),
            ),
            UnknownTool::JsonRpc => jsonrpc::error(
                Some(id),
                jsonrpc::INVALID_PARAMS,
                &format!("Unknown tool: {name}"),
                None,
            ),
        }
    }
}

enum Gated {
    Forward,
    Answer(Value),
    Hold(Box<Action>, String),
}

/// A refusal by `[tools] allow`: the tool does not exist for this task.
/// Tool names a session remembers as declared or not; past it each call asks policy
/// (a client calling invented names cannot grow the table without bound).
const MAX_REMEMBERED_TOOLS: usize = 4096;

fn undeclared(verdict: &Verdict) -> bool {
    verdict.policies.iter().any(|p| p == "tools.allow")
}

/// A refused call, as a tool error the agent reads.
fn refusal(id: &Id, verdict: &Verdict) -> Value {
    let text = format!("cordon refused this call: {}", verdict.reasons.join("; "));
    jsonrpc::result(
        id,
        json!({
            "content": [{"type": "text", "text": text}],
            "isError": true,
            "_meta": {"dev.cordon/verdict": {"decision": "deny", "reasons": verdict.reasons}},
        }),
    )
}

/// `confirmation_required`, as a tool error naming the approval and how to give it.
fn confirmation(id: &Id, why: &str, verdict: &Verdict) -> Value {
    let approval = verdict.approval_id.clone().unwrap_or_default();
    let text = format!(
        "confirmation_required: {why}. {} Approval id: {approval}. A human approves it with `cordon approve {approval}` (or in `cordon ui`); then retry the identical call.",
        verdict.reasons.join("; ")
    );
    jsonrpc::result(
        id,
        json!({
            "content": [{"type": "text", "text": text}],
            "isError": true,
            "_meta": {"dev.cordon/verdict": {
                "decision": "confirmation_required",
                "approval_id": approval,
                "reasons": verdict.reasons,
            }},
        }),
    )
}

#[cfg(test)]
#[allow(
    clippy::panic,
    clippy::unwrap_used,
    reason = "a failing test fails loudly"
)]
#[path = "session_tests.rs"]
mod tests;
