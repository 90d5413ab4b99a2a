//! The supervisor's side of the command's terminal ([`Sandbox::terminal`]): the
//! human's terminal in raw mode, relayed both ways to the command's pseudo-terminal
//! with window changes, and a way for the supervisor to speak to the human (an
//! approval prompt) that the command neither sees nor types into.
//!
//! One thread polls the human's input, the command's output and two wake-up pipes.
//! While the supervisor speaks ([`Interjector::interject`]) the command's output is not
//! read (it waits in the kernel's buffer, and the command blocks if it fills) and the
//! human's keys go to the speaker; afterwards the command's window is nudged so a
//! full-screen program redraws over what was said.
//!
//! [`Sandbox::terminal`]: crate::Sandbox::terminal

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::pipe::PipeFlags;
use rustix::termios::{OptionalActions, Termios};

/// Bytes typed for the command but not yet taken by it; past this the human's input
/// is left unread until the command catches up.
const MAX_PENDING_INPUT: usize = 64 * 1024;

#[derive(Default)]
struct State {
    /// Someone speaks to the human: the command's output waits and the human's keys
    /// go to `typed`.
    diverted: bool,
    typed: VecDeque<u8>,
    /// The command's terminal closed, or the relay stopped: nobody is listening.
    ended: bool,
    /// The supervisor asked the relay to drain and stop.
    stop: bool,
    /// The speaker finished: nudge the command's window.
    redraw: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Relays the human's terminal (this process's standard input and output) to the
/// master of a sandboxed command's terminal until the command's side closes.
pub struct TerminalRelay {
    shared: Arc<Shared>,
    wake: Arc<OwnedFd>,
    thread: Option<JoinHandle<io::Result<()>>>,
    /// The human's terminal modes before raw mode, restored by [`finish`](Self::finish)
    /// and on drop.
    saved: Option<Termios>,
    signals: Vec<signal_hook::SigId>,
}

impl TerminalRelay {
    /// Put standard input in raw mode (when it is a terminal) and start relaying.
    pub fn start(master: OwnedFd) -> io::Result<Self> {
        rustix::fs::fcntl_setfl(&master, rustix::fs::OFlags::NONBLOCK)?;
        let (wake_r, wake_w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        let (winch_r, winch_w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        let (quit_r, quit_w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        let mut signals = vec![signal_hook::low_level::pipe::register(
            signal_hook::consts::SIGWINCH,
            winch_w,
        )?];
        // Killed while the human's terminal is raw, the supervisor first restores it.
        for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
            signals.push(signal_hook::low_level::pipe::register(
                signal,
                quit_w.try_clone()?,
            )?);
        }
        drop(quit_w);

        let stdin = rustix::stdio::stdin();
        let saved = rustix::termios::tcgetattr(stdin).ok();
        if let Some(saved) = &saved {
            let mut raw = saved.clone();
            raw.make_raw();
            rustix::termios::tcsetattr(stdin, OptionalActions::Now, &raw)?;
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let pipes = Pipes {
            wake: wake_r,
            winch: winch_r,
            quit: quit_r,
        };
        let thread = {
            let shared = shared.clone();
            let saved = saved.clone();
            std::thread::Builder::new()
                .name("cordon-terminal".to_owned())
                .spawn(move || {
                    let result = relay(&master, &pipes, &shared, saved.as_ref());
                    shared.lock().ended = true;
                    shared.changed.notify_all();
                    result
                })?
        };
        Ok(Self {
            shared,
            wake: Arc::new(wake_w),
            thread: Some(thread),
            saved,
            signals,
        })
    }

    /// A handle for speaking to the human; usable from any thread.
    #[must_use]
    pub fn interjector(&self) -> Interjector {
        Interjector {
            shared: self.shared.clone(),
            wake: self.wake.clone(),
        }
    }

    /// Once the command is gone: relay what it wrote last, stop, and give the human
    /// their terminal back as it was.
    pub fn finish(mut self) -> io::Result<()> {
        self.shared.lock().stop = true;
        nudge(&self.wake);
        let result = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the terminal relay panicked")),
            None => Ok(()),
        };
        self.restore();
        result
    }

    fn restore(&mut self) {
        for id in self.signals.drain(..) {
            signal_hook::low_level::unregister(id);
        }
        if let Some(saved) = self.saved.take() {
            let _ =
                rustix::termios::tcsetattr(rustix::stdio::stdin(), OptionalActions::Now, &saved);
        }
    }
}

impl Drop for TerminalRelay {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        nudge(&self.wake);
        self.restore();
    }
}

/// What [`Human::next_byte`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typed {
    Byte(u8),
    /// Nothing within the time given.
    Nothing,
    /// The terminal is gone (the command exited and the relay stopped).
    Gone,
}

