"""Density: per-instance host memory vs number of instances running, and how many fit in a budget.

Measured points come from teardown checkpoints (exactly k instances running, none starting).
A straight line drop(k) = fixed + per_instance * k is fitted to them; anything read off that line
beyond the measured range is labeled "extrapolated", never "measured".
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any

MEASURED = "measured"
EXTRAPOLATED = "extrapolated"


@dataclass(frozen=True)
class DensityPoint:
    running: int
    memavailable_drop_kib: float
    pss_kib_per_instance: float | None
    label: str = MEASURED

    @property
    def drop_kib_per_instance(self) -> float:
        return self.memavailable_drop_kib / self.running if self.running else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "memavailable_drop_kib_per_instance": self.drop_kib_per_instance}


def checkpoints(running: int) -> list[int]:
    """Counts to measure at while tearing down from `running`: running, then powers of two below it."""
    if running < 1:
        return []
    pts = [running]
    k = 1 << (running.bit_length() - 1)
    if k == running:
        k //= 2
    while k >= 1:
        pts.append(k)
        k //= 2
    return pts


def merge(points: list[DensityPoint]) -> list[DensityPoint]:
    """One point per running count: the median over sweeps."""
    by_k: dict[int, list[DensityPoint]] = {}
    for p in points:
        by_k.setdefault(p.running, []).append(p)
    out = []
    for k in sorted(by_k):
        ps = by_k[k]
        pss = [p.pss_kib_per_instance for p in ps if p.pss_kib_per_instance is not None]
        out.append(DensityPoint(k, float(statistics.median(p.memavailable_drop_kib for p in ps)),
                                float(statistics.median(pss)) if pss else None))
    return out


@dataclass(frozen=True)
class LineFit:
    fixed_kib: float
    per_instance_kib: float

    def drop_at(self, k: float) -> float:
        return self.fixed_kib + self.per_instance_kib * k


def fit(points: list[DensityPoint]) -> LineFit | None:
    """Least-squares line through (running, drop); with one distinct count, a line through the origin."""
    ks = [p.running for p in points]
    if not points:
        return None
    if len(set(ks)) < 2:
        per = statistics.median(p.drop_kib_per_instance for p in points)
        return LineFit(0.0, float(per))
    mk = statistics.fmean(ks)
    md = statistics.fmean(p.memavailable_drop_kib for p in points)
    sxx = sum((k - mk) ** 2 for k in ks)
    sxy = sum((p.running - mk) * (p.memavailable_drop_kib - md) for p in points)
    slope = sxy / sxx
    return LineFit(md - slope * mk, slope)


def in_budget(points: list[DensityPoint], budget_kib: float, budget_reached: bool = False) -> dict[str, Any]:
    """How many instances fit in `budget_kib` of host memory.

    "measured" when the budget boundary lies inside the measured range (a measured point is over
    budget, or the sweep stopped at the budget): the largest measured count still within it.
    Otherwise "extrapolated" from the fitted line, with the range it was fitted on.
    """
    pts = merge(points)
    line = fit(pts)
    base: dict[str, Any] = {
        "budget_kib": budget_kib,
        "fit": asdict(line) if line else None,
        "measured_up_to": max((p.running for p in pts), default=0),
    }
    if not pts or line is None:
        return {**base, "instances": None, "label": None}
    within = [p.running for p in pts if p.memavailable_drop_kib <= budget_kib]
    over = [p for p in pts if p.memavailable_drop_kib > budget_kib]
    if over or budget_reached:
        return {**base, "instances": max(within, default=0), "label": MEASURED}
    if line.per_instance_kib <= 0:
        return {**base, "instances": None, "label": EXTRAPOLATED,
                "why_none": "memory did not grow with the number of instances (noise); no estimate"}
    est = math.floor((budget_kib - line.fixed_kib) / line.per_instance_kib)
    return {**base, "instances": max(est, base["measured_up_to"]), "label": EXTRAPOLATED}


def curve(points: list[DensityPoint], estimate: dict[str, Any], max_extra: int = 4) -> list[dict[str, Any]]:
    """Measured points, then a few extrapolated ones (doubling) up to the estimate, each labeled."""
    pts = merge(points)
    out = [p.as_dict() for p in pts]
    if estimate.get("label") != EXTRAPOLATED or not estimate.get("instances") or not estimate.get("fit"):
        return out
    line = LineFit(**estimate["fit"])
    k = estimate["measured_up_to"] * 2
    targets = []
    while k < estimate["instances"] and len(targets) < max_extra - 1:
        targets.append(k)
        k *= 2
    targets.append(estimate["instances"])
    for k in targets:
        if k <= estimate["measured_up_to"]:
            continue
        out.append(DensityPoint(k, line.drop_at(k), None, EXTRAPOLATED).as_dict())
    return out
