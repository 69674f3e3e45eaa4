"""Isolation, outside view: the host processes of a held instance, as the host sees them.

For each PID of the instance (VMM/runtime and helpers): seccomp mode and filter count, CapEff, uids,
NoNewPrivs, and which namespaces differ from the host's (those of this vmscope process, which runs in
the host's namespaces). For QEMU: the emulated device count from QMP (`info qtree`). Optionally the
distinct host syscalls the VMM/runtime made (strace -f -c attached from launch to ready).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmscope.errors import UserError
from vmscope.measure.isolation import cap_count, int_or_none

NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")
ALL_CAPS = 41  # capabilities in Linux 6.x (CAP_CHECKPOINT_RESTORE = 40 is the last)
QMP_TIMEOUT_S = 5.0
STRACE_STOP_TIMEOUT_S = 5.0


@dataclass
class ProcessView:
    pid: int
    name: str
    uid: int | None
    cap_count: int | None
    seccomp_mode: int | None
    seccomp_filters: int | None
    no_new_privs: bool | None
    namespaces_unshared: list[str]  # namespaces that differ from the host's

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _status(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _ns_ids(proc: Path) -> dict[str, str]:
    ids = {}
    for ns in NAMESPACES:
        with contextlib.suppress(OSError):
            ids[ns] = os.readlink(proc / "ns" / ns)
    return ids


def process_view(pid: int, host_ns: dict[str, str] | None = None,
                 proc_root: Path = Path("/proc")) -> ProcessView | None:
    """None when the process is gone."""
    proc = proc_root / str(pid)
    try:
        st = _status((proc / "status").read_text())
    except OSError:
        return None
    host_ns = host_ns if host_ns is not None else _ns_ids(proc_root / "self")
    mine = _ns_ids(proc)
    nnp = int_or_none(st.get("NoNewPrivs"))
    return ProcessView(
        pid=pid,
        name=st.get("Name", "?"),
        uid=int_or_none((st.get("Uid") or "").split()[1]) if len((st.get("Uid") or "").split()) > 1 else None,
        cap_count=cap_count(st.get("CapEff", "")),
        seccomp_mode=int_or_none(st.get("Seccomp")),
        seccomp_filters=int_or_none(st.get("Seccomp_filters")),
        no_new_privs=None if nnp is None else bool(nnp),
        namespaces_unshared=sorted(ns for ns, ident in mine.items() if host_ns.get(ns) not in (None, ident)),
    )


@dataclass
class OutsideView:
    processes: list[ProcessView] = field(default_factory=list)
    emulated_devices: int | None = None
    emulated_devices_note: str = ""
    trace_syscalls: int | None = None
    trace_note: str = ""

    def confinement(self) -> float | None:
        """0-1: mean over the instance's host processes of (seccomp filtered, namespaces unshared, not uid 0,
        capabilities dropped) — how confined the host-side code the workload drives is."""
        if not self.processes:
            return None
        scores = []
        for p in self.processes:
            parts = [
                1.0 if p.seccomp_mode == 2 else 0.0,
                len(p.namespaces_unshared) / len(NAMESPACES),
                0.0 if p.uid == 0 else 1.0,
                1.0 - min(p.cap_count or 0, ALL_CAPS) / ALL_CAPS,
            ]
            scores.append(sum(parts) / len(parts))
        return round(sum(scores) / len(scores), 4)

    def summary(self) -> dict[str, Any]:
        return {
            "processes": [p.as_dict() for p in self.processes],
            "seccomp_filtered_processes": sum(1 for p in self.processes if p.seccomp_mode == 2),
            "root_processes": sum(1 for p in self.processes if p.uid == 0),
            "confinement": self.confinement(),
            "emulated_devices": self.emulated_devices,
            "emulated_devices_note": self.emulated_devices_note,
            "trace_distinct_syscalls": self.trace_syscalls,
            "trace_note": self.trace_note,
        }


def outside_view(pids: list[int]) -> OutsideView:
    host_ns = _ns_ids(Path("/proc/self"))
    views = [v for v in (process_view(p, host_ns) for p in pids) if v is not None]
    return OutsideView(processes=views)


# --- QEMU: emulated devices over QMP


def qtree_devices(qtree: str) -> dict[str, int]:
    """Device models in `info qtree` output (one `dev: <model>, id ...` line per device, on every bus) -> count."""
    counts: dict[str, int] = {}
    for m in re.finditer(r"^\s*dev:\s*([^,\s]+)", qtree, re.M):
        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


def count_qtree_devices(qtree: str) -> int:
    """Distinct emulated device models: each is its own piece of guest-reachable emulation code (24 empty
    virtio-mmio transports of a microvm are one model, not 24)."""
    return len(qtree_devices(qtree))


def emulated_device_count(instance: object) -> tuple[int | None, str]:
    """Distinct emulated device models of the instance (`info qtree` over QMP), through the QEMU driver's
    client when it has one; the note lists every model with its instance count."""
    hmp_args = {"command-line": "info qtree"}
    connect = getattr(instance, "qmp", None)
    if not callable(connect):  # platforms/qemu.py: QemuInstance.qmp() -> a connected QmpClient
        return None, "the instance exposes no QMP socket"
    try:
        with connect(QMP_TIMEOUT_S) as client:
            text = str(client.execute("human-monitor-command", hmp_args))
    except (UserError, OSError, ValueError, TimeoutError) as exc:
        return None, f"QMP query failed: {exc}"
    devices = qtree_devices(text)
    listing = ", ".join(f"{k} x{v}" if v > 1 else k for k, v in sorted(devices.items()))
    return len(devices), f"distinct device models in QMP info qtree: {listing}"


# --- optional: distinct host syscalls during boot


class Tracer:
    """`strace -f -c` attached to the instance's processes right after launch, stopped at ready."""

    def __init__(self, pids: list[int], out: Path):
        self.out = out
        self.proc: subprocess.Popen | None = None
        self.note = ""
        exe = shutil.which("strace")
        if exe is None:
            self.note = "strace not installed (apt-get install strace)"
            return
        argv = [exe, "-f", "-c", "-U", "name,calls", "-o", str(out)]
        for p in pids:
            argv += ["-p", str(p)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.note = "strace -f -c attached just after launch, stopped at ready (the VMM's first steps are missed)"

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        try:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=STRACE_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STRACE_STOP_TIMEOUT_S)
            self.note += "; strace did not stop in time (killed)"
        try:
            return parse_strace_summary(self.out.read_text())
        except OSError:
            err = (self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else "").strip()
            self.note += f"; no strace summary ({err[-200:] or 'no output'})"
            return None
        finally:
            if self.proc.stderr:
                self.proc.stderr.close()


def parse_strace_summary(text: str) -> int:
    """Distinct syscalls in an `strace -c -U name,calls` table."""
    names = set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total", "syscall"):
            names.add(parts[0])
    return len(names)
