"""Live memory accounting: containers through the CLI path, and a QEMU guest's RAM excluded from VMM overhead."""

from __future__ import annotations

import json

import pytest
from tests.conftest import require_root

from vmscope.cli import main
from vmscope.measure.memory import run_memory_trial
from vmscope.platforms import get_driver
from vmscope.platforms.base import Resources
from vmscope.store import ResultsDB


def test_bench_memory_runc_stores_results_and_records(guest, tmp_db, no_leaks, capsys):
    require_root()
    if not get_driver("runc").probe().usable:
        pytest.skip("runc cannot run here")
    assert main(["bench", "memory", "--platform", "runc,process", "--trials", "1", "--instances", "2",
                 "--json", "--db", str(tmp_db)]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = {r["platform"]: r for r in doc["results"]}
    runc = rows["runc"]
    for key in ("pss_kib", "uss_kib", "rss_kib", "guest_memtotal_kib"):
        assert runc[key] is not None and runc[key] > 0, key
    # a system-wide quantity: other programs on a shared host move it too, so only its presence is a fact
    assert runc["memavailable_drop_kib"] is not None
    assert runc["vmm_overhead_kib"] is None  # not a VM
    assert runc["uss_kib"] <= runc["pss_kib"] <= runc["rss_kib"]
    assert {p["role"] for p in runc["processes"]} >= {"runtime"}
    assert "ksm_run" in runc["ksm_thp"] and "thp_enabled" in runc["ksm_thp"]
    with ResultsDB(tmp_db) as db:
        recs = db.records(doc["run_id"])
    assert {r.measure for r in recs} >= {"pss_per_instance", "uss_per_instance", "memavailable_drop_per_instance"}
    assert all(r.kind == "live" and r.run_id == doc["run_id"] for r in recs)


def test_qemu_guest_ram_mapping_is_excluded_from_vmm_overhead(guest, no_leaks):
    require_root()
    avail = get_driver("qemu-microvm").probe()
    if not avail.usable:
        pytest.skip(f"qemu-microvm cannot run here: {avail.reason}")
    trial, accel = run_memory_trial("qemu-microvm", guest, Resources(mem_mib=256, mode="hold"), 0, 1,
                                    timeout_s=180.0, log_dir=None)
    inst = trial.instances[0]
    ram = inst.guest_ram_mapping
    assert ram is not None, "no 256 MiB guest-RAM mapping found in the VMM's smaps"
    assert 256 * 1024 <= ram["size_kib"] <= 256 * 1024 + 4096
    assert inst.vmm_overhead_kib is not None
    assert inst.vmm_overhead_kib == inst.pss_kib - ram["pss_kib"]
    assert 0 < inst.vmm_overhead_kib < inst.pss_kib
    assert inst.guest_memtotal_kib is not None and inst.guest_memtotal_kib <= 256 * 1024
