"""Command line: `vmscope <verb>`. Each command module registers on the apps in `_app`."""

from __future__ import annotations

import importlib
import signal
import sys
import threading

from rich.console import Console

from vmscope.cli._app import app
from vmscope.errors import UserError

# Command modules, one per verb family. A module missing here is simply not offered.
_COMMAND_MODULES = [
    "doctor",
    "guest",
    "bench_startup",
    "bench_memory",
    "bench_scale",
    "bench_isolation",
    "results",
    "evidence",
    "synth",
    "report",
    "run",
]

for _name in _COMMAND_MODULES:
    try:
        importlib.import_module(f"vmscope.cli.{_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"vmscope.cli.{_name}":
            raise


class Terminated(BaseException):
    """SIGTERM: unwind like Ctrl-C so every launched instance is stopped on the way out."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    err = Console(stderr=True)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        rv = app(args=argv, standalone_mode=False)
        if rv == 130:  # typer turns Ctrl-C into this return value when not standalone
            raise KeyboardInterrupt
        if isinstance(rv, int) and rv:
            return rv
    except UserError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: everything launched was stopped; results already stored are kept.")
        return 130
    except Terminated:
        err.print("[yellow]terminated[/]: everything launched was stopped; results already stored are kept.")
        return 143
    except SystemExit as exc:  # typer/click exit paths (e.g. --help)
        return int(exc.code or 0)
    except Exception as exc:  # usage errors (typer's click layer) carry their own exit code
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            return exc.exit_code
        if type(exc).__name__ == "Abort":
            err.print("[yellow]aborted[/]")
            return 130
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
