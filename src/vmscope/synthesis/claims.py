"""Checkable statements about the field, evaluated against the evidence.

A claims file is JSON: {"version": 1, "claims": [...]}. Two kinds of claim:

- threshold: "<subject> <op> <value> <unit>" on some families, e.g. microVMs start in <= 125 ms.
  Each (study, platform) of the subject votes once: the median of its central values is compared
  with the threshold; bounds vote only when they decide the question (an upper bound below a
  "<=" threshold supports it, a lower bound above it contradicts it; otherwise they abstain).
  As in pooling, a startup latency taken under concurrent launches is left to the scalability
  families; a scalability figure (a launch rate) is taken under concurrency by nature and votes.
- compare: "<a> <op> <b>" on some families, e.g. traditional VMs boot slower than microVMs.
  Each study that measured both sides in one family votes (median of each side; the hardware
  cancels within a study). When no study measured both, the pooled intervals across studies
  vote per family, and only when they do not overlap.

Verdict from the votes: none -> insufficient; share supporting >= support_share (default 0.75)
-> supported; <= 1 - support_share -> contradicted; else mixed. Every record that voted is listed.
"""

from __future__ import annotations

import json
import operator
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vmscope import units
from vmscope.errors import UserError
from vmscope.model import Accel, PlatformClass, Record, Statistic
from vmscope.synthesis.families import Family, Taxonomy, taxonomy
from vmscope.synthesis.normalize import (
    CENTRAL,
    Observation,
    classify,
    concurrent_startup,
    study_of,
    to_family_unit,
)
from vmscope.synthesis.pool import PooledRow, pool_cell

CLAIMS_FORMAT_VERSION = 1
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class Verdict(StrEnum):
    supported = "supported"
    contradicted = "contradicted"
    mixed = "mixed"
    insufficient = "insufficient"


