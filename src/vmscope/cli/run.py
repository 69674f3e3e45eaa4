"""`vmscope run`: the main job — doctor, guest, every live bench, synthesis, terminal summary, report."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from vmscope.cli._app import app
from vmscope.cli.common import err, out, print_json
from vmscope.errors import UserError
from vmscope.model import VM_CLASSES
from vmscope.platforms import PLATFORMS, parse_platforms


@dataclass(frozen=True)
class Profile:
    """How much of each bench the main job runs (default ~10 min on a 2-core TCG host, quick ~2 min)."""

    name: str
    startup_trials: int
    startup_warmup: int
    memory_trials: int
    memory_instances: int
    scale_concurrency: str
    scale_instances: int
    scale_vms: int  # how many VM platforms join the scalability sweep
    isolation_vms: int  # how many VM platforms get the (slow under TCG) isolation sweep


DEFAULT = Profile("default", startup_trials=10, startup_warmup=1, memory_trials=2, memory_instances=2,
                  scale_concurrency="1,2,4,8", scale_instances=16, scale_vms=1, isolation_vms=3)
QUICK = Profile("quick", startup_trials=3, startup_warmup=1, memory_trials=1, memory_instances=1,
                scale_concurrency="1,4", scale_instances=4, scale_vms=0, isolation_vms=1)


@dataclass
class StepOutcome:
    name: str
    run_id: str | None
    seconds: float
    error: str | None = None
    skipped: str | None = None


def _usable(platform_spec: str, doctor: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """Split the chosen platforms by the doctor's verdicts (it has just probed every one)."""
    usable, unusable = [], {}
    explicit = platform_spec.strip() != "all"
    probed = {row["id"]: row for row in doctor["platforms"]}
    for pid in parse_platforms(platform_spec):
        if probed[pid]["usable"]:
            usable.append(pid)
        else:
            unusable[pid] = probed[pid]["reason"]
    if explicit and unusable:
        why = "; ".join(f"{p}: {r}" for p, r in unusable.items())
        raise UserError(f"cannot run on this host: {why}", hint="see `vmscope doctor`; leave them out of --platform")
    if not usable:
        raise UserError("no usable platform on this host", hint="see `vmscope doctor`")
    return usable, unusable


def _is_vm(pid: str) -> bool:
    return PLATFORMS[pid].platform_class in VM_CLASSES


def _step(name: str, fn: Callable[[], dict[str, Any]], outcomes: list[StepOutcome]) -> dict[str, Any] | None:
    err.rule(f"[bold]{name}")
    t0 = time.monotonic()
    try:
        doc = fn()
    except UserError as exc:
        # one bench failing must not cost the user the others: say it, go on, exit non-zero at the end
        outcomes.append(StepOutcome(name, None, time.monotonic() - t0, error=str(exc)))
        err.print(f"[red]{name} failed[/]: {exc}", highlight=False)
        return None
    failures = doc.get("failures") or []
    error = "; ".join(f"{f['platform']}: {f['error']}" for f in failures) or None
    outcomes.append(StepOutcome(name, doc.get("run_id"), time.monotonic() - t0, error=error))
    return doc


