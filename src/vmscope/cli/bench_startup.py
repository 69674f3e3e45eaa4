"""`vmscope bench startup`: spawn -> ready per platform, with phases and raw samples."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.table import Table

from vmscope.cli._app import bench_app
from vmscope.cli.benchkit import prepare, raise_for_failures
from vmscope.cli.common import err, out, print_json, progress_bar
from vmscope.errors import UserError
from vmscope.measure.records import live_record
from vmscope.measure.startup import HEADLINE, measure_startup
from vmscope.model import Metric, Statistic
from vmscope.platforms import parse_platforms
from vmscope.platforms.base import Resources
from vmscope.store import Sample


def run_startup(platform: str = "all", trials: int = 10, warmup: int = 1, db: Path | None = None,
                guest_mem: int = 256, vcpus: int = 1, accel: str | None = None, timeout: float = 120.0,
                show_progress: bool = True) -> dict:
    """The whole bench: measure, store (one transaction), return the JSON document."""
    if trials < 1:
        raise UserError("--trials must be at least 1")
    if warmup < 0:
        raise UserError("--warmup cannot be negative")
    ctx = prepare("startup", platform, db)
    res = Resources(mem_mib=guest_mem, vcpus=vcpus, mode="boot", accel=accel)
    total = (trials + warmup) * len(ctx.platforms)
    with progress_bar("startup", total, show_progress) as advance:
        results, failures = measure_startup(
            ctx.platforms, ctx.guest, res, trials, warmup, timeout, ctx.log_dir,
            progress=lambda p, t: advance(f"{p} {'warm-up' if t < 0 else f'trial {t + 1}'}"),
        )
    run = ctx.new_run({"trials": trials, "warmup": warmup, "guest_mem_mib": guest_mem, "vcpus": vcpus,
                       "accel": accel, "timeout_s": timeout, "platforms": ctx.platforms,
                       "skipped": ctx.skipped,
                       "failures": {f.platform: {"error": f.error, "console_log": str(f.console_log or "")}
                                    for f in failures}})
    for i, r in enumerate(results):
        row = r.summary_row()
        run.results.append(row)
        for t in r.trials:
            if t.warmup:
                continue
            run.samples.append(Sample(r.platform, r.accel, t.trial, HEADLINE, t.phases_ms.get(HEADLINE), "ms",
                                      {"phases_ms": t.phases_ms, "points_ns": t.points_ns,
                                       "console_log": str(t.console_log or "")}))
            if t.console_log:
                run.artifacts.append((r.platform, t.trial, "console_log", str(t.console_log)))
        run.records.append(live_record(
            run_id=ctx.run_id, index=i, platform=r.platform, metric=Metric.startup_latency, measure=HEADLINE,
            value=row["median_ms"], unit="ms", statistic=Statistic.median, host=ctx.host,
            guest=ctx.guest_fingerprint(), accel=r.accel, n=row["n"], low=row["ci_low_ms"], high=row["ci_high_ms"],
            samples=row["samples_ms"], db_path=str(ctx.db.path),
            notes="low/high: bootstrap 95% CI of the median; interval spawn -> guest init prints ready",
        ))
    return ctx.finish(run, failures)


def startup_tables(doc: dict) -> list[Table]:
    """The headline table (spawn -> ready) and the phase breakdown (medians)."""
    rows = sorted(doc["results"], key=lambda r: r["median_ms"])
    t = Table(title=f"startup latency, spawn -> ready, ms (run {doc['run_id']})")
    for col in ("platform", "accel", "n", "median", "p95", "95% CI median", "min", "max"):
        t.add_column(col, justify="left" if col in ("platform", "accel") else "right")
    for r in rows:
        ci = f"{r['ci_low_ms']:.1f}-{r['ci_high_ms']:.1f}" if r["ci_low_ms"] is not None else "n<3"
        median = f"{r['median_ms']:.2f}" + (" [yellow]noisy[/]" if r["warnings"] else "")
        t.add_row(r["platform"], r["accel"] or "-", str(r["n"]), median, f"{r['p95_ms']:.2f}", ci,
                  f"{r['min_ms']:.2f}", f"{r['max_ms']:.2f}")
    names = [n for n in ("vmm_firmware", "kernel", "runtime_setup", "init_to_ready", "ready_to_exit")
             if any(n in r["phases_ms"] for r in rows)]
    p = Table(title="phases, median ms")
    p.add_column("platform")
    for n in names:
        p.add_column(n, justify="right")
    for r in rows:
        p.add_row(r["platform"], *[f"{r['phases_ms'][n]:.1f}" if n in r["phases_ms"] else "-" for n in names])
    return [t, p]


@bench_app.command("startup")
def startup_cmd(
    platform: str = typer.Option("all", "--platform", "-p", help="comma list of platform ids, or 'all' (usable ones)"),
    trials: int = typer.Option(10, "--trials", "-n", help="measured trials per platform"),
    warmup: int = typer.Option(1, "--warmup", help="warm-up trials per platform (discarded)"),
    json_out: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    db: Path = typer.Option(None, "--db", help="results DB (default: XDG data dir)"),
    guest_mem: int = typer.Option(256, "--guest-mem", help="guest RAM in MiB (VM platforms)"),
    vcpus: int = typer.Option(1, "--vcpus", help="guest vCPUs (VM platforms)"),
    accel: str = typer.Option(None, "--accel",
                              help="VM accelerator: kvm or tcg (default: kvm if it can boot Linux here)"),
    timeout: float = typer.Option(120.0, "--timeout", help="seconds to wait for ready per trial"),
    firecracker_bin: Path = typer.Option(None, "--firecracker-bin", help="firecracker binary (default: PATH)"),
    cloud_hypervisor_bin: Path = typer.Option(None, "--cloud-hypervisor-bin",
                                              help="cloud-hypervisor binary (default: PATH)"),
) -> None:
    """Startup latency (spawn -> ready) of the shared guest on each platform."""
    # the drivers read these (platforms/vmm_bin.py), so probe() and launch() agree on the binary
    for var, path in (("VMSCOPE_FIRECRACKER_BIN", firecracker_bin), ("VMSCOPE_CLOUD_HYPERVISOR_BIN",
                                                                      cloud_hypervisor_bin)):
        if path is not None:
            os.environ[var] = str(path)
    from vmscope.platforms.accel import check_accel, resolve_accel

    check_accel(accel)
    if accel == "kvm" and any(p.startswith("qemu-") for p in parse_platforms(platform)):
        resolve_accel("kvm")  # a forced KVM that cannot boot Linux here fails before anything runs
    doc = run_startup(platform, trials, warmup, db, guest_mem, vcpus, accel, timeout, show_progress=True)
    if json_out:
        print_json(doc)
    else:
        for table in startup_tables(doc):
            out.print(table)
        noisy = [r for r in doc["results"] if r["warnings"]]
        for r in noisy:
            for w in r["warnings"]:
                err.print(f"[yellow]warning[/] {r['platform']}: {w}")
        if noisy:
            err.print("  the medians and their CIs stand, but spread is high: use more --trials or a quieter host")
        if any(r["accel"] == "tcg" for r in doc["results"]):
            err.print("[yellow]note[/]: accel tcg = software emulation; not comparable with KVM figures.")
    raise_for_failures(doc)
