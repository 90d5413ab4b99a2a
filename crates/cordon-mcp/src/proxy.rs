//! The stdio proxy's plumbing: a reader and a writer per side, a clock, and the session
//! on a thread of its own (deciding may wait for the audit log's group commit, which
//! must not stall the runtime).

use crate::frame::{Frame, read_frame};
use crate::judge::Judge;
use crate::session::{Held, Options, Out, Session};
use cordon_core::Verdict;
use serde_json::Value;
use std::ffi::OsString;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// How long a server may take to exit once its input is closed.
const EXIT_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot start the MCP server `{command}`: {detail}")]
    Spawn { command: String, detail: String },
    #[error("the MCP proxy's session failed: {0}")]
    Session(String),
    #[error("{0}")]
    Upstream(String),
}

/// Why the conversation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The client closed its input: the normal end.
    ClientClosed,
    /// The server exited or broke the framing first.
    ServerGone,
}

#[derive(Debug)]
pub struct Outcome {
    pub ended: Ended,
    /// How the server exited, in words, when it did (it is killed if it lingers).
    pub server: Option<String>,
}

/// The server process behind the proxy, however it was started (a plain child, or
/// one in a sandbox of its own).
pub trait ServerProcess: Send {
    /// Waits for it to exit; how it exited, in words.
    fn wait(&mut self) -> impl Future<Output = Option<String>> + Send;
    /// Stops it at once.
    fn kill(&mut self) -> impl Future<Output = ()> + Send;
}

impl ServerProcess for Child {
    async fn wait(&mut self) -> Option<String> {
        Child::wait(self)
            .await
            .ok()
            .map(|s: ExitStatus| s.to_string())
    }

    async fn kill(&mut self) {
        let _ = Child::kill(self).await;
    }
}

enum Event {
    Client(Frame),
    Server(Frame),
    Tick,
    /// A held call's verdict, from the thread that waited for a human.
    Decided(Box<Held>, Verdict),
}

/// Starts `command` with piped stdin and stdout (its stderr is the proxy's).
pub fn spawn(command: &[OsString]) -> Result<Child, ProxyError> {
    let shown = command
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let (program, args) = command.split_first().ok_or_else(|| ProxyError::Spawn {
        command: shown.clone(),
        detail: "no command given".to_owned(),
    })?;
    Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ProxyError::Spawn {
            command: shown,
            detail: e.to_string(),
        })
}

/// Proxies between the client (`client_in`/`client_out`) and the server `child` until
/// either side is gone.
pub async fn serve<I, O>(
    judge: Arc<dyn Judge>,
    options: Options,
    client_in: I,
    client_out: O,
    mut child: Child,
) -> Result<Outcome, ProxyError>
where
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite + Unpin + Send + 'static,
{
    let (Some(server_in), Some(server_out)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(ProxyError::Session(
            "the server's stdin and stdout are not piped".to_owned(),
        ));
    };
    let server = Server {
        input: server_in,
        output: server_out,
        process: child,
    };
    serve_server(judge, options, client_in, client_out, server).await
}

/// A server's standard input and output, and the process behind them.
pub struct Server<W, R, P> {
    pub input: W,
    pub output: R,
    pub process: P,
}

