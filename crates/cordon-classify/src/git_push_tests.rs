use super::*;

const A: &str = "1111111111111111111111111111111111111111";
const B: &str = "2222222222222222222222222222222222222222";
const ZERO: &str = "0000000000000000000000000000000000000000";

fn pkt(text: &str) -> Vec<u8> {
    let mut line = format!("{:04x}", text.len() + 4).into_bytes();
    line.extend_from_slice(text.as_bytes());
    line
}

fn body(lines: &[&str]) -> Vec<u8> {
    let mut body: Vec<u8> = lines.iter().flat_map(|l| pkt(l)).collect();
    body.extend_from_slice(b"0000PACK\x00\x00\x00\x02garbage after the flush");
    body
}

#[test]
fn reads_each_command_with_the_capabilities_cut_off() {
    let updates = receive_pack_updates(&body(&[
        &format!("{A} {B} refs/heads/main\0report-status side-band-64k agent=git/2.47\n"),
        &format!("{ZERO} {B} refs/heads/feature\n"),
        &format!("{A} {ZERO} refs/tags/v1\n"),
    ]))
    .unwrap();
    let changes: Vec<(RefChange, &str)> = updates
        .iter()
        .map(|u| (u.change(), u.short_name()))
        .collect();
    assert_eq!(
        changes,
        [
            (RefChange::Update, "main"),
            (RefChange::Create, "feature"),
            (RefChange::Delete, "refs/tags/v1"),
        ]
    );
}

#[test]
fn sha256_ids_and_upper_case_hex_are_read() {
    let old = "a".repeat(64);
    let new = "B".repeat(64);
    let updates = receive_pack_updates(&body(&[&format!("{old} {new} refs/heads/x\n")])).unwrap();
    assert_eq!(updates[0].new, "b".repeat(64));
}

#[test]
fn shallow_lines_are_skipped_and_nothing_after_the_flush_counts() {
    let mut raw = body(&[
        &format!("shallow {A}\n"),
        &format!("{A} {B} refs/heads/main\0report-status\n"),
    ]);
    // A command smuggled after the flush is push-option or pack data to the server.
    raw.extend_from_slice(&pkt(&format!("{A} {ZERO} refs/heads/main\n")));
    let updates = receive_pack_updates(&raw).unwrap();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].change(), RefChange::Update);
}

#[test]
fn a_signed_push_is_refused_however_its_certificate_is_cut() {
    // git joins the certificate's lines, so one pkt-line can hold a header, the blank
    // line and a command; cordon does not try to read that.
    for lines in [
        vec![
            "push-cert\0report-status\n".to_owned(),
            format!("certificate version 0.1\n\n{A} {B} refs/heads/main\n"),
            "push-cert-end\n".to_owned(),
        ],
        vec!["push-cert\n".to_owned()],
    ] {
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(
            receive_pack_updates(&body(&refs)),
            Err(PushError::SignedPush)
        );
    }
}

#[test]
fn push_options_after_the_commands_are_read_when_asked_for() {
    let mut raw: Vec<u8> = pkt(&format!(
        "{A} {B} refs/heads/feature\0report-status push-options\n"
    ));
    raw.extend_from_slice(b"0000");
    raw.extend_from_slice(&pkt("merge_request.create\n"));
    raw.extend_from_slice(&pkt("merge_request.target=main\n"));
    raw.extend_from_slice(b"0000PACK");
    let push = read_push(&raw).unwrap();
    assert_eq!(push.updates.len(), 1);
    assert_eq!(
        push.options,
        ["merge_request.create", "merge_request.target=main"]
    );
    // Without the capability, what follows the flush is the pack, not options.
    let plain = body(&[&format!("{A} {B} refs/heads/feature\0report-status\n")]);
    assert!(read_push(&plain).unwrap().options.is_empty());
}

#[test]
fn an_empty_push_is_no_updates() {
    assert_eq!(receive_pack_updates(b"0000"), Ok(vec![]));
}

#[test]
fn whatever_is_not_a_command_is_an_error_not_skipped() {
    let bad = [
        body(&["hello\n"]),
        body(&[&format!("{A} {B}\n")]),
        body(&[&format!("{A} {B} \n")]),
        body(&[&format!("{A} {B} refs/heads/a b\n")]),
        body(&[&format!("{A} {} refs/heads/x\n", "b".repeat(64))]),
        body(&[&format!("{} {B} refs/heads/x\n", &A[..39])]),
        body(&[&format!("zz{} {B} refs/heads/x\n", &A[2..])]),
        body(&["shallow nope\n"]),
    ];
    for raw in bad {
        assert!(
            matches!(
                receive_pack_updates(&raw),
                Err(PushError::NotACommand { .. })
            ),
            "{}",
            String::from_utf8_lossy(&raw)
        );
    }
}

#[test]
fn broken_framing_is_an_error() {
    assert_eq!(receive_pack_updates(b""), Err(PushError::Truncated));
    assert_eq!(
        receive_pack_updates(&pkt(&format!("{A} {B} refs/heads/main\n"))),
        Err(PushError::Truncated),
        "no flush"
    );
    assert_eq!(
        receive_pack_updates(b"00ffshort"),
        Err(PushError::Truncated)
    );
    assert!(matches!(
        receive_pack_updates(b"zzzz"),
        Err(PushError::Framing(_))
    ));
    assert!(matches!(
        receive_pack_updates(b"0003"),
        Err(PushError::Framing(_))
    ));
    assert!(matches!(
        receive_pack_updates(b"0001"),
        Err(PushError::NotACommand { .. })
    ));
}

#[test]
fn a_flood_of_updates_is_refused() {
    let line = pkt(&format!("{A} {B} refs/heads/x\n"));
    let mut raw = line.repeat(MAX_REF_UPDATES + 1);
    raw.extend_from_slice(b"0000");
    assert_eq!(receive_pack_updates(&raw), Err(PushError::TooMany));
}
