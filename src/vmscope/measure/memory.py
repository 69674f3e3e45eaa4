"""Memory footprint of instances held at ready: per process (PSS/USS/RSS), VMM overhead, guest view, system view.

- Per process: /proc/<pid>/smaps_rollup of every host process of the instance (VMM/runtime + helpers).
- VMM overhead (VMs only): the instance's host memory minus the guest-RAM mapping of the VMM, found
  in /proc/<vmm>/smaps by size (anonymous mapping of exactly the guest RAM, or a memory-backend
  file) -- the method Firecracker's memory-overhead spec uses. The excluded mapping is reported.
- Guest view: MemTotal/MemAvailable the guest's init printed (VMSCOPE-MEM).
- System view: drop of the host's MemAvailable per instance with N instances held at ready, with the
  KSM and THP state that changes what that drop means.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmscope.measure import smaps
from vmscope.measure.failures import PlatformFailure
from vmscope.measure.fleet import Fleet
from vmscope.model import VM_CLASSES
from vmscope.platforms import PLATFORMS, get_driver
from vmscope.platforms.base import Instance, Resources
from vmscope.platforms.console import MARK_MEM, parse_fields
from vmscope.stats import interleaved_order

SETTLE_S = 0.5  # after the last instance is ready, before reading memory (lazy frees, page-table setup)


# -- host state -------------------------------------------------------------------------------
def read_meminfo(path: str = "/proc/meminfo") -> dict[str, int]:
    with open(path) as f:
        return smaps.parse_fields(f.read())


def mem_available_kib() -> int:
    return read_meminfo()["MemAvailable"]


def _read_text(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def bracketed(text: str | None) -> str | None:
    """`always [madvise] never` -> `madvise` (the selected value of a sysfs choice file)."""
    if not text:
        return None
    for tok in text.split():
        if tok.startswith("[") and tok.endswith("]"):
            return tok[1:-1]
    return text


def memory_policy_state(sys_root: str = "/sys/kernel/mm") -> dict[str, Any]:
    """KSM and transparent-huge-page settings: both change how much host memory N guests take."""
    def num(p: str) -> int | None:
        t = _read_text(f"{sys_root}/{p}")
        return int(t) if t is not None and t.lstrip("-").isdigit() else None

    return {
        "ksm_run": num("ksm/run"),
        "ksm_pages_sharing": num("ksm/pages_sharing"),
        "ksm_pages_shared": num("ksm/pages_shared"),
        "thp_enabled": bracketed(_read_text(f"{sys_root}/transparent_hugepage/enabled")),
        "thp_defrag": bracketed(_read_text(f"{sys_root}/transparent_hugepage/defrag")),
    }


# -- one instance ---------------------------------------------------------------------------
@dataclass
class InstanceMemory:
    platform: str
    processes: list[dict[str, Any]]
    pss_kib: int
    uss_kib: int
    rss_kib: int
    vmm_overhead_kib: int | None
    vmm_overhead_rss_kib: int | None
    guest_ram_mapping: dict[str, Any] | None
    guest_memtotal_kib: int | None
    guest_memavailable_kib: int | None


def _role(index: int, is_vm: bool, platform: str) -> str:
    if index > 0:
        return "helper"
    if is_vm:
        return "vmm"
    return "workload" if platform == "process" else "runtime"


def guest_view(inst: Instance) -> tuple[int | None, int | None]:
    m = inst.console.mark(MARK_MEM)
    if not m:
        return None, None
    f = parse_fields(m[1])
    total, avail = f.get("memtotal_kib"), f.get("memavailable_kib")
    return (int(total) if total and total.isdigit() else None, int(avail) if avail and avail.isdigit() else None)


def account_instance(inst: Instance, guest_mem_mib: int) -> InstanceMemory:
    """Sum PSS/USS/RSS over the instance's host processes; for a VM, subtract the guest-RAM mapping."""
    is_vm = inst.platform_class in VM_CLASSES
    pids = inst.pids()
    mems = smaps.sample(pids)
    procs = [{**m.as_dict(), "role": _role(i, is_vm, inst.platform)} for i, m in enumerate(mems)]
    pss = sum(m.pss_kib for m in mems)
    uss = sum(m.uss_kib for m in mems)
    rss = sum(m.rss_kib for m in mems)
    overhead = overhead_rss = None
    ram_desc = None
    if is_vm and pids:
        ram = smaps.find_guest_ram(smaps.read_smaps(pids[0]), guest_mem_mib)
        if ram is not None:
            overhead, overhead_rss = pss - ram.pss_kib, rss - ram.rss_kib
            ram_desc = {**ram.describe(), "process": pids[0],
                        "match": "anonymous mapping of the guest RAM size" if ram.anonymous
                        else "memory-backend mapping of the guest RAM size"}
    total, avail = guest_view(inst)
    return InstanceMemory(inst.platform, procs, pss, uss, rss, overhead, overhead_rss, ram_desc, total, avail)


