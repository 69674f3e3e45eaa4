"""The terminal summary (rich): the headline of each metric on this host, claims, the top of each ranking.

Evidence text is printed with markup off, so a title like "[red]x[/]" is shown as written.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from vmscope.model import Metric
from vmscope.report.data import BENCHES, METRIC_TITLES, TCG_NOTE, ReportData
from vmscope.report.html import ReportPaths, fmt_kib, fmt_num
from vmscope.report.text import studies

_VERDICT_STYLE = {"supported": "green", "contradicted": "red", "mixed": "yellow", "insufficient": "dim"}

# bench -> (column title, row key, formatter) of the headline figures printed per platform
_HEADLINES = {
    "startup": [("spawn -> ready (median)", "median_ms", lambda v: fmt_num(v, "ms")),
                ("p95", "p95_ms", lambda v: fmt_num(v, "ms"))],
    "memory": [("PSS / instance", "pss_kib", fmt_kib), ("VMM overhead", "vmm_overhead_kib", fmt_kib)],
    "isolation": [("host syscalls reachable", "host_syscalls_reachable", fmt_num), ("index", "index", fmt_num)],
    "scale": [("concurrency", "concurrency", fmt_num), ("p95", "p95_ms", lambda v: fmt_num(v, "ms")),
              ("launches/s", "launch_rate_per_s", fmt_num)],
}


def _accel(a: object) -> Text:
    if a == "tcg":
        return Text("TCG", style="bold yellow")
    return Text(str(a).upper() if a else "-")


def metric_table(data: ReportData, bench: str) -> Table | None:
    rows = data.rows(bench)
    if not rows:
        return None
    t = Table(title=f"{METRIC_TITLES[BENCHES[bench]]} (run {data.runs[bench].get('run_id')})", title_justify="left")
    t.add_column("platform")
    t.add_column("accel")
    for title, _, _ in _HEADLINES[bench]:
        t.add_column(title, justify="right")
    for r in rows:
        t.add_row(Text(str(r.get("platform", "?"))), _accel(r.get("accel")),
                  *[Text(fn(r.get(key))) for _, key, fn in _HEADLINES[bench]])
    return t


def vs_table(data: ReportData, metric: Metric) -> Table | None:
    comps = [c for c in data.comparisons_for(metric) if c.literature is not None]
    if not comps:
        return None
    t = Table(title=f"{METRIC_TITLES[metric]}: this host vs the literature (same class and family)",
              title_justify="left")
    for col in ("family", "platform", "accel", "this host", "literature", "note"):
        t.add_column(col, justify="right" if col in ("this host", "literature") else "left", overflow="fold")
    for c in comps:
        lit = c.literature
        t.add_row(c.family + (f" @C={c.concurrency}" if (c.concurrency or 1) > 1 else ""), Text(c.platform),
                  _accel(c.accel), fmt_num(c.live_value, c.unit),
                  f"{fmt_num(lit.estimate, c.unit)} ({studies(lit.n_studies)})" if lit else "-",
                  Text("TCG vs hardware: not like for like" if c.accel == "tcg" else "", style="yellow"))
    return t


def terminal_summary(data: ReportData, console: Console | None = None, paths: ReportPaths | None = None) -> None:
    """Print the report's headline to the terminal: live figures, this host vs literature, claims, rankings."""
    con = console or Console()
    if data.has_tcg:
        con.print(Text(f"note: {TCG_NOTE}.", style="yellow"))
    for bench, metric in BENCHES.items():
        t = metric_table(data, bench)
        if t is None:
            con.print(Text(f"{METRIC_TITLES[metric]}: not measured (run `vmscope bench {bench}`)", style="dim"))
            continue
        con.print(t)
        vs = vs_table(data, metric)
        if vs is not None:
            con.print(vs)
    claims = Table(title="Claims", title_justify="left")
    claims.add_column("claim", overflow="fold")
    claims.add_column("verdict")
    claims.add_column("for/against", justify="right")
    for c in data.combined.claims:
        claims.add_row(Text(c.text), Text(c.verdict.value, style=_VERDICT_STYLE.get(c.verdict.value, "")),
                       f"{c.votes_for}/{c.votes_against}")
    con.print(claims)
    for name, rk in data.combined.rankings.items():
        top = ", ".join(f"{e.rank}. {e.group}" for e in rk.entries[:3]) or "no group has enough evidence"
        held = f" (top held in {100 * rk.top_held:.0f}% of weight perturbations)" if rk.entries else ""
        con.print(Text(f"ranking {name}: {top}{held}"))
    if paths is not None:
        con.print(Text(f"report: {paths.index_html}  (Markdown: {paths.markdown.name}, CSV: "
                       f"{', '.join(p.name for p in paths.csv_files)})", style="bold"), soft_wrap=True)
