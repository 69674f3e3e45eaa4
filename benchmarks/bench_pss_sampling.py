"""Time to sample PSS/USS/RSS (smaps_rollup) of 100 live processes. Target: <= 200 ms.

Run: .venv/bin/python benchmarks/bench_pss_sampling.py
"""

from __future__ import annotations

import statistics
import subprocess
import time

from vmscope.measure import smaps

N_PROCESSES = 100
TARGET_MS = 200.0


def main() -> None:
    procs = [subprocess.Popen(["sleep", "60"]) for _ in range(N_PROCESSES)]
    try:
        pids = [p.pid for p in procs]
        times_ms = []
        for _ in range(20):
            t0 = time.perf_counter()
            got = smaps.sample(pids)
            times_ms.append((time.perf_counter() - t0) * 1e3)
            assert len(got) == N_PROCESSES, f"sampled {len(got)} of {N_PROCESSES}"
        med, worst = statistics.median(times_ms), max(times_ms)
        verdict = "OK" if med <= TARGET_MS else "OVER TARGET"
        print(f"PSS sampling of {N_PROCESSES} processes: median {med:.1f} ms, max {worst:.1f} ms "
              f"over {len(times_ms)} rounds (target <= {TARGET_MS:.0f} ms): {verdict}")
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait(10)


if __name__ == "__main__":
    main()