class Selector(BaseModel):
    """Which records a side of a claim covers: by platform class and/or platform id."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    platform_class: list[PlatformClass] = Field(default_factory=list)
    platform: list[str] = Field(default_factory=list)

    def matches(self, record: Record) -> bool:
        if not self.platform_class and not self.platform:
            return False
        return (not self.platform_class or record.platform_class in self.platform_class) and (
            not self.platform or record.platform in self.platform
        )


class _ClaimBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    text: str = Field(min_length=1)
    families: list[str] = Field(min_length=1)
    op: Literal["<", "<=", ">", ">="]
    support_share: float = Field(default=0.75, gt=0.5, le=1.0)
    include_live: bool = True

    @field_validator("families")
    @classmethod
    def _known_families(cls, v: list[str]) -> list[str]:
        known = taxonomy().families
        unknown = [f for f in v if f not in known]
        if unknown:
            raise ValueError(f"unknown families {unknown}; known: {', '.join(sorted(known))}")
        return v


class ThresholdClaim(_ClaimBase):
    kind: Literal["threshold"]
    subject: Selector
    value: float
    unit: str

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str) -> str:
        units.get(v)
        return v

    @model_validator(mode="after")
    def _unit_fits_families(self) -> ThresholdClaim:
        # checked here, so a claim in ms on a memory family is a file error, not a crash mid-evaluation
        for fam_id in self.families:
            fam = taxonomy().families[fam_id]
            if not fam.is_boolean and units.dimension(self.unit) is not fam.dimension:
                raise ValueError(f"unit {self.unit} is not a {fam.dimension} unit, as family {fam_id} needs")
        return self


class CompareClaim(_ClaimBase):
    kind: Literal["compare"]
    a: Selector
    b: Selector


Claim = ThresholdClaim | CompareClaim


class ClaimsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=CLAIMS_FORMAT_VERSION)
    claims: list[Annotated[ThresholdClaim | CompareClaim, Field(discriminator="kind")]]


@dataclass(frozen=True)
class ClaimResult:
    id: str
    text: str
    verdict: Verdict
    record_ids: list[str]
    votes_for: int
    votes_against: int
    basis: str  # how the votes were obtained, in words


def _describe(exc: ValidationError, name: str) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        lines.append(f"{name}: {where}: {err['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)


def parse_claims(text: str, name: str) -> list[Claim]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{name}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    try:
        parsed = ClaimsFile.model_validate(doc)
    except ValidationError as exc:
        raise UserError(
            _describe(exc, name), hint="see docs/synthesis.md for the claims file format (version 1)"
        ) from None
    ids = [c.id for c in parsed.claims]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise UserError(f"{name}: claim ids used more than once: {', '.join(dupes)}")
    return list(parsed.claims)


def load_claims(path: Path | None = None) -> list[Claim]:
    """The shipped claims, or the claims in `path`."""
    if path is None:
        text = resources.files("vmscope.synthesis").joinpath("data", "claims.json").read_text(encoding="utf-8")
        return parse_claims(text, "<shipped>/claims.json")
    if not path.exists():
        raise UserError(f"no such claims file: {path}")
    return parse_claims(path.read_text(encoding="utf-8"), str(path))


def _verdict(for_: int, against: int, support_share: float) -> Verdict:
    total = for_ + against
    if total == 0:
        return Verdict.insufficient
    share = for_ / total
    if share >= support_share:
        return Verdict.supported
    if share <= 1 - support_share:
        return Verdict.contradicted
    return Verdict.mixed


def _eligible(claim: Claim, records: list[Record], tax: Taxonomy) -> list[tuple[Record, Family]]:
    out = []
    for rec in records:
        if rec.is_live and not claim.include_live:
            continue
        if rec.accel is Accel.tcg:
            # software emulation is a different machine (its timings, and its VMM memory with the
            # translation cache): it cannot vote on claims about VMs
            continue
        fam, _ = classify(rec, tax)
        if fam is not None and fam.id in claim.families:
            out.append((rec, fam))
    return out


def _evaluate_threshold(claim: ThresholdClaim, records: list[Record], tax: Taxonomy) -> ClaimResult:
    cmp = _OPS[claim.op]
    below = claim.op in ("<", "<=")
    voters: dict[tuple[str, str], list[tuple[Record, float]]] = defaultdict(list)
    for rec, fam in _eligible(claim, records, tax):
        if not claim.subject.matches(rec) or (rec.statistic in CENTRAL and concurrent_startup(rec, fam)):
            continue
        value = units.convert(rec.value, rec.unit, claim.unit) if not fam.is_boolean else rec.value
        voters[(study_of(rec), rec.platform)].append((rec, value))
    for_, against, ids = 0, 0, []
    for entries in voters.values():
        central = [(r, v) for r, v in entries if r.statistic in CENTRAL]
        vote: bool | None = None
        used = central
        if central:
            vote = cmp(statistics.median(v for _, v in central), claim.value)
        else:
            upper = [(r, v) for r, v in entries if r.statistic is Statistic.upper_bound]
            lower = [(r, v) for r, v in entries if r.statistic is Statistic.lower_bound]
            if below and any(cmp(v, claim.value) for _, v in upper):
                vote, used = True, [e for e in upper if cmp(e[1], claim.value)]
            elif below and any(not cmp(v, claim.value) for _, v in lower):
                vote, used = False, [e for e in lower if not cmp(e[1], claim.value)]
            elif not below and any(cmp(v, claim.value) for _, v in lower):
                vote, used = True, [e for e in lower if cmp(e[1], claim.value)]
            elif not below and any(not cmp(v, claim.value) for _, v in upper):
                vote, used = False, [e for e in upper if not cmp(e[1], claim.value)]
        if vote is None:
            continue
        for_ += vote
        against += not vote
        ids.extend(r.id for r, _ in used)
    return ClaimResult(
        claim.id,
        claim.text,
        _verdict(for_, against, claim.support_share),
        sorted(ids),
        for_,
        against,
        "one vote per (study, platform) against the threshold",
    )


def _evaluate_compare(claim: CompareClaim, records: list[Record], tax: Taxonomy) -> ClaimResult:
    cmp = _OPS[claim.op]
    sides: dict[tuple[str, str], dict[str, list[tuple[Record, float]]]] = defaultdict(lambda: defaultdict(list))
    for rec, fam in _eligible(claim, records, tax):
        if rec.statistic not in CENTRAL or concurrent_startup(rec, fam):
            continue
        side = "a" if claim.a.matches(rec) else "b" if claim.b.matches(rec) else None
        if side is None:
            continue
        sides[(study_of(rec), fam.id)][side].append((rec, to_family_unit(rec, fam)))
    for_, against, ids = 0, 0, []
    for cell in sides.values():
        if cell.get("a") and cell.get("b"):
            vote = cmp(statistics.median(v for _, v in cell["a"]), statistics.median(v for _, v in cell["b"]))
            for_ += vote
            against += not vote
            ids.extend(r.id for side in ("a", "b") for r, _ in cell[side])
    if for_ + against:
        basis = "one vote per study that measured both sides in one family"
    else:
        for_, against, ids = _across_studies(claim, sides, tax)
        basis = "no study measured both sides; pooled intervals across studies, one vote per family"
    return ClaimResult(
        claim.id,
        claim.text,
        _verdict(for_, against, claim.support_share),
        sorted(set(ids)),
        for_,
        against,
        basis,
    )


def _across_studies(
    claim: CompareClaim, sides: dict[tuple[str, str], dict[str, list[tuple[Record, float]]]], tax: Taxonomy
) -> tuple[int, int, list[str]]:
    cmp = _OPS[claim.op]
    per_family: dict[str, dict[str, list[Observation]]] = defaultdict(lambda: defaultdict(list))
    for (study, fam_id), cell in sides.items():
        for side, entries in cell.items():
            for rec, value in entries:
                fam = tax.families[fam_id]
                if fam.is_boolean or value > 0:  # a "no" (0) is a share's data; only magnitudes need a log
                    per_family[fam_id][side].append(Observation(rec, fam, side, study, value, None))
    for_, against, ids = 0, 0, []
    for fam_id, by_side in per_family.items():
        if not (by_side.get("a") and by_side.get("b")):
            continue
        fam = tax.families[fam_id]
        a: PooledRow = pool_cell("a", fam, by_side["a"])
        b: PooledRow = pool_cell("b", fam, by_side["b"])
        if a.high < b.low or b.high < a.low:  # decisive only without overlap
            vote = cmp(a.estimate, b.estimate)
            for_ += vote
            against += not vote
            ids.extend(a.record_ids + b.record_ids)
    return for_, against, ids


def evaluate(claims: list[Claim], records: list[Record], tax: Taxonomy | None = None) -> list[ClaimResult]:
    tax = tax or taxonomy()
    out = []
    for claim in claims:
        if isinstance(claim, ThresholdClaim):
            out.append(_evaluate_threshold(claim, records, tax))
        else:
            out.append(_evaluate_compare(claim, records, tax))
    return out
