"""Timing points and phases of one instance, including the guest kernel's own timestamps."""

from __future__ import annotations

import re

from vmscope.platforms.base import Instance
from vmscope.platforms.console import MARK_INIT, Console

_PRINTK = re.compile(r"\[\s*(\d+\.\d+)\]\s?(.*)$")
# The kernel prints this right before it executes the initramfs's init.
_RUN_INIT = re.compile(r"Run (\S+) as init process")
# A "Run /init" line whose stamp implies a kernel start this much later than the best estimate
# means the guest clock fell behind the host's (TCG: timer ticks delayed, TSC marked unstable and
# printk falling back to jiffies). Its host receipt time is then the better init_start: the
# serial console of a VM is written synchronously, so that line arrives when init starts.
CLOCK_LAG_TOLERANCE_NS = 200_000_000


def kernel_points(console: Console) -> dict[str, int]:
    """Host-clock estimates of kernel_start and init_start from printk timestamps.

    The kernel stamps each console line with its own clock (seconds since it started
    timekeeping). Receiving the "Run /init as init process" line at host time H with stamp T
    puts the kernel start at H - T: serial lines can arrive late, never early, so every line
    gives an upper bound and the smallest H - T over all stamped lines is the best estimate.
    """
    best_start: int | None = None
    init_start: int | None = None
    init_recv: int | None = None
    for recv_ns, text in console.lines:
        m = _PRINTK.search(text)
        if not m:
            continue
        stamp_ns = int(float(m.group(1)) * 1e9)
        start = recv_ns - stamp_ns
        if best_start is None or start < best_start:
            best_start = start
        if init_start is None and _RUN_INIT.search(m.group(2)):
            init_start = stamp_ns  # converted below once kernel_start is final
            init_recv = recv_ns
    if best_start is None:
        return {}
    points = {"kernel_start": best_start}
    if init_start is not None and init_recv is not None:
        from_stamp = best_start + init_start
        points["init_start"] = init_recv if init_recv - from_stamp > CLOCK_LAG_TOLERANCE_NS else from_stamp
    return points


def timing_points(inst: Instance) -> dict[str, int]:
    """All known timing points of an instance (host monotonic ns), in boot order."""
    t = {k: v for k, v in inst.timings().items() if v is not None}
    t.update(kernel_points(inst.console))
    if "init_start" not in t:
        mark = inst.console.mark(MARK_INIT)
        if mark:
            t["init_start"] = mark[0]
    order = ["spawn", "first_output", "kernel_start", "init_start", "ready", "exit"]
    return {k: t[k] for k in order if k in t}


def phases_ms(points: dict[str, int]) -> dict[str, float]:
    """Named intervals between consecutive timing points, plus the headline spawn_to_ready."""
    out: dict[str, float] = {}

    def span(a: str, b: str, name: str) -> None:
        if a in points and b in points:
            out[name] = (points[b] - points[a]) / 1e6

    if "kernel_start" in points:  # a guest kernel exists: VMM+firmware / kernel / init
        span("spawn", "kernel_start", "vmm_firmware")
        span("kernel_start", "init_start", "kernel")
        span("init_start", "ready", "init_to_ready")
    else:  # shared-kernel platforms: runtime setup / init
        span("spawn", "init_start", "runtime_setup")
        span("init_start", "ready", "init_to_ready")
    span("spawn", "first_output", "spawn_to_first_output")
    span("ready", "exit", "ready_to_exit")
    span("spawn", "ready", "spawn_to_ready")
    span("spawn", "exit", "spawn_to_exit")
    return out
