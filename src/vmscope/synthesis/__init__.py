"""Synthesis: evidence records -> normalized families -> pooled table, ratios, scores, rankings, claims.

`synthesize(records, ...)` is the one entry point; reports use its result (including per-study
estimates in each row's `studies`, for forest plots). See docs/synthesis.md for the method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vmscope.model import Record
from vmscope.synthesis.claims import Claim, ClaimResult, evaluate, load_claims
from vmscope.synthesis.normalize import GroupBy, Skipped, normalize
from vmscope.synthesis.pool import PooledRow, StudyEstimate, pool, sensitivity
from vmscope.synthesis.ratios import RatioRow, within_study_ratios
from vmscope.synthesis.score import PROFILES, Ranking, Score, metric_scores, rank_profile

__all__ = [
    "PROFILES",
    "ClaimResult",
    "GroupBy",
    "PooledRow",
    "Ranking",
    "RatioRow",
    "Score",
    "StudyEstimate",
    "SynthesisResult",
    "synthesize",
]


@dataclass(frozen=True)
class SynthesisResult:
    by: GroupBy
    table: list[PooledRow]
    sensitivity: list[PooledRow]  # the table without blogs and vendor claims
    ratios: list[RatioRow]
    scores: list[Score]
    rankings: dict[str, Ranking]
    claims: list[ClaimResult]
    skipped: list[Skipped] = field(default_factory=list)
    n_records: int = 0

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape of `vmscope synth --json`."""
        return {
            "table": [
                {
                    "group": r.group,
                    "metric": r.metric.value,
                    "family": r.family,
                    "estimate": r.estimate,
                    "low": r.low,
                    "high": r.high,
                    "unit": r.unit,
                    "n_studies": r.n_studies,
                    "n_records": r.n_records,
                }
                for r in self.table
            ],
            "claims": [
                {"id": c.id, "text": c.text, "verdict": c.verdict.value, "record_ids": c.record_ids}
                for c in self.claims
            ],
            "rankings": {name: _ranking_json(rk) for name, rk in self.rankings.items()},
        }


def _ranking_json(rk: Ranking) -> dict[str, Any]:
    return {
        "method": "TOPSIS",
        "weights": {m.value: w for m, w in rk.weights.items()},
        "ranking": [
            {"group": e.group, "rank": e.rank, "topsis": e.topsis, "rank_held": e.rank_held} for e in rk.entries
        ],
        "top_held": rk.top_held,
        "perturbations": rk.draws,
        "imputed": {g: [m.value for m in ms] for g, ms in rk.imputed.items()},
        "excluded": {g: [m.value for m in ms] for g, ms in rk.excluded.items()},
    }


def synthesize(
    records: list[Record],
    *,
    by: GroupBy | str = GroupBy.platform_class,
    profile: str | None = None,
    claims: list[Claim] | None = None,
    extra: list[Record] | None = None,
    reference: str | None = None,
    draws: int = 1000,
    rank: bool = True,
) -> SynthesisResult:
    """Pool `records` (+ `extra`, e.g. live records) per group and family, score, rank and check claims.

    `profile` limits the rankings to one profile (default: all); `rank=False` skips them (they are
    most of the cost). `claims` defaults to the shipped claims file.
    """
    by = GroupBy(by)
    every = list(records) + list(extra or [])
    observations, skipped = normalize(every, by)
    table = pool(observations)
    scores = metric_scores(table)
    names = ([profile] if profile else list(PROFILES)) if rank else []
    rankings = {name: rank_profile(scores, name, draws=draws) for name in names}
    claim_results = evaluate(claims if claims is not None else load_claims(), every)
    return SynthesisResult(
        by=by,
        table=table,
        sensitivity=sensitivity(observations),
        ratios=within_study_ratios(observations, reference),
        scores=scores,
        rankings=rankings,
        claims=claim_results,
        skipped=skipped,
        n_records=len(every),
    )
