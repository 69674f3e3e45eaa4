"""Synthetic stored runs for report tests: every bench, TCG VMs, and hostile evidence text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vmscope.measure.records import live_record
from vmscope.model import Metric, Record, Statistic
from vmscope.store import ResultsDB, Run, Sample

EVIL = "<script>alert(1)</script>"
HOST: dict[str, Any] = {
    "hostname": f"box{EVIL}", "cpu_model": "Test CPU", "cores": 2, "mem_total_mib": 24000, "kernel": "6.1.0-test",
    "arch": "x86_64", "os": "Debian 12", "cgroup_mode": "hybrid", "kvm_device": True, "tools": {"qemu": "7.2"},
}
GUEST: dict[str, Any] = {"kernel_version": "6.1.0-cloud", "kernel_source": "debian",
                         "hashes": {"kernel": "ab" * 16, "initramfs": "cd" * 16}}
# platform -> (accel, spawn -> ready median ms)
STARTUP = {"process": (None, 1.2), "runc": (None, 60.0), "gvisor": (None, 110.0), "kvm-floor": ("kvm", 0.6),
           "qemu-q35": ("tcg", 2100.0), "qemu-microvm": ("tcg", 3600.0)}


def _run(bench: str, run_id: str, created: str) -> Run:
    return Run(run_id=run_id, bench=bench, command=f"vmscope bench {bench}", vmscope_version="0.1.0", host=HOST,
               guest=GUEST, params={}, created_at=created)


def _rec(run: Run, i: int, **kw: Any) -> Record:
    return live_record(run_id=run.run_id, index=i, host=HOST, guest=GUEST, **kw)


def startup_run() -> Run:
    run = _run("startup", "20250101T000000Z-st0001", "2025-01-01T00:00:00+00:00")
    for i, (pid, (accel, med)) in enumerate(STARTUP.items()):
        samples = [med * f for f in (0.9, 0.95, 1.0, 1.05, 1.2)]
        vm = pid.startswith("qemu")
        phases = ({"vmm_firmware": med * 0.3, "kernel": med * 0.6, "init_to_ready": med * 0.1} if vm
                  else {"runtime_setup": med * 0.8, "init_to_ready": med * 0.2})
        run.results.append({"platform": pid, "accel": accel, "n": 5, "median_ms": med, "p95_ms": med * 1.2,
                            "ci_low_ms": med * 0.9, "ci_high_ms": med * 1.05, "samples_ms": samples,
                            "phases_ms": phases, "warnings": ["noisy: CoV 12% > 10%"] if pid == "runc" else []})
        run.samples += [Sample(pid, accel, t, "spawn_to_ready", s, "ms") for t, s in enumerate(samples)]
        run.records.append(_rec(run, i, platform=pid, metric=Metric.startup_latency, measure="spawn_to_ready",
                                value=med, unit="ms", statistic=Statistic.median, accel=accel, n=5,
                                low=med * 0.9, high=med * 1.05, samples=samples, notes=f"notes {EVIL}"))
    return run


def memory_run() -> Run:
    run = _run("memory", "20250101T000100Z-me0001", "2025-01-01T00:01:00+00:00")
    rows = {"runc": (None, 4000, None), "gvisor": (None, 60000, None), "qemu-q35": ("tcg", 180000, 30000),
            "qemu-microvm": ("tcg", 150000, 12000)}
    for i, (pid, (accel, pss, over)) in enumerate(rows.items()):
        run.results.append({"platform": pid, "accel": accel, "pss_kib": pss, "uss_kib": pss * 0.9, "rss_kib": pss * 1.1,
                            "vmm_overhead_kib": over, "guest_memtotal_kib": 240000 if over else None,
                            "memavailable_drop_kib": pss * 1.05,
                            "processes": [{"name": f"proc{EVIL}", "pid": 100 + i, "role": "vmm", "pss_kib": pss}]})
        run.records.append(_rec(run, 2 * i, platform=pid, metric=Metric.memory_footprint, measure="pss_per_instance",
                                value=pss, unit="KiB", statistic=Statistic.median, accel=accel, n=3))
        if over:
            run.records.append(_rec(run, 2 * i + 1, platform=pid, metric=Metric.memory_footprint,
                                    measure="vmm_memory_overhead", value=over, unit="KiB",
                                    statistic=Statistic.median, accel=accel, n=3))
    return run


def scale_run() -> Run:
    run = _run("scale", "20250101T000200Z-sc0001", "2025-01-01T00:02:00+00:00")
    i = 0
    for pid, accel, base in (("runc", None, 60.0), ("qemu-microvm", "tcg", 3600.0)):
        for c in (1, 2, 4, 8):
            run.results.append({
                "platform": pid, "accel": accel, "concurrency": c, "instances": 8, "ready": 8,
                "p50_ms": base * c ** 0.5, "p95_ms": base * c ** 0.6,
                "p99_ms": base * c ** 0.7, "launch_rate_per_s": 1000 / base * c ** 0.7,
                "memavailable_drop_kib_per_instance": 5000.0 if accel is None else 160000.0, "stopped_by": "completed",
                "density": [{"running": k, "memavailable_drop_kib": k * (5000.0 if accel is None else 160000.0) + 900,
                             "pss_kib_per_instance": None, "label": "measured"} for k in (8, 4, 2, 1)],
            })
            run.records.append(_rec(run, i, platform=pid, metric=Metric.scalability,
                                    measure="boot_latency_at_concurrency", value=base * c ** 0.5, unit="ms",
                                    statistic=Statistic.median, accel=accel, n=8, concurrency=c))
            i += 1
    return run


def isolation_run() -> Run:
    run = _run("isolation", "20250101T000300Z-is0001", "2025-01-01T00:03:00+00:00")
    rows = {"process": (None, True, 330, 0, 0.1), "runc": (None, True, 290, 40, 0.3),
            "gvisor": (None, False, 60, 0, 0.7), "qemu-q35": ("tcg", False, 0, 0, 0.8)}
    for i, (pid, (accel, shares, reach, blocked, index)) in enumerate(rows.items()):
        run.results.append({
            "platform": pid, "accel": accel, "shares_host_kernel": shares, "host_syscalls_reachable": reach,
            "syscalls_blocked": blocked, "index": index,
            "components": {"shares_host_kernel": {"raw": shares, "score": 0.0 if shares else 1.0, "weight": 0.25,
                                                  "contribution": 0.0 if shares else 0.25, "source": "measured"},
                           "host_syscalls_reachable": {"raw": reach, "score": 1 - reach / 400, "weight": 0.2,
                                                       "contribution": 0.2 * (1 - reach / 400), "source": "measured"},
                           "language": {"raw": f"C {EVIL}", "score": 0.5, "weight": 0.1, "contribution": 0.05,
                                        "source": "published"}},
        })
        run.records.append(_rec(run, i, platform=pid, metric=Metric.isolation, measure="host_syscalls_reachable",
                                value=reach, unit="count", statistic=Statistic.single, accel=accel))
    return run


def make_db(path: Path, benches: tuple[str, ...] = ("startup", "memory", "scale", "isolation")) -> Path:
    makers = {"startup": startup_run, "memory": memory_run, "scale": scale_run, "isolation": isolation_run}
    with ResultsDB(path) as db:
        for b in benches:
            db.save_run(makers[b]())
    return path


def evil_published() -> Record:
    """A published record whose every text field is hostile, and whose URL is a javascript: link."""
    return Record.model_validate({
        "id": "evil-1",
        "source": {"key": "evil2024", "authors": f"Mallory {EVIL}", "title": f"Fast VMs {EVIL}",
                   "venue": "Blog", "year": 2024, "url": "javascript:alert(1)"},
        "platform": "firecracker", "platform_class": "microvm", "metric": "startup_latency",
        "measure": "vmm_exec_to_guest_init", "value": 100, "unit": "ms", "statistic": "median",
        "conditions": EVIL, "notes": f"notes {EVIL}", "kind": "blog",
    })
