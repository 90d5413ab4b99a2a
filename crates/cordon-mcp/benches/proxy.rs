//! What `cordon mcp` adds to a tools/call: the same server (tests/mcp/liar.js under
//! node) called directly over its stdio pipes, and through the proxy (`serve`, with a
//! real authorizer and audit log), one call at a time (latency) and 500 calls in
//! flight (throughput). The proxy runs in-process on an in-memory duplex pipe on the
//! client side; process start-up is not measured.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "bench setup"
)]

use cordon_core::Authorizer;
use cordon_core::manifest::{LoadedManifest, Manifest};
use cordon_mcp::{Options, UnknownTool};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn liar() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/mcp/liar.js")
}

fn server() -> tokio::process::Child {
    cordon_mcp::spawn(&["node".into(), liar().into_os_string()]).unwrap()
}

type Lines = tokio::io::Lines<BufReader<Box<dyn tokio::io::AsyncRead + Unpin + Send>>>;
type Sink = Box<dyn tokio::io::AsyncWrite + Unpin + Send>;

struct Peer {
    sink: Sink,
    lines: Lines,
    next: u64,
    _keep: Option<tokio::process::Child>,
}

impl Peer {
    async fn send(&mut self, message: String) {
        self.sink.write_all(message.as_bytes()).await.unwrap();
        self.sink.write_all(b"\n").await.unwrap();
        self.sink.flush().await.unwrap();
    }

    fn call(&mut self) -> String {
        self.next += 1;
        format!(
            r#"{{"jsonrpc":"2.0","id":{},"method":"tools/call","params":{{"name":"get_status","arguments":{{}}}}}}"#,
            self.next
        )
    }

    async fn init(&mut self) {
        self.send(r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#.to_owned()).await;
        self.lines.next_line().await.unwrap();
    }

    /// `n` calls in flight at once, all answered.
    async fn calls(&mut self, n: usize) {
        let mut batch = String::new();
        for _ in 0..n {
            batch.push_str(&self.call());
            batch.push('\n');
        }
        self.sink.write_all(batch.as_bytes()).await.unwrap();
        self.sink.flush().await.unwrap();
        for _ in 0..n {
            let line = self.lines.next_line().await.unwrap().expect("an answer");
            assert!(line.contains("get_status"), "{line}");
        }
    }
}

fn direct() -> Peer {
    let mut child = server();
    let sink: Sink = Box::new(child.stdin.take().unwrap());
    let out: Box<dyn tokio::io::AsyncRead + Unpin + Send> = Box::new(child.stdout.take().unwrap());
    Peer {
        sink,
        lines: BufReader::new(out).lines(),
        next: 0,
        _keep: Some(child),
    }
}

fn proxied(home: &Path, sync: &str) -> Peer {
    let text = format!(
        "[task]\nname = \"bench\"\n[tools]\nallow = [\"liar.*\"]\n[audit]\nsync = \"{sync}\"\n"
    );
    let loaded = LoadedManifest {
        manifest: Manifest::parse(&text, "cordon.toml").unwrap(),
        path: None,
        base_dir: home.to_path_buf(),
        extra_policies: Vec::new(),
    };
    let authorizer = Arc::new(Authorizer::open(loaded, &home.join(sync)).unwrap());
    let options = Options {
        server: "liar".into(),
        unknown_tool: UnknownTool::Sdk,
        max_message: 16 << 20,
        request_timeout: Duration::from_secs(60),
        session_id: "bench".into(),
    };
    let (client, proxy_side) = tokio::io::duplex(1 << 20);
    let (proxy_in, proxy_out) = tokio::io::split(proxy_side);
    let (client_in, client_out) = tokio::io::split(client);
    tokio::spawn(cordon_mcp::serve(
        authorizer,
        options,
        proxy_in,
        proxy_out,
        server(),
    ));
    let out: Box<dyn tokio::io::AsyncRead + Unpin + Send> = Box::new(client_in);
    Peer {
        sink: Box::new(client_out),
        lines: BufReader::new(out).lines(),
        next: 0,
        _keep: None,
    }
}

fn bench(c: &mut Criterion) {
    if !liar().exists() {
        panic!("{} is missing", liar().display());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut peers: Vec<(&str, Peer)> = runtime.block_on(async {
        let mut peers = vec![
            ("direct", direct()),
            ("proxy_audit_os", proxied(home.path(), "os")),
            ("proxy_audit_batch", proxied(home.path(), "batch")),
        ];
        for (_, peer) in &mut peers {
            peer.init().await;
        }
        peers
    });

    let mut latency = c.benchmark_group("tools_call_latency");
    latency
        .sample_size(200)
        .measurement_time(Duration::from_secs(8));
    for (name, peer) in &mut peers {
        latency.bench_function(*name, |b| {
            b.iter_custom(|iterations| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iterations {
                        peer.calls(1).await;
                    }
                    start.elapsed()
                })
            })
        });
    }
    latency.finish();

    let mut throughput = c.benchmark_group("tools_call_throughput");
    const IN_FLIGHT: usize = 500;
    throughput
        .throughput(Throughput::Elements(IN_FLIGHT as u64))
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for (name, peer) in &mut peers {
        throughput.bench_function(*name, |b| {
            b.iter_custom(|iterations| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iterations {
                        peer.calls(IN_FLIGHT).await;
                    }
                    start.elapsed()
                })
            })
        });
    }
    throughput.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
