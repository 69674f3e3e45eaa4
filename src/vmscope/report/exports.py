"""Markdown and CSV beside index.html: the same numbers, for diffing, spreadsheets and pull requests.

Evidence text stays inert here too: Markdown cells have HTML, link and table syntax escaped, and CSV
text cells that a spreadsheet would run as a formula get a leading apostrophe.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from vmscope import units
from vmscope.errors import UserError
from vmscope.report.data import BENCHES, METRIC_TITLES, TCG_NOTE, ReportData

# Scalar columns of each bench's rows worth a CSV column (other keys are kept in `extra` as JSON).
_LIVE_COLUMNS = [
    "bench", "run_id", "platform", "accel", "n", "median_ms", "p95_ms", "ci_low_ms", "ci_high_ms", "pss_kib",
    "uss_kib", "rss_kib", "vmm_overhead_kib", "guest_memtotal_kib", "memavailable_drop_kib", "concurrency",
    "instances", "p50_ms", "p99_ms", "launch_rate_per_s", "memavailable_drop_kib_per_instance", "stopped_by",
    "shares_host_kernel", "host_syscalls_reachable", "syscalls_blocked", "index",
]


def md(text: Any) -> str:
    """A Markdown table cell that renders as the text it is (no HTML, no links or images, no cell breaks)."""
    s = "" if text is None else str(text)
    # the backslash first, so text cannot un-escape the pipe that follows it
    for a, b in (("\\", "\\\\"), ("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"), ("[", "\\["),
                 ("]", "\\]"), ("\r", " "), ("\n", " ")):
        s = s.replace(a, b)
    return s


def cell(value: Any) -> Any:
    """A CSV cell: formula-looking text is neutralized; numbers stay numbers."""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, default=str)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _num(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return "-" if v is None else md(v)
    return units.number(v)


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows([[cell(v) for v in row] for row in rows])
    return path


def live_rows(data: ReportData) -> list[list[Any]]:
    out = []
    for bench in BENCHES:
        run_id = (data.runs.get(bench) or {}).get("run_id")
        for r in data.rows(bench):
            row = {"bench": bench, "run_id": run_id, **r}
            extra = {k: v for k, v in r.items() if k not in _LIVE_COLUMNS and not isinstance(v, (list, dict))}
            out.append([row.get(c) for c in _LIVE_COLUMNS] + [json.dumps(extra, default=str)])
    return out


def write_csvs(data: ReportData, out_dir: Path) -> list[Path]:
    lit = [[r.metric.value, r.family, r.group, r.estimate, r.low, r.high, r.unit, r.n_studies, r.n_records,
            r.method.value, r.i2] for r in data.literature.table]
    cmp_rows = [[c.metric.value, c.family, c.measure, c.platform, c.platform_class, c.accel or "", c.concurrency,
                 c.live_value, c.live_low, c.live_high, c.unit, c.literature.estimate if c.literature else None,
                 c.literature.low if c.literature else None, c.literature.high if c.literature else None,
                 c.literature.n_studies if c.literature else 0, c.ratio, c.caveat] for c in data.comparisons]
    claims = [[c.id, c.text, c.verdict.value, c.votes_for, c.votes_against, " ".join(c.record_ids), c.basis]
              for c in data.combined.claims]
    return [
        _write_csv(out_dir / "live_results.csv", [*_LIVE_COLUMNS, "extra"], live_rows(data)),
        _write_csv(out_dir / "literature.csv", ["metric", "family", "group", "estimate", "low", "high", "unit",
                                                "n_studies", "n_records", "method", "i2"], lit),
        _write_csv(out_dir / "comparison.csv", ["metric", "family", "measure", "platform", "class", "accel",
                                                "concurrency", "live", "live_low", "live_high", "unit", "literature",
                                                "lit_low", "lit_high", "lit_studies", "live_over_literature", "caveat"],
                   cmp_rows),
        _write_csv(out_dir / "claims.csv", ["id", "text", "verdict", "votes_for", "votes_against", "record_ids",
                                            "basis"], claims),
    ]


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_num(v) if not isinstance(v, str) else md(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def markdown(data: ReportData) -> str:
    out = ["# vmscope report", "", f"Generated {data.generated_at} by vmscope {md(data.vmscope_version)}.", ""]
    if data.has_tcg:
        out += [f"> **Note:** {TCG_NOTE}. Platforms marked [TCG] ran under software emulation.", ""]
    if not data.runs:
        out += ["No live results stored: this report shows the literature only (run `vmscope run`).", ""]
    for bench, metric in BENCHES.items():
        out += [f"## {METRIC_TITLES[metric]}", "", "### This host", ""]
        rows = data.rows(bench)
        if not rows:
            out += [f"Not measured: run `vmscope bench {bench}`.", ""]
        else:
            cols = [c for c in _LIVE_COLUMNS[2:] if any(r.get(c) is not None for r in rows)]
            out += _table(cols, [[r.get(c) for c in cols] for r in rows])
        out += ["### Literature (pooled, by platform class)", ""]
        out += _table(["family", "class", "estimate", "low", "high", "unit", "studies"],
                      [[r.family, r.group, r.estimate, r.low, r.high, r.unit, r.n_studies]
                       for r in data.literature_rows(metric)])
        comps = data.comparisons_for(metric)
        if comps:
            out += ["### This host vs the literature", ""]
            out += _table(["family", "live measure", "platform", "accel", "live", "literature", "unit", "note"],
                          [[c.family, c.measure, c.platform, (c.accel or "-").upper(), c.live_value,
                            c.literature.estimate if c.literature else None, c.unit,
                            c.caveat or ("" if c.literature else "no published figure for this class")]
                           for c in comps])
    out += ["## Claims", ""]
    out += _table(["claim", "verdict", "for/against", "records"],
                  [[c.text, c.verdict.value, f"{c.votes_for}/{c.votes_against}", ", ".join(c.record_ids)]
                   for c in data.combined.claims])
    out += ["## Rankings", ""]
    for name, rk in data.combined.rankings.items():
        out += [f"### {md(name)} (top choice held in {100 * rk.top_held:.0f}% of weight perturbations)", ""]
        out += _table(["rank", "group", "TOPSIS", "rank held"],
                      [[e.rank, e.group, e.topsis, f"{100 * e.rank_held:.0f}%"] for e in rk.entries])
    return "\n".join(out) + "\n"


def write_exports(data: ReportData, out_dir: Path) -> tuple[Path, list[Path]]:
    """Write report.md and the CSV files; return their paths."""
    try:
        md_path = out_dir / "report.md"
        md_path.write_text(markdown(data), encoding="utf-8")
        return md_path, write_csvs(data, out_dir)
    except OSError as exc:
        raise UserError(f"cannot write the report exports in {out_dir}: {exc}", hint="choose another --out") from exc

