"""Many held instances of one platform: launch N with at most C in flight, keep them, stop them all.

One Python process drives them: the calling thread spawns (posix_spawn returns at once), a waiter
thread per in-flight instance sleeps on its console's condition until ready, and the console hub's
single selector thread does all the reading. So 64 in flight cost 64 idle threads, not 64 busy loops.

Cleanup is the point of the class: every instance that was ever spawned is registered under a lock
before anything else happens to it, and `stop()` (also on exceptions and Ctrl-C, via `with`) stops
every one of them, in parallel, because a single stop may take a bounded second or two.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from vmscope.platforms.base import Driver, Instance, LaunchError, Resources

STOP_PARALLELISM = 32


class StopReason:
    """Why a sweep ended (the JSON `stopped_by`)."""

    completed = "completed"
    mem_budget = "mem_budget"
    host_memory_low = "host_memory_low"
    failures = "failures"
    time_limit = "time_limit"


@dataclass
class LaunchFailure:
    index: int
    error: str
    console_log: Path | None = None


def stop_instances(instances: Iterable[Instance], parallelism: int = STOP_PARALLELISM) -> None:
    """Stop every instance (each stop is idempotent and bounded), several at a time."""
    insts = list(instances)
    if not insts:
        return
    if len(insts) == 1:
        insts[0].stop()
        return
    with ThreadPoolExecutor(max_workers=min(parallelism, len(insts)), thread_name_prefix="vmscope-stop") as ex:
        for f in [ex.submit(i.stop) for i in insts]:
            try:
                f.result()
            except Exception:  # one broken stop must not keep the others running
                pass


def latency_ms(inst: Instance) -> float | None:
    if inst.spawn_ns is None or inst.ready_ns is None:
        return None
    return (inst.ready_ns - inst.spawn_ns) / 1e6


class Fleet:
    """Instances of one driver launched in hold mode; use as a context manager."""

    def __init__(self, driver: Driver, guest: object, resources: Resources, timeout_s: float = 120.0,
                 log_dir: Path | None = None):
        self.driver = driver
        self.guest = guest
        self.resources = resources
        self.timeout_s = timeout_s
        self.log_dir = log_dir
        self.ready: list[Instance] = []  # in the order they became ready
        self.failures: list[LaunchFailure] = []
        self._spawned: list[Instance] = []
        self._active: list[Instance] = []  # ready and not yet stopped by stop_down_to
        self._lock = threading.Lock()
        self._halted = False
        self.first_spawn_ns: int | None = None
        self.last_ready_ns: int | None = None

    # -- launching ----------------------------------------------------------------------------
    def launch(self, n: int, concurrency: int, check: Callable[[int], str | None] | None = None,
               time_limit_s: float | None = None, max_failures: int = 0,
               on_ready: Callable[[Instance], None] | None = None) -> str:
        """Launch n instances, at most `concurrency` not yet ready at any time; return why it ended.

        Spawning happens on the calling thread: runtimes that set PR_SET_PDEATHSIG (bwrap
        --die-with-parent) die with the *thread* that spawned them, so a short-lived pool thread
        must never spawn. Pool threads only wait for ready. `check(number_ready)` is called after
        every completion and may return a StopReason to end early (e.g. a memory budget).
        Instances still starting when it ends are stopped; ready ones are kept for measuring.
        """
        if n < 1 or concurrency < 1:
            raise ValueError("n and concurrency must be at least 1")
        self._halted = False
        deadline = time.monotonic() + time_limit_s if time_limit_s else None
        waiters = ThreadPoolExecutor(max_workers=min(concurrency, n), thread_name_prefix="vmscope-wait")
        inflight: set[Future] = set()
        launched = 0
        stopped_by = StopReason.completed
        try:
            while True:
                while launched < n and len(inflight) < concurrency:
                    inst = self._spawn(launched)
                    if inst is not None:
                        inflight.add(waiters.submit(self._await_ready, inst, launched))
                    launched += 1
                if len(self.failures) > max_failures:
                    stopped_by = StopReason.failures
                    break
                if not inflight:
                    break
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    stopped_by = StopReason.time_limit
                    break
                done, inflight = wait(inflight, timeout=1.0 if left is None else min(left, 1.0),
                                      return_when=FIRST_COMPLETED)
                for f in done:
                    inst = f.result()  # LaunchError is handled in _await_ready; anything else is a bug
                    if inst is not None and on_ready is not None:
                        on_ready(inst)
                if len(self.failures) > max_failures:
                    stopped_by = StopReason.failures
                    break
                why = check(len(self.ready)) if check is not None else None
                if why:
                    stopped_by = why
                    break
        finally:
            if inflight:
                self._halt()
            waiters.shutdown(wait=True, cancel_futures=True)
        return stopped_by

    def _spawn(self, index: int) -> Instance | None:
        try:
            inst = self.driver.launch(self.guest, self.resources)
        except LaunchError as exc:
            with self._lock:
                self.failures.append(LaunchFailure(index, str(exc).splitlines()[0]))
            return None
        with self._lock:
            self._spawned.append(inst)
            if inst.spawn_ns is not None and (self.first_spawn_ns is None or inst.spawn_ns < self.first_spawn_ns):
                self.first_spawn_ns = inst.spawn_ns
        return inst

    def _await_ready(self, inst: Instance, index: int) -> Instance | None:
        try:
            inst.wait_ready(self.timeout_s)
        except LaunchError as exc:
            with self._lock:
                halted = self._halted
            log = None
            if not halted and self.log_dir is not None:
                log = inst.console.save(self.log_dir / f"{self.driver.id}-fleet-{index}.log")
            inst.stop()
            if not halted:
                with self._lock:
                    self.failures.append(LaunchFailure(index, str(exc).splitlines()[0], log))
            return None
        with self._lock:
            self.ready.append(inst)
            self._active.append(inst)
            if inst.ready_ns is not None and (self.last_ready_ns is None or inst.ready_ns > self.last_ready_ns):
                self.last_ready_ns = inst.ready_ns
        return inst

    def _halt(self) -> None:
        """No new launches; stop the ones still starting so their slots return quickly."""
        with self._lock:
            self._halted = True
            ready = set(map(id, self.ready))
            starting = [i for i in self._spawned if id(i) not in ready]
        stop_instances(starting)

    # -- results ------------------------------------------------------------------------------
    def latencies_ms(self) -> list[float]:
        with self._lock:
            return [v for v in (latency_ms(i) for i in self.ready) if v is not None]

    def launch_rate_per_s(self) -> float | None:
        """Ready instances per second, from the first spawn to the last ready."""
        with self._lock:
            n = len(self.ready)
            if n == 0 or self.first_spawn_ns is None or self.last_ready_ns is None:
                return None
            span_s = (self.last_ready_ns - self.first_spawn_ns) / 1e9
        return n / span_s if span_s > 0 else None

    def running(self) -> list[Instance]:
        with self._lock:
            return [i for i in self._active if not i.exited]

    def pids(self) -> list[int]:
        return [p for i in self.running() for p in i.pids()]

    # -- stopping -----------------------------------------------------------------------------
    def stop_down_to(self, keep: int) -> None:
        """Stop ready instances (newest first) until `keep` are still running."""
        with self._lock:
            # an instance that exited by itself is no longer running; fleet.stop() still cleans it up
            self._active = [i for i in self._active if not i.exited]
            victims = self._active[keep:]
            del self._active[keep:]
        stop_instances(victims)

    def stop(self) -> None:
        with self._lock:
            self._halted = True
            everything = list(self._spawned)
        stop_instances(everything)

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
