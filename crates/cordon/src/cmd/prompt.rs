//! The inline approval prompt of `cordon run`: when the task files an approval, the
//! human at the terminal is asked there, between the command's output, and their
//! answer is signed like `cordon approve`'s. The command neither sees the question
//! nor receives the keys typed for it (the relay diverts both).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cordon_core::Authorizer;
use cordon_core::approvals::ApprovalRecord;
use cordon_sandbox::{Human, Interjector, Typed};

use super::approvals::{now_secs, render, who};

/// How often the store is asked for new approvals: a person notices a quarter second.
const POLL: Duration = Duration::from_millis(250);
/// Keys typed this soon after the question appears were meant for the command.
const SETTLE: Duration = Duration::from_millis(400);
/// How often a question still open checks whether it was decided elsewhere.
const RECHECK: Duration = Duration::from_secs(1);

/// The thread that watches for approvals and asks.
pub struct Prompter {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Prompter {
    /// Ask at the terminal about approvals filed for `task` from now on.
    pub fn start(authorizer: Arc<Authorizer>, task: String, terminal: Interjector) -> Prompter {
        let stop = Arc::new(AtomicBool::new(false));
        let since = now_secs();
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("cordon-prompt".to_owned())
                .spawn(move || watch(&authorizer, &task, since, &terminal, &stop))
                .map_err(|e| tracing::warn!("no inline approval prompt: {e}"))
                .ok()
        };
        Prompter { stop, thread }
    }

    /// Stop asking (an open question is dropped; the approval stays pending).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn watch(
    authorizer: &Authorizer,
    task: &str,
    since: u64,
    terminal: &Interjector,
    stop: &AtomicBool,
) {
    let mut asked = HashSet::new();
    while !stop.load(Ordering::Relaxed) {
        let pending = match authorizer.approvals().pending() {
            Ok(pending) => pending,
            Err(e) => {
                tracing::warn!("the inline prompt cannot read approvals: {e}");
                Vec::new()
            }
        };
        for record in pending {
            if record.task != task || record.created_at < since || !asked.insert(record.id.clone())
            {
                continue;
            }
            let asked_at = terminal.interject(|human| ask(human, authorizer, &record, stop));
            if asked_at.is_none() {
                return;
            }
        }
        std::thread::sleep(POLL);
    }
}

/// Why a line could not be read.
enum Unanswered {
    /// The command ended, cordon is stopping, or the human pressed Ctrl-C.
    Gone,
    /// Someone decided elsewhere (`cordon approve`, the web page) or it expired.
    Settled(String),
}

fn ask(human: &mut Human<'_>, authorizer: &Authorizer, record: &ApprovalRecord, stop: &AtomicBool) {
    let _ = human.say(&format!(
        "\r\n\x1b[1m── cordon: approval needed ──\x1b[0m\n{}",
        render(record)
    ));
    // Keys already on their way to the agent when the question appeared are not an
    // answer to it.
    let settle = Instant::now() + SETTLE;
    while let Some(left) = settle.checked_duration_since(Instant::now()) {
        if human.next_byte(left) == Typed::Gone {
            return;
        }
    }
    human.forget_typed();
    loop {
        let _ = human.say(&format!(
            "approve {}? y = yes, n = no (then a reason), Enter = decide later: ",
            record.id
        ));
        let answer = match read_line(human, authorizer, &record.id, stop) {
            Ok(answer) => answer,
            Err(Unanswered::Gone) => {
                let _ = human.say(&format!("\n{}\n", later(&record.id)));
                return;
            }
            Err(Unanswered::Settled(what)) => {
                let _ = human.say(&format!("\n{} {what}\n", record.id));
                return;
            }
        };
        match answer.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => {
                let said = match authorizer.approvals().approve(
                    &record.id,
                    &who(None),
                    Some("at the terminal"),
                ) {
                    Ok(done) if done.state == "approved" => {
                        "approved: the identical call passes once".to_owned()
                    }
                    Ok(done) => format!(
                        "your approval is recorded; {} of {} approvers so far",
                        done.approvers.len(),
                        done.approvers_required
                    ),
                    Err(e) => format!("not approved: {e}"),
                };
                let _ = human.say(&format!("{said}\n"));
                return;
            }
            "n" | "no" => {
                let _ = human.say("reason (the agent is told): ");
                let reason = match read_line(human, authorizer, &record.id, stop) {
                    Ok(reason) if !reason.trim().is_empty() => reason.trim().to_owned(),
                    Ok(_) => "denied at the terminal".to_owned(),
                    Err(_) => {
                        let _ = human.say(&format!("\n{}\n", later(&record.id)));
                        return;
                    }
                };
                let said = match authorizer.approvals().deny(&record.id, &who(None), &reason) {
                    Ok(_) => "denied; the agent gets your reason".to_owned(),
                    Err(e) => format!("not denied: {e}"),
                };
                let _ = human.say(&format!("{said}\n"));
                return;
            }
            "" | "l" | "later" => {
                let _ = human.say(&format!("{}\n", later(&record.id)));
                return;
            }
            _ => {}
        }
    }
}