/// [`serve`] for a server started some other way (in a sandbox, say).
pub async fn serve_server<I, O, W, R, P>(
    judge: Arc<dyn Judge>,
    options: Options,
    client_in: I,
    client_out: O,
    server: Server<W, R, P>,
) -> Result<Outcome, ProxyError>
where
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
    R: AsyncRead + Unpin + Send + 'static,
    P: ServerProcess,
{
    let Server {
        input: server_in,
        output: server_out,
        process: mut child,
    } = server;
    let max = options.max_message;
    let (events, mut incoming) = mpsc::channel::<Event>(64);
    let (to_client, client_rx) = mpsc::channel::<Value>(64);
    let (to_server, server_rx) = mpsc::channel::<Value>(64);

    let readers = [
        tokio::spawn(read_side(client_in, max, events.clone(), Event::Client)),
        tokio::spawn(read_side(server_out, max, events.clone(), Event::Server)),
        tokio::spawn(tick(events.clone())),
    ];
    let client_writer = tokio::spawn(write_side(client_out, client_rx));
    let server_writer = tokio::spawn(write_side(server_in, server_rx));

    // The session decides on this task, between its reads and writes: a call's
    // decision is tens of microseconds (policy, and the audit writer's answer), and a
    // thread of its own cost four thread hand-offs per call, most of what the proxy
    // added to a call's latency. A decision that waits longer (an fdatasync for a
    // destroy) holds one worker; the readers and writers run on the others.
    let decided: Result<Ended, ProxyError> = async {
        let events = events;
        let mut session = Session::new(judge.clone(), options);
        while let Some(event) = incoming.recv().await {
            let out = match event {
                Event::Client(frame) => {
                    if frame == Frame::Eof {
                        return Ok(Ended::ClientClosed);
                    }
                    session.from_client(frame, Instant::now())
                }
                Event::Server(frame) => session.from_server(frame),
                Event::Tick => session.expire(Instant::now()),
                Event::Decided(held, verdict) => session.decided(*held, &verdict, Instant::now()),
            };
            for item in out {
                match item {
                    // A side that is gone makes its writer stop; what was meant for it
                    // is dropped, and its reader reports the end.
                    Out::ToServer(message) => {
                        let _ = to_server.send(message).await;
                    }
                    Out::ToClient(message) => {
                        let _ = to_client.send(message).await;
                    }
                    Out::Note(line) => note(&line),
                    Out::Stop => return Ok(Ended::ServerGone),
                    // The wait for a human is a blocked thread of its own; the
                    // conversation goes on.
                    Out::Hold(held) => {
                        let judge = judge.clone();
                        let events = events.clone();
                        tokio::task::spawn_blocking(move || {
                            let verdict = judge.authorize_holding(&held.action);
                            let _ = events.blocking_send(Event::Decided(held, verdict));
                        });
                    }
                }
            }
        }
        Ok(Ended::ServerGone)
    }
    .await;
    drop(to_server);
    drop(to_client);
    for reader in &readers {
        reader.abort();
    }
    let ended = decided?;
    // The writers end once the session's senders are dropped: the client gets every
    // answer written, and the server's stdin closes, which asks it to exit.
    let _ = client_writer.await;
    let _ = server_writer.await;
    let server = match tokio::time::timeout(EXIT_GRACE, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            note("cordon mcp: the MCP server did not exit after its input closed; killing it");
            child.kill().await;
            tokio::time::timeout(EXIT_GRACE, child.wait())
                .await
                .ok()
                .flatten()
        }
    };
    Ok(Outcome { ended, server })
}

async fn read_side<R>(reader: R, max: usize, events: mpsc::Sender<Event>, wrap: fn(Frame) -> Event)
where
    R: AsyncRead + Unpin,
{
    let mut reader = BufReader::new(reader);
    loop {
        let frame = match read_frame(&mut reader, max).await {
            Ok(frame) => frame,
            // A broken pipe is the same as a close.
            Err(_) => Frame::Eof,
        };
        let last = frame == Frame::Eof;
        if events.send(wrap(frame)).await.is_err() || last {
            return;
        }
    }
}

async fn tick(events: mpsc::Sender<Event>) {
    let mut every = tokio::time::interval(Duration::from_millis(200));
    loop {
        every.tick().await;
        if events.send(Event::Tick).await.is_err() {
            return;
        }
    }
}

async fn write_side<W>(mut writer: W, mut messages: mpsc::Receiver<Value>)
where
    W: AsyncWrite + Unpin,
{
    while let Some(message) = messages.recv().await {
        let mut line = message.to_string().into_bytes();
        line.push(b'\n');
        if writer.write_all(&line).await.is_err() || writer.flush().await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}

/// A line for the operator. Nobody reading stderr any more is not a reason to stop.
pub fn note(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
