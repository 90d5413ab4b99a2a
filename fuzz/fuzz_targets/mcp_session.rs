//! Arbitrary bytes through the MCP proxy's framing and session, from both sides: the
//! client is the agent and the server is untrusted code, so neither may make the proxy
//! panic, and no `tools/call` of an undeclared tool may ever reach the server.
//! Each line's first byte picks its side (even: client, odd: server); the rest of the
//! input is also read as one stream through the framer with a small size limit.
#![no_main]

use cordon_core::manifest::{LoadedManifest, Manifest};
use cordon_mcp::frame::{Frame, read_frame};
use cordon_mcp::{Options, Out, PolicyOnly, Session, UnknownTool};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const MANIFEST: &str = r#"
[task]
name = "fuzz"
[tools]
allow = ["s.echo", "s.delete_*", "s.run_query", "s.read_file"]
[tools.args."s.run_query"]
sql = { classify = "sql" }
[tools.args."s.read_file"]
path = { within = "workspace" }
"#;

fn judge() -> Arc<PolicyOnly> {
    static JUDGE: OnceLock<Arc<PolicyOnly>> = OnceLock::new();
    JUDGE
        .get_or_init(|| {
            let manifest =
                Manifest::parse(MANIFEST, "cordon.toml").expect("the fuzz manifest parses");
            let judge = PolicyOnly::new(LoadedManifest {
                manifest,
                path: None,
                base_dir: "/work/app".into(),
                extra_policies: Vec::new(),
            })
            .expect("the fuzz manifest compiles");
            Arc::new(judge)
        })
        .clone()
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
}

fn declared(name: &str) -> bool {
    matches!(name, "echo" | "run_query" | "read_file") || name.starts_with("delete_")
}

fuzz_target!(|data: &[u8]| {
    let options = Options {
        server: "s".into(),
        unknown_tool: UnknownTool::Sdk,
        max_message: 4096,
        request_timeout: Duration::from_secs(1),
        session_id: "fuzz".into(),
    };
    let mut session = Session::new(judge(), options);
    let start = Instant::now();
    for (n, line) in data.split(|b| *b == b'\n').enumerate() {
        let Some((&side, rest)) = line.split_first() else {
            continue;
        };
        let frame = Frame::Line(rest.to_vec());
        let out = if side % 2 == 0 {
            session.from_client(frame, start)
        } else {
            session.from_server(frame)
        };
        for item in &out {
            if let Out::ToServer(message) = item {
                if message["method"] == "tools/call" {
                    let name = message["params"]["name"].as_str().unwrap_or_default();
                    assert!(declared(name), "an undeclared call was forwarded: {message}");
                }
            }
            if let Out::ToClient(message) = item {
                assert_eq!(message["jsonrpc"], "2.0", "{message}");
            }
        }
        if n % 7 == 6 {
            session.expire(start + Duration::from_secs(2));
        }
    }

    runtime().block_on(async {
        let mut reader = tokio::io::BufReader::with_capacity(16, data);
        let mut total = 0usize;
        loop {
            match read_frame(&mut reader, 64).await {
                Ok(Frame::Line(line)) => {
                    assert!(line.len() <= 64);
                    total += line.len();
                }
                Ok(Frame::TooLong { len }) => total += len,
                Ok(Frame::Eof) | Err(_) => break,
            }
        }
        assert!(total <= data.len());
    });
});
