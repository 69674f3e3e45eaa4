"""Small helpers shared by drivers."""

from __future__ import annotations

import functools
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def tool_version(argv: list[str], timeout_s: float = 10.0) -> str | None:
    """First non-empty line of `tool --version`, or None when it cannot run.

    Asked once per process: the host fingerprint and every probe of a platform want the same line.
    """
    return _tool_version(tuple(argv), timeout_s)


@functools.cache
def _tool_version(argv: tuple[str, ...], timeout_s: float) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in (out.stdout + out.stderr).splitlines():
        if line.strip():
            return line.strip()
    return None


def run_quiet(argv: list[str], timeout_s: float = 10.0) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired):
        return None


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C / SIGTERM until the block ends, so cleanup is never cut short half-way.

    Python runs signal handlers in the main thread only; elsewhere this is a no-op (signals are
    then handled by the main thread after the cleanup that another thread is doing anyway).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[tuple[int, object]] = []
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.getsignal(sig)
        if previous[sig] in (signal.SIG_IGN, None):
            continue
        signal.signal(sig, lambda s, f: pending.append((s, f)))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)
        for sig, frame in pending[:1]:
            handler = previous[sig]
            if callable(handler):
                handler(sig, frame)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(sig)
