"""Summary statistics for repeated measurements: median, percentiles, bootstrap CI, noise warning."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as sps

NOISY_COV = 0.10  # warn when the coefficient of variation is above 10 %
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20261204  # fixed so the same samples give the same interval


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    mean: float
    p95: float
    p99: float
    min: float
    max: float
    std: float
    cov: float | None
    ci_low: float | None
    ci_high: float | None

    @property
    def noisy(self) -> bool:
        return self.cov is not None and self.cov > NOISY_COV

    def as_dict(self) -> dict:
        return asdict(self)


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples, dtype=float), q))


def bootstrap_median_ci(samples: list[float], confidence: float = 0.95) -> tuple[float | None, float | None]:
    """Percentile-bootstrap confidence interval of the median (None with fewer than 3 samples)."""
    data = np.asarray(samples, dtype=float)
    if data.size < 3:
        return None, None
    if np.all(data == data[0]):  # no spread to resample
        return float(data[0]), float(data[0])
    res = sps.bootstrap(
        (data,), np.median, confidence_level=confidence, n_resamples=BOOTSTRAP_RESAMPLES,
        method="percentile", rng=np.random.default_rng(BOOTSTRAP_SEED),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def summarize(samples: list[float]) -> Summary:
    if not samples:
        raise ValueError("no samples to summarize")
    data = np.asarray(samples, dtype=float)
    mean = float(data.mean())
    std = float(data.std(ddof=1)) if data.size > 1 else 0.0
    lo, hi = bootstrap_median_ci(samples)
    return Summary(
        n=int(data.size),
        median=float(np.median(data)),
        mean=mean,
        p95=float(np.percentile(data, 95)),
        p99=float(np.percentile(data, 99)),
        min=float(data.min()),
        max=float(data.max()),
        std=std,
        cov=(std / mean) if mean and data.size > 1 else None,
        ci_low=lo,
        ci_high=hi,
    )


def interleaved_order(platforms: list[str], trials: int) -> list[tuple[str, int]]:
    """A B C, C B A, A B C ... so no platform always runs first or last (drift and warm caches)."""
    order: list[tuple[str, int]] = []
    for t in range(trials):
        seq = platforms if t % 2 == 0 else list(reversed(platforms))
        order.extend((p, t) for p in seq)
    return order
