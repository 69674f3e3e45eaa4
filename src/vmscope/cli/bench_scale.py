"""`vmscope bench scale`: latency percentiles and launch rate vs concurrency, density curve, density in budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from vmscope.cli._app import bench_app
from vmscope.cli.benchkit import BenchContext, prepare
from vmscope.cli.common import err, out, print_json, progress_bar
from vmscope.errors import UserError
from vmscope.measure.memory import memory_policy_state
from vmscope.measure.records import live_record
from vmscope.measure.scalability import Sweep, measure_scale
from vmscope.model import Metric, Record, Statistic
from vmscope.platforms.base import Resources
from vmscope.stats import summarize
from vmscope.store import Sample


def parse_concurrency(spec: str) -> list[int]:
    try:
        levels = [int(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"--concurrency must be a comma list of integers, not {spec!r}", hint="e.g. 1,2,4,8") from None
    if not levels or any(c < 1 for c in levels):
        raise UserError(f"--concurrency needs levels of at least 1, got {spec!r}", hint="e.g. 1,2,4,8")
    return sorted(set(levels))


def _sweep_records(ctx: BenchContext, s: Sweep, start: int) -> list[Record]:
    recs: list[Record] = []
    if not s.latencies_ms:
        return recs
    extra = (f"{s.ready} of {s.instances} instances held at ready, at most {s.concurrency} starting at once; "
             f"stopped by {s.stopped_by}")
    common = dict(run_id=ctx.run_id, platform=s.platform, metric=Metric.scalability, host=ctx.host,
                  guest=ctx.guest_fingerprint(), accel=s.accel, concurrency=s.concurrency,
                  db_path=str(ctx.db.path), extra_conditions=extra)
    summ = summarize(s.latencies_ms)
    recs.append(live_record(index=start, measure="boot_latency_at_concurrency", value=summ.median, unit="ms",
                            statistic=Statistic.median, n=summ.n, low=summ.ci_low, high=summ.ci_high,
                            samples=s.latencies_ms,
                            notes="spawn -> ready per instance; low/high: bootstrap 95% CI of the median",
                            **common))
    if s.launch_rate_per_s:
        recs.append(live_record(index=start + 1, measure="launch_rate", value=s.launch_rate_per_s, unit="per_s",
                                statistic=Statistic.single, n=s.ready,
                                notes="ready instances / (last ready - first spawn)", **common))
    full = s.full_point
    if full is not None and full.memavailable_drop_kib > 0:
        mem = {**common, "metric": Metric.memory_footprint}
        recs.append(live_record(index=start + len(recs), measure="memavailable_drop_per_instance",
                                value=full.drop_kib_per_instance, unit="KiB", statistic=Statistic.mean,
                                n=full.running, notes="host MemAvailable drop with all instances running / count",
                                **mem))
    return recs


def run_scale(platform: str, concurrency: str = "1,2,4,8", instances: int = 16, mem_budget: float | None = None,
              db: Path | None = None, guest_mem: int = 256, time_limit: float = 600.0, max_failures: int = 0,
              timeout: float = 120.0, show_progress: bool = True) -> dict[str, Any]:
    """The whole bench: measure, store (one transaction), return the JSON document."""
    levels = parse_concurrency(concurrency)
    if instances < 1:
        raise UserError("--instances must be at least 1")
    if mem_budget is not None and mem_budget <= 0:
        raise UserError("--mem-budget must be positive (MiB)")
    if max_failures < 0:
        raise UserError("--max-failures cannot be negative")
    ctx = prepare("scale", platform, db, exclude=("kvm-floor",))
    res = Resources(mem_mib=guest_mem, mode="hold")
    with progress_bar("scale", instances * len(levels) * len(ctx.platforms), show_progress) as advance:
        results = measure_scale(ctx.platforms, ctx.guest, res, levels, instances, mem_budget, time_limit,
                                max_failures, timeout, ctx.log_dir, progress=advance)
    policy = memory_policy_state()
    run = ctx.new_run({"concurrency": levels, "instances": instances, "mem_budget_mib": mem_budget,
                       "guest_mem_mib": guest_mem, "time_limit_s": time_limit, "max_failures": max_failures,
                       "timeout_s": timeout, "platforms": ctx.platforms, "skipped": ctx.skipped, "ksm_thp": policy})
    densities = []
    for r in results:
        for s in r.sweeps:
            run.results.append(s.row())
            for k, ms in enumerate(s.latencies_ms):
                run.samples.append(Sample(s.platform, s.accel, k, "spawn_to_ready_ms", ms, "ms",
                                          {"concurrency": s.concurrency}))
            for f in s.failures:
                if f.console_log:
                    run.artifacts.append((s.platform, f.index, "failed_console_log", str(f.console_log)))
            run.records.extend(_sweep_records(ctx, s, len(run.records)))
        densities.append(r.density_summary())
    # a launch failure inside a sweep is a limit it reached (stopped_by), not a failed platform
    return ctx.finish(run, [], density=densities, ksm_thp=policy)


def _f(v: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if v is None else fmt.format(v)


def scale_tables(doc: dict[str, Any]) -> list[Table]:
    t = Table(title=f"scalability: spawn -> ready vs concurrency (run {doc['run_id']})")
    for col in ("platform", "accel", "C", "ready/N", "p50 ms", "p95 ms", "p99 ms", "launches/s",
                "MiB/instance", "harness CPU", "stopped by"):
        t.add_column(col, justify="left" if col in ("platform", "accel", "stopped by") else "right")
    for r in doc["results"]:
        drop = r["memavailable_drop_kib_per_instance"]
        t.add_row(r["platform"], r["accel"] or "-", str(r["concurrency"]), f"{r['ready']}/{r['instances']}",
                  _f(r["p50_ms"]), _f(r["p95_ms"]), _f(r["p99_ms"]), _f(r["launch_rate_per_s"]),
                  _f(drop / 1024 if drop is not None else None, "{:.2f}"),
                  _f(r["harness_cpu_share"], "{:.0%}"), r["stopped_by"])
    tables = [t]
    for d in doc["density"]:
        dt = Table(title=f"{d['platform']}: density (MemAvailable drop), budget {d['budget_mib']:.0f} MiB "
                         f"-> {d['instances_in_budget']} instances ({d['label']})")
        for col in ("running", "drop MiB", "MiB/instance", "PSS MiB/instance", "label"):
            dt.add_column(col, justify="left" if col == "label" else "right")
        for p in d["curve"]:
            pss = p["pss_kib_per_instance"]
            dt.add_row(str(p["running"]), f"{p['memavailable_drop_kib'] / 1024:.1f}",
                       f"{p['memavailable_drop_kib_per_instance'] / 1024:.2f}",
                       _f(pss / 1024 if pss is not None else None, "{:.2f}"),
                       p["label"] if p["label"] == "measured" else f"[yellow]{p['label']}[/]")
        tables.append(dt)
    return tables


@bench_app.command("scale")
def scale_cmd(
    platform: str = typer.Option(..., "--platform", "-p", help="comma list of platform ids, or 'all' (usable ones)"),
    concurrency: str = typer.Option("1,2,4,8", "--concurrency", "-c", help="comma list of concurrency levels"),
    instances: int = typer.Option(16, "--instances", "-N", help="instances launched (and held) per sweep"),
    mem_budget: float = typer.Option(None, "--mem-budget", help="host memory budget in MiB: stop a sweep when "
                                     "MemAvailable dropped by more; also the budget of the density estimate"),
    json_out: bool = typer.Option(False, "--json", help="print JSON instead of tables"),
    db: Path = typer.Option(None, "--db", help="results DB (default: XDG data dir)"),
    guest_mem: int = typer.Option(256, "--guest-mem", help="guest RAM in MiB (VM platforms)"),
    time_limit: float = typer.Option(600.0, "--time-limit", help="seconds per sweep before it stops launching"),
    max_failures: int = typer.Option(0, "--max-failures", help="failed launches tolerated per sweep"),
    timeout: float = typer.Option(120.0, "--timeout", help="seconds to wait for ready per instance"),
) -> None:
    """Startup latency and launch rate vs concurrency, and how many instances fit in memory."""
    doc = run_scale(platform, concurrency, instances, mem_budget, db, guest_mem, time_limit, max_failures, timeout)
    if json_out:
        print_json(doc)
    else:
        for table in scale_tables(doc):
            out.print(table)
        if any(r["accel"] == "tcg" for r in doc["results"]):
            err.print("[yellow]note[/]: accel tcg = software emulation; not comparable with KVM figures.")
    stopped = [r for r in doc["results"] if r["stopped_by"] != "completed"]
    for r in stopped:
        err.print(f"[yellow]stopped[/] {r['platform']} C={r['concurrency']}: {r['stopped_by']} "
                  f"({r['ready']}/{r['instances']} ready)", highlight=False)