/// Speaks to the human on the terminal the command's output is relayed to.
#[derive(Clone)]
pub struct Interjector {
    shared: Arc<Shared>,
    wake: Arc<OwnedFd>,
}

impl Interjector {
    /// Run `speak` with the human's terminal to itself: meanwhile the command's output
    /// waits and nothing the human types reaches the command. One speaker at a time;
    /// `None` when the relay has ended.
    pub fn interject<R>(&self, speak: impl FnOnce(&mut Human<'_>) -> R) -> Option<R> {
        {
            let mut state = self.shared.lock();
            while state.diverted && !state.ended {
                state = self
                    .shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.ended {
                return None;
            }
            // The relay writes the command's output with this lock held, so from here
            // on nothing of the command's reaches the screen.
            state.diverted = true;
            state.typed.clear();
        }
        nudge(&self.wake);
        let answer = speak(&mut Human {
            shared: &self.shared,
        });
        {
            let mut state = self.shared.lock();
            state.diverted = false;
            state.typed.clear();
            state.redraw = true;
        }
        self.shared.changed.notify_all();
        nudge(&self.wake);
        Some(answer)
    }
}

/// The human's terminal while the supervisor speaks.
pub struct Human<'a> {
    shared: &'a Shared,
}

impl Human<'_> {
    /// Show `text`; `\n` starts a new line (the terminal is raw).
    pub fn say(&mut self, text: &str) -> io::Result<()> {
        let text = text.replace('\n', "\r\n");
        write_all(rustix::stdio::stdout(), text.as_bytes())
    }

