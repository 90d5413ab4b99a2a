#!/usr/bin/env python3
"""Plays a human at a terminal for the tests: runs a command on a fresh
pseudo-terminal (its controlling terminal, like a shell would), follows a list of
steps, and prints one JSON object: exit code, everything the screen showed, and
whether the terminal's modes were given back as they were.

    pty_driver.py STEPS_JSON -- CMD...

Steps: ["expect", text] waits up to 20 s for text on the screen, after where the
previous "expect" matched; ["send", text]
types it; ["resize", rows, cols] changes the window (the kernel signals the
foreground group); ["sleep", seconds].
"""
import json
import os
import select
import struct
import subprocess
import sys
import termios
import fcntl
import time


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def main():
    steps = json.loads(sys.argv[1])
    command = sys.argv[sys.argv.index("--") + 1:]
    master, slave = os.openpty()
    set_size(slave, 24, 80)
    before = termios.tcgetattr(slave)

    def become_terminal_owner():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    child = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave,
                             preexec_fn=become_terminal_owner, close_fds=True)
    screen = b""
    # Each "expect" looks only past what the one before it found.
    looked = 0
    failed = None

    def pump(timeout):
        nonlocal screen
        ready, _, _ = select.select([master], [], [], timeout)
        if ready:
            try:
                screen += os.read(master, 65536)
            except OSError:
                return False
        return True

    for step in steps:
        kind = step[0]
        if kind == "expect":
            needle = step[1].encode()
            deadline = time.time() + 20
            while screen.find(needle, looked) < 0 and time.time() < deadline:
                ended = child.poll() is not None
                if not pump(0.1) or (ended and not pump(0.1)):
                    break
            found = screen.find(needle, looked)
            if found < 0:
                failed = f"never saw {step[1]!r} (after what was expected before it)"
                break
            looked = found + len(needle)
        elif kind == "send":
            os.write(master, step[1].encode())
        elif kind == "resize":
            set_size(master, step[1], step[2])
        elif kind == "sleep":
            deadline = time.time() + step[1]
            while time.time() < deadline:
                pump(0.05)
    deadline = time.time() + 30
    while child.poll() is None and time.time() < deadline:
        pump(0.05)
    if child.poll() is None:
        child.kill()
        failed = failed or "the command did not end"
    code = child.wait()
    while pump(0.05):
        if not select.select([master], [], [], 0)[0]:
            break
    after = termios.tcgetattr(slave)
    print(json.dumps({
        "code": code,
        "screen": screen.decode("utf-8", "replace"),
        "modes_restored": after == before,
        "failed": failed,
    }))


main()
