use super::*;

async fn frames(input: &[u8], max: usize) -> Vec<Frame> {
    // A tiny buffer makes every line span several reads.
    let mut reader = tokio::io::BufReader::with_capacity(3, input);
    let mut out = Vec::new();
    loop {
        match read_frame(&mut reader, max).await {
            Ok(Frame::Eof) => break,
            Ok(frame) => out.push(frame),
            Err(e) => {
                out.push(Frame::Line(e.to_string().into_bytes()));
                break;
            }
        }
    }
    out
}

#[tokio::test]
async fn lines_split_across_reads_come_out_whole() {
    let got = frames(b"{\"a\":1}\r\n\n  \n{\"b\":2}\nlast", 100).await;
    assert_eq!(
        got,
        vec![
            Frame::Line(b"{\"a\":1}".to_vec()),
            Frame::Line(b"{\"b\":2}".to_vec()),
            Frame::Line(b"last".to_vec()),
        ]
    );
}

#[tokio::test]
async fn an_oversized_line_is_skipped_and_the_next_one_still_read() {
    let mut input = vec![b'x'; 50];
    input.extend_from_slice(b"\nok\n");
    let got = frames(&input, 10).await;
    assert_eq!(
        got,
        vec![Frame::TooLong { len: 50 }, Frame::Line(b"ok".to_vec())]
    );
}

#[tokio::test]
async fn a_line_of_exactly_the_limit_is_kept() {
    let got = frames(b"0123456789\n", 10).await;
    assert_eq!(got, vec![Frame::Line(b"0123456789".to_vec())]);
}

#[tokio::test]
async fn an_oversized_line_cut_off_by_eof_is_reported() {
    let got = frames(&[b'y'; 40], 10).await;
    assert_eq!(got, vec![Frame::TooLong { len: 40 }]);
}
