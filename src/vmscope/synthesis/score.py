"""Per-metric 0-1 scores and multi-criteria rankings per workload profile.

Scores. Within each family that has >= 2 groups, a group's pooled estimate x is scored by
log-scale min-max: (ln max - ln x) / (ln max - ln min) when lower is better (the mirror when
higher is better), so 1 = best seen and 0 = worst seen in that family. Log scale because the
figures span orders of magnitude (1 ms to 60 s). Yes/no families score the share of "yes" (or of
"no" when "yes" is worse). A group's metric score is the mean of its family scores weighted by
the number of studies behind each. Families with one group, or where all groups tie, give no
information and are skipped.

Ranking. For each workload profile (weights over the four metrics) the groups that lack a score
for at most `max_missing` (default 1) weighted metrics are ranked with TOPSIS; a missing metric
is scored 0.5 (neutral) and listed as imputed, groups missing more are listed as excluded.
TOPSIS is pymcdm's, with min-max normalization and every criterion a benefit.
Stability: the weights are redrawn `draws` times from a Dirichlet centred on the
profile (concentration `concentration` x weights); we report how often each group keeps its rank
and how often the winner stays first. The random generator is seeded, so reports reproduce.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from pymcdm.helpers import rankdata
from pymcdm.methods import TOPSIS

from vmscope.errors import UserError
from vmscope.model import Metric
from vmscope.synthesis.families import Taxonomy, taxonomy
from vmscope.synthesis.pool import PooledRow

NEUTRAL = 0.5  # the score given to a weighted metric a group has no evidence for

PROFILES: dict[str, dict[Metric, float]] = {
    # short-lived functions: cold start dominates, density matters, tenants are mutually untrusted
    "serverless": {
        Metric.startup_latency: 0.40,
        Metric.memory_footprint: 0.25,
        Metric.isolation: 0.20,
        Metric.scalability: 0.15,
    },
    # small hosts: memory is the scarce resource
    "edge": {
        Metric.startup_latency: 0.25,
        Metric.memory_footprint: 0.40,
        Metric.isolation: 0.15,
        Metric.scalability: 0.20,
    },
    # hostile neighbours: isolation first
    "multi-tenant": {
        Metric.startup_latency: 0.15,
        Metric.memory_footprint: 0.20,
        Metric.isolation: 0.45,
        Metric.scalability: 0.20,
    },
    "general-purpose": {m: 0.25 for m in Metric},
}


@dataclass(frozen=True)
class Score:
    group: str
    metric: Metric
    score: float  # 0 (worst seen) .. 1 (best seen)
    families: tuple[str, ...]


@dataclass(frozen=True)
class RankEntry:
    group: str
    rank: int
    topsis: float
    rank_held: float  # share of weight perturbations that left this group's rank unchanged


@dataclass(frozen=True)
class Ranking:
    profile: str
    weights: dict[Metric, float]
    entries: tuple[RankEntry, ...]
    excluded: dict[str, list[Metric]]  # group -> weighted metrics it has no score for (too many to rank)
    imputed: dict[str, list[Metric]]  # group -> weighted metrics scored 0.5 (neutral) for want of evidence
    top_held: float  # share of perturbations in which the top group stays first
    draws: int


def metric_scores(rows: list[PooledRow], tax: Taxonomy | None = None) -> list[Score]:
    tax = tax or taxonomy()
    by_family: dict[str, list[PooledRow]] = defaultdict(list)
    for r in rows:
        by_family[r.family].append(r)
    acc: dict[tuple[str, Metric], list[tuple[float, int, str]]] = defaultdict(list)
    for fam_id, cells in by_family.items():
        fam = tax.families[fam_id]
        if len(cells) < 2:
            continue
        if fam.is_boolean:
            for r in cells:
                share = r.estimate / 100
                acc[(r.group, fam.metric)].append((1 - share if fam.lower_is_better else share, r.n_studies, fam_id))
            continue
        logs = {r.group: math.log(r.estimate) for r in cells}
        lo, hi = min(logs.values()), max(logs.values())
        if hi - lo < 1e-12:
            continue
        for r in cells:
            s = (hi - logs[r.group]) / (hi - lo) if fam.lower_is_better else (logs[r.group] - lo) / (hi - lo)
            acc[(r.group, fam.metric)].append((s, r.n_studies, fam_id))
    out = []
    for (group, metric), parts in sorted(acc.items()):
        total = sum(n for _, n, _ in parts)
        out.append(Score(group, metric, sum(s * n for s, n, _ in parts) / total, tuple(sorted({f for *_, f in parts}))))
    return out


def _topsis(matrix: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """TOPSIS preference per row; criteria that do not vary are dropped (they cannot discriminate)."""
    varies = np.ptp(matrix, axis=0) > 1e-12
    if not varies.any():
        return np.full(matrix.shape[0], 0.5)
    m, w = matrix[:, varies], weights[varies]
    return TOPSIS()(m, w / w.sum(), np.ones(m.shape[1], dtype=int))


def rank_profile(
    scores: list[Score],
    profile: str,
    *,
    draws: int = 1000,
    concentration: float = 50.0,
    seed: int = 0,
    max_missing: int = 1,
) -> Ranking:
    if profile not in PROFILES:
        raise UserError(f"unknown profile {profile!r}", hint=f"choose one of: {', '.join(PROFILES)}")
    weights = PROFILES[profile]
    metrics = [m for m in Metric if weights.get(m, 0) > 0]
    table: dict[str, dict[Metric, float]] = defaultdict(dict)
    for s in scores:
        table[s.group][s.metric] = s.score
    missing = {g: [m for m in metrics if m not in row] for g, row in table.items()}
    ranked = sorted(g for g, miss in missing.items() if len(miss) <= max_missing)
    excluded = {g: miss for g, miss in missing.items() if g not in ranked}
    imputed = {g: missing[g] for g in ranked if missing[g]}
    if not ranked:
        return Ranking(profile, weights, (), excluded, imputed, 0.0, 0)
    matrix = np.array([[table[g].get(m, NEUTRAL) for m in metrics] for g in ranked], dtype=float)
    w = np.array([weights[m] for m in metrics], dtype=float)
    if len(ranked) == 1:
        return Ranking(profile, weights, (RankEntry(ranked[0], 1, 1.0, 1.0),), excluded, imputed, 1.0, 0)
    pref = _topsis(matrix, w)
    ranks = rankdata(pref, reverse=True)
    rng = np.random.default_rng(seed)
    held = np.zeros(len(ranked))
    top = int(np.argmin(ranks))
    top_held = 0
    for draw in rng.dirichlet(concentration * w / w.sum(), size=draws):
        r = rankdata(_topsis(matrix, draw), reverse=True)
        held += r == ranks
        top_held += int(np.argmin(r) == top)
    entries = sorted(
        (RankEntry(g, int(ranks[i]), float(pref[i]), float(held[i] / draws)) for i, g in enumerate(ranked)),
        key=lambda e: (e.rank, e.group),
    )
    return Ranking(profile, weights, tuple(entries), excluded, imputed, top_held / draws, draws)