    /// Show `bytes` as they are (an echoed key, part of a UTF-8 character).
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        write_all(rustix::stdio::stdout(), bytes)
    }

    /// The next byte the human types, waiting at most `timeout`.
    pub fn next_byte(&mut self, timeout: Duration) -> Typed {
        let until = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(byte) = state.typed.pop_front() {
                return Typed::Byte(byte);
            }
            if state.ended {
                return Typed::Gone;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Typed::Nothing;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Forget what was typed so far (keys meant for the command, or a terminal's
    /// answer to a query the command sent just before).
    pub fn forget_typed(&mut self) {
        self.shared.lock().typed.clear();
    }
}

struct Pipes {
    wake: OwnedFd,
    winch: OwnedFd,
    quit: OwnedFd,
}

fn nudge(wake: &OwnedFd) {
    // A full pipe already holds a wake-up.
    let _ = rustix::io::write(wake, &[1]);
}

fn drain(fd: &OwnedFd) {
    let mut buf = [0u8; 64];
    while matches!(rustix::io::read(fd, &mut buf), Ok(n) if n > 0) {}
}

fn readable(fd: &PollFd<'_>) -> bool {
    fd.revents()
        .intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR)
}

fn relay(
    master: &OwnedFd,
    pipes: &Pipes,
    shared: &Shared,
    saved: Option<&Termios>,
) -> io::Result<()> {
    let stdin = rustix::stdio::stdin();
    let stdout = rustix::stdio::stdout();
    let mut input_open = true;
    let mut pending_input: Vec<u8> = Vec::new();
    let mut held: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    copy_window_size(master);
    loop {
        let (diverted, stop, redraw) = {
            let mut state = shared.lock();
            if !state.diverted && !held.is_empty() {
                write_all(stdout, &held)?;
                held.clear();
            }
            (
                state.diverted,
                state.stop,
                std::mem::take(&mut state.redraw),
            )
        };
        if redraw {
            nudge_window(master);
        }
        if stop {
            // The command is gone: what it wrote last is in the buffer.
            while let Ok(n) = rustix::io::read(master, &mut buf) {
                let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
                    break;
                };
                write_all(stdout, chunk)?;
            }
            write_all(stdout, &held)?;
            return Ok(());
        }
        let read_input = input_open && pending_input.len() < MAX_PENDING_INPUT;
        let mut master_events = PollFlags::empty();
        if !diverted {
            master_events |= PollFlags::IN;
        }
        if !pending_input.is_empty() {
            master_events |= PollFlags::OUT;
        }
        let mut fds = vec![
            PollFd::new(&pipes.wake, PollFlags::IN),
            PollFd::new(&pipes.winch, PollFlags::IN),
            PollFd::new(&pipes.quit, PollFlags::IN),
            PollFd::from_borrowed_fd(master.as_fd(), master_events),
        ];
        if read_input {
            fds.push(PollFd::from_borrowed_fd(stdin, PollFlags::IN));
        }
        match rustix::event::poll(&mut fds, None) {
            Ok(_) => {}
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let [wake, winch, quit, terminal, rest @ ..] = fds.as_slice() else {
            return Err(io::Error::other("poll lost a descriptor"));
        };
        let (wake, winch, quit) = (readable(wake), readable(winch), readable(quit));
        let terminal = terminal.revents();
        let typed = rest.first().is_some_and(readable);
        drop(fds);
        if wake {
            drain(&pipes.wake);
        }
        if winch {
            drain(&pipes.winch);
            copy_window_size(master);
        }
        if quit {
            if let Some(saved) = saved {
                let _ = rustix::termios::tcsetattr(stdin, OptionalActions::Now, saved);
            }
            // SIGTERM or SIGHUP: leave as the signal would have, with the terminal
            // restored; the sandbox dies with this process.
            let _ = signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGTERM);
            std::process::exit(143);
        }
        if typed {
            match rustix::io::read(stdin, &mut buf) {
                Ok(0) => input_open = false,
                Ok(n) => {
                    let chunk = buf.get(..n).unwrap_or_default();
                    let mut state = shared.lock();
                    if state.diverted {
                        state.typed.extend(chunk);
                        shared.changed.notify_all();
                    } else {
                        pending_input.extend_from_slice(chunk);
                    }
                }
                Err(Errno::INTR | Errno::AGAIN) => {}
                // The human's terminal hung up.
                Err(_) => input_open = false,
            }
        }
        if terminal.contains(PollFlags::OUT) && !pending_input.is_empty() {
            match rustix::io::write(master, &pending_input) {
                Ok(n) => {
                    pending_input.drain(..n);
                }
                Err(Errno::INTR | Errno::AGAIN) => {}
                Err(_) => pending_input.clear(),
            }
        }
        if terminal.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
            match rustix::io::read(master, &mut buf) {
                // EIO: every descriptor of the command's side is closed.
                Ok(0) | Err(Errno::IO) => {
                    write_all(stdout, &held)?;
                    return Ok(());
                }
                Ok(n) => {
                    let chunk = buf.get(..n).unwrap_or_default();
                    let state = shared.lock();
                    if state.diverted {
                        held.extend_from_slice(chunk);
                    } else {
                        write_all(stdout, chunk)?;
                    }
                    drop(state);
                }
                Err(Errno::INTR | Errno::AGAIN) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn copy_window_size(master: &OwnedFd) {
    if let Ok(size) = rustix::termios::tcgetwinsize(rustix::stdio::stdin())
        && size.ws_row > 0
        && size.ws_col > 0
    {
        let _ = rustix::termios::tcsetwinsize(master, size);
    }
}

/// A window change the command notices (the kernel signals only real changes): one
/// column narrower, then back.
fn nudge_window(master: &OwnedFd) {
    if let Ok(size) = rustix::termios::tcgetwinsize(master)
        && size.ws_col > 1
    {
        let narrower = rustix::termios::Winsize {
            ws_col: size.ws_col - 1,
            ..size
        };
        let _ = rustix::termios::tcsetwinsize(master, narrower);
        let _ = rustix::termios::tcsetwinsize(master, size);
    }
}

fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => {
                let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::OUT)];
                let _ = rustix::event::poll(&mut fds, None);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