# -- trials -----------------------------------------------------------------------------------
@dataclass
class MemoryTrial:
    trial: int
    instances: list[InstanceMemory]
    memavailable_before_kib: int
    memavailable_after_kib: int
    policy: dict[str, Any]

    @property
    def n(self) -> int:
        return len(self.instances)

    def per_instance(self, attr: str) -> float | None:
        vals = [getattr(i, attr) for i in self.instances if getattr(i, attr) is not None]
        return sum(vals) / len(vals) if vals else None

    @property
    def memavailable_drop_kib(self) -> float:
        return (self.memavailable_before_kib - self.memavailable_after_kib) / max(self.n, 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "trial": self.trial, "instances": self.n,
            **{f"{a}": self.per_instance(a) for a in ("pss_kib", "uss_kib", "rss_kib", "vmm_overhead_kib")},
            "memavailable_before_kib": self.memavailable_before_kib,
            "memavailable_after_kib": self.memavailable_after_kib,
            "memavailable_drop_kib": self.memavailable_drop_kib,
            **self.policy,
        }


@dataclass
class MemoryResult:
    platform: str
    accel: str | None
    guest_mem_mib: int
    trials: list[MemoryTrial] = field(default_factory=list)

    def series(self, attr: str) -> list[float]:
        if attr == "memavailable_drop_kib":
            return [t.memavailable_drop_kib for t in self.trials]
        return [v for v in (t.per_instance(attr) for t in self.trials) if v is not None]

    def median(self, attr: str) -> float | None:
        vals = self.series(attr)
        return float(statistics.median(vals)) if vals else None

    def summary_row(self) -> dict[str, Any]:
        last = self.trials[-1].instances[0] if self.trials and self.trials[-1].instances else None
        return {
            "platform": self.platform,
            "accel": self.accel,
            **{a: self.median(a) for a in ("pss_kib", "uss_kib", "rss_kib", "vmm_overhead_kib",
                                           "memavailable_drop_kib", "vmm_overhead_rss_kib",
                                           "guest_memtotal_kib", "guest_memavailable_kib")},
            "guest_mem_mib": self.guest_mem_mib,
            "processes": last.processes if last else [],
            "guest_ram_mapping": last.guest_ram_mapping if last else None,
            "instances": self.trials[0].n if self.trials else 0,
            "n_trials": len(self.trials),
            "trials": [t.as_dict() for t in self.trials],
            "ksm_thp": self.trials[-1].policy if self.trials else {},
            "notes": _notes(self, last),
        }


def _notes(result: MemoryResult, last: InstanceMemory | None) -> list[str]:
    notes = ["values are per instance, median over trials; PSS/USS/RSS summed over the instance's host processes",
             "memavailable_drop_kib: host MemAvailable before launch minus with all instances ready, / instances"]
    if last is not None and last.vmm_overhead_kib is None:
        if last.guest_ram_mapping is None and PLATFORMS[result.platform].platform_class in VM_CLASSES:
            notes.append("no guest-RAM mapping of the guest RAM size was found: VMM overhead not computed")
        else:
            notes.append("not a VM: there is no guest-RAM mapping, so no VMM overhead (all of it is the instance)")
    return notes


ProgressFn = Callable[[str, int], None]


def run_memory_trial(platform: str, guest: object, resources: Resources, trial: int, instances: int,
                     timeout_s: float, log_dir: Path | None,
                     settle_s: float = SETTLE_S) -> tuple[MemoryTrial, str | None]:
    """Hold `instances` instances at ready, measure them all, stop them all; return the trial and accel."""
    driver = get_driver(platform)
    before = mem_available_kib()
    with Fleet(driver, guest, resources, timeout_s, log_dir) as fleet:
        fleet.launch(instances, instances, max_failures=0)
        if fleet.failures:
            f = fleet.failures[0]
            raise MemoryTrialError(f.error, f.console_log)
        time.sleep(settle_s)  # a fixed settling delay, not a wait for a condition
        after = mem_available_kib()
        running = fleet.running()
        accounted = [account_instance(i, resources.mem_mib) for i in running]
        policy = memory_policy_state()
        accel = running[0].accel if running else None
    return MemoryTrial(trial, accounted, before, after, policy), accel


class MemoryTrialError(Exception):
    def __init__(self, error: str, console_log: Path | None):
        super().__init__(error)
        self.console_log = console_log


def measure_memory(platforms: list[str], guest: object, resources: Resources, trials: int, instances: int,
                   timeout_s: float = 120.0, log_dir: Path | None = None, progress: ProgressFn | None = None,
                   settle_s: float = SETTLE_S) -> tuple[list[MemoryResult], list[PlatformFailure]]:
    """Interleaved trials (A B C C B A ...); a platform that fails is dropped from the rest of the run."""
    results = {p: MemoryResult(p, None, resources.mem_mib) for p in platforms}
    failures: dict[str, PlatformFailure] = {}
    for platform, trial in interleaved_order(platforms, trials):
        if platform not in failures:
            try:
                t, accel = run_memory_trial(platform, guest, resources, trial, instances, timeout_s, log_dir, settle_s)
            except MemoryTrialError as exc:
                failures[platform] = PlatformFailure(platform, str(exc), exc.console_log, trial)
            else:
                results[platform].trials.append(t)
                results[platform].accel = accel
        if progress:
            progress(platform, trial)
    ok = [r for p, r in results.items() if p not in failures and r.trials]
    return ok, list(failures.values())
