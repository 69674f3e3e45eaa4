"""`vmscope bench memory`: PSS/USS/RSS, VMM overhead, guest view and MemAvailable drop per platform."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from vmscope.cli._app import bench_app
from vmscope.cli.benchkit import BenchContext, prepare, raise_for_failures
from vmscope.cli.common import err, out, print_json, progress_bar
from vmscope.errors import UserError
from vmscope.measure.memory import MemoryResult, measure_memory
from vmscope.measure.records import live_record
from vmscope.model import Metric, Record, Statistic
from vmscope.platforms.base import Resources
from vmscope.store import Sample

# JSON key -> evidence measure name (per instance, KiB, median over trials)
RECORD_MEASURES = {
    "pss_kib": "pss_per_instance",
    "uss_kib": "uss_per_instance",
    "vmm_overhead_kib": "vmm_memory_overhead",
    "memavailable_drop_kib": "memavailable_drop_per_instance",
}


def _records(ctx: BenchContext, r: MemoryResult, row: dict[str, Any], start: int) -> list[Record]:
    recs = []
    policy = row["ksm_thp"]
    extra = (f"guest RAM {r.guest_mem_mib} MiB; {row['instances']} instance(s) held at ready; "
             f"KSM run={policy.get('ksm_run')}, THP {policy.get('thp_enabled')}")
    for key, measure in RECORD_MEASURES.items():
        if row.get(key) is None:
            continue
        samples = r.series(key)
        recs.append(live_record(
            run_id=ctx.run_id, index=start + len(recs), platform=r.platform, metric=Metric.memory_footprint,
            measure=measure, value=float(row[key]), unit="KiB", statistic=Statistic.median, host=ctx.host,
            guest=ctx.guest_fingerprint(), accel=r.accel, n=len(samples),
            low=min(samples) if samples else None, high=max(samples) if samples else None,
            samples=samples, db_path=str(ctx.db.path), extra_conditions=extra,
            notes="median over trials of the per-instance value; low/high: min/max over trials",
        ))
    return recs


def run_memory(platform: str = "all", trials: int = 3, guest_mem: int = 256, instances: int = 4,
               db: Path | None = None, timeout: float = 120.0, show_progress: bool = True) -> dict[str, Any]:
    """The whole bench: measure, store (one transaction), return the JSON document."""
    if trials < 1:
        raise UserError("--trials must be at least 1")
    if instances < 1:
        raise UserError("--instances must be at least 1")
    if guest_mem < 16:
        raise UserError("--guest-mem must be at least 16 MiB")
    ctx = prepare("memory", platform, db, exclude=("kvm-floor",))
    res = Resources(mem_mib=guest_mem, mode="hold")
    with progress_bar("memory", trials * len(ctx.platforms), show_progress) as advance:
        results, failures = measure_memory(ctx.platforms, ctx.guest, res, trials, instances, timeout, ctx.log_dir,
                                           progress=lambda p, t: advance(f"{p} trial {t + 1}"))
    run = ctx.new_run({"trials": trials, "guest_mem_mib": guest_mem, "instances": instances, "timeout_s": timeout,
                       "platforms": ctx.platforms, "skipped": ctx.skipped,
                       "failures": {f.platform: f.error for f in failures}})
    for r in results:
        row = r.summary_row()
        run.results.append(row)
        for t in r.trials:
            for k, inst in enumerate(t.instances):
                run.samples.append(Sample(r.platform, r.accel, t.trial, "pss_kib", inst.pss_kib, "KiB",
                                          {"instance": k, "uss_kib": inst.uss_kib, "rss_kib": inst.rss_kib,
                                           "vmm_overhead_kib": inst.vmm_overhead_kib,
                                           "processes": inst.processes}))
            run.samples.append(Sample(r.platform, r.accel, t.trial, "memavailable_drop_kib",
                                      t.memavailable_drop_kib, "KiB", t.as_dict()))
        run.records.extend(_records(ctx, r, row, len(run.records)))
    return ctx.finish(run, failures)


def _mib(kib: float | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f}"


def memory_table(doc: dict[str, Any]) -> Table:
    t = Table(title=f"memory per instance, MiB, median over trials (run {doc['run_id']})")
    for col in ("platform", "accel", "procs", "PSS", "USS", "RSS", "VMM overhead", "guest MemTotal",
                "MemAvailable drop"):
        t.add_column(col, justify="left" if col in ("platform", "accel") else "right")
    for r in sorted(doc["results"], key=lambda r: r["pss_kib"] or 0):
        t.add_row(r["platform"], r["accel"] or "-", str(len(r["processes"])), _mib(r["pss_kib"]), _mib(r["uss_kib"]),
                  _mib(r["rss_kib"]), _mib(r["vmm_overhead_kib"]), _mib(r["guest_memtotal_kib"]),
                  _mib(r["memavailable_drop_kib"]))
    return t


@bench_app.command("memory")
def memory_cmd(
    platform: str = typer.Option("all", "--platform", "-p", help="comma list of platform ids, or 'all' (usable ones)"),
    trials: int = typer.Option(3, "--trials", "-n", help="trials per platform"),
    guest_mem: int = typer.Option(256, "--guest-mem", help="guest RAM in MiB (VM platforms)"),
    instances: int = typer.Option(4, "--instances", help="instances held at ready per trial (system view)"),
    json_out: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    db: Path = typer.Option(None, "--db", help="results DB (default: XDG data dir)"),
    timeout: float = typer.Option(120.0, "--timeout", help="seconds to wait for ready per instance"),
) -> None:
    """Memory footprint of the shared guest held at ready on each platform."""
    doc = run_memory(platform, trials, guest_mem, instances, db, timeout, show_progress=True)
    if json_out:
        print_json(doc)
    else:
        out.print(memory_table(doc))
        for r in doc["results"]:
            m = r["guest_ram_mapping"]
            if m:
                err.print(f"{r['platform']}: excluded guest-RAM mapping {m['range']} ({m['size_kib']} KiB, "
                          f"{m['pathname']}, PSS {m['pss_kib']} KiB)", highlight=False)
        policy = doc["results"][0]["ksm_thp"] if doc["results"] else {}
        if policy:
            err.print(f"KSM run={policy.get('ksm_run')} pages_sharing={policy.get('ksm_pages_sharing')}; "
                      f"THP enabled={policy.get('thp_enabled')}", highlight=False)
    raise_for_failures(doc)
