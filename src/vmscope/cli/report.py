"""`vmscope report`: rebuild the HTML report (with Markdown and CSV beside it) from stored results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vmscope.cli._app import app
from vmscope.cli.common import db_option_path, err, out


def default_out_dir() -> Path:
    return Path.cwd() / "vmscope-report"


def report(out_dir: Path | None = None, db: Path | None = None, run_ids: dict[str, str] | None = None,
           summary: bool = True) -> Path:
    """Build the report from the results DB; print the terminal summary; return index.html's path."""
    from vmscope.report import build_report, terminal_summary

    paths = build_report(out_dir or default_out_dir(), db_option_path(db), run_ids)
    if summary and paths.data is not None:
        terminal_summary(paths.data, out, paths)
    elif paths.data is not None:
        err.print(f"report: {paths.index_html}", highlight=False, soft_wrap=True)
    return paths.index_html


@app.command("report")
def report_cmd(
    out_dir: Annotated[Path | None, typer.Option("--out", help="Report directory (default: ./vmscope-report).")] = None,
    from_db: Annotated[
        bool, typer.Option("--from-db", help="Use the stored results (the only mode: nothing is re-run).")
    ] = True,
    db: Annotated[Path | None, typer.Option("--db", help="Results database (default: XDG data dir).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only print where the report is.")] = False,
) -> None:
    """Rebuild the report (HTML + Markdown + CSV) from stored results, without re-running anything."""
    del from_db  # accepted for scripts that spell it out; stored results are the only source
    report(out_dir, db, summary=not quiet)
