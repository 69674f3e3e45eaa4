"""Startup latency: spawn -> ready on the host monotonic clock, with phases, interleaved trials."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vmscope.measure.failures import PlatformFailure
from vmscope.measure.phases import phases_ms, timing_points
from vmscope.platforms import get_driver
from vmscope.platforms.base import Driver, LaunchError, Resources
from vmscope.stats import interleaved_order, summarize

HEADLINE = "spawn_to_ready"


@dataclass
class Trial:
    platform: str
    trial: int  # negative for warm-ups
    accel: str | None
    points_ns: dict[str, int]
    phases_ms: dict[str, float]
    console_log: Path | None
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def warmup(self) -> bool:
        return self.trial < 0


@dataclass
class StartupResult:
    platform: str
    accel: str | None
    trials: list[Trial]

    @property
    def samples_ms(self) -> list[float]:
        return [t.phases_ms[HEADLINE] for t in self.trials if not t.warmup and HEADLINE in t.phases_ms]

    def summary_row(self) -> dict:
        s = summarize(self.samples_ms)
        phase_names = sorted({k for t in self.trials if not t.warmup for k in t.phases_ms})
        phases: dict[str, float] = {}
        for name in phase_names:
            vals = [t.phases_ms[name] for t in self.trials if not t.warmup and name in t.phases_ms]
            if vals:
                phases[name] = summarize(vals).median
        warnings = []
        if s.noisy:
            warnings.append(f"noisy: CoV {s.cov:.0%} > 10%")
        notes = {k: v for t in self.trials for k, v in t.notes.items()}
        return {
            "platform": self.platform,
            "accel": self.accel,
            "n": s.n,
            "median_ms": s.median,
            "p95_ms": s.p95,
            "ci_low_ms": s.ci_low,
            "ci_high_ms": s.ci_high,
            "min_ms": s.min,
            "max_ms": s.max,
            "mean_ms": s.mean,
            "cov": s.cov,
            "samples_ms": self.samples_ms,
            "phases_ms": phases,
            "interval": "spawn -> ready (host monotonic clock; ready = guest init prints VMSCOPE-READY)",
            "notes": notes,
            "warnings": warnings,
        }


ProgressFn = Callable[[str, int], None]


def trial_log_path(log_dir: Path, platform: str, trial: int) -> Path:
    """Where run_trial saves a trial's console (warm-ups as w1, w2, ...)."""
    return log_dir / f"{platform}-{'w' if trial < 0 else ''}{abs(trial)}.log"


def run_trial(driver: Driver, guest: object, resources: Resources, trial: int, timeout_s: float,
              log_dir: Path | None) -> Trial:
    """Launch one instance in boot mode, wait for ready and exit, stop it, return its timing points."""
    inst = driver.launch(guest, resources)
    log_path = trial_log_path(log_dir, driver.id, trial) if log_dir else None
    try:
        inst.wait_ready(timeout_s)
        inst.wait_exit(timeout_s)
    except LaunchError as exc:
        if log_path is not None:
            inst.console.save(log_path)
            exc.args = (f"{exc.args[0]}\n  console log: {log_path}",)
        raise
    finally:
        inst.stop()
    if log_path is not None:
        inst.console.save(log_path)
    points = timing_points(inst)
    return Trial(driver.id, trial, inst.accel, points, phases_ms(points), log_path, dict(inst.notes))


def measure_startup(
    platforms: list[str],
    guest: object,
    resources: Resources,
    trials: int,
    warmup: int = 1,
    timeout_s: float = 120.0,
    log_dir: Path | None = None,
    progress: ProgressFn | None = None,
) -> tuple[list[StartupResult], list[PlatformFailure]]:
    """Interleave platforms (A B C C B A ...), discard warm-ups, keep every raw sample.

    A platform whose trial fails is dropped from the rest of the run (its failure and console
    log are returned); the others go on.
    """
    drivers = {p: get_driver(p) for p in platforms}
    results = {p: StartupResult(p, None, []) for p in platforms}
    failures: dict[str, PlatformFailure] = {}
    order = [(p, -(w + 1)) for p, w in interleaved_order(platforms, warmup)]
    order += interleaved_order(platforms, trials)
    for platform, trial in order:
        if platform not in failures:
            try:
                t = run_trial(drivers[platform], guest, resources, trial, timeout_s, log_dir)
            except LaunchError as exc:
                log = trial_log_path(log_dir, platform, trial) if log_dir else None
                failures[platform] = PlatformFailure(platform, str(exc), log if log and log.exists() else None, trial)
            else:
                results[platform].trials.append(t)
                results[platform].accel = t.accel
        if progress:
            progress(platform, trial)
    ok = [r for p, r in results.items() if p not in failures and r.samples_ms]
    return ok, list(failures.values())
