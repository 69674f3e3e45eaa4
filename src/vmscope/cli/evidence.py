"""`vmscope evidence list|show|validate|import`: the evidence base of published figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from vmscope import units
from vmscope.cli._app import evidence_app
from vmscope.errors import UserError
from vmscope.evidence import import_file, load_all, parse_file, validate_shipped
from vmscope.model import Record

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _print_json(obj: object) -> None:
    typer.echo(json.dumps(obj, indent=2, sort_keys=False))


@evidence_app.command("list")
def list_cmd(
    json_out: JsonOpt = False,
    metric: Annotated[str | None, typer.Option(help="Only this metric.")] = None,
    platform_class: Annotated[str | None, typer.Option("--class", help="Only this platform class.")] = None,
    platform: Annotated[str | None, typer.Option(help="Only this platform id.")] = None,
) -> None:
    """List the evidence records (shipped and imported)."""
    records = [
        r
        for r in load_all()
        if (metric is None or r.metric == metric)
        and (platform_class is None or r.platform_class == platform_class)
        and (platform is None or r.platform == platform)
    ]
    if json_out:
        _print_json([r.model_dump(mode="json") for r in records])
        return
    table = Table(title=f"{len(records)} evidence records")
    for col in ("id", "platform", "metric", "measure", "value", "statistic", "kind"):
        table.add_column(col, overflow="fold")
    for r in records:  # cells as Text: evidence text is shown as written, never read as rich markup
        cells = (r.id, r.platform, r.metric.value, r.measure, units.fmt(r.value, r.unit), r.statistic.value,
                 r.kind.value)
        table.add_row(*(Text(c) for c in cells))
    Console().print(table)


def _find(record_id: str) -> Record:
    for r in load_all():
        if r.id == record_id:
            return r
    raise UserError(f"no evidence record with id {record_id!r}", hint="`vmscope evidence list` shows the ids")


@evidence_app.command("show")
def show_cmd(
    record_id: Annotated[str, typer.Argument(help="Record id, e.g. agache2020firecracker-10.")],
    json_out: JsonOpt = False,
) -> None:
    """Show one record with its provenance."""
    rec = _find(record_id)
    if json_out:
        _print_json(rec.model_dump(mode="json"))
        return
    console = Console()
    value = units.fmt(rec.value, rec.unit)
    if rec.low is not None and rec.high is not None:
        value += f" (range {rec.low} .. {rec.high} {rec.unit})"
    elif rec.low is not None:
        value += f" (at least {rec.low} {rec.unit})"
    elif rec.high is not None:
        value += f" (at most {rec.high} {rec.unit})"
    rows = [
        ("id", rec.id),
        ("platform", f"{rec.platform} ({rec.platform_class.value})"),
        ("metric / measure", f"{rec.metric.value} / {rec.measure}"),
        ("value", f"{value}, {rec.statistic.value}"),
        ("n / concurrency", f"{rec.n} / {rec.concurrency}"),
        ("kind", rec.kind.value),
        ("source", f"{rec.source.authors}: {rec.source.title}. {rec.source.venue} {rec.source.year or ''}"),
        ("url", rec.source.url),
        ("location", rec.location),
        ("retrieved from", rec.retrieved_from),
        ("conditions", rec.conditions),
        ("notes", rec.notes),
    ]
    for k, v in rows:
        console.print(Text.assemble((f"{k}:", "bold"), f" {v}"), highlight=False)


@evidence_app.command("validate")
def validate_cmd(
    files: Annotated[list[Path] | None, typer.Argument(help="JSONL or CSV files; default: the shipped base.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Validate evidence files; every problem is reported as `file:line: what is wrong`."""
    results = [parse_file(f) if f.exists() else None for f in files] if files else [validate_shipped()]
    names = [str(f) for f in files] if files else ["<shipped>/records.jsonl"]
    problems: list[str] = []
    n_ok = 0
    for name, res in zip(names, results, strict=True):
        if res is None:
            problems.append(f"{name}: no such file")
            continue
        n_ok += len(res.records)
        problems.extend(str(p) for p in res.problems)
    if json_out:
        _print_json({"valid_records": n_ok, "problems": problems})
    else:
        for p in problems:
            typer.echo(p, err=True)
        typer.echo(f"{n_ok} valid record(s), {len(problems)} problem(s)")
    if problems:
        raise UserError(f"{len(problems)} problem(s) found", hint="fix the lines listed above")


@evidence_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="JSONL or CSV file of new records.")],
    json_out: JsonOpt = False,
) -> None:
    """Validate a file of records and add the new ones to your evidence store."""
    result = import_file(file)
    if json_out:
        _print_json(
            {"added": [r.id for r in result.added], "duplicates": result.duplicates, "store": str(result.store)}
        )
        return
    typer.echo(
        f"imported {len(result.added)} record(s) into {result.store}; "
        f"{len(result.duplicates)} already present (same content) skipped"
    )
