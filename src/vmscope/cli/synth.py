"""`vmscope synth`: the pooled four-metric table, claim verdicts and rankings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from vmscope import units
from vmscope.cli._app import app
from vmscope.errors import UserError
from vmscope.evidence import load_all
from vmscope.store import load_live_records
from vmscope.synthesis import PROFILES, GroupBy, SynthesisResult, synthesize
from vmscope.synthesis.claims import Verdict, load_claims
from vmscope.synthesis.pool import SENSITIVITY_EXCLUDED, PoolMethod

_VERDICT_STYLE = {
    Verdict.supported: "green",
    Verdict.contradicted: "red",
    Verdict.mixed: "yellow",
    Verdict.insufficient: "dim",
}


def _num(value: float, unit: str) -> str:
    return units.fmt(value, unit) if unit != "percent" else f"{value:.0f} %"


def render(result: SynthesisResult, console: Console) -> None:
    sens = {(r.group, r.family): r for r in result.sensitivity}
    console.print(f"[bold]Pooled evidence by {result.by.value}[/] ({result.n_records} records)", highlight=False)
    for metric in dict.fromkeys(r.metric for r in result.table):
        table = Table(title=metric.value, title_justify="left")
        for col in ("family", "group", "estimate", "interval", "studies/recs", "peer-rev."):
            table.add_column(col)
        for r in (r for r in result.table if r.metric == metric):
            s = sens.get((r.group, r.family))
            mark = " *" if r.method is PoolMethod.random_effects_dl else ""
            table.add_row(
                r.family,
                Text(r.group),
                _num(r.estimate, r.unit) + mark,
                f"{_num(r.low, r.unit)}..{_num(r.high, r.unit)}",
                f"{r.n_studies}/{r.n_records}",
                _num(s.estimate, s.unit) if s else "-",
            )
        console.print(table)
    console.print("[dim]* random-effects (DL) 95% interval; otherwise median and range across studies[/]")
    claims = Table(title="Claims")
    for col in ("claim", "verdict", "votes +/-", "records"):
        claims.add_column(col, overflow="fold")
    for c in result.claims:
        style = _VERDICT_STYLE[c.verdict]
        claims.add_row(
            Text(c.text),
            f"[{style}]{c.verdict.value}[/]",
            f"{c.votes_for}/{c.votes_against}",
            Text(", ".join(c.record_ids[:4]) + (f" +{len(c.record_ids) - 4}" if len(c.record_ids) > 4 else "")),
        )
    console.print(claims)
    for name, rk in result.rankings.items():
        weights = ", ".join(f"{m.value} {w:.2f}" for m, w in rk.weights.items())
        lines = [
            f"  {e.rank}. {e.group}  (TOPSIS {e.topsis:.2f}, rank held in {100 * e.rank_held:.0f}% of perturbations)"
            for e in rk.entries
        ]
        console.print(f"[bold]Ranking: {name}[/] ({weights})", highlight=False)
        console.print(Text("\n".join(lines) or "  (no group has enough evidence)"), highlight=False)
        if rk.imputed:
            imp = "; ".join(f"{escape(g)}: {', '.join(m.value for m in ms)}" for g, ms in rk.imputed.items())
            console.print(f"  [dim]scored neutral (0.5) for want of evidence: {imp}[/]", highlight=False)
        if rk.excluded:
            excl = ", ".join(escape(g) for g in rk.excluded)
            console.print(f"  [dim]not ranked (too little evidence): {excl}[/]", highlight=False)


@app.command("synth")
def synth_cmd(
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    by: Annotated[str, typer.Option("--by", help="Group by platform class or by platform.")] = "class",
    profile: Annotated[
        str | None, typer.Option("--profile", help=f"Rank for one profile: {', '.join(PROFILES)}.")
    ] = None,
    claims_file: Annotated[Path | None, typer.Option("--claims", help="A claims file (JSON) to check.")] = None,
    include_live: Annotated[
        bool, typer.Option("--include-live", help="Pool this host's live results with the literature.")
    ] = False,
    db: Annotated[Path | None, typer.Option("--db", help="Results database for --include-live.")] = None,
    peer_reviewed_only: Annotated[
        bool, typer.Option("--peer-reviewed-only", help="Sensitivity view: drop blogs and vendor claims.")
    ] = False,
) -> None:
    """Pool the evidence into the four-metric table, check claims, rank platforms per workload profile."""
    if by not in ("class", "platform"):
        raise UserError(f"--by must be 'class' or 'platform', not {by!r}")
    if profile is not None and profile not in PROFILES:
        raise UserError(f"unknown profile {profile!r}", hint=f"choose one of: {', '.join(PROFILES)}")
    claims = load_claims(claims_file)
    records = load_all()
    extra = load_live_records(db) if include_live else []
    if peer_reviewed_only:
        records = [r for r in records if r.kind not in SENSITIVITY_EXCLUDED]
    result = synthesize(records, by=GroupBy(by), profile=profile, claims=claims, extra=extra)
    if json_out:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    render(result, Console())
