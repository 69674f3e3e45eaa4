"""A scale run on runc (crun takes the same code path where it can run): concurrency 1 and 8, 16 instances."""

from __future__ import annotations

import pytest
from tests.conftest import require_root

from vmscope.cli.bench_scale import run_scale
from vmscope.platforms import get_driver
from vmscope.store import ResultsDB


def test_scale_runc_1_and_8_with_16_instances_cleans_up(guest, tmp_db, no_leaks):
    require_root()
    if not get_driver("runc").probe().usable:
        pytest.skip("runc cannot run here")
    doc = run_scale("runc", "1,8", 16, db=tmp_db, show_progress=False)
    rows = doc["results"]
    assert [r["concurrency"] for r in rows] == [1, 8]
    for r in rows:
        assert r["stopped_by"] == "completed" and r["ready"] == 16 and r["failed"] == 0
        assert r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"]
        assert r["launch_rate_per_s"] > 0
        assert r["memavailable_drop_kib_per_instance"] is not None
        assert [p["running"] for p in r["density"]] == [16, 8, 4, 2, 1]
        assert r["pss_kib_per_instance"] > 0
    (dens,) = doc["density"]
    assert dens["label"] in ("measured", "extrapolated", None)
    assert {p["label"] for p in dens["curve"]} <= {"measured", "extrapolated"}
    assert [p["running"] for p in dens["curve"] if p["label"] == "measured"] == [1, 2, 4, 8, 16]
    with ResultsDB(tmp_db) as db:
        recs = db.records(doc["run_id"])
    lat = [r for r in recs if r.measure == "boot_latency_at_concurrency"]
    assert sorted(r.concurrency for r in lat) == [1, 8]
    assert any(r.measure == "launch_rate" for r in recs)


def test_scale_stops_at_a_memory_budget(guest, tmp_db, no_leaks):
    require_root()
    if not get_driver("runc").probe().usable:
        pytest.skip("runc cannot run here")
    doc = run_scale("runc", "2", 32, mem_budget=0.001, db=tmp_db, show_progress=False)
    (row,) = doc["results"]
    assert row["stopped_by"] in ("mem_budget", "completed")  # a MemAvailable rise could hide the first launches
    if row["stopped_by"] == "mem_budget":
        assert row["ready"] < 32
        assert doc["density"][0]["label"] == "measured"
