"""The isolation index: a documented, swappable rubric turning components into one 0-1 number.

A rubric file (default: measure/data/isolation_rubric.json; docs/isolation.md explains every entry) gives
each component a weight (all weights sum to 1), where its raw value comes from (measured, published, or
measured_or_published), how the raw value becomes a 0-1 score, and the score used when the value is
missing. Components that do not apply to a platform class (`applies_to`) are left out and the other
weights are scaled up to sum to 1. Every component's raw value, score, effective weight and
contribution are reported; the index is the sum of the contributions.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from vmscope.errors import UserError
from vmscope.model import PlatformClass, Record

RUBRIC_VERSION = 1  # 1: first format
DEFAULT_RUBRIC = "isolation_rubric.json"
SOURCES = ("measured", "published", "measured_or_published")
SCALES = ("bool", "linear", "log")
AGGREGATES = {"median": statistics.median, "min": min, "max": max}
MEASURED = ("shares_host_kernel", "host_syscalls_reachable", "host_exposure", "inside_privilege",
            "outside_confinement", "emulated_device_count")
WEIGHT_TOLERANCE = 1e-6


class RubricError(UserError):
    """The rubric file is not usable."""


@dataclass(frozen=True)
class Scale:
    kind: str
    best: float = 0.0
    worst: float = 1.0
    if_true: float = 1.0
    if_false: float = 0.0

    def score(self, raw: float | bool) -> float:
        if self.kind == "bool":
            return self.if_true if bool(raw) else self.if_false
        x, best, worst = float(raw), self.best, self.worst
        if self.kind == "log":  # log10(1 + x), so 0 is allowed
            x, best, worst = math.log10(1 + max(x, 0.0)), math.log10(1 + best), math.log10(1 + worst)
        return round(min(1.0, max(0.0, (worst - x) / (worst - best))), 6)


@dataclass(frozen=True)
class Component:
    name: str
    weight: float
    source: str
    scale: Scale
    missing: float
    measures: tuple[str, ...] = ()
    aggregate: str = "median"
    applies_to: tuple[str, ...] | None = None
    why: str = ""


@dataclass(frozen=True)
class Rubric:
    name: str
    description: str
    components: tuple[Component, ...]
    evidence_platforms: dict[str, tuple[str, ...]]
    host_filter_measures: tuple[str, ...]
    host_filter_aggregate: str
    assumed: dict[str, dict[str, tuple[float, str]]]
    path: str

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path,
                "weights": {c.name: c.weight for c in self.components}}


def _num(obj: Any, where: str, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(obj, bool) or not isinstance(obj, int | float) or not math.isfinite(obj):
        raise RubricError(f"{where} must be a number, not {obj!r}")
    if (lo is not None and obj < lo) or (hi is not None and obj > hi):
        raise RubricError(f"{where} must be within [{lo}, {hi}], not {obj}")
    return float(obj)


def _strings(obj: Any, where: str) -> tuple[str, ...]:
    if not isinstance(obj, list) or not all(isinstance(s, str) and s for s in obj):
        raise RubricError(f"{where} must be a list of non-empty strings")
    return tuple(obj)


def _scale(obj: Any, where: str) -> Scale:
    if not isinstance(obj, dict) or obj.get("type") not in SCALES:
        raise RubricError(f"{where}.type must be one of {', '.join(SCALES)}")
    if obj["type"] == "bool":
        return Scale("bool", if_true=_num(obj.get("true"), f"{where}.true", 0, 1),
                     if_false=_num(obj.get("false"), f"{where}.false", 0, 1))
    best, worst = _num(obj.get("best"), f"{where}.best"), _num(obj.get("worst"), f"{where}.worst")
    if best == worst:
        raise RubricError(f"{where}: best and worst must differ")
    if obj["type"] == "log" and min(best, worst) < 0:
        raise RubricError(f"{where}: a log scale needs best and worst >= 0")
    return Scale(obj["type"], best=best, worst=worst)


def _component(name: str, obj: Any) -> Component:
    where = f"components.{name}"
    if not isinstance(obj, dict):
        raise RubricError(f"{where} must be an object")
    source = obj.get("source")
    if source not in SOURCES:
        raise RubricError(f"{where}.source must be one of {', '.join(SOURCES)}, not {source!r}")
    if source != "published" and name not in MEASURED:
        raise RubricError(f"{where}: vmscope measures no component {name!r} (measured: {', '.join(MEASURED)})")
    measures = _strings(obj["measures"], f"{where}.measures") if "measures" in obj else ()
    if source != "measured" and not measures:
        raise RubricError(f"{where}: a published component needs `measures` (evidence measure names)")
    aggregate = obj.get("aggregate", "median")
    if aggregate not in AGGREGATES:
        raise RubricError(f"{where}.aggregate must be one of {', '.join(AGGREGATES)}")
    applies = obj.get("applies_to")
    if applies is not None:
        applies = _strings(applies, f"{where}.applies_to")
        known = {c.value for c in PlatformClass}
        if set(applies) - known:
            raise RubricError(f"{where}.applies_to: unknown platform class {sorted(set(applies) - known)}")
    return Component(name, _num(obj.get("weight"), f"{where}.weight", 0, 1), source,
                     _scale(obj.get("score"), f"{where}.score"), _num(obj.get("missing"), f"{where}.missing", 0, 1),
                     measures, aggregate, applies, str(obj.get("why", "")))


def parse_rubric(obj: Any, path: str = "<rubric>") -> Rubric:
    """Validate a rubric document; every problem is a RubricError naming the field."""
    try:
        if not isinstance(obj, dict):
            raise RubricError("the rubric must be a JSON object")
        if obj.get("rubric_version") != RUBRIC_VERSION:
            raise RubricError(f"rubric_version must be {RUBRIC_VERSION}, not {obj.get('rubric_version')!r}")
        comps = obj.get("components")
        if not isinstance(comps, dict) or not comps:
            raise RubricError("`components` must be a non-empty object")
        components = tuple(_component(n, c) for n, c in comps.items())
        total = sum(c.weight for c in components)
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            raise RubricError(f"component weights must sum to 1, they sum to {total:.6g}")
        evp = obj.get("evidence_platforms", {})
        if not isinstance(evp, dict):
            raise RubricError("`evidence_platforms` must map platform ids to lists of evidence platforms")
        evidence_platforms = {k: _strings(v, f"evidence_platforms.{k}") for k, v in evp.items()}
        hf = obj.get("user_space_kernel_host_filter", {"measures": ["seccomp_syscalls_allowed"]})
        if not isinstance(hf, dict):
            raise RubricError("`user_space_kernel_host_filter` must be an object")
        hf_agg = hf.get("aggregate", "median")
        if hf_agg not in AGGREGATES:
            raise RubricError(f"user_space_kernel_host_filter.aggregate must be one of {', '.join(AGGREGATES)}")
        assumed: dict[str, dict[str, tuple[float, str]]] = {}
        for plat, facts in (obj.get("assumed") or {}).items():
            if not isinstance(facts, dict):
                raise RubricError(f"assumed.{plat} must be an object")
            for measure, pair in facts.items():
                if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], str)):
                    raise RubricError(f"assumed.{plat}.{measure} must be [value, \"why\"]")
                assumed.setdefault(plat, {})[measure] = (_num(pair[0], f"assumed.{plat}.{measure}"), pair[1])
        return Rubric(str(obj.get("name", "unnamed")), str(obj.get("description", "")), components,
                      evidence_platforms, _strings(hf.get("measures"), "user_space_kernel_host_filter.measures"),
                      hf_agg, assumed, path)
    except RubricError as exc:
        raise RubricError(f"rubric {path}: {exc}", hint="see docs/isolation.md for the rubric format") from None


def load_rubric(path: Path | None = None) -> Rubric:
    """The rubric at `path`, or the shipped default."""
    if path is None:
        text = resources.files("vmscope.measure").joinpath("data", DEFAULT_RUBRIC).read_text(encoding="utf-8")
        where = f"<shipped>/{DEFAULT_RUBRIC}"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise RubricError(f"cannot read the rubric {path}: {exc.strerror or exc}") from None
        where = str(path)
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise RubricError(f"rubric {where} is not valid JSON: {exc}",
                          hint="see docs/isolation.md for the rubric format") from None
    return parse_rubric(obj, where)


def published(records: Iterable[Record], platforms: tuple[str, ...], measures: tuple[str, ...],
              aggregate: str) -> tuple[float, list[str], str] | None:
    """Aggregate of the first evidence platform (in order) with records of any of `measures`."""
    recs = [r for r in records if not r.is_live]
    for plat in platforms:
        found = [r for r in recs if r.platform == plat and r.measure in measures]
        if found:
            value = AGGREGATES[aggregate]([r.value for r in found])
            return float(value), [r.id for r in found], plat
    return None


def compute_index(rubric: Rubric, platform: str, platform_class: str, measured: dict[str, Any],
                  records: list[Record]) -> tuple[float, dict[str, dict[str, Any]]]:
    """(index, components). `measured`: raw values of measured components (None or absent = missing)."""
    rows: dict[str, dict[str, Any]] = {}
    ev_plats = rubric.evidence_platforms.get(platform, (platform,))
    for c in rubric.components:
        row: dict[str, Any] = {"raw": None, "source": "missing", "weight": c.weight, "why": c.why}
        if c.applies_to is not None and platform_class not in c.applies_to:
            row.update(source="not_applicable", score=None)
            rows[c.name] = row
            continue
        raw = measured.get(c.name) if c.source != "published" else None
        if raw is not None:
            row.update(raw=raw, source="measured")
        elif c.source != "measured":
            hit = published(records, ev_plats, c.measures, c.aggregate)
            assumed = rubric.assumed.get(platform, {})
            if hit is not None:
                row.update(raw=hit[0], source="published", evidence=hit[1], evidence_platform=hit[2])
            elif any(m in assumed for m in (c.name, *c.measures)):
                value, why = next(assumed[m] for m in (c.name, *c.measures) if m in assumed)
                row.update(raw=value, source="assumed", assumption=why)
        row["score"] = c.scale.score(row["raw"]) if row["raw"] is not None else c.missing
        rows[c.name] = row
    applicable = sum(r["weight"] for r in rows.values() if r["source"] != "not_applicable")
    index = 0.0
    for r in rows.values():
        if r["source"] == "not_applicable" or applicable <= 0:
            r.update(effective_weight=0.0, contribution=0.0)
            continue
        r["effective_weight"] = round(r["weight"] / applicable, 6)
        r["contribution"] = round(r["effective_weight"] * r["score"], 6)
        index += r["effective_weight"] * r["score"]
    return round(index, 4), rows
