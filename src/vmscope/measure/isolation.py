"""Isolation, inside view: parse what /bin/vmscope-probe printed and classify the syscall sweep.

The probe (guest/files/probe.c) reports raw outcomes only; everything that decides what an outcome
*means* is here, so it is unit-tested and documented in docs/isolation.md:

- kernel identity: the workload shares the host kernel when it sees the host's boot_id and the same
  `uname -r`/`uname -v`; a user-space kernel (gVisor's Sentry) is recognised by its kernel log or its
  fixed uname; anything else with its own boot_id is a guest kernel (a VM).
- each swept syscall is `blocked` (SIGSYS; EPERM/EACCES or ENOSYS where the host, unfiltered, answers
  otherwise — only when a filter or user-space kernel can be the cause), `not_implemented` (ENOSYS the
  unfiltered host also gives, or a user-space kernel's ENOSYS), `user_space_kernel` (answered by a
  Sentry), `kernel` (reached the kernel the workload runs on) or `excluded` (never called).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

EPERM, EACCES, ENOSYS = 1, 13, 38
SIGSYS = 31
_OUTCOME = re.compile(r"^(ok|to|x|ff|nb|e\d+|s\d+)$")
# gVisor's Sentry reports this fixed identity (pkg/sentry/kernel/version.go); its kernel log names gVisor.
GVISOR_UNAME_VERSION = "#1 SMP Sun Jan 10 15:06:54 PST 2016"


class Reach(StrEnum):
    kernel = "kernel"  # reached the kernel the workload runs on (the host's, or a VM guest's own)
    user_space_kernel = "user_space_kernel"  # answered by a user-space kernel (gVisor Sentry), not the host
    blocked = "blocked"  # stopped by a filter before doing work
    not_implemented = "not_implemented"  # the kernel (or Sentry) has no such syscall
    excluded = "excluded"  # destructive or meaningless: never called (guest/probe.py EXCLUDED)
    unknown = "unknown"  # fork failed, the sweep's time budget ran out, or the outcome is unreadable


class KernelKind(StrEnum):
    host = "host"
    guest = "guest"
    user_space = "user_space"
    unknown = "unknown"


@dataclass(frozen=True)
class HostIdentity:
    boot_id: str
    release: str
    version: str

    @classmethod
    def of_this_host(cls) -> HostIdentity:
        try:
            with open("/proc/sys/kernel/random/boot_id") as f:
                boot_id = f.read().strip()
        except OSError:
            boot_id = ""
        u = os.uname()
        return cls(boot_id, u.release, u.version)


@dataclass
class ProbeReport:
    """What one run of the probe printed (lines after the "VMSCOPE-PROBE " prefix)."""

    probe: str = "none"  # "c" | "sh" | "none" (no probe output at all)
    ident: dict[str, Any] = field(default_factory=dict)
    view: dict[str, Any] = field(default_factory=dict)
    sweep: dict[int, str] = field(default_factory=dict)  # syscall number -> raw outcome
    done: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return bool(self.done) and (not self.done.get("sweep") or len(self.sweep) >= int(self.done["sweep_end"]))


def parse_probe(lines: Iterable[str]) -> ProbeReport:
    """Parse probe lines (JSON after the prefix; a prefix still present is skipped). Bad lines become problems."""
    rep = ProbeReport()
    for raw in lines:
        text = raw.strip()
        if "VMSCOPE-PROBE" in text:
            text = text.split("VMSCOPE-PROBE", 1)[1].strip()
        start = text.find("{")
        try:
            obj = json.loads(text[start:]) if start >= 0 else None
        except ValueError:
            obj = None
        if not isinstance(obj, dict) or "type" not in obj:
            rep.problems.append(f"unreadable probe line: {raw[:120]!r}")
            continue
        kind = obj["type"]
        if kind == "ident":
            rep.ident = obj
            rep.probe = str(obj.get("probe", "c"))
        elif kind == "view":
            rep.view = obj
        elif kind == "sweep":
            first = int(obj.get("first", 0))
            for i, outcome in enumerate(obj.get("r", [])):
                if isinstance(outcome, str) and _OUTCOME.match(outcome):
                    rep.sweep[first + i] = outcome
                else:
                    rep.problems.append(f"syscall {first + i}: unreadable outcome {outcome!r}")
        elif kind == "done":
            rep.done = obj
        else:
            rep.problems.append(f"unknown probe line type {kind!r}")
    if rep.done and rep.done.get("sweep"):
        missing = int(rep.done.get("sweep_end", 0)) - len(rep.sweep)
        if missing > 0:
            rep.problems.append(f"{missing} sweep results missing (console lines lost?)")
    return rep


def _errno(outcome: str) -> int | None:
    return int(outcome[1:]) if outcome.startswith("e") else None


def classify(outcome: str, *, baseline: str | None, filtered: bool, user_kernel: bool) -> Reach:
    """One swept syscall's class.

    `baseline`: the same call's outcome on the host, unfiltered (None if unknown).
    `filtered`: a seccomp filter can be in the way (Seccomp: 2 inside, or a user-space kernel enforcing policy).
    `user_kernel`: the workload runs on a user-space kernel, so what is not blocked is answered there.
    """
    if outcome == "x":
        return Reach.excluded
    if outcome in ("ff", "nb") or not _OUTCOME.match(outcome):
        return Reach.unknown
    reached = Reach.user_space_kernel if user_kernel else Reach.kernel
    if outcome == f"s{SIGSYS}":
        return Reach.blocked
    err = _errno(outcome)
    if err == ENOSYS:
        if user_kernel:
            return Reach.not_implemented
        if filtered and baseline is not None and baseline != outcome:
            return Reach.blocked  # the host kernel has it: the ENOSYS came from a filter
        return Reach.not_implemented
    if err in (EPERM, EACCES) and (filtered or user_kernel):
        if baseline is None or _errno(baseline) not in (EPERM, EACCES):
            return Reach.blocked
    return reached  # a result, another errno, a timeout or a signal the kernel sent: the call was handled


def kernel_kind(ident: dict[str, Any], view: dict[str, Any], host: HostIdentity) -> KernelKind:
    if not ident:
        return KernelKind.unknown
    uname = ident.get("uname") or {}
    same_uname = uname.get("release") == host.release and uname.get("version") == host.version
    if ident.get("boot_id") and ident.get("boot_id") == host.boot_id and same_uname:
        return KernelKind.host
    if view.get("klog_mentions_gvisor") or uname.get("version") == GVISOR_UNAME_VERSION:
        return KernelKind.user_space
    return KernelKind.guest


def cap_count(cap_eff_hex: str) -> int | None:
    try:
        return bin(int(cap_eff_hex, 16)).count("1")
    except (TypeError, ValueError):
        return None


def root_is_host_root(uid_map: str, euid: int | None) -> bool | None:
    """True when uid 0 inside maps to uid 0 outside (identity map, no user namespace), as seen by the probe."""
    parts = uid_map.split()
    if euid is None or len(parts) < 3:
        return None
    try:
        inside, outside, count = (int(p) for p in parts[:3])
    except ValueError:
        return None
    return euid == 0 and inside == 0 and outside == 0 and count > 0


@dataclass
class InsideView:
    """The classified inside view of one platform's instance."""

    probe: str
    kernel: KernelKind
    shares_host_kernel: bool | None
    boot_id_matches: bool | None
    uname_matches: bool | None
    token_file_reachable: bool | None
    host_processes_visible: bool | None
    procs_visible: int | None
    devices: dict[str, bool]
    cap_eff: str
    cap_count: int | None
    seccomp_mode: int | None
    seccomp_filters: int | None
    uid_map: str
    root_is_host_root: bool | None
    sweep_done: bool
    counts: dict[str, int]  # Reach value -> number of syscalls
    classes: dict[int, str]  # syscall number -> Reach value
    sweep_ms: float | None
    problems: list[str]

    @property
    def kernel_reaching(self) -> int | None:
        return self.counts.get(Reach.kernel.value, 0) if self.sweep_done else None

    @property
    def blocked(self) -> int | None:
        return self.counts.get(Reach.blocked.value, 0) if self.sweep_done else None

    def host_exposure(self) -> int | None:
        """Host things the workload could touch: token file, host processes, host device nodes (0..5)."""
        if self.token_file_reachable is None:
            return None
        host_devices = sum(self.devices.values()) if self.shares_host_kernel else 0
        return int(bool(self.token_file_reachable)) + int(bool(self.host_processes_visible)) + host_devices

    def summary(self) -> dict[str, Any]:
        return {
            "probe": self.probe, "kernel": self.kernel.value, "shares_host_kernel": self.shares_host_kernel,
            "boot_id_matches": self.boot_id_matches, "uname_matches": self.uname_matches,
            "token_file_reachable": self.token_file_reachable, "host_processes_visible": self.host_processes_visible,
            "procs_visible": self.procs_visible, "devices": self.devices, "cap_eff": self.cap_eff,
            "cap_count": self.cap_count, "seccomp_mode": self.seccomp_mode, "seccomp_filters": self.seccomp_filters,
            "uid_map": self.uid_map, "root_is_host_root": self.root_is_host_root, "sweep_done": self.sweep_done,
            "sweep_counts": self.counts, "sweep_ms": self.sweep_ms, "problems": self.problems,
        }


