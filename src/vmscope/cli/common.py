"""Pieces every command shares: consoles, JSON output, the DB option, progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

out = Console()
err = Console(stderr=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


@contextmanager
def progress_bar(description: str, total: int, enabled: bool = True) -> Iterator[Any]:
    """A rich progress bar on stderr (so --json stdout stays clean); advance(label) per step."""
    if not enabled or total <= 0:
        yield lambda label="": None
        return
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[label]}"), TimeElapsedColumn(), console=err, transient=True,
    ) as prog:
        task = prog.add_task(description, total=total, label="")

        def advance(label: str = "") -> None:
            prog.update(task, advance=1, label=label)

        yield advance


def db_option_path(db: Path | None) -> Path | None:
    return db.expanduser() if db is not None else None


def ensure_kvm_verdict() -> None:
    """Find out now, with a visible status line, whether KVM can boot a Linux guest here, when that
    is still unknown: the trial takes up to a minute once per host and would otherwise look like a hang."""
    from vmscope.platforms.accel import kvm_trial_pending, kvm_verdict

    if kvm_trial_pending():
        with err.status("trying KVM with a real Linux guest (once per host, up to a minute) ..."):
            kvm_verdict()
