"""Non-blocking console and exit handling for every launched instance.

One background thread runs a selector over all consoles (pipes) and all process pidfds, so one
Python process can drive many concurrent instances without a thread each. Every event is
stamped with the host monotonic clock (ns) at the moment the read returned.
"""

from __future__ import annotations

import os
import re
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path

from vmscope.guest import protocol

# Marker lines printed by the shared guest's init (the protocol is defined in guest/protocol.py).
MARK_INIT = protocol.INIT_PREFIX
MARK_MEM = protocol.MEM_PREFIX
MARK_READY = protocol.READY_PREFIX
MARK_PROBE = protocol.PROBE_PREFIX
MARK_BYE = protocol.BYE_LINE
STOP_LINE = (protocol.STOP_LINE + "\n").encode()

_MARK_RE = re.compile(rb"(VMSCOPE-[A-Z]+)(.*)")
_MAX_LOG_BYTES = 8 * 1024 * 1024
_MAX_LINES = 200_000  # like the log: a guest that floods its console cannot grow memory without bound


class Console:
    """What one instance printed, with monotonic timestamps of the events that matter."""

    def __init__(self) -> None:
        self.log = bytearray()
        self.first_output_ns: int | None = None
        self.eof_ns: int | None = None
        # marker name -> list of (ns, rest-of-line text), in arrival order
        self.marks: dict[str, list[tuple[int, str]]] = {}
        # (ns, line) for every complete line, for parsers that need kernel printk lines
        self.lines: list[tuple[int, str]] = []
        self._partial = b""
        self._cond = threading.Condition()
        self.exit_ns: int | None = None
        self.exit_status: int | None = None

    # -- called from the hub thread ----------------------------------------------------------
    def _feed(self, data: bytes, now_ns: int) -> None:
        with self._cond:
            # Wake waiters for the first byte and for marker lines only (other predicates are
            # re-checked at least every 0.5 s): on a nested VM every thread wake-up costs tens of
            # microseconds, taken from the instance being timed.
            wake = self.first_output_ns is None
            if wake:
                self.first_output_ns = now_ns
            if len(self.log) < _MAX_LOG_BYTES:
                self.log += data
            buf = self._partial + data
            *complete, self._partial = buf.split(b"\n")
            for raw in complete:
                line = raw.rstrip(b"\r")
                text = line.decode("utf-8", "replace")
                if len(self.lines) < _MAX_LINES:
                    self.lines.append((now_ns, text))
                m = _MARK_RE.search(line)
                if m:
                    wake = True
                    name = m.group(1).decode()
                    self.marks.setdefault(name, []).append((now_ns, m.group(2).decode("utf-8", "replace").strip()))
            if wake:
                self._cond.notify_all()

    def _eof(self, now_ns: int) -> None:
        with self._cond:
            if self._partial:
                self.lines.append((now_ns, self._partial.decode("utf-8", "replace")))
                self._partial = b""
            self.eof_ns = now_ns
            self._cond.notify_all()

    def _exited(self, now_ns: int, status: int) -> None:
        with self._cond:
            self.exit_ns = now_ns
            self.exit_status = status
            self._cond.notify_all()

    # -- called from anywhere -----------------------------------------------------------------
    def wait(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Wait until predicate() holds (checked under the console's lock) or timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
            return True

    def mark(self, name: str) -> tuple[int, str] | None:
        with self._cond:
            got = self.marks.get(name)
            return got[0] if got else None

    def all_marks(self, name: str) -> list[tuple[int, str]]:
        with self._cond:
            return list(self.marks.get(name, []))

    @property
    def text(self) -> str:
        with self._cond:
            return self.log.decode("utf-8", "replace")

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._cond:
            path.write_bytes(bytes(self.log))
        return path


def parse_fields(rest: str) -> dict[str, str]:
    """`key=value key2=value2` -> dict (the marker lines' payload)."""
    out: dict[str, str] = {}
    for tok in rest.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k] = v
    return out


class _Hub:
    """The single epoll thread. Started lazily, lives for the process (daemon).

    Registration goes straight to the kernel (epoll_ctl is safe while another thread waits in
    epoll_wait), so adding an instance never has to wake this thread: a wake-up would compete
    with the instance for the CPU at the very moment it is being timed.
    """

    def __init__(self) -> None:
        self._ep = select.epoll()
        self._callbacks: dict[int, Callable[[int], bool]] = {}
        self._thread = threading.Thread(target=self._run, name="vmscope-console-hub", daemon=True)
        self._thread.start()

    def add(self, *watches: tuple[int, Callable[[int], bool]]) -> None:
        """For each (fd, on_ready): call on_ready(now_ns) from the hub thread whenever fd is readable
        (it returns True when done with the fd, which is then closed)."""
        for fd, cb in watches:
            self._callbacks[fd] = cb  # before the kernel can report the fd
            self._ep.register(fd, select.EPOLLIN)

    def _run(self) -> None:
        while True:
            try:
                events = self._ep.poll()
            except InterruptedError:
                continue
            for fd, _ in events:
                now = time.monotonic_ns()
                cb = self._callbacks.get(fd)
                if cb is None:
                    continue
                try:
                    done = cb(now)
                except Exception:  # a broken callback must not kill every other console
                    done = True
                if done:
                    self._callbacks.pop(fd, None)
                    try:
                        self._ep.unregister(fd)
                    except OSError:
                        pass
                    try:
                        os.close(fd)
                    except OSError:
                        pass


_hub: _Hub | None = None
_hub_lock = threading.Lock()


def hub() -> _Hub:
    global _hub
    with _hub_lock:
        if _hub is None:
            _hub = _Hub()
        return _hub


def attach(console: Console, stdout_fd: int, pid: int) -> None:
    """Follow a process's console pipe and its exit on the hub thread.

    Takes ownership of stdout_fd (a dup the caller no longer uses). Exit is observed through a
    pidfd, so the exit time is when the kernel says the process ended, not when we polled.
    """
    os.set_blocking(stdout_fd, False)

    def on_output(now: int) -> bool:
        try:
            data = os.read(stdout_fd, 65536)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:
            console._eof(now)
            return True
        console._feed(data, now)
        return False

    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        os.close(stdout_fd)  # we own it: do not leak it when the process cannot be followed
        raise

    def on_exit(now: int) -> bool:
        try:
            _, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            status = 0
        console._exited(now, os.waitstatus_to_exitcode(status) if status else 0)
        return True

    hub().add((stdout_fd, on_output), (pidfd, on_exit))
