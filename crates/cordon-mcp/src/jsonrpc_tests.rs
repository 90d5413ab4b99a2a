use super::*;

fn parsed(line: &str) -> Result<Message, (ParseError, Option<Id>)> {
    parse(line.as_bytes())
}

#[test]
fn requests_notifications_and_responses_are_told_apart() {
    assert!(matches!(
        parsed(r#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#),
        Ok(Message::Request {
            id: Id::Number(7),
            ..
        })
    ));
    assert!(matches!(
        parsed(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
        Ok(Message::Notification { .. })
    ));
    assert!(matches!(
        parsed(r#"{"jsonrpc":"2.0","id":"a","result":{}}"#),
        Ok(Message::Response {
            id: Id::Text(_),
            ..
        })
    ));
}

#[test]
fn a_batch_is_refused_not_unpacked() {
    let got = parsed(r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call"}]"#);
    assert_eq!(got, Err((ParseError::Batch, None)));
}

#[test]
fn a_null_or_fractional_id_is_not_an_id() {
    for line in [
        r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#,
    ] {
        assert!(
            matches!(parsed(line), Err((ParseError::Shape(_), None))),
            "{line}"
        );
    }
}

#[test]
fn a_duplicated_key_is_read_once_and_forwarded_as_read() {
    // Two `name`s: whatever the proxy judges must be what the server is sent.
    let line = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"delete_all"}}"#;
    let Ok(message) = parsed(line) else {
        panic!("parses");
    };
    let sent = message.to_value().to_string();
    assert_eq!(sent.matches("\"name\"").count(), 1, "{sent}");
    let Message::Request { params, .. } = message else {
        panic!("a request");
    };
    let judged = params.and_then(|p| p.get("name").cloned());
    assert!(sent.contains(&judged.map(|n| n.to_string()).unwrap_or_default()));
}

#[test]
fn garbage_and_wrong_versions_are_errors_with_the_id_when_readable() {
    assert!(matches!(parsed("{nope"), Err((ParseError::Json(_), None))));
    assert!(matches!(parsed("42"), Err((ParseError::NotJsonRpc, None))));
    assert_eq!(
        parsed(r#"{"jsonrpc":"1.0","id":3,"method":"ping"}"#),
        Err((ParseError::NotJsonRpc, Some(Id::Number(3))))
    );
    assert!(matches!(
        parsed(r#"{"jsonrpc":"2.0","id":3,"result":1,"error":{}}"#),
        Err((ParseError::Shape(_), Some(Id::Number(3))))
    ));
}
