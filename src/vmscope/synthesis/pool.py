"""Pooling per (group, metric, family): study-level estimates first, then across studies.

Within a study, the observations of one group and family are combined into one study estimate
(inverse-variance mean of the logs when every observation has a standard error, else the median
of the logs). Across studies:
- every study has a standard error and there are >= 2 studies: DerSimonian-Laird random effects
  on the log scale (statsmodels `combine_effects`, method_re="dl"), 95% interval, tau^2 and I^2;
- one study with a standard error: its estimate and 95% interval;
- otherwise: the median of the study estimates, and as interval the range spanned by the
  studies' own ranges (min..max of their records).
Yes/no families pool the share of "yes" (per study first), with the range across studies.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from statsmodels.stats.meta_analysis import combine_effects

from vmscope.model import EvidenceKind, Metric
from vmscope.synthesis.families import Family
from vmscope.synthesis.normalize import Observation

Z95 = 1.959963984540054
SENSITIVITY_EXCLUDED = frozenset({EvidenceKind.blog, EvidenceKind.vendor_doc, EvidenceKind.vendor_spec})


class PoolMethod(StrEnum):
    random_effects_dl = "random_effects_dl"
    single_study = "single_study"
    median_range = "median_range"
    share = "share"


@dataclass(frozen=True)
class StudyEstimate:
    """One study's estimate for one group and family (a row of a forest plot)."""

    study: str
    estimate: float
    low: float
    high: float
    se_log: float | None
    record_ids: tuple[str, ...]
    kinds: frozenset[EvidenceKind]


@dataclass(frozen=True)
class PooledRow:
    group: str
    metric: Metric
    family: str
    estimate: float
    low: float
    high: float
    unit: str
    n_studies: int
    n_records: int
    method: PoolMethod
    tau2: float | None = None
    i2: float | None = None
    studies: tuple[StudyEstimate, ...] = field(default=())

    @property
    def record_ids(self) -> list[str]:
        return [rid for s in self.studies for rid in s.record_ids]


def _study_estimate(study: str, obs: list[Observation]) -> StudyEstimate:
    ids = tuple(o.record.id for o in obs)
    kinds = frozenset(o.record.kind for o in obs)
    values = [o.value for o in obs]
    if obs[0].family.is_boolean:
        share = sum(values) / len(values)
        return StudyEstimate(study, share, min(values), max(values), None, ids, kinds)
    logs = [math.log(v) for v in values]
    ses = [o.se_log for o in obs]
    if all(se is not None for se in ses):
        weights = [1 / (se * se) for se in ses]  # type: ignore[operator]
        mean = sum(w * x for w, x in zip(weights, logs, strict=True)) / sum(weights)
        se = math.sqrt(1 / sum(weights))
        return StudyEstimate(
            study, math.exp(mean), math.exp(mean - Z95 * se), math.exp(mean + Z95 * se), se, ids, kinds
        )
    return StudyEstimate(study, math.exp(statistics.median(logs)), min(values), max(values), None, ids, kinds)


@dataclass(frozen=True)
class DLResult:
    mean: float
    se: float
    tau2: float
    i2: float


def dersimonian_laird(effects: list[float], variances: list[float]) -> DLResult:
    """Random-effects pooled mean (DerSimonian-Laird) of effects with known within-study variances.

    statsmodels 0.15 reports the untruncated moment estimate of tau^2, which is negative when the
    studies agree more than their variances predict, and then weights with it. DL truncates tau^2
    at 0, where random effects equal fixed effects, so that case uses the fixed-effect result.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        res = combine_effects(np.asarray(effects, float), np.asarray(variances, float), method_re="dl")
    if not res.tau2 > 0:
        return DLResult(mean=float(res.mean_effect_fe), se=float(res.sd_eff_w_fe), tau2=0.0, i2=0.0)
    i2 = float(res.i2) if np.isfinite(res.i2) else 0.0
    return DLResult(mean=float(res.mean_effect_re), se=float(res.sd_eff_w_re), tau2=float(res.tau2), i2=max(i2, 0.0))


def pool_cell(group: str, family: Family, observations: list[Observation]) -> PooledRow:
    """Pool the observations of one (group, family) cell."""
    by_study: dict[str, list[Observation]] = defaultdict(list)
    for o in observations:
        by_study[o.study].append(o)
    studies = tuple(_study_estimate(s, obs) for s, obs in sorted(by_study.items()))
    n_records = len(observations)
    common = dict(group=group, metric=family.metric, family=family.id, unit=family.display_unit)
    if family.is_boolean:
        shares = [s.estimate for s in studies]
        return PooledRow(
            **common,
            estimate=100 * statistics.fmean(shares),
            low=100 * min(shares),
            high=100 * max(shares),
            n_studies=len(studies),
            n_records=n_records,
            method=PoolMethod.share,
            studies=studies,
        )
    if all(s.se_log is not None for s in studies):
        if len(studies) >= 2:
            dl = dersimonian_laird(
                [math.log(s.estimate) for s in studies],
                [s.se_log**2 for s in studies],  # type: ignore[operator]
            )
            return PooledRow(
                **common,
                estimate=math.exp(dl.mean),
                low=math.exp(dl.mean - Z95 * dl.se),
                high=math.exp(dl.mean + Z95 * dl.se),
                n_studies=len(studies),
                n_records=n_records,
                method=PoolMethod.random_effects_dl,
                tau2=dl.tau2,
                i2=dl.i2,
                studies=studies,
            )
        only = studies[0]
        return PooledRow(
            **common,
            estimate=only.estimate,
            low=only.low,
            high=only.high,
            n_studies=1,
            n_records=n_records,
            method=PoolMethod.single_study,
            studies=studies,
        )
    logs = [math.log(s.estimate) for s in studies]
    # The range spans every study's own range, so a class-level row shows the spread of the
    # platforms and conditions behind it, not only the spread of study medians.
    low, high = min(s.low for s in studies), max(s.high for s in studies)
    return PooledRow(
        **common,
        estimate=math.exp(statistics.median(logs)),
        low=low,
        high=high,
        n_studies=len(studies),
        n_records=n_records,
        method=PoolMethod.median_range,
        studies=studies,
    )


def pool(observations: Iterable[Observation]) -> list[PooledRow]:
    """One pooled row per (group, family), ordered by metric, family, group."""
    cells: dict[tuple[str, str], list[Observation]] = defaultdict(list)
    families: dict[str, Family] = {}
    for o in observations:
        cells[(o.group, o.family.id)].append(o)
        families[o.family.id] = o.family
    metric_order = list(Metric)
    rows = [pool_cell(g, families[f], obs) for (g, f), obs in cells.items()]
    rows.sort(key=lambda r: (metric_order.index(r.metric), r.family, r.group))
    return rows


def sensitivity(observations: Iterable[Observation]) -> list[PooledRow]:
    """The same pooling without blogs and vendor claims (peer-reviewed, thesis, preprint, live)."""
    return pool(o for o in observations if o.record.kind not in SENSITIVITY_EXCLUDED)
