"""`vmscope bench isolation`: what a workload can reach on each platform, and the isolation index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from vmscope.cli._app import bench_app
from vmscope.cli.benchkit import platform_class, prepare, raise_for_failures
from vmscope.cli.common import err, out, print_json, progress_bar
from vmscope.errors import UserError
from vmscope.evidence.store import load_all
from vmscope.guest.probe import EXCLUDED, syscall_table
from vmscope.measure.isolation import KernelKind, Reach, host_syscalls_reachable
from vmscope.measure.isolation_outside import ALL_CAPS
from vmscope.measure.isolation_run import PlatformIsolation, guest_probe, measure_isolation
from vmscope.measure.records import live_record
from vmscope.measure.rubric import Rubric, compute_index, load_rubric, published
from vmscope.model import Metric, Record, Statistic
from vmscope.platforms.base import Resources
from vmscope.store import Sample


def inside_privilege(r: PlatformIsolation) -> float | None:
    """0-1 on a shared kernel: half the capabilities held, half whether uid 0 inside is host uid 0."""
    ins = r.inside
    if ins.shares_host_kernel is None:
        return None
    if not ins.shares_host_kernel:
        return 0.0
    if ins.cap_count is None:
        return None
    return round(0.5 * min(ins.cap_count, ALL_CAPS) / ALL_CAPS + 0.5 * float(bool(ins.root_is_host_root)), 4)


def result_row(r: PlatformIsolation, rubric: Rubric, records: list[Record]) -> dict[str, Any]:
    """One platform's JSON result: the headline figures, the index and every component."""
    pclass = platform_class(r.platform)
    ev_plats = rubric.evidence_platforms.get(r.platform, (r.platform,))
    host_filter = published(records, ev_plats, rubric.host_filter_measures, rubric.host_filter_aggregate)
    reachable, reach_source = host_syscalls_reachable(r.inside, host_filter[0] if host_filter else None)
    measured = {
        "shares_host_kernel": r.inside.shares_host_kernel,
        "host_syscalls_reachable": reachable,
        "host_exposure": r.inside.host_exposure(),
        "inside_privilege": inside_privilege(r),
        "outside_confinement": r.outside.confinement(),
        "emulated_device_count": r.outside.emulated_devices,
    }
    index, components = compute_index(rubric, r.platform, pclass, measured, records)
    if host_filter is not None and r.inside.kernel is KernelKind.user_space:
        components["host_syscalls_reachable"].update(source="published", evidence=host_filter[1])
    counts = r.inside.counts
    return {
        "platform": r.platform,
        "accel": r.accel,
        "shares_host_kernel": r.inside.shares_host_kernel,
        "host_syscalls_reachable": reachable,
        "syscalls_blocked": r.inside.blocked,
        "index": index,
        "components": components,
        "platform_class": pclass,
        "kernel": r.inside.kernel.value,
        "host_syscalls_source": reach_source,
        "guest_syscalls_reachable": counts.get(Reach.kernel.value, 0) if r.inside.kernel is KernelKind.guest else None,
        "sandbox_syscalls_handled": counts.get(Reach.user_space_kernel.value, 0)
        if r.inside.kernel is KernelKind.user_space else None,
        "seccomp_profile": r.seccomp_profile,
        "inside": r.inside.summary(),
        "outside": r.outside.summary(),
        "console_log": str(r.console_log or ""),
    }


def _records_for(ctx: Any, row: dict[str, Any], start: int) -> list[Record]:
    facts = [("host_syscalls_reachable", row["host_syscalls_reachable"], "syscalls", row["host_syscalls_source"]),
             ("syscalls_blocked", row["syscalls_blocked"], "syscalls", "measured: syscalls a filter stopped"),
             ("shares_host_kernel", None if row["shares_host_kernel"] is None else int(row["shares_host_kernel"]),
              "bool", "measured: boot_id and uname seen inside equal the host's"),
             ("isolation_index", row["index"], "ratio", "vmscope isolation rubric (docs/isolation.md), 0-1"),
             ("emulated_device_count", row["outside"]["emulated_devices"], "devices", "measured: QMP info qtree")]
    recs = []
    for measure, value, unit, note in facts:
        if value is None or note.startswith("published"):
            continue  # a figure taken from the evidence base is not re-exported as a live measurement
        recs.append(live_record(
            run_id=ctx.run_id, index=start + len(recs), platform=row["platform"], metric=Metric.isolation,
            measure=measure, value=float(value), unit=unit, statistic=Statistic.single, host=ctx.host,
            guest=ctx.guest_fingerprint(), accel=row["accel"], n=1, db_path=str(ctx.db.path), notes=note,
            extra_conditions="" if row["seccomp_profile"] else "container seccomp profile off",
        ))
    return recs


