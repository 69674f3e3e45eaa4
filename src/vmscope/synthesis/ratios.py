"""Within-study ratios: each group against a reference group measured in the same study.

A ratio of two figures from one study (same host, same guest, same method) cancels most of the
hardware and setup, which raw values across studies cannot. Per family, the reference is the
group present in the most studies (ties broken by name) unless one is given. Ratios are pooled
across studies like values: DerSimonian-Laird on log ratios when both sides carry a standard
error in every study, else the median with the range.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass

from vmscope.model import Metric
from vmscope.synthesis.normalize import Observation
from vmscope.synthesis.pool import Z95, PoolMethod, StudyEstimate, _study_estimate, dersimonian_laird


@dataclass(frozen=True)
class RatioRow:
    group: str
    reference: str
    metric: Metric
    family: str
    ratio: float  # group / reference; < 1 means smaller than the reference
    low: float
    high: float
    n_studies: int
    method: PoolMethod
    studies: tuple[str, ...]


def _pick_reference(cells: dict[str, dict[str, StudyEstimate]]) -> str | None:
    """cells: group -> study -> estimate. The group seen in the most studies."""
    if not cells:
        return None
    return sorted(cells, key=lambda g: (-len(cells[g]), g))[0]


def within_study_ratios(observations: list[Observation], reference: str | None = None) -> list[RatioRow]:
    by_family: dict[str, dict[tuple[str, str], list[Observation]]] = defaultdict(lambda: defaultdict(list))
    metric_of: dict[str, Metric] = {}
    for o in observations:
        if o.family.is_boolean:
            continue
        by_family[o.family.id][(o.group, o.study)].append(o)
        metric_of[o.family.id] = o.family.metric
    rows: list[RatioRow] = []
    for fam_id, cells in sorted(by_family.items()):
        per_group: dict[str, dict[str, StudyEstimate]] = defaultdict(dict)
        for (group, study), obs in cells.items():
            per_group[group][study] = _study_estimate(study, obs)
        ref = reference if reference in per_group else None
        if ref is None:
            # only groups that share a study with someone can serve as reference
            shared = {
                g: s for g, s in per_group.items() if any(set(s) & set(o) for h, o in per_group.items() if h != g)
            }
            ref = _pick_reference(shared)
        if ref is None:
            continue
        ref_studies = per_group[ref]
        for group, studies in sorted(per_group.items()):
            if group == ref:
                continue
            common = sorted(set(studies) & set(ref_studies))
            if not common:
                continue
            log_ratios = [math.log(studies[s].estimate / ref_studies[s].estimate) for s in common]
            ses = [(studies[s].se_log, ref_studies[s].se_log) for s in common]
            if len(common) >= 2 and all(a is not None and b is not None for a, b in ses):
                variances = [a * a + b * b for a, b in ses]  # type: ignore[operator]
                dl = dersimonian_laird(log_ratios, variances)
                est, low, high = dl.mean, dl.mean - Z95 * dl.se, dl.mean + Z95 * dl.se
                method = PoolMethod.random_effects_dl
            else:
                est, low, high = statistics.median(log_ratios), min(log_ratios), max(log_ratios)
                method = PoolMethod.median_range
            rows.append(
                RatioRow(
                    group=group,
                    reference=ref,
                    metric=metric_of[fam_id],
                    family=fam_id,
                    ratio=math.exp(est),
                    low=math.exp(low),
                    high=math.exp(high),
                    n_studies=len(common),
                    method=method,
                    studies=tuple(common),
                )
            )
    return rows