def run_all(platform: str = "all", quick: bool = False, out_dir: Path = Path("vmscope-report"),
            db: Path | None = None, show_progress: bool = True) -> dict[str, Any]:
    from vmscope.cli.bench_isolation import run_isolation
    from vmscope.cli.bench_memory import run_memory
    from vmscope.cli.bench_scale import run_scale
    from vmscope.cli.bench_startup import run_startup
    from vmscope.cli.doctor import doctor_report
    from vmscope.guest.build import ensure_guest
    from vmscope.store import ResultsDB

    profile = QUICK if quick else DEFAULT
    ResultsDB(db).close()  # an unwritable --db fails now, not after ten minutes
    t_start = time.monotonic()
    outcomes: list[StepOutcome] = []

    err.rule("[bold]doctor")
    doctor = doctor_report()
    platforms, unusable = _usable(platform, doctor)
    for pid, why in unusable.items():
        err.print(f"[yellow]skip[/] {pid}: {why}", highlight=False)
    err.print(f"platforms: {', '.join(platforms)}", highlight=False)

    err.rule("[bold]guest")
    with err.status("shared guest: checking the cache ...") as status:
        guest = ensure_guest(progress=lambda msg: status.update(f"shared guest: {msg}"))
    err.print(f"shared guest: kernel {guest.kernel_version}, initramfs {guest.hashes.get('initramfs', '')[:12]}")

    with_guest = [p for p in platforms if p != "kvm-floor"]
    vms = [p for p in with_guest if _is_vm(p)]
    shared_kernel = [p for p in with_guest if not _is_vm(p)]
    docs: dict[str, dict[str, Any] | None] = {}

    docs["startup"] = _step("startup", lambda: run_startup(
        ",".join(platforms), trials=profile.startup_trials, warmup=profile.startup_warmup, db=db,
        show_progress=show_progress), outcomes)
    if with_guest:
        docs["memory"] = _step("memory", lambda: run_memory(
            ",".join(with_guest), trials=profile.memory_trials, instances=profile.memory_instances, db=db,
            show_progress=show_progress), outcomes)
        iso = shared_kernel + vms[: profile.isolation_vms]
        docs["isolation"] = _step("isolation", lambda: run_isolation(
            ",".join(iso), db=db, show_progress=show_progress), outcomes)
    if quick:  # one container runtime is enough to draw the curves
        scale_targets = [p for p in shared_kernel if p in ("runc", "crun")][:1] or shared_kernel[:1]
    else:  # every shared-kernel platform and one microVM (the VM side of the density question)
        scale_targets = shared_kernel + [p for p in ("qemu-microvm", *vms) if p in vms][:profile.scale_vms]
    if scale_targets:
        docs["scale"] = _step("scale", lambda: run_scale(
            ",".join(scale_targets), concurrency=profile.scale_concurrency, instances=profile.scale_instances,
            db=db, show_progress=show_progress), outcomes)

    err.rule("[bold]report")
    from vmscope.report import build_report

    run_ids = {o.name: o.run_id for o in outcomes if o.run_id}
    paths = build_report(out_dir, db, run_ids=run_ids)
    summary = {
        "paths": paths,
        "profile": profile.name,
        "platforms": platforms,
        "unusable": unusable,
        "host": doctor["host"],
        "steps": [o.__dict__ for o in outcomes],
        "report": str(paths.index_html),
        "seconds": time.monotonic() - t_start,
        "docs": docs,
    }
    return summary


@app.command("run")
def run_cmd(
    quick: bool = typer.Option(False, "--quick", help="fewer trials and a smaller sweep (~2 min instead of ~10)"),
    out_dir: Path = typer.Option(Path("vmscope-report"), "--out", help="directory for the HTML report"),
    platform: str = typer.Option("all", "--platform", "-p", help="comma list of platform ids, or 'all' (usable ones)"),
    db: Path = typer.Option(None, "--db", help="results DB (default: XDG data dir)"),
    json_out: bool = typer.Option(False, "--json", help="print a JSON summary instead of the terminal summary"),
) -> None:
    """The main job: doctor, shared guest, every live bench, synthesis with the literature, report."""
    summary = run_all(platform, quick, out_dir, db)
    if json_out:
        print_json({k: v for k, v in summary.items() if k not in ("docs", "paths")})
    else:
        from vmscope.report.terminal import terminal_summary

        terminal_summary(summary["paths"].data, out, summary["paths"])
        out.print(f"({summary['seconds']:.0f} s in all, profile {summary['profile']})")
    failed = [s for s in summary["steps"] if s["error"]]
    if failed:
        msgs = "\n".join(f"  {s['name']}: {s['error']}" for s in failed)
        raise UserError(f"{len(failed)} step(s) had failures (everything else was measured, stored and reported):\n"
                        f"{msgs}")
