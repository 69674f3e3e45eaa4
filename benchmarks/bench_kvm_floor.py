"""kvm-floor: KVM_CREATE_VM -> KVM_EXIT_HLT of a three-instruction real-mode guest, in-process.

The physical floor of "start a VM" on this host. Target: median <= 1 ms.

    .venv/bin/python benchmarks/bench_kvm_floor.py [--runs 200] [--warmup 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

from vmscope.platforms.kvm_floor import FloorError, run_floor

TARGET_US = 1000.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    try:
        for _ in range(args.warmup):
            run_floor()
        runs = [run_floor() for _ in range(args.runs)]
    except FloorError as exc:
        print(f"kvm-floor cannot run here: {exc}", file=sys.stderr)
        return 1
    hlt = sorted(r.create_to_hlt_us for r in runs)
    full = sorted((r.closed_ns - r.create_ns) / 1e3 for r in runs)
    out = {
        "runs": args.runs,
        "interval": "KVM_CREATE_VM -> KVM_EXIT_HLT (host monotonic clock, in-process)",
        "median_us": statistics.median(hlt),
        "p95_us": hlt[int(0.95 * (len(hlt) - 1))],
        "min_us": hlt[0],
        "max_us": hlt[-1],
        "create_to_closed_median_us": statistics.median(full),
        "target_us": TARGET_US,
        "meets_target": statistics.median(hlt) <= TARGET_US,
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"kvm-floor create -> HLT over {args.runs} runs: median {out['median_us']:.0f} us, "
              f"p95 {out['p95_us']:.0f} us, min {out['min_us']:.0f} us, max {out['max_us']:.0f} us "
              f"(create -> all fds closed: median {out['create_to_closed_median_us']:.0f} us); "
              f"target <= {TARGET_US:.0f} us: {'met' if out['meets_target'] else 'NOT met'}")
    return 0 if out["meets_target"] else 2


if __name__ == "__main__":
    sys.exit(main())