fn later(id: &str) -> String {
    format!("left pending: `cordon approve {id}`, `cordon deny {id} --reason …` or `cordon ui`")
}

/// A line typed by the human, echoed as they type; Backspace edits, Ctrl-C gives up,
/// and escape sequences (arrow keys, a terminal's answers to queries) are dropped.
fn read_line(
    human: &mut Human<'_>,
    authorizer: &Authorizer,
    id: &str,
    stop: &AtomicBool,
) -> Result<String, Unanswered> {
    let mut line: Vec<u8> = Vec::new();
    let mut escape = Escape::None;
    let mut recheck = Instant::now() + RECHECK;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(Unanswered::Gone);
        }
        if Instant::now() >= recheck {
            recheck = Instant::now() + RECHECK;
            match authorizer.approvals().get(id) {
                Ok(record) if record.state != "pending" => {
                    return Err(Unanswered::Settled(format!(
                        "was {} elsewhere",
                        record.state
                    )));
                }
                Ok(record) if record.expires_at <= now_secs() => {
                    return Err(Unanswered::Settled("expired".to_owned()));
                }
                _ => {}
            }
        }
        let byte = match human.next_byte(Duration::from_millis(100)) {
            Typed::Byte(byte) => byte,
            Typed::Nothing => continue,
            Typed::Gone => return Err(Unanswered::Gone),
        };
        escape = match (escape, byte) {
            (Escape::None, 0x1b) => Escape::Started,
            (Escape::Started, b'[') => Escape::Csi,
            (Escape::Started, b']') => Escape::Osc,
            (Escape::Started, _) => Escape::None,
            (Escape::Csi, 0x40..=0x7e) => Escape::None,
            (Escape::Csi, _) => Escape::Csi,
            (Escape::Osc, 0x07) => Escape::None,
            (Escape::Osc, 0x1b) => Escape::OscEnding,
            (Escape::Osc, _) => Escape::Osc,
            (Escape::OscEnding, _) => Escape::None,
            (Escape::None, b'\r' | b'\n') => {
                let _ = human.say("\n");
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            (Escape::None, 0x03 | 0x04) => return Err(Unanswered::Gone),
            (Escape::None, 0x7f | 0x08) => {
                // One character, however many bytes of UTF-8 it took.
                while let Some(last) = line.pop() {
                    if !(0x80..0xc0).contains(&last) {
                        let _ = human.say("\x08 \x08");
                        break;
                    }
                }
                Escape::None
            }
            (Escape::None, 0x20..=0x7e | 0x80..=0xff) if line.len() < 1000 => {
                line.push(byte);
                let _ = human.write(&[byte]);
                Escape::None
            }
            (Escape::None, _) => Escape::None,
        };
    }
}

/// Where an escape sequence typed (or answered by the terminal) has got to.
#[derive(Clone, Copy)]
enum Escape {
    None,
    Started,
    /// `ESC [` … a final byte in `@`–`~`.
    Csi,
    /// `ESC ]` … BEL or `ESC \`.
    Osc,
    OscEnding,
}
