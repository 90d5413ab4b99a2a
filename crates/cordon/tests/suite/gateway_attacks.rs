//! The gateway attacked where HTTP itself is ambiguous: request smuggling shapes, a
//! second `Authorization` riding along with the phantom, folded headers, a thousand
//! connections at once, an upstream that resets. Each attack asserts what the client
//! got (a clear status, never a hang) and, above all, that nothing reached the
//! provider unjudged: the Railway mock logs every request it receives.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::gateway::{Setup, TOKEN, json, setup};

/// Sends `request` as raw bytes to the gateway and returns whatever came back before
/// the gateway closed the connection or went quiet for a second.
fn raw(s: &Setup, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", s.gateway.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

fn alive(s: &Setup) {
    let url = format!("http://allowed.test:{}/health", s.railway.port);
    let reply = s.curl(&[&url]);
    assert_eq!(reply.status, 200, "the gateway stopped answering: {reply}");
}

const HIDDEN: &str = r#"{"query":"mutation { volumeDelete(volumeId: \"vol_prod_7f3\") }"}"#;

#[test]
fn smuggling_shapes_never_carry_an_unjudged_request_to_the_provider() {
    let s = setup();
    let port = s.railway.port;
    let target = format!("http://backboard.railway.com:{port}/graphql/v2");
    let host = format!("backboard.railway.com:{port}");
    let harmless = r#"{"query":"query { me { id } }"}"#;
    let smuggled = format!(
        "POST {target} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{HIDDEN}",
        HIDDEN.len()
    );
    let chunked = format!("{:x}\r\n{harmless}\r\n0\r\n\r\n", harmless.len());
    let head = |framing: &str| {
        format!(
            "POST {target} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{framing}\r\n"
        )
    };
    let attacks: Vec<(&str, String)> = vec![
        // CL.TE: a front end that trusts Content-Length sees one request; one that
        // trusts chunked sees the smuggled second.
        (
            "CL.TE",
            head(&format!(
                "Content-Length: {}\r\nTransfer-Encoding: chunked\r\n",
                chunked.len()
            )) + &chunked
                + &smuggled,
        ),
        // TE.CL: the reverse.
        (
            "TE.CL",
            head("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n")
                + &format!("{:x}\r\n{smuggled}\r\n0\r\n\r\n", smuggled.len()),
        ),
        (
            "two Content-Lengths",
            head(&format!(
                "Content-Length: {}\r\nContent-Length: 4\r\n",
                harmless.len()
            )) + harmless
                + &smuggled,
        ),
        (
            "obfuscated Transfer-Encoding",
            head(&format!(
                "Transfer-Encoding: xchunked\r\nContent-Length: {}\r\n",
                harmless.len()
            )) + harmless
                + &smuggled,
        ),
        (
            "Transfer-Encoding twice",
            head("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n")
                + &chunked
                + &smuggled,
        ),
        (
            "a space before the colon",
            head("Transfer-Encoding : chunked\r\nContent-Length: 4\r\n")
                + &format!("{:x}\r\n{smuggled}\r\n0\r\n\r\n", smuggled.len()),
        ),
    ];
    for (name, request) in attacks {
        let answer = raw(&s, request.as_bytes());
        assert!(
            answer.starts_with("HTTP/1.1 "),
            "{name}: no HTTP answer: {answer:?}"
        );
        // Whatever the gateway made of it, a volumeDelete it read was refused, and
        // one it did not read never left.
        if answer.contains("volumeDelete") {
            assert!(answer.contains("\"denied\""), "{name}: {answer}");
        }
        assert!(
            !s.provider_saw().contains("volumeDelete"),
            "{name}: a smuggled volumeDelete reached the provider:\n{}",
            s.provider_saw()
        );
    }
    alive(&s);
}

#[test]
fn a_second_authorization_or_a_folded_header_cannot_ride_along_with_the_phantom() {
    let s = setup();
    let url = format!("http://backboard.railway.com:{}/whoami", s.railway.port);
    let phantom = s.phantom();
    let reply = s.curl(&[
        "-H",
        &format!("Authorization: Bearer {phantom}"),
        "-H",
        "Authorization: Bearer attacker-chosen",
        &url,
    ]);
    assert_eq!(reply.status, 200, "{reply}");
    let saw = s.provider_saw();
    let request: serde_json::Value = serde_json::from_str(saw.lines().last().unwrap()).unwrap();
    assert_eq!(
        request["authorizations"],
        serde_json::json!([format!("Bearer {TOKEN}")]),
        "exactly the injected secret goes upstream"
    );

    // obs-fold: a continuation line that a lenient parser joins and another reads as
    // a header of its own.
    let port = s.railway.port;
    let answer = raw(
        &s,
        format!(
            "GET http://backboard.railway.com:{port}/whoami HTTP/1.1\r\nHost: backboard.railway.com:{port}\r\nX-Note: a\r\n Authorization: Bearer {TOKEN}\r\n\r\n"
        )
        .as_bytes(),
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(s.provider_saw().lines().count(), 1, "{}", s.provider_saw());
    alive(&s);
}

#[test]
fn a_thousand_connections_at_once_are_all_answered() {
    let s = setup();
    let script = r#"
import asyncio, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
proxy_port, port = int(sys.argv[1]), int(sys.argv[2])
async def one():
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    writer.write(f"GET http://allowed.test:{port}/health HTTP/1.1\r\nHost: allowed.test:{port}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    status = (await asyncio.wait_for(reader.readline(), 60)).decode().split(" ")[1]
    await reader.read()
    writer.close()
    return status
async def main():
    connections = [one() for _ in range(1000)]
    statuses = await asyncio.gather(*connections, return_exceptions=True)
    ok = sum(1 for s in statuses if s == "200")
    print(f"ok={ok}")
    print("other=" + repr([s for s in statuses if s != "200"][:5]))
asyncio.run(main())
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(s.gateway.port.to_string())
        .arg(s.railway.port.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ok=1000"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    alive(&s);
}

#[test]
fn an_upstream_that_resets_gets_a_clear_error_and_the_gateway_goes_on() {
    let s = setup();
    let port = s.railway.port;
    // Reset before any answer: the gateway answers 502 and says why.
    let reset = s.curl(&[&format!("http://allowed.test:{port}/reset")]);
    assert_eq!(reset.status, 502, "{reset}");
    assert_eq!(json(&reset)["kind"], "upstream_unreachable", "{reset}");
    // Reset in the middle of a body: the client sees the body end early (curl 18:
    // partial transfer), not a hang and not a body made whole.
    let truncated = s.curl(&[&format!("http://allowed.test:{port}/truncated")]);
    assert_ne!(truncated.curl_exit, 0, "{truncated}");
    assert!(!truncated.body.contains(&"x".repeat(1000)));
    alive(&s);
}
