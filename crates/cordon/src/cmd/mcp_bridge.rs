//! The MCP servers a manifest declares, under `cordon run`. The agent's sandbox cannot
//! start them with their own grants (a sandbox cannot build another, and their
//! credentials must never be inside the agent's), so the supervisor does: each
//! declared server has a listener on loopback inside the agent's sandbox, and every
//! connection to it is one MCP session, judged by the task's `[tools]` policy, with
//! the server started for it in a sandbox of its own. Inside, `cordon mcp --server
//! NAME` (what the agent's MCP configuration runs) finds the listener in
//! [`SERVERS_VAR`] and only carries the conversation.

use anyhow::{Context, Result};
use cordon_core::Authorizer;
use cordon_core::manifest::LoadedManifest;
use cordon_mcp::proxy::note;
use cordon_mcp::{Options, UnknownTool};
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

use super::mcp_sandbox::{self, ServerSpec};

/// `NAME=127.0.0.1:PORT,…`: where each declared server is reached inside.
pub const SERVERS_VAR: &str = "CORDON_MCP_SERVERS";

/// Sessions (each a sandboxed server) open at once per declared server.
const MAX_SESSIONS: usize = 8;

/// The first port inside for declared servers; one each, in name order.
pub const FIRST_PORT: u16 = 4610;

/// Where the supervisor's own executable is shown inside, first on `PATH`, so the
/// agent's `cordon mcp --server NAME` is found and speaks the supervisor's version.
pub const BIN_DIR_INSIDE: &str = "/tmp/.cordon-bin";

/// The declared servers and their ports inside.
pub fn ports(loaded: &LoadedManifest) -> Vec<(String, u16)> {
    loaded
        .manifest
        .mcp
        .servers
        .keys()
        .cloned()
        .zip(FIRST_PORT..)
        .collect()
}

/// The value of [`SERVERS_VAR`] for these ports.
pub fn env_value(ports: &[(String, u16)]) -> String {
    ports
        .iter()
        .map(|(name, port)| format!("{name}=127.0.0.1:{port}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Where server `name` is reached, when this process runs inside `cordon run`.
pub fn address(name: &str) -> Option<SocketAddr> {
    let listed = std::env::var(SERVERS_VAR).ok()?;
    listed.split(',').find_map(|pair| {
        let (key, addr) = pair.split_once('=')?;
        (key == name).then(|| addr.parse().ok()).flatten()
    })
}

/// Inside: the client's stdio to the supervisor's listener and back, until the
/// server's side ends.
pub fn connect(name: &str, address: SocketAddr) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the MCP bridge's runtime")?;
    let ended = runtime.block_on(async move {
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .with_context(|| {
                format!("cannot reach MCP server `{name}` at {address}, which cordon run serves")
            })?;
        let (mut from_server, mut to_server) = stream.into_split();
        let upward = tokio::spawn(async move {
            let mut stdin = tokio::io::stdin();
            let _ = tokio::io::copy(&mut stdin, &mut to_server).await;
            let _ = to_server.shutdown().await;
        });
        let mut stdout = tokio::io::stdout();
        let copied = tokio::io::copy(&mut from_server, &mut stdout).await;
        let _ = stdout.flush().await;
        upward.abort();
        copied.context("the connection to the MCP server broke")
    });
    // The stdin reader may be parked in a blocking read; do not wait for it.
    runtime.shutdown_background();
    ended?;
    Ok(ExitCode::SUCCESS)
}

/// What the supervisor needs to serve the declared servers.
pub struct Bridges {
    /// The whole task (each server's view is derived from it).
    pub loaded: LoadedManifest,
    /// Judges the tool calls: the agent's task.
    pub judge: Arc<Authorizer>,
    pub workspace: PathBuf,
    pub read_only: bool,
    pub cordon_home: PathBuf,
}

/// Serves each declared server's listener on `runtime` until the runtime stops.
pub fn serve(
    runtime: &tokio::runtime::Handle,
    bridges: Arc<Bridges>,
    listeners: Vec<(String, std::net::TcpListener)>,
) -> std::io::Result<()> {
    let _entered = runtime.enter();
    for (name, listener) in listeners {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let bridges = bridges.clone();
        let handle = runtime.clone();
        // Each session starts a sandbox: an agent opening connections in a loop must
        // not start servers without bound.
        let sessions = Arc::new(tokio::sync::Semaphore::new(MAX_SESSIONS));
        runtime.spawn(async move {
            let mut session = 0u32;
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let Ok(permit) = sessions.clone().try_acquire_owned() else {
                    note(&format!(
                        "cordon: MCP server `{name}`: refused a connection, {MAX_SESSIONS} sessions are open"
                    ));
                    drop(stream);
                    continue;
                };
                session = session.wrapping_add(1);
                let bridges = bridges.clone();
                let name = name.clone();
                let handle = handle.clone();
                tokio::spawn(async move {
                    if let Err(e) = one_session(bridges, &name, session, stream, handle).await {
                        note(&format!("cordon: MCP server `{name}`: {e:#}"));
                    }
                    drop(permit);
                });
            }
        });
    }
    Ok(())
}

async fn one_session(
    bridges: Arc<Bridges>,
    name: &str,
    session: u32,
    stream: tokio::net::TcpStream,
    runtime: tokio::runtime::Handle,
) -> Result<()> {
    let command: Vec<OsString> = bridges
        .loaded
        .manifest
        .mcp
        .servers
        .get(name)
        .map(|entry| entry.command.get_ref().iter().map(OsString::from).collect())
        .unwrap_or_default();
    let started = {
        let bridges = bridges.clone();
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || {
            mcp_sandbox::start(
                &ServerSpec {
                    loaded: &bridges.loaded,
                    name: &name,
                    command: &command,
                    workspace: &bridges.workspace,
                    read_only: bridges.read_only,
                    stderr_to_log: true,
                },
                &bridges.cordon_home,
                &runtime,
            )
        })
        .await
        .context("the MCP server's start was interrupted")??
    };
    let options = Options {
        server: name.to_owned(),
        unknown_tool: UnknownTool::Sdk,
        max_message: 16 << 20,
        request_timeout: Duration::from_secs(300),
        session_id: format!("{:x}-{name}-{session}", std::process::id()),
    };
    let (client_in, client_out) = stream.into_split();
    cordon_mcp::serve_server(
        bridges.judge.clone(),
        options,
        client_in,
        client_out,
        started,
    )
    .await?;
    Ok(())
}
