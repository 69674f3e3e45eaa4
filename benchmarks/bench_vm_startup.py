"""Startup of every QEMU machine (and Firecracker / Cloud Hypervisor when present), with phases.

Runs `vmscope bench startup --platform qemu-pc,qemu-q35,qemu-microvm --trials 5 --json` in-process
(vmscope.cli.bench_startup.run_startup) and prints the table: spawn -> ready, and the phases
vmm_firmware (spawn -> kernel start), kernel (-> /init), init_to_ready.

    .venv/bin/python benchmarks/bench_vm_startup.py [--trials 5] [--accel tcg] [--db PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from vmscope.cli.bench_startup import run_startup, startup_tables
from vmscope.cli.common import out
from vmscope.errors import UserError
from vmscope.platforms import get_driver

VM_PLATFORMS = ["qemu-pc", "qemu-q35", "qemu-microvm", "firecracker", "cloud-hypervisor"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--accel", choices=["kvm", "tcg"], default=None)
    ap.add_argument("--db", type=Path, default=None, help="results DB (default: a temporary one)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    platforms = [p for p in VM_PLATFORMS if p.startswith("qemu-") or get_driver(p).probe().usable]
    with tempfile.TemporaryDirectory(prefix="bench-vm-startup-") as tmp:
        db = args.db or Path(tmp) / "results.db"
        try:
            doc = run_startup(",".join(platforms), args.trials, args.warmup, db, accel=args.accel,
                              show_progress=False)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(doc["results"], indent=2))
        return 0
    for table in startup_tables(doc):
        out.print(table)
    for r in sorted(doc["results"], key=lambda r: r["median_ms"]):
        ph = r["phases_ms"]
        print(f"{r['platform']:>13} accel={r['accel']} median {r['median_ms']:.0f} ms = vmm_firmware "
              f"{ph.get('vmm_firmware', float('nan')):.0f} + kernel {ph.get('kernel', float('nan')):.0f} + "
              f"init_to_ready {ph.get('init_to_ready', float('nan')):.0f} (medians per phase); "
              f"kernel image: {r['notes'].get('kernel_format', '?')}")
    for f in doc["failures"]:
        print(f"FAILED {f['platform']}: {f['error']}", file=sys.stderr)
    return 0 if not doc["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