def int_or_none(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def inside_view(rep: ProbeReport, host: HostIdentity, token: str | None,
                baseline: dict[int, str] | None = None) -> InsideView:
    """Classify one probe report against the host's identity, the launch token and the host's own sweep."""
    ident, view = rep.ident, rep.view
    kind = kernel_kind(ident, view, host)
    uname = ident.get("uname") or {}
    seccomp = int_or_none(view.get("seccomp"))
    user_kernel = kind is KernelKind.user_space
    filtered = seccomp == 2
    classes = {
        nr: classify(o, baseline=(baseline or {}).get(nr), filtered=filtered, user_kernel=user_kernel).value
        for nr, o in sorted(rep.sweep.items())
    }
    sweep_done = bool(rep.done.get("sweep")) and bool(rep.sweep)
    return InsideView(
        probe=rep.probe,
        kernel=kind,
        shares_host_kernel=None if kind is KernelKind.unknown else kind is KernelKind.host,
        boot_id_matches=(ident.get("boot_id") == host.boot_id) if ident else None,
        uname_matches=(uname.get("release") == host.release and uname.get("version") == host.version)
        if ident else None,
        token_file_reachable=(token in view.get("tmp_tokens", [])) if view and token else None,
        host_processes_visible=(token in view.get("proc_tokens", [])) if view and token else None,
        procs_visible=int_or_none(view.get("procs_visible")),
        devices={k: bool(v) for k, v in (view.get("dev") or {}).items()},
        cap_eff=str(view.get("cap_eff", "")),
        cap_count=cap_count(str(view.get("cap_eff", ""))),
        seccomp_mode=seccomp,
        seccomp_filters=int_or_none(view.get("seccomp_filters")),
        uid_map=" ".join(str(view.get("uid_map", "")).split()),
        root_is_host_root=root_is_host_root(str(view.get("uid_map", "")), int_or_none(ident.get("euid"))),
        sweep_done=sweep_done,
        counts=dict(Counter(classes.values())),
        classes=classes,
        sweep_ms=float(rep.done["elapsed_ms"]) if "elapsed_ms" in rep.done else None,
        problems=list(rep.problems),
    )


def host_syscalls_reachable(inside: InsideView, published_host_filter: float | None) -> tuple[int | None, str]:
    """The headline figure and where it came from.

    Shared kernel: the syscalls that reached the kernel (it is the host's). VM: 0 — the sweep reached the
    guest's own kernel. User-space kernel: the Sentry is not the host; its own host-side seccomp allow list
    (published) is what the sandbox can reach, or None when the evidence base has no figure.
    """
    if inside.kernel is KernelKind.host:
        return inside.kernel_reaching, "measured: syscalls reaching the shared host kernel"
    if inside.kernel is KernelKind.guest:
        return 0, "measured: a VM's syscalls reach the guest kernel only"
    if inside.kernel is KernelKind.user_space:
        if published_host_filter is None:
            return None, "user-space kernel: no published host-side filter size"
        return int(published_host_filter), "published: the user-space kernel's host seccomp allow list"
    return None, "unknown: no probe identity"
