"""Harness overhead: the `process` platform's spawn -> exit as vmscope measures it, against
`hyperfine -N` timing the very same command, in one run (interleaved blocks, ratio of medians).

Target: vmscope's median <= 1.10x hyperfine's and <= 0.5 ms added.

    .venv/bin/python benchmarks/bench_harness_overhead.py [--runs 300] [--blocks 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vmscope.guest.build import ensure_guest
from vmscope.measure.startup import run_trial
from vmscope.platforms import get_driver
from vmscope.platforms.base import Resources


def hyperfine_ms(argv: list[str], env: dict[str, str], runs: int, output: str) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "h.json"
        cmd = " ".join(argv)
        subprocess.run(["hyperfine", "-N", "--style", "none", "--warmup", "10", "--runs", str(runs),
                        "--output", output, "--export-json", str(out), cmd],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        data = json.loads(out.read_text())
    return [t * 1000 for t in data["results"][0]["times"]]


def python_direct_ms(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    """The same spawn -> exit from Python with no harness: posix_spawn, blocking read, waitpid.
    Separates the cost of Python itself from the cost of vmscope's non-blocking console hub."""
    out = []
    for _ in range(runs):
        rd, wr = os.pipe2(os.O_CLOEXEC)
        t0 = time.monotonic_ns()
        pid = os.posix_spawn(argv[0], argv, env, setsid=True,
                             file_actions=[(os.POSIX_SPAWN_DUP2, wr, 1), (os.POSIX_SPAWN_DUP2, wr, 2)])
        os.close(wr)
        while os.read(rd, 65536):
            pass
        os.waitpid(pid, 0)
        out.append((time.monotonic_ns() - t0) / 1e6)
        os.close(rd)
    return out


def vmscope_ms(guest, runs: int) -> list[float]:
    d = get_driver("process")
    res = Resources(mode="boot")
    for w in range(10):
        run_trial(d, guest, res, -(w + 1), 30, None)
    return [run_trial(d, guest, res, i, 30, None).phases_ms["spawn_to_exit"] for i in range(runs)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--blocks", type=int, default=3, help="alternating blocks of each tool")
    args = ap.parse_args()
    if shutil.which("hyperfine") is None:
        print("hyperfine not installed (apt-get install hyperfine)", file=sys.stderr)
        return 1
    guest = ensure_guest()
    rootfs = guest.rootfs
    argv = [str(rootfs / "bin" / "busybox"), "sh", str(rootfs / "init"), "--env", "process", "--mode", "boot"]
    env = {"PATH": f"{rootfs / 'bin'}:/usr/bin:/bin", "VMSCOPE_BUSYBOX": str(rootfs / "bin" / "busybox")}
    # hyperfine's default sends output to /dev/null; vmscope must read the console (that is how
    # it sees "ready"), so hyperfine --output=pipe is the like-for-like reference.
    series: dict[str, list[float]] = {"hyperfine-null": [], "hyperfine-pipe": [], "python-direct": [],
                                      "vmscope": []}
    per_block = args.runs // args.blocks
    for _ in range(args.blocks):
        series["hyperfine-null"] += hyperfine_ms(argv, env, per_block, "null")
        series["hyperfine-pipe"] += hyperfine_ms(argv, env, per_block, "pipe")
        series["python-direct"] += python_direct_ms(argv, env, per_block)
        series["vmscope"] += vmscope_ms(guest, per_block)
    print(f"command: {' '.join(argv)}")
    print(f"{'tool':<16}{'n':>6}{'median ms':>12}{'p95 ms':>10}{'min ms':>10}")
    for name, xs in series.items():
        p95 = sorted(xs)[int(0.95 * (len(xs) - 1))]
        print(f"{name:<16}{len(xs):>6}{statistics.median(xs):>12.3f}{p95:>10.3f}{min(xs):>10.3f}")
    v_med = statistics.median(series["vmscope"])
    for ref in ("hyperfine-pipe", "hyperfine-null", "python-direct"):
        h_med = statistics.median(series[ref])
        ratio, added = v_med / h_med, v_med - h_med
        verdict = "meets" if ratio <= 1.10 and added <= 0.5 else "misses"
        print(f"vmscope / {ref} = {ratio:.3f}x, added {added:+.3f} ms -> {verdict} target (<= 1.10x, <= 0.5 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
