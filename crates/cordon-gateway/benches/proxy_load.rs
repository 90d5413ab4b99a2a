//! A load client and a small TLS origin for measuring what the gateway costs, beside
//! mitmproxy and a direct connection (`scripts/bench-gateway` drives it).
//!
//! Hand-written because the load generators we would reach for cannot do this: wrk
//! speaks no proxy, and oha's proxy support does not keep a CONNECT tunnel's TLS
//! session alive across requests the way an agent's HTTP client does. It is built on
//! the same hyper and rustls the product uses; it is a bench target, never shipped.
//!
//! ```text
//! proxy_load serve DIR                          TLS origin for `localhost`, CA at DIR/ca.pem; prints `port N`
//! proxy_load run URL CA [options]               keep-alive GETs; prints one JSON line
//!     --proxy ADDR        through an HTTP proxy (CONNECT), else direct
//!     --connections N     concurrent keep-alive connections (default 1)
//!     --seconds S         how long (default 5)
//!     --header 'K: V'     sent on every request (repeatable)
//! proxy_load hold URL CA --proxy ADDR --connections N
//!                                               open N tunnels, one request each, then
//!                                               hold them until stdin closes
//! ```

use std::error::Error;
use std::io::BufRead;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cordon_gateway::ca::CertificateAuthority;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

type Failure = Box<dyn Error + Send + Sync>;

/// What the origin answers: a small JSON body, like an API's.
const BODY: &[u8] = br#"{"data":{"me":{"id":"user_1","email":"dev@example.com"}}}"#;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.first().map(String::as_str) {
        Some("serve") => runtime.block_on(serve(args.get(1).ok_or("serve DIR")?)),
        Some("run") => runtime.block_on(run(&Options::parse(&args[1..])?)),
        Some("hold") => runtime.block_on(hold(&Options::parse(&args[1..])?)),
        _ => Err("usage: proxy_load serve DIR | run URL CA [options] | hold URL CA --proxy ADDR --connections N".into()),
    }
}

async fn serve(dir: &str) -> Result<(), Failure> {
    let ca = CertificateAuthority::load_or_create(std::path::Path::new(dir))?;
    let leaf = ca.leaf("localhost")?;
    #[derive(Debug)]
    struct One(Arc<rustls::sign::CertifiedKey>);
    impl rustls::server::ResolvesServerCert for One {
        fn resolve(
            &self,
            _: rustls::server::ClientHello<'_>,
        ) -> Option<Arc<rustls::sign::CertifiedKey>> {
            Some(self.0.clone())
        }
    }
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(One(leaf)));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("port {}", listener.local_addr()?.port());
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let service = hyper::service::service_fn(|_request| async {
                Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from_static(
                    BODY,
                ))))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

struct Options {
    host: String,
    port: u16,
    path: String,
    connector: TlsConnector,
    proxy: Option<String>,
    connections: usize,
    seconds: u64,
    headers: Vec<(String, String)>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, Failure> {
        let url = args.first().ok_or("missing URL")?;
        let ca = args.get(1).ok_or("missing CA file")?;
        let rest = url
            .strip_prefix("https://")
            .ok_or("the URL must be https://")?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = authority.split_once(':').unwrap_or((authority, "443"));
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca)? {
            roots.add(cert?)?;
        }
        let mut config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut options = Options {
            host: host.to_owned(),
            port: port.parse()?,
            path: format!("/{path}"),
            connector: TlsConnector::from(Arc::new(config)),
            proxy: None,
            connections: 1,
            seconds: 5,
            headers: Vec::new(),
        };
        let mut flags = args[2..].iter();
        while let Some(flag) = flags.next() {
            let value = flags
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--proxy" => options.proxy = Some(value.clone()),
                "--connections" => options.connections = value.parse()?,
                "--seconds" => options.seconds = value.parse()?,
                "--header" => {
                    let (k, v) = value.split_once(':').ok_or("--header 'Name: value'")?;
                    options
                        .headers
                        .push((k.trim().to_owned(), v.trim().to_owned()));
                }
                other => return Err(format!("unknown option {other}").into()),
            }
        }
        Ok(options)
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

/// One keep-alive connection, through the proxy's CONNECT tunnel if there is one.
async fn connect(options: &Options) -> Result<Sender, Failure> {
    let target = format!("{}:{}", options.host, options.port);
    let tcp = match &options.proxy {
        Some(proxy) => {
            let mut tcp = TcpStream::connect(proxy).await?;
            tcp.write_all(
                format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes(),
            )
            .await?;
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                let mut byte = [0u8; 1];
                if tcp.read(&mut byte).await? == 0 {
                    return Err("the proxy closed the connection during CONNECT".into());
                }
                head.push(byte[0]);
            }
            if !head.starts_with(b"HTTP/1.1 200") && !head.starts_with(b"HTTP/1.0 200") {
                return Err(format!("CONNECT refused: {}", String::from_utf8_lossy(&head)).into());
            }
            tcp
        }
        None => TcpStream::connect(&target).await?,
    };
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(options.host.clone())?;
    let tls = options.connector.connect(name, tcp).await?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn get(sender: &mut Sender, options: &Options) -> Result<(), Failure> {
    let mut request = Request::get(&options.path).header(
        hyper::header::HOST,
        format!("{}:{}", options.host, options.port),
    );
    for (k, v) in &options.headers {
        request = request.header(k.as_str(), v.as_str());
    }
    sender.ready().await?;
    let response = sender.send_request(request.body(Empty::new())?).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)).into());
    }
    Ok(())
}

async fn run(options: &Options) -> Result<(), Failure> {
    let options = Arc::new(Options {
        connector: options.connector.clone(),
        host: options.host.clone(),
        path: options.path.clone(),
        proxy: options.proxy.clone(),
        headers: options.headers.clone(),
        ..*options
    });
    // Connections first, then the clock: the figure is requests on warm connections.
    let mut senders = Vec::new();
    for _ in 0..options.connections {
        let mut sender = connect(&options).await?;
        get(&mut sender, &options).await?;
        senders.push(sender);
    }
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for mut sender in senders {
        let options = options.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let start = Instant::now();
                match get(&mut sender, &options).await {
                    Ok(()) => latencies.push(start.elapsed().as_micros() as u64),
                    Err(e) => {
                        errors += 1;
                        if errors == 1 {
                            eprintln!("proxy_load: {e}");
                        }
                        match connect(&options).await {
                            Ok(fresh) => sender = fresh,
                            Err(_) => break,
                        }
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (mut l, e) = worker.await?;
        latencies.append(&mut l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0)
    };
    println!(
        "{{\"requests\":{},\"seconds\":{elapsed:.3},\"rps\":{:.1},\"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\"errors\":{errors}}}",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        at(0.5),
        at(0.9),
        at(0.99),
    );
    Ok(())
}

async fn hold(options: &Options) -> Result<(), Failure> {
    let mut held = Vec::new();
    for n in 0..options.connections {
        let mut sender = connect(options)
            .await
            .map_err(|e| format!("connection {n}: {e}"))?;
        get(&mut sender, options).await?;
        held.push(sender);
    }
    println!("holding {}", held.len());
    // Until whoever started us has measured and closes our stdin.
    tokio::task::spawn_blocking(|| {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            if line.is_err() {
                break;
            }
        }
    })
    .await?;
    drop(held);
    Ok(())
}
