"""The HTML report: one self-contained index.html (inline CSS, figures as data URIs), exports beside it.

Evidence text is untrusted: the template environment autoescapes everything, nothing from a record
is marked safe, and a source is linked only when its URL is http(s).
"""

from __future__ import annotations

import base64
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup

from vmscope import units
from vmscope.errors import UserError
from vmscope.model import Metric, Record
from vmscope.report import plots
from vmscope.report.data import BENCHES, METRIC_TITLES, TCG_NOTE, ReportData, collect
from vmscope.report.text import studies
from vmscope.synthesis.families import taxonomy

# Section anchors, in page order (the navigation and the browser test use these ids).
SECTION_IDS = {
    "summary": "Summary",
    "startup": "Startup latency",
    "memory": "Memory footprint",
    "isolation": "Isolation",
    "scale": "Scalability",
    "claims": "Claims",
    "rankings": "Rankings",
    "methodology": "Methodology",
    "exports": "Exports",
}


# The page's only script (ours, no evidence text in it): it checks every figure decoded and says so
# on <body> for the browser test; a figure that did not render is a console error. The page's CSP
# allows exactly this script, by hash, so nothing injected could run even if escaping failed.
_SCRIPT = """
window.addEventListener("load", function () {
  var imgs = document.querySelectorAll("figure.plot img"), ok = 0;
  for (var i = 0; i < imgs.length; i++) {
    if (imgs[i].complete && imgs[i].naturalWidth > 0) { ok++; }
    else { console.error("vmscope: figure did not render: " + imgs[i].alt); }
  }
  document.body.setAttribute("data-plots-total", String(imgs.length));
  document.body.setAttribute("data-plots-rendered", String(ok));
});
"""
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()


@dataclass(frozen=True)
class ReportPaths:
    out_dir: Path
    index_html: Path
    markdown: Path
    csv_files: list[Path] = field(default_factory=list)
    data: ReportData | None = field(default=None, repr=False)  # what was shown, for terminal_summary


def safe_url(url: str | None) -> str | None:
    """The URL when it is http(s) with a host, else None (never a javascript:, data: or file: link)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def fmt_num(value: Any, unit: str | None = None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if not isinstance(value, (int, float)):
        return str(value)
    if unit == "percent":
        return f"{value:.0f} %"
    if unit and unit in units.UNITS:
        return units.fmt(value, unit)
    return units.number(value)


def fmt_kib(value: Any) -> str:
    return "-" if not isinstance(value, (int, float)) else f"{value / 1024:,.1f} MiB"


def sort_num(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Rows by a numeric key, rows without a number last."""
    def k(r: dict[str, Any]) -> tuple[bool, float]:
        v = r.get(key)
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        return (not ok, float(v) if ok else 0.0)

    return sorted(rows, key=k)


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("vmscope.report", "templates"),
        autoescape=True,  # every template, whatever its file name
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=fmt_num, kib=fmt_kib, safe_url=safe_url, label=plots.label, sort_num=sort_num,
                       studies=studies)
    return env


def _source_entry(rec: Record) -> dict[str, Any]:
    s = rec.source
    return {"id": rec.id, "key": s.key, "authors": s.authors, "title": s.title, "venue": s.venue, "year": s.year,
            "url": safe_url(s.url), "kind": rec.kind.value, "platform": rec.platform, "accel": rec.accel,
            "value": rec.value, "unit": rec.unit, "measure": rec.measure, "notes": rec.notes,
            "conditions": rec.conditions, "live": rec.is_live, "run_id": rec.run_id}


def live_plots(data: ReportData) -> dict[str, list[plots.Plot]]:
    """bench -> its figures (empty list when the bench was not run or has nothing to draw)."""
    makers = {
        "startup": (plots.startup_cdf, plots.phase_bars),
        "memory": (plots.memory_bars,),
        "isolation": (plots.isolation_bars,),
        "scale": (plots.concurrency_curves, plots.density_curves),
    }
    out: dict[str, list[plots.Plot]] = {}
    for bench, fns in makers.items():
        rows = data.rows(bench)
        out[bench] = [p for p in (fn(rows) for fn in fns) if p is not None] if rows else []
    return out


def forest_plots(data: ReportData, metric: Metric) -> list[plots.Plot]:
    tax = taxonomy()
    by_family: dict[str, list] = {}
    for row in data.literature_rows(metric):
        fam = tax.families.get(row.family)
        if fam is not None and not fam.is_boolean:
            by_family.setdefault(row.family, []).append(row)
    out = []
    for family, rows in by_family.items():
        if sum(r.n_studies for r in rows) >= 2:  # one study alone is a point, not a forest
            p = plots.forest_plot(family, rows)
            if p is not None:
                out.append(p)
    return out


def context(data: ReportData) -> dict[str, Any]:
    tax = taxonomy()
    cited = {rid for c in data.combined.claims for rid in c.record_ids}
    return {
        "d": data,
        "sections": SECTION_IDS,
        "benches": BENCHES,
        "metric_titles": METRIC_TITLES,
        "families": tax.families,
        "live_plots": live_plots(data),
        "forests": {m: forest_plots(data, m) for m in Metric},
        "sources": {rid: _source_entry(data.records_by_id[rid]) for rid in cited if rid in data.records_by_id},
        "tcg_note": TCG_NOTE,
        "script": Markup(_SCRIPT),
        "script_hash": _SCRIPT_HASH,
        "density": {b: plots.density_points(data.rows(b)) for b in ("scale",)},
    }


def render_html(data: ReportData, exports: list[Path] | None = None) -> str:
    ctx = context(data)
    ctx["exports"] = [p.name for p in exports or []]
    return _env().get_template("report.html.j2").render(**ctx)


def build_report(out_dir: Path, db_path: Path | None, run_ids: dict[str, str] | None = None) -> ReportPaths:
    """Build the report directory from stored results (nothing is re-run): index.html, report.md, CSVs.

    `run_ids` maps a bench name to the run to show; by default the latest run of each bench.
    Works with any subset of benches stored, including none (a literature-only report).
    """
    from vmscope.report.exports import write_exports

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the report directory {out_dir}: {exc}", hint="choose another --out") from exc
    data = collect(db_path, run_ids)
    markdown, csv_files = write_exports(data, out_dir)
    index = out_dir / "index.html"
    try:
        index.write_text(render_html(data, [markdown, *csv_files]), encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {index}: {exc}", hint="choose another --out") from exc
    return ReportPaths(out_dir=out_dir, index_html=index, markdown=markdown, csv_files=csv_files, data=data)
