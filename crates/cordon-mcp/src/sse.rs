//! Server-sent events as Streamable HTTP carries them: each event's `data` is one
//! JSON-RPC message. Parsed incrementally, bounded by the message limit, so a stream
//! that never ends an event cannot make the proxy buffer without bound.

/// One event; `data` lines joined with `\n`, as the SSE specification says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl Event {
    /// The event in wire form, with `data` replaced.
    pub fn encode(&self, data: &str) -> String {
        let mut out = String::new();
        if let Some(id) = &self.id {
            out.push_str(&format!("id: {id}\n"));
        }
        if let Some(event) = &self.event {
            out.push_str(&format!("event: {event}\n"));
        }
        for line in data.split('\n') {
            out.push_str(&format!("data: {line}\n"));
        }
        out.push('\n');
        out
    }
}

#[derive(Debug)]
pub struct Parser {
    buffer: Vec<u8>,
    current: Event,
    has_data: bool,
    max: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Event(Event),
    /// An event grew past the limit; the stream cannot be trusted any further.
    TooLong,
}

impl Parser {
    pub fn new(max: usize) -> Parser {
        Parser {
            buffer: Vec::new(),
            current: Event::default(),
            has_data: false,
            max,
        }
    }

    /// Feeds bytes; returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Parsed> {
        self.buffer.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
            let mut line: Vec<u8> = self.buffer.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            if line.is_empty() {
                if self.has_data {
                    out.push(Parsed::Event(std::mem::take(&mut self.current)));
                } else {
                    self.current = Event::default();
                }
                self.has_data = false;
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f.to_owned(), v.strip_prefix(' ').unwrap_or(v).to_owned()),
                None => (line.clone(), String::new()),
            };
            match field.as_str() {
                "data" => {
                    if self.has_data {
                        self.current.data.push('\n');
                    }
                    self.current.data.push_str(&value);
                    self.has_data = true;
                }
                "id" => self.current.id = Some(value),
                "event" => self.current.event = Some(value),
                _ => {}
            }
            if self.current.data.len() > self.max {
                out.push(Parsed::TooLong);
                self.current = Event::default();
                self.has_data = false;
            }
        }
        if self.buffer.len() > self.max {
            self.buffer.clear();
            out.push(Parsed::TooLong);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_come_out_whole() {
        let wire =
            b"id: 1\nevent: message\ndata: {\"a\":\ndata: 1}\n\n: comment\n\ndata: x\r\n\r\n";
        let mut parser = Parser::new(1024);
        let mut events = Vec::new();
        for chunk in wire.chunks(3) {
            events.extend(parser.feed(chunk));
        }
        assert_eq!(
            events,
            vec![
                Parsed::Event(Event {
                    id: Some("1".into()),
                    event: Some("message".into()),
                    data: "{\"a\":\n1}".into()
                }),
                Parsed::Event(Event {
                    id: None,
                    event: None,
                    data: "x".into()
                }),
            ]
        );
    }

    #[test]
    fn an_endless_event_is_cut_off() {
        let mut parser = Parser::new(10);
        let got = parser.feed(b"data: 0123456789abcdef\n");
        assert_eq!(got, vec![Parsed::TooLong]);
        let got = parser.feed(&[b'x'; 20]);
        assert_eq!(got, vec![Parsed::TooLong]);
    }
}
