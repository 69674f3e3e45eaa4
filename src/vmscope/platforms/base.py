"""The platform protocol: a Driver probes and launches; an Instance knows its PIDs, timing
points and how to stop. Drivers never measure; measure/ never knows driver internals."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import psutil

from vmscope.errors import UserError
from vmscope.model import PlatformClass
from vmscope.platforms import console as con
from vmscope.platforms.util import signals_deferred

STOP_GRACE_S = 2.0
STOP_KILL_WAIT_S = 5.0


@dataclass(frozen=True)
class Availability:
    usable: bool
    reason: str = ""
    version: str | None = None
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Resources:
    """What to give an instance and how it should behave."""

    mem_mib: int = 256
    vcpus: int = 1
    mode: str = "boot"  # boot: print ready then exit/power off; hold: stay up until stopped
    probe: bool = False  # run the isolation probe inside before ready
    accel: str | None = None  # VM drivers: "kvm" | "tcg" | None (auto)
    extra_cmdline: str = ""  # VM drivers: appended to the kernel command line
    seccomp: bool = True  # container drivers: apply the runtime's default-style seccomp profile


class LaunchError(UserError):
    """The VMM/runtime failed before the guest became ready."""


class GuestTimeout(LaunchError):
    """The guest did not reach ready within the timeout."""


_live: weakref.WeakSet[Instance] = weakref.WeakSet()
_live_lock = threading.Lock()
# chdir is process-wide: concurrent spawns from several threads (bench scale) must not interleave it
_spawn_cwd_lock = threading.Lock()


def stop_all() -> None:
    """Stop every instance still running (atexit, SIGTERM and the CLI's Ctrl-C path)."""
    with _live_lock:
        insts = list(_live)
    for inst in insts:
        try:
            inst.stop()
        except Exception:
            pass


atexit.register(stop_all)


class Instance:
    """One running (or finished) instance of the shared guest on one platform.

    Timing points are host monotonic ns: spawn (just before the VMM/runtime exec),
    first_output, ready, exit. Drivers subclass to add their own cleanup in `_cleanup()`.
    """

    def __init__(self, platform: str, platform_class: PlatformClass, accel: str | None, workdir: Path):
        self.platform = platform
        self.platform_class = platform_class
        self.accel = accel
        self.workdir = workdir
        self.console = con.Console()
        self.pid: int | None = None
        self.spawn_ns: int | None = None
        self.argv: list[str] = []
        self.notes: dict[str, str] = {}
        self._stdin_fd: int | None = None
        self._stopped = False
        self._stop_lock = threading.Lock()
        with _live_lock:
            _live.add(self)

    # -- launching (used by drivers) ----------------------------------------------------------
    def spawn(self, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        """Start argv with the console on a pipe, in its own session (process group)."""
        exe = argv[0] if os.path.isabs(argv[0]) else shutil.which(argv[0])
        if exe is None:
            raise LaunchError(f"{self.platform}: {argv[0]} not found on PATH", hint="run `vmscope doctor`")
        r_in, w_in = os.pipe2(os.O_CLOEXEC)
        r_out, w_out = os.pipe2(os.O_CLOEXEC)
        actions = [
            (os.POSIX_SPAWN_DUP2, r_in, 0),
            (os.POSIX_SPAWN_DUP2, w_out, 1),
            (os.POSIX_SPAWN_DUP2, w_out, 2),
        ]
        env = dict(os.environ if env is None else env)
        old_cwd = None
        try:
            with _spawn_cwd_lock:
                if cwd is not None:
                    old_cwd = os.getcwd()
                    os.chdir(cwd)
                try:
                    self.spawn_ns = time.monotonic_ns()
                    self.pid = os.posix_spawn(exe, argv, env, file_actions=actions, setsid=True)
                finally:
                    if old_cwd is not None:
                        os.chdir(old_cwd)
        except BaseException:
            # nothing was started: our ends of both pipes would otherwise leak, one per failed launch
            os.close(w_in)
            os.close(r_out)
            raise
        finally:
            os.close(r_in)
            os.close(w_out)
        self.argv = argv
        self._stdin_fd = w_in
        con.attach(self.console, r_out, self.pid)

    # -- state --------------------------------------------------------------------------------
    @property
    def first_output_ns(self) -> int | None:
        return self.console.first_output_ns

    @property
    def ready_ns(self) -> int | None:
        m = self.console.mark(con.MARK_READY)
        return m[0] if m else None

    @property
    def exit_ns(self) -> int | None:
        return self.console.exit_ns

    @property
    def exit_status(self) -> int | None:
        return self.console.exit_status

    @property
    def exited(self) -> bool:
        return self.console.exit_ns is not None

    def timings(self) -> dict[str, int | None]:
        return {
            "spawn": self.spawn_ns,
            "first_output": self.first_output_ns,
            "ready": self.ready_ns,
            "exit": self.exit_ns,
        }

    def pids(self) -> list[int]:
        """Host PIDs of this instance: the VMM/runtime and every helper it started."""
        if self.pid is None or self.exited:
            return []
        try:
            root = psutil.Process(self.pid)
            return [root.pid] + [c.pid for c in root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    # -- waiting ------------------------------------------------------------------------------
    def wait_ready(self, timeout_s: float) -> int:
        """Block until the guest prints its ready marker; return the ready time (ns)."""
        c = self.console
        c.wait(lambda: bool(c.marks.get(con.MARK_READY)) or c.exit_ns is not None, timeout_s)
        ready = self.ready_ns
        if ready is not None:
            return ready
        if self.exited:
            # give the pipe a moment to drain what the process printed last
            c.wait(lambda: c.eof_ns is not None, 1.0)
            raise LaunchError(
                f"{self.platform}: exited with status {self.exit_status} before the guest was ready"
                f"{self._tail()}",
                hint="see the saved console log; `vmscope doctor` checks the platform",
            )
        raise GuestTimeout(
            f"{self.platform}: guest not ready after {timeout_s:.0f} s{self._tail()}",
            hint="raise --timeout, or check the console log (a kernel that panics or hangs never prints ready)",
        )

    def wait_exit(self, timeout_s: float) -> int | None:
        c = self.console
        c.wait(lambda: c.exit_ns is not None, timeout_s)
        return self.exit_ns

    def send(self, data: bytes) -> None:
        if self._stdin_fd is not None:
            try:
                os.write(self._stdin_fd, data)
            except OSError:
                pass

    def _tail(self, n: int = 6) -> str:
        lines = [t for _, t in self.console.lines[-n:] if t.strip()]
        return (":\n    " + "\n    ".join(lines)) if lines else " (no console output)"

    # -- stopping -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Idempotent, bounded: nothing of this instance is left afterwards."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        with signals_deferred():
            self._stop_now()

    def _stop_now(self) -> None:
        try:
            self._terminate()
            self._cleanup()
        finally:
            if self._stdin_fd is not None:
                try:
                    os.close(self._stdin_fd)
                except OSError:
                    pass
                self._stdin_fd = None
            shutil.rmtree(self.workdir, ignore_errors=True)
            with _live_lock:
                _live.discard(self)

    def _terminate(self) -> None:
        if self.pid is None:
            return
        tree = self._tree()
        if not self.exited:
            # ask the guest first (hold mode reads this line), then the VMM/runtime, then force
            self.send(con.STOP_LINE)
            self.wait_exit(STOP_GRACE_S * 0.75)
        if not self.exited:
            self._signal_group(signal.SIGTERM)
            self.wait_exit(STOP_GRACE_S * 0.25)
        if not self.exited:
            self._signal_group(signal.SIGKILL)
            self.wait_exit(STOP_KILL_WAIT_S)
        # helpers that left our process group (e.g. daemonised sandboxes) are killed directly
        for p in tree:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(tree, timeout=STOP_KILL_WAIT_S)

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.pid)
            return root.children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)  # setsid made pid the group id
        except ProcessLookupError:
            pass

    def _cleanup(self) -> None:
        """Driver-specific cleanup (containers, mounts, cgroups); must tolerate partial state."""

    def __enter__(self) -> Instance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def stop_on_error(inst: Instance) -> Iterator[Instance]:
    """Launch steps inside this block: if any fails (or Ctrl-C), the half-started instance is stopped."""
    try:
        yield inst
    except BaseException:
        inst.stop()
        raise


class Driver:
    """Base of every platform driver (one file per driver under platforms/)."""

    id: ClassVar[str]
    platform_class: ClassVar[PlatformClass]
    description: ClassVar[str] = ""

    def probe(self) -> Availability:
        raise NotImplementedError

    def launch(self, guest: object, resources: Resources) -> Instance:
        raise NotImplementedError

    def accel_for(self, resources: Resources) -> str | None:
        """The accelerator an instance launched with these resources uses (None: no VM)."""
        return None

    # shared helper for drivers
    def _workdir(self) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"vmscope-{self.id}-"))
