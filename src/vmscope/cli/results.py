"""`vmscope results list|show|export`: what the results DB holds."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from vmscope.cli._app import results_app
from vmscope.cli.common import out, print_json
from vmscope.store import ResultsDB, export

DB_OPT = typer.Option(None, "--db", help="results DB (default: XDG data dir)")


@results_app.command("list")
def list_cmd(db: Path = DB_OPT, json_out: bool = typer.Option(False, "--json")) -> None:
    """Stored runs, oldest first."""
    with ResultsDB(db) as d:
        runs = d.list_runs()
    if json_out:
        print_json(runs)
        return
    t = Table(title=f"runs in {d.path}")
    for col in ("run", "when", "bench", "platforms", "samples", "command"):
        t.add_column(col, overflow="fold")
    for r in runs:
        t.add_row(r["run_id"], r["created_at"], r["bench"], r["platforms"] or "-", str(r["n_samples"]), r["command"])
    out.print(t)


@results_app.command("show")
def show_cmd(run_id: str = typer.Argument("latest", help="run id, unique prefix, or 'latest'"), db: Path = DB_OPT,
             json_out: bool = typer.Option(False, "--json")) -> None:
    """One run: parameters, host, guest and its result rows."""
    with ResultsDB(db) as d:
        run = d.get_run(run_id)
    if json_out:
        print_json(run)
        return
    out.print(f"[bold]run[/] {run['run_id']} ({run['bench']}) at {run['created_at']}, vmscope {run['vmscope_version']}")
    out.print(f"[bold]command[/] {run['command']}", highlight=False)
    h = run["host"]
    out.print(f"[bold]host[/] {h.get('hostname')}: {h.get('cpu_model')}, kernel {h.get('kernel')}", highlight=False)
    g = run["guest"]
    if g:
        initramfs = g.get("hashes", {}).get("initramfs", "")[:12]
        out.print(f"[bold]guest[/] kernel {g.get('kernel_version')}, initramfs {initramfs}")
    if run["results"]:
        keys = [k for k, v in run["results"][0].items() if not isinstance(v, (dict, list))]
        t = Table()
        for k in keys:
            t.add_column(k, overflow="fold")
        for r in run["results"]:
            t.add_row(*[(f"{r[k]:.2f}" if isinstance(r.get(k), float) else str(r.get(k))) for k in keys])
        out.print(t)
    failures = run["params"].get("failures") or {}
    for p, f in failures.items():
        out.print(f"[red]failed[/] {p}: {f['error']}", highlight=False)


@results_app.command("export")
def export_cmd(
    run_id: str = typer.Argument(None, help="run id or prefix (default: every run)"),
    fmt: str = typer.Option("json", "--format", help="json or csv"),
    what: str = typer.Option("samples", "--what",
                             help="samples (raw, one row per trial) or records (evidence records)"),
    db: Path = DB_OPT,
    output: Path = typer.Option(None, "--output", "-o", help="write to a file instead of stdout"),
) -> None:
    """Raw samples or evidence records (kind live) as JSON or CSV."""
    with ResultsDB(db) as d:
        text = export(d, fmt, run_id, what)
    if output:
        output.write_text(text)
    else:
        typer.echo(text, nl=False)
