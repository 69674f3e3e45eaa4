"""A small, bounded QMP client (QEMU Machine Protocol over the instance's unix socket).

Every step has a deadline: connecting retries until the socket appears or the deadline passes,
and every command waits for its reply at most `timeout_s`. Asynchronous events that arrive
in between are kept in `events`, not mistaken for the reply.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from vmscope.errors import UserError

CONNECT_RETRY_S = 0.02


class QmpError(UserError):
    """QMP is unreachable, timed out, or QEMU answered a command with an error."""


def _connect_unix(sock: socket.socket, path: Path) -> None:
    """connect() to a Unix socket whose path may exceed the 108-byte sun_path limit: go through an
    open descriptor of its directory (/proc/self/fd/N/name is always short)."""
    if len(os.fsencode(str(path))) < 100:
        sock.connect(str(path))
        return
    dirfd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        sock.connect(f"/proc/self/fd/{dirfd}/{path.name}")
    finally:
        os.close(dirfd)


class QmpClient:
    def __init__(self, path: Path, timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self.greeting: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []
        self._sock: socket.socket | None = None
        self._buf = b""

    def connect(self) -> QmpClient:
        """Connect (retrying until the socket exists), read the greeting, negotiate capabilities."""
        deadline = time.monotonic() + self.timeout_s
        last: OSError | None = None
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            try:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                _connect_unix(s, self.path)
                break
            except OSError as exc:
                s.close()
                last = exc
                if time.monotonic() + CONNECT_RETRY_S >= deadline:
                    raise QmpError(f"QMP socket {self.path} not reachable within {self.timeout_s:.1f} s: {last}") \
                        from exc
                time.sleep(CONNECT_RETRY_S)
        self._sock = s
        self.greeting = self._read_message(deadline)
        if "QMP" not in self.greeting:
            raise QmpError(f"QMP socket {self.path} did not greet with a QMP banner: {self.greeting!r}")
        self.execute("qmp_capabilities")
        return self

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        """Run one command; return its "return" value or raise QmpError with QEMU's error text."""
        if self._sock is None:
            raise QmpError("QMP client is not connected")
        msg: dict[str, Any] = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        deadline = time.monotonic() + self.timeout_s
        try:
            self._sock.sendall(json.dumps(msg).encode() + b"\r\n")
        except OSError as exc:
            raise QmpError(f"QMP {command}: send failed: {exc}") from exc
        while True:
            reply = self._read_message(deadline)
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                err = reply["error"]
                raise QmpError(f"QMP {command}: {err.get('class', 'Error')}: {err.get('desc', err)}")
            if "return" in reply:
                return reply["return"]

    def _read_message(self, deadline: float) -> dict[str, Any]:
        assert self._sock is not None
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise QmpError(f"QMP socket {self.path}: no reply within {self.timeout_s:.1f} s")
            self._sock.settimeout(left)
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError as exc:
                raise QmpError(f"QMP socket {self.path}: no reply within {self.timeout_s:.1f} s") from exc
            except OSError as exc:
                raise QmpError(f"QMP socket {self.path}: {exc}") from exc
            if not chunk:
                raise QmpError(f"QMP socket {self.path} closed by QEMU")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError as exc:
            raise QmpError(f"QMP socket {self.path}: not JSON: {line[:200]!r}") from exc

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> QmpClient:
        return self.connect() if self._sock is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()
