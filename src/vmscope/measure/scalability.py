"""Scalability curves: for each concurrency C, launch N held instances with at most C starting at once.

Per sweep: spawn -> ready latency of every instance (p50/p95/p99), launch rate (ready instances per
second from the first spawn to the last ready), MemAvailable drop per instance with all of them
running, and the density curve measured while tearing down (k running, nothing starting).
A sweep ends early at a limit and says which: mem_budget, host_memory_low, failures, time_limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmscope.measure import density, smaps
from vmscope.measure.fleet import Fleet, LaunchFailure, StopReason
from vmscope.measure.memory import mem_available_kib, read_meminfo
from vmscope.platforms import get_driver
from vmscope.platforms.base import Instance, Resources
from vmscope.stats import percentile

HOST_LOW_FRACTION = 0.05  # never push the host below 5 % of MemTotal available, budget or not
DENSITY_SETTLE_S = 0.3  # after stopping down to a checkpoint, before reading MemAvailable


@dataclass
class Sweep:
    platform: str
    accel: str | None
    concurrency: int
    instances: int  # requested
    latencies_ms: list[float]
    launch_rate_per_s: float | None
    stopped_by: str
    failures: list[LaunchFailure]
    wall_s: float
    harness_cpu_s: float
    memavailable_before_kib: int
    memavailable_residual_kib: int  # MemAvailable drop left after everything was stopped
    points: list[density.DensityPoint] = field(default_factory=list)

    @property
    def ready(self) -> int:
        return len(self.latencies_ms)

    @property
    def full_point(self) -> density.DensityPoint | None:
        return max(self.points, key=lambda p: p.running) if self.points else None

    def row(self) -> dict[str, Any]:
        lat = self.latencies_ms
        full = self.full_point
        return {
            "platform": self.platform,
            "accel": self.accel,
            "concurrency": self.concurrency,
            "instances": self.instances,
            "ready": self.ready,
            "failed": len(self.failures),
            "p50_ms": percentile(lat, 50) if lat else None,
            "p95_ms": percentile(lat, 95) if lat else None,
            "p99_ms": percentile(lat, 99) if lat else None,
            "launch_rate_per_s": self.launch_rate_per_s,
            "memavailable_drop_kib_per_instance": full.drop_kib_per_instance if full else None,
            "pss_kib_per_instance": full.pss_kib_per_instance if full else None,
            "stopped_by": self.stopped_by,
            "wall_s": self.wall_s,
            "harness_cpu_share": self.harness_cpu_s / self.wall_s if self.wall_s > 0 else None,
            "memavailable_residual_kib": self.memavailable_residual_kib,
            "samples_ms": lat,
            "density": [p.as_dict() for p in self.points],
            "failures": [{"index": f.index, "error": f.error, "console_log": str(f.console_log or "")}
                         for f in self.failures],
            "interval": "spawn -> ready per instance (host monotonic clock), while up to `concurrency` start at once",
        }


def _pss_per_instance(insts: list[Instance]) -> float | None:
    if not insts:
        return None
    total = sum(m.pss_kib for m in smaps.sample(p for i in insts for p in i.pids()))
    return total / len(insts)


def limit_check(before_kib: int, budget_kib: float | None, memtotal_kib: int) -> Callable[[int], str | None]:
    floor_kib = memtotal_kib * HOST_LOW_FRACTION

    def check(_ready: int) -> str | None:
        avail = mem_available_kib()
        if budget_kib is not None and before_kib - avail > budget_kib:
            return StopReason.mem_budget
        if avail < floor_kib:
            return StopReason.host_memory_low
        return None

    return check


def run_sweep(platform: str, guest: object, resources: Resources, n: int, concurrency: int,
              budget_kib: float | None = None, time_limit_s: float | None = 600.0, max_failures: int = 0,
              timeout_s: float = 120.0, log_dir: Path | None = None,
              on_ready: Callable[[Instance], None] | None = None, settle_s: float = DENSITY_SETTLE_S) -> Sweep:
    """One sweep: launch, measure latency and rate, measure density while tearing down, stop everything."""
    driver = get_driver(platform)
    memtotal = read_meminfo()["MemTotal"]
    before = mem_available_kib()
    cpu0, wall0 = time.process_time(), time.monotonic()
    with Fleet(driver, guest, resources, timeout_s, log_dir) as fleet:
        stopped_by = fleet.launch(n, concurrency, limit_check(before, budget_kib, memtotal), time_limit_s,
                                  max_failures, on_ready)
        wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
        latencies = fleet.latencies_ms()
        rate = fleet.launch_rate_per_s()
        running = fleet.running()
        accel = running[0].accel if running else None
        points = []
        for k in density.checkpoints(len(running)):
            fleet.stop_down_to(k)
            time.sleep(settle_s)  # fixed settling delay, not a wait for a condition
            drop = before - mem_available_kib()
            alive = fleet.running()  # k, unless instances died by themselves: report what really ran
            if alive:
                points.append(density.DensityPoint(len(alive), float(drop), _pss_per_instance(alive)))
    residual = before - mem_available_kib()
    return Sweep(platform, accel, concurrency, n, latencies, rate, stopped_by, list(fleet.failures), wall, cpu,
                 before, residual, points)


@dataclass
class ScaleResult:
    platform: str
    sweeps: list[Sweep]
    budget_kib: float
    budget_basis: str

    @property
    def accel(self) -> str | None:
        return next((s.accel for s in self.sweeps if s.accel), None)

    def density_summary(self) -> dict[str, Any]:
        points = [p for s in self.sweeps for p in s.points]
        reached = any(s.stopped_by == StopReason.mem_budget for s in self.sweeps)
        est = density.in_budget(points, self.budget_kib, reached)
        return {
            "platform": self.platform,
            "accel": self.accel,
            "budget_mib": self.budget_kib / 1024,
            "budget_basis": self.budget_basis,
            "instances_in_budget": est["instances"],
            "label": est["label"],
            "estimate": est,
            "curve": density.curve(points, est),
            "method": "MemAvailable drop with k instances running (teardown checkpoints, none starting), median "
                      "over sweeps; line drop = fixed + per_instance * k fitted to measured points; memory only "
                      "(pid, CPU and file limits are not modeled)",
        }


ProgressFn = Callable[[str], None]


def measure_scale(platforms: list[str], guest: object, resources: Resources, concurrencies: list[int], n: int,
                  budget_mib: float | None = None, time_limit_s: float | None = 600.0, max_failures: int = 0,
                  timeout_s: float = 120.0, log_dir: Path | None = None,
                  progress: ProgressFn | None = None) -> list[ScaleResult]:
    """Every platform, every concurrency (ascending); each sweep starts from nothing running."""
    results = []
    stop_budget_kib = budget_mib * 1024 if budget_mib else None  # only an explicit budget stops a sweep
    basis = "--mem-budget" if budget_mib else "host MemAvailable at the start of the sweep"
    for platform in platforms:
        budget = stop_budget_kib if stop_budget_kib is not None else float(mem_available_kib())
        sweeps = []
        for c in sorted(set(concurrencies)):
            def tick(inst: Instance, c: int = c) -> None:
                if progress:
                    progress(f"{inst.platform} C={c}")

            s = run_sweep(platform, guest, resources, n, c, stop_budget_kib, time_limit_s, max_failures, timeout_s,
                          log_dir, tick)
            if progress:
                for _ in range(n - s.ready):
                    progress(f"{platform} C={c} {s.stopped_by}")
            sweeps.append(s)
        results.append(ScaleResult(platform, sweeps, budget, basis))
    return results
