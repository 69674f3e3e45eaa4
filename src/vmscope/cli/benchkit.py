"""What every `vmscope bench ...` command does before and after measuring."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmscope import __version__, host
from vmscope.cli.common import ensure_kvm_verdict, err
from vmscope.errors import UserError
from vmscope.measure.failures import PlatformFailure
from vmscope.model import VM_CLASSES
from vmscope.platforms import PLATFORMS, get_driver, parse_platforms
from vmscope.store import ResultsDB, Run, new_run_id


@dataclass
class BenchContext:
    bench: str
    run_id: str
    db: ResultsDB
    host: dict[str, Any]
    guest: Any
    platforms: list[str]
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return self.db.path.parent / "logs" / self.run_id

    def guest_fingerprint(self) -> dict[str, Any]:
        return self.guest.fingerprint() if self.guest is not None else {}

    def new_run(self, params: dict[str, Any]) -> Run:
        return Run(
            run_id=self.run_id, bench=self.bench, command=shlex.join(["vmscope", *sys.argv[1:]]),
            vmscope_version=__version__, host=self.host, guest=self.guest_fingerprint(), params=params,
        )


    def finish(self, run: Run, failures: list[PlatformFailure], **extra: Any) -> dict[str, Any]:
        """Store the run (one transaction, if anything was measured or failed) and build the JSON
        document every bench returns: run_id, results, host, guest, skipped, failures, plus extra."""
        for f in failures:
            run.artifacts.append((f.platform, f.trial, "failed_console_log", str(f.console_log or "")))
        if run.results or failures:
            self.db.save_run(run)
        return {"run_id": self.run_id, "results": run.results, **extra, "host": self.host,
                "guest": self.guest_fingerprint(), "skipped": self.skipped,
                "failures": [f.as_dict() for f in failures]}


def raise_for_failures(doc: dict[str, Any]) -> None:
    """After printing a bench's results: a failed platform makes the command exit non-zero."""
    if doc.get("failures"):
        msgs = "\n".join(f"  {f['platform']}: {f['error']}" for f in doc["failures"])
        raise UserError(f"{len(doc['failures'])} platform(s) failed (other results were stored):\n{msgs}")


def select_platforms(spec: str, *, exclude: tuple[str, ...] = ()) -> tuple[list[str], dict[str, str]]:
    """Resolve --platform. 'all' keeps the usable ones (saying why others are skipped); a platform
    named explicitly that cannot run here is an error that says why."""
    ids = parse_platforms(spec)
    explicit = spec.strip() != "all"
    chosen: list[str] = []
    skipped: dict[str, str] = {}
    for pid in ids:
        if pid in exclude:
            if explicit:
                raise UserError(f"platform {pid} does not apply to this benchmark")
            skipped[pid] = "does not apply to this benchmark"
            continue
        avail = get_driver(pid).probe()
        if avail.usable:
            chosen.append(pid)
        elif explicit:
            raise UserError(f"platform {pid} cannot run on this host: {avail.reason}",
                            hint="see `vmscope doctor`; leave it out of --platform")
        else:
            skipped[pid] = avail.reason
    if not chosen:
        raise UserError("no usable platform selected", hint="see `vmscope doctor`")
    return chosen, skipped


def prepare(bench: str, platform_spec: str, db_path: Path | None, *, need_guest: bool = True,
            exclude: tuple[str, ...] = (), quiet: bool = False) -> BenchContext:
    # Open the DB first: an unwritable --db fails now, before minutes of measuring.
    db = ResultsDB(db_path)
    platforms, skipped = select_platforms(platform_spec, exclude=exclude)
    for pid, why in skipped.items():
        if not quiet:
            err.print(f"[yellow]skip[/] {pid}: {why}", highlight=False)
    guest = None
    if need_guest and any(p != "kvm-floor" for p in platforms):
        from vmscope.guest.build import ensure_guest

        guest = ensure_guest()
        if any(PLATFORMS[p].platform_class in VM_CLASSES for p in platforms):
            ensure_kvm_verdict()
    return BenchContext(bench, new_run_id(), db, host.fingerprint(), guest, platforms, skipped)


def platform_class(pid: str) -> str:
    return PLATFORMS[pid].platform_class.value
