"""Everything the report shows, collected once: stored runs, live records, literature synthesis, comparisons.

The report never re-measures. It reads the results DB (the latest run of each bench unless told
otherwise), the evidence base, and pools the literature twice: once without the live records
(the "literature" view) and once with them (claims and rankings, where this host's figures count
as one more study, TCG ones in groups of their own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vmscope import __version__
from vmscope.evidence import load_all
from vmscope.model import Accel, Metric, Record
from vmscope.synthesis import PooledRow, SynthesisResult, synthesize
from vmscope.synthesis.normalize import classify, to_family_unit

# bench name -> the metric it measures (and the command that fills it)
BENCHES: dict[str, Metric] = {
    "startup": Metric.startup_latency,
    "memory": Metric.memory_footprint,
    "isolation": Metric.isolation,
    "scale": Metric.scalability,
}
METRIC_TITLES: dict[Metric, str] = {
    Metric.startup_latency: "Startup latency",
    Metric.memory_footprint: "Memory footprint",
    Metric.isolation: "Isolation",
    Metric.scalability: "Scalability",
}
TCG_NOTE = "TCG = software emulation: a real measurement of a different thing, not comparable with KVM figures"


@dataclass(frozen=True)
class Comparison:
    """One live figure next to the pooled literature figure of the same family and platform class."""

    metric: Metric
    family: str
    interval: str
    measure: str  # the live measure (several may fall in one family)
    platform: str
    platform_class: str
    accel: str | None
    live_value: float
    live_low: float | None
    live_high: float | None
    unit: str
    concurrency: int | None
    literature: PooledRow | None  # None: no published figure for this class and family
    record_id: str

    @property
    def ratio(self) -> float | None:
        """live / literature (how many times the literature estimate this host measured)."""
        if self.literature is None or self.literature.estimate <= 0 or self.live_value <= 0:
            return None
        return self.live_value / self.literature.estimate

    @property
    def caveat(self) -> str:
        notes = []
        if self.accel == Accel.tcg:
            notes.append("live under TCG (software emulation) vs published figures (hardware-accelerated): "
                         "not like for like")
        if self.live_value <= 0:
            notes.append("not above zero: within this measurement's noise")
        return "; ".join(notes)


@dataclass
class ReportData:
    generated_at: str
    vmscope_version: str
    db_path: str | None
    runs: dict[str, dict[str, Any]]  # bench -> stored run (ResultsDB.get_run)
    live_records: list[Record]
    literature: SynthesisResult  # published records only; with live records, its table alone is filled
    combined: SynthesisResult  # published + live: the claims and rankings shown
    comparisons: list[Comparison]
    records_by_id: dict[str, Record]
    problems: list[str] = field(default_factory=list)  # runs that could not be read, and why

    def rows(self, bench: str) -> list[dict[str, Any]]:
        """The bench's stored JSON result rows (empty when the bench was not run)."""
        run = self.runs.get(bench)
        return [r for r in (run or {}).get("results", []) if isinstance(r, dict)]

    @property
    def missing_benches(self) -> list[str]:
        return [b for b in BENCHES if not self.rows(b)]

    @property
    def accels(self) -> set[str]:
        return {str(r.get("accel")) for b in BENCHES for r in self.rows(b) if r.get("accel")}

    @property
    def has_tcg(self) -> bool:
        return Accel.tcg.value in self.accels

    @property
    def host(self) -> dict[str, Any]:
        """The host fingerprint of the newest run (every run carries its own; see methodology)."""
        newest = max(self.runs.values(), key=lambda r: r.get("created_at", ""), default=None)
        return dict((newest or {}).get("host") or {})

    @property
    def guests(self) -> dict[str, dict[str, Any]]:
        return {b: dict(r.get("guest") or {}) for b, r in self.runs.items()}

    def literature_rows(self, metric: Metric) -> list[PooledRow]:
        return [r for r in self.literature.table if r.metric == metric]

    def comparisons_for(self, metric: Metric) -> list[Comparison]:
        return [c for c in self.comparisons if c.metric == metric]


def _default_db() -> Path:
    from vmscope.store import default_db_path

    return default_db_path()


def latest_runs(db_path: Path | None, run_ids: dict[str, str] | None = None) -> tuple[dict[str, dict], list[str]]:
    """bench -> stored run: the given run id per bench, else the newest run of that bench."""
    from vmscope.store import ResultsDB

    path = Path(db_path) if db_path is not None else _default_db()
    if not path.exists():
        return {}, []
    runs: dict[str, dict] = {}
    problems: list[str] = []
    with ResultsDB(path) as db:
        newest: dict[str, str] = {}
        for info in db.list_runs():  # ordered oldest first, so the last one wins
            newest[info["bench"]] = info["run_id"]
        newest.update(run_ids or {})
        for bench, rid in newest.items():
            try:
                run = db.get_run(rid)
                run["records"] = db.records(run["run_id"])
            except Exception as exc:
                if bench in (run_ids or {}):  # a run asked for by id must exist
                    raise
                problems.append(f"run {rid} ({bench}) could not be read: {exc}")  # the rest of the report stands
                continue
            runs[bench] = run
    return runs, problems


def compare(live: list[Record], literature: SynthesisResult) -> list[Comparison]:
    """Each live record that falls in a family, next to the literature row of its class and family."""
    lit = {(r.group, r.family): r for r in literature.table}
    out = []
    for rec in live:
        fam, _why = classify(rec)
        if fam is None or fam.is_boolean:
            continue
        cls = rec.platform_class.value
        accel = rec.accel.value if rec.accel else None
        out.append(
            Comparison(
                metric=fam.metric,
                family=fam.id,
                interval=fam.interval,
                measure=rec.measure,
                platform=rec.platform,
                platform_class=cls,
                accel=accel,
                live_value=to_family_unit(rec, fam),
                live_low=to_family_unit(rec, fam, rec.low) if rec.low is not None else None,
                live_high=to_family_unit(rec, fam, rec.high) if rec.high is not None else None,
                unit=fam.display_unit,
                concurrency=rec.concurrency,
                literature=lit.get((cls, fam.id)),
                record_id=rec.id,
            )
        )
    out.sort(key=lambda c: (list(Metric).index(c.metric), c.family, c.platform, c.measure, c.concurrency or 0))
    return out


def collect(
    db_path: Path | None, run_ids: dict[str, str] | None = None, *, published: list[Record] | None = None
) -> ReportData:
    """Read stored runs and the evidence base; pool; pair live with literature. Nothing is measured."""
    runs, problems = latest_runs(db_path, run_ids)
    live: list[Record] = [rec for bench in BENCHES if bench in runs for rec in runs[bench].get("records", [])]
    pub = load_all() if published is None else published
    if live:
        # claims and rankings are shown from `combined`; the literature view only needs its table
        literature = synthesize(pub, claims=[], rank=False)
        combined = synthesize(pub, extra=live)
    else:
        literature = combined = synthesize(pub)
    by_id = {r.id: r for r in pub}
    by_id.update({r.id: r for r in live})
    return ReportData(
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        vmscope_version=__version__,
        db_path=str(db_path) if db_path is not None else str(_default_db()),
        runs=runs,
        live_records=live,
        literature=literature,
        combined=combined,
        comparisons=compare(live, literature),
        records_by_id=by_id,
        problems=problems,
    )
