"""The fleet launcher with a fake driver: concurrency bound, limits, failures, and full cleanup."""

from __future__ import annotations

import threading
import time

import pytest

from vmscope.cli.bench_scale import parse_concurrency
from vmscope.errors import UserError
from vmscope.measure.fleet import Fleet, StopReason
from vmscope.model import PlatformClass
from vmscope.platforms.base import Driver, LaunchError, Resources


class FakeInstance:
    def __init__(self, driver: FakeDriver, fail: bool):
        self.driver, self.fail = driver, fail
        self.platform, self.platform_class, self.accel = "fake", PlatformClass.container, None
        self.spawn_ns = time.monotonic_ns()
        self.ready_ns: int | None = None
        self.stopped = False
        self.exited = False

    def wait_ready(self, timeout_s: float) -> int:
        with self.driver.lock:
            self.driver.starting += 1
            self.driver.max_starting = max(self.driver.max_starting, self.driver.starting)
        try:
            time.sleep(self.driver.boot_s)
            if self.fail:
                raise LaunchError("fake: exited before ready")
            if self.stopped:
                raise LaunchError("fake: stopped")
            self.ready_ns = time.monotonic_ns()
            return self.ready_ns
        finally:
            with self.driver.lock:
                self.driver.starting -= 1

    def pids(self) -> list[int]:
        return []

    def stop(self) -> None:
        self.stopped = self.exited = True


class FakeDriver(Driver):
    id = "fake"
    platform_class = PlatformClass.container

    def __init__(self, boot_s: float = 0.01, fail_every: int = 0):
        self.boot_s, self.fail_every = boot_s, fail_every
        self.lock = threading.Lock()
        self.starting = self.max_starting = 0
        self.launched: list[FakeInstance] = []

    def launch(self, guest: object, resources: Resources) -> FakeInstance:  # type: ignore[override]
        n = len(self.launched) + 1
        inst = FakeInstance(self, bool(self.fail_every) and n % self.fail_every == 0)
        self.launched.append(inst)
        return inst


def test_concurrency_is_bounded_and_everything_is_stopped():
    d = FakeDriver()
    with Fleet(d, None, Resources(mode="hold")) as fleet:
        assert fleet.launch(20, 4) == StopReason.completed
        assert len(fleet.ready) == 20 and len(fleet.latencies_ms()) == 20
        assert 1 <= d.max_starting <= 4
        assert fleet.launch_rate_per_s() is not None
        fleet.stop_down_to(5)
        assert len(fleet.running()) == 5
    assert all(i.stopped for i in d.launched)


def test_a_limit_stops_launching_and_keeps_ready_ones():
    d = FakeDriver()
    with Fleet(d, None, Resources(mode="hold")) as fleet:
        why = fleet.launch(50, 2, check=lambda ready: StopReason.mem_budget if ready >= 6 else None)
        assert why == StopReason.mem_budget
        assert 6 <= len(fleet.ready) < 50
        assert len(d.launched) < 50
        starting = [i for i in d.launched if i not in fleet.ready]
        assert all(i.stopped for i in starting)
    assert all(i.stopped for i in d.launched)


def test_failures_stop_the_sweep():
    d = FakeDriver(fail_every=3)
    with Fleet(d, None, Resources(mode="hold")) as fleet:
        assert fleet.launch(30, 1, max_failures=1) == StopReason.failures
        assert len(fleet.failures) == 2
    assert all(i.stopped for i in d.launched)


def test_time_limit():
    d = FakeDriver(boot_s=0.2)
    with Fleet(d, None, Resources(mode="hold")) as fleet:
        assert fleet.launch(100, 1, time_limit_s=0.5) == StopReason.time_limit
        assert len(fleet.ready) < 100
    assert all(i.stopped for i in d.launched)


def test_exception_in_a_callback_still_stops_everything():
    d = FakeDriver()

    def boom(inst: object) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        with Fleet(d, None, Resources(mode="hold")) as fleet:
            fleet.launch(10, 3, on_ready=boom)
    assert d.launched and all(i.stopped for i in d.launched)


def test_parse_concurrency():
    assert parse_concurrency("8,1,2,2") == [1, 2, 8]
    for bad in ("", "0,1", "a,b"):
        with pytest.raises(UserError):
            parse_concurrency(bad)
