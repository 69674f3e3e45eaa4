"""Time synthesis of the shipped evidence base and of 10,000 generated records.

Run: .venv/bin/python benchmarks/bench_synthesis.py
Generated records reuse the shipped measures, classes and units with log-normal jitter, spread
over many synthetic studies, so every stage (normalize, pool, score, rank, claims) does real work.
"""

from __future__ import annotations

import random
import time

from vmscope.evidence import load_shipped
from vmscope.model import Record
from vmscope.synthesis import GroupBy, synthesize


def generate(base: list[Record], n: int, seed: int = 0) -> list[Record]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        src = rng.choice(base)
        value = src.value * rng.lognormvariate(0, 0.3) if src.unit != "bool" else src.value
        study = f"gen{i % 500}"
        out.append(
            src.model_copy(
                update={
                    "id": f"gen-{i}",
                    "value": value,
                    "low": None,
                    "high": None,
                    "source": src.source.model_copy(update={"key": study}),
                }
            )
        )
    return out


def timed(records: list[Record], by: GroupBy, repeat: int = 3) -> tuple[float, int]:
    best = float("inf")
    rows = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = synthesize(records, by=by)
        best = min(best, time.perf_counter() - t0)
        rows = len(res.table)
    return best, rows


def main() -> None:
    base = load_shipped()
    cases = [("shipped", base), ("generated 10k", generate(base, 10_000))]
    print(f"{'records':<16}{'n':>8}{'by':>10}{'rows':>7}{'best of 3 (s)':>15}")
    for name, recs in cases:
        for by in (GroupBy.platform_class, GroupBy.platform):
            secs, rows = timed(recs, by)
            print(f"{name:<16}{len(recs):>8}{by.value:>10}{rows:>7}{secs:>15.3f}")


if __name__ == "__main__":
    main()