def run_isolation(platform: str = "all", db: Path | None = None, rubric_path: Path | None = None,
                  trace: bool = False, timeout: float = 180.0, seccomp: bool = True,
                  show_progress: bool = True) -> dict[str, Any]:
    """The whole bench: measure, index, store (one transaction), return the JSON document."""
    rubric = load_rubric(rubric_path)  # a bad rubric fails now, not after minutes of measuring
    records = load_all()
    ctx = prepare("isolation", platform, db, exclude=("kvm-floor",))
    path, kind = guest_probe(ctx.guest)
    if path is None:
        raise UserError("the shared guest has no isolation probe (it was built by an older vmscope)",
                        hint="rebuild it: `vmscope guest build`")
    res = Resources(mode="hold", probe=True, seccomp=seccomp)
    with progress_bar("isolation", len(ctx.platforms) + 1, show_progress) as advance:
        results, failures, baseline_note = measure_isolation(ctx.platforms, ctx.guest, res, timeout, ctx.log_dir,
                                                             trace=trace, progress=advance)
    table = syscall_table()
    run = ctx.new_run({"platforms": ctx.platforms, "skipped": ctx.skipped, "rubric": rubric.describe(),
                       "probe": kind, "baseline": baseline_note, "trace": trace, "seccomp_profile": seccomp,
                       "timeout_s": timeout, "sweep_end": table.sweep_end, "excluded_syscalls": sorted(EXCLUDED),
                       "failures": {f.platform: f.error for f in failures}})
    for r in results:
        row = result_row(r, rubric, records)
        run.results.append(row)
        run.samples.append(Sample(r.platform, r.accel, 0, "host_syscalls_reachable", row["host_syscalls_reachable"],
                                  "syscalls", {"classes": {table.name(n): c for n, c in r.inside.classes.items()}}))
        run.records.extend(_records_for(ctx, row, len(run.records)))
        if r.console_log:
            run.artifacts.append((r.platform, 0, "console_log", str(r.console_log)))
    return ctx.finish(run, failures, rubric=rubric.describe(), probe=kind, baseline=baseline_note)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def isolation_tables(doc: dict[str, Any]) -> list[Table]:
    rows = sorted(doc["results"], key=lambda r: -r["index"])
    t = Table(title=f"isolation (run {doc['run_id']}, rubric {doc['rubric']['name']}, probe {doc['probe']})")
    for col in ("platform", "accel", "kernel", "shares host kernel", "host syscalls reachable", "blocked",
                "guest/sandbox syscalls", "index"):
        t.add_column(col, justify="left" if col in ("platform", "accel", "kernel") else "right")
    for r in rows:
        own = r["guest_syscalls_reachable"] if r["guest_syscalls_reachable"] is not None \
            else r["sandbox_syscalls_handled"]
        reach = _fmt(r["host_syscalls_reachable"]) + (" (published)" if "published" in r["host_syscalls_source"]
                                                      else "")
        t.add_row(r["platform"], r["accel"] or "-", r["kernel"], _fmt(r["shares_host_kernel"]), reach,
                  _fmt(r["syscalls_blocked"]), _fmt(own), f"{r['index']:.3f}")
    c = Table(title="index components: raw value -> contribution (source)")
    c.add_column("component")
    for r in rows:
        c.add_column(r["platform"], justify="right")
    names = list(rows[0]["components"]) if rows else []
    for name in names:
        cells = []
        for r in rows:
            comp = r["components"][name]
            if comp["source"] == "not_applicable":
                cells.append("n/a")
                continue
            cells.append(f"{_fmt(comp['raw'])} -> {comp['contribution']:.3f} ({comp['source'][:4]})")
        c.add_row(name, *cells)
    return [t, c]


@bench_app.command("isolation")
def isolation_cmd(
    platform: str = typer.Option("all", "--platform", "-p", help="comma list of platform ids, or 'all' (usable ones)"),
    json_out: bool = typer.Option(False, "--json", help="print JSON instead of tables"),
    rubric: Path = typer.Option(None, "--rubric", help="rubric JSON file (default: shipped; docs/isolation.md)"),
    db: Path = typer.Option(None, "--db", help="results DB (default: XDG data dir)"),
    trace: bool = typer.Option(False, "--trace", help="also count distinct host syscalls of the VMM/runtime (strace)"),
    timeout: float = typer.Option(180.0, "--timeout", help="seconds to wait for each guest's probe and ready"),
) -> None:
    """Isolation measured from inside and outside each platform, combined into a 0-1 index."""
    doc = run_isolation(platform, db, rubric, trace, timeout, show_progress=not json_out)
    if json_out:
        print_json(doc)
    else:
        for table in isolation_tables(doc):
            out.print(table)
        if any(r["accel"] == "tcg" for r in doc["results"]):
            err.print("[yellow]note[/]: accel tcg = software emulation; the guest's view does not depend on it.")
    raise_for_failures(doc)
