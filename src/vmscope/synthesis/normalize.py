"""Normalization: records -> comparable observations (family, group, value in the family's unit).

Rules (each skipped record keeps its reason, so nothing disappears silently):
- the measure must belong to a family (see `families.py`) and its unit to the family's dimension;
- only central statistics are pooled (mean, median, p50, single, approx); tails (p90..p99, max,
  min) and bounds (upper_bound, lower_bound) are kept for claim checks only;
- startup-latency records taken under concurrent launches (concurrency > 1) are left to the
  scalability families;
- a stated range whose value is its lower end (value == low < high) is represented by the
  geometric midpoint of the range;
- a spread becomes a standard error on the log scale when it is known: from raw samples
  (sd of log samples / sqrt(n)), or from a min-max range over n runs of a mean/median
  (sd_log ~= ln(high/low)/4, /6 when n > 70 -- the range rule of Hozo et al. 2005).
Live records measured under TCG are grouped apart ("<group> [tcg]") so they are never pooled
with KVM or published figures without saying so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from vmscope import units
from vmscope.model import Accel, Metric, Record, Statistic
from vmscope.synthesis.families import Family, Taxonomy, taxonomy

CENTRAL = frozenset({Statistic.mean, Statistic.median, Statistic.p50, Statistic.single, Statistic.approx})


class GroupBy(StrEnum):
    platform_class = "class"
    platform = "platform"


@dataclass(frozen=True)
class Observation:
    """One record made comparable: its family, group, study and value in the family's display unit."""

    record: Record
    family: Family
    group: str
    study: str
    value: float  # in family.display_unit (0/1 for boolean families)
    se_log: float | None  # standard error of ln(value), when a spread is known

    @property
    def metric(self) -> Metric:
        return self.family.metric


@dataclass(frozen=True)
class Skipped:
    record_id: str
    reason: str


def group_of(record: Record, by: GroupBy) -> str:
    base = record.platform_class.value if by is GroupBy.platform_class else record.platform
    if record.accel is Accel.tcg:
        return f"{base} [tcg]"
    return base


def study_of(record: Record) -> str:
    """Records of one study share a source key; each live run is a study of its own."""
    if record.is_live and record.run_id:
        return f"{record.source.key}:{record.run_id}"
    return record.source.key


def _central_value(record: Record) -> float:
    if record.low is not None and record.high is not None and record.value == record.low < record.high:
        if record.low > 0:
            return math.sqrt(record.low * record.high)
        return (record.low + record.high) / 2
    return record.value


def _se_log(record: Record) -> float | None:
    samples = [s for s in (record.samples or []) if s > 0]
    if len(samples) >= 2:
        logs = [math.log(s) for s in samples]
        mean = sum(logs) / len(logs)
        var = sum((x - mean) ** 2 for x in logs) / (len(logs) - 1)
        return max(math.sqrt(var / len(logs)), 1e-9)
    stat_ok = record.statistic in (Statistic.mean, Statistic.median, Statistic.p50)
    if (
        stat_ok
        and record.n is not None
        and record.n >= 2
        and record.low is not None
        and record.high is not None
        and 0 < record.low < record.high
        and record.low <= record.value <= record.high
    ):
        divisor = 6.0 if record.n > 70 else 4.0
        sd_log = math.log(record.high / record.low) / divisor
        return sd_log / math.sqrt(record.n)
    return None


def classify(record: Record, tax: Taxonomy | None = None) -> tuple[Family | None, str | None]:
    """The family of a record for pooling, or None and the reason it is not pooled."""
    tax = tax or taxonomy()
    fam = tax.family_of(record.measure, record.platform_class)
    if fam is None:
        return None, f"measure {record.measure} is in no family for {record.platform_class}"
    if fam.metric != record.metric:
        return None, f"measure {record.measure} is filed under {record.metric}, its family under {fam.metric}"
    if not fam.is_boolean and units.dimension(record.unit) is not fam.dimension:
        return None, f"unit {record.unit} is not a {fam.dimension} unit"
    if fam.is_boolean and record.unit != "bool":
        return None, f"family {fam.id} takes yes/no records, not {record.unit}"
    return fam, None


def concurrent_startup(record: Record, fam: Family) -> bool:
    """A startup latency taken while other instances were launching too: left to the scalability families."""
    return fam.metric is Metric.startup_latency and (record.concurrency or 1) > 1


def to_family_unit(record: Record, fam: Family, value: float | None = None) -> float:
    v = record.value if value is None else value
    if fam.is_boolean:
        return v
    return units.convert(v, record.unit, fam.display_unit)


def normalize(
    records: list[Record], by: GroupBy = GroupBy.platform_class, tax: Taxonomy | None = None
) -> tuple[list[Observation], list[Skipped]]:
    """Turn records into pooled-ready observations; return the rest with the reason they were left out."""
    tax = tax or taxonomy()
    kept: list[Observation] = []
    skipped: list[Skipped] = []
    for rec in records:
        fam, why = classify(rec, tax)
        if fam is None:
            skipped.append(Skipped(rec.id, why or "not pooled"))
            continue
        if rec.statistic not in CENTRAL:
            skipped.append(Skipped(rec.id, f"statistic {rec.statistic} is not a central value"))
            continue
        if concurrent_startup(rec, fam):
            skipped.append(Skipped(rec.id, f"measured at concurrency {rec.concurrency}; see scalability"))
            continue
        value = to_family_unit(rec, fam, _central_value(rec))
        if not fam.is_boolean and value <= 0:
            skipped.append(Skipped(rec.id, f"non-positive value {rec.value} cannot go on the log scale"))
            continue
        kept.append(
            Observation(
                record=rec,
                family=fam,
                group=group_of(rec, by),
                study=study_of(rec),
                value=value,
                se_log=None if fam.is_boolean else _se_log(rec),
            )
        )
    return kept, skipped
