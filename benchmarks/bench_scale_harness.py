"""Harness CPU share during a 64-concurrency runc sweep of 64 instances.

CPU share = this Python process's CPU time (all threads: launcher, waiters, console hub) / wall time,
over the launch phase (first spawn to last ready), from psutil. Well under 100 % of one core means
the harness is not what limits the launch rate.
Run (root): .venv/bin/python benchmarks/bench_scale_harness.py [instances] [concurrency]
"""

from __future__ import annotations

import sys
import time

import psutil

from vmscope.guest.build import ensure_guest
from vmscope.measure.scalability import run_sweep
from vmscope.platforms import get_driver
from vmscope.platforms.base import Resources


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    c = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    if not get_driver("runc").probe().usable:
        sys.exit("runc cannot run here")
    guest = ensure_guest()
    me = psutil.Process()
    cpu0, wall0 = me.cpu_times(), time.monotonic()
    sweep = run_sweep("runc", guest, Resources(mode="hold"), n, c)
    cpu1, wall1 = me.cpu_times(), time.monotonic()
    whole_cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    row = sweep.row()
    print(f"runc sweep: {row['ready']}/{n} ready at concurrency {c}, stopped by {row['stopped_by']}")
    print(f"  launch phase: wall {sweep.wall_s:.2f} s, harness CPU {sweep.harness_cpu_s:.2f} s "
          f"-> harness CPU share {row['harness_cpu_share']:.0%} of one core")
    print(f"  whole sweep incl. density teardown: wall {wall1 - wall0:.2f} s, CPU {whole_cpu:.2f} s "
          f"({whole_cpu / (wall1 - wall0):.0%})")
    print(f"  spawn->ready p50 {row['p50_ms']:.0f} ms, p95 {row['p95_ms']:.0f} ms, p99 {row['p99_ms']:.0f} ms; "
          f"launch rate {row['launch_rate_per_s']:.1f}/s; host cores {psutil.cpu_count()}")


if __name__ == "__main__":
    main()
