//! A webhook delivery outlives the hook process that filed the approval: the hook
//! answers at once and exits, and the detached `cordon notify` it started delivers.

use super::approval_gate::{answer, approval_id, env, start_hook};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn the_hook_answers_at_once_and_the_notification_arrives_after_it_exits() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (bodies, received) = mpsc::channel::<serde_json::Value>();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().flatten().enumerate() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            // The first attempt fails: the retry happens in the detached process too.
            let status = if n == 0 { 500 } else { 200 };
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            if status == 200 {
                let _ = bodies.send(serde_json::from_slice(&body).unwrap_or_default());
            }
        }
    });
    let env = env(&format!(
        "[task]\nname = \"fix-domains\"\n[approval]\nwebhooks = [{{ url = \"{url}\" }}]\n"
    ));
    let started = Instant::now();
    let (verdict, reason) = answer(start_hook(&env, "rm -rf /srv/data")).unwrap();
    assert_eq!(verdict, "ask");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the hook waited on the webhook"
    );
    let id = approval_id(&reason);

    let body = received
        .recv_timeout(Duration::from_secs(20))
        .expect("the webhook was delivered after the hook exited");
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["summary"], "DELETE /srv/data via a shell command");
    assert_eq!(
        body["approve_command"],
        format!("cordon approve {id}").as_str()
    );
}
