"""Memory accounting against something known: a helper that maps and touches 64 MiB."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vmscope.measure import memory, smaps

HELPER = r"""
import mmap, sys
n = int(sys.argv[1]) * 1024 * 1024
buf = mmap.mmap(-1, max(n, 4096), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
for off in range(0, n, 4096):
    buf[off] = 1
print("ready", flush=True)
sys.stdin.readline()
"""


def _start(mib: int) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HELPER, str(mib)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready"
    return p


def _end(p: subprocess.Popen) -> None:
    try:
        p.communicate("\n", timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(10)


def test_64_mib_touched_shows_as_64_mib_more_pss_and_uss():
    base, big = _start(0), None
    try:
        big = _start(64)
        b, m = smaps.read_rollup(base.pid), smaps.read_rollup(big.pid)
        assert b is not None and m is not None
        assert 56 * 1024 <= m.pss_kib - b.pss_kib <= 72 * 1024
        assert 56 * 1024 <= m.uss_kib - b.uss_kib <= 72 * 1024
        assert 56 * 1024 <= m.rss_kib - b.rss_kib <= 72 * 1024
        # the 64 MiB mapping is found by size like a VMM's guest RAM
        ram = smaps.find_guest_ram(smaps.read_smaps(big.pid), 64)
        assert ram is not None and ram.anonymous
        assert 56 * 1024 <= ram.pss_kib <= 64 * 1024
    finally:
        _end(base)
        if big is not None:
            _end(big)


def test_meminfo_and_policy_state_here():
    info = memory.read_meminfo()
    assert info["MemTotal"] >= info["MemAvailable"] > 0
    state = memory.memory_policy_state()
    assert set(state) >= {"ksm_run", "ksm_pages_sharing", "thp_enabled"}


def test_policy_state_from_a_fake_sysfs(tmp_path):
    (tmp_path / "ksm").mkdir()
    (tmp_path / "ksm" / "run").write_text("1\n")
    (tmp_path / "ksm" / "pages_sharing").write_text("1234\n")
    (tmp_path / "transparent_hugepage").mkdir()
    (tmp_path / "transparent_hugepage" / "enabled").write_text("always [madvise] never\n")
    state = memory.memory_policy_state(str(tmp_path))
    assert state["ksm_run"] == 1 and state["ksm_pages_sharing"] == 1234 and state["ksm_pages_shared"] is None
    assert state["thp_enabled"] == "madvise" and state["thp_defrag"] is None


@pytest.mark.parametrize("text,want", [("always [madvise] never", "madvise"), ("[never]", "never"), (None, None),
                                       ("plain", "plain")])
def test_bracketed(text, want):
    assert memory.bracketed(text) == want


def _inst(pss: int, overhead: int | None, guest_total: int | None) -> memory.InstanceMemory:
    return memory.InstanceMemory("qemu-microvm", [], pss, pss - 10, pss + 10, overhead,
                                 None if overhead is None else overhead + 5, None, guest_total, None)


def test_summary_row_is_the_median_over_trials_of_per_instance_means():
    trials = [memory.MemoryTrial(0, [_inst(100, 20, 1000), _inst(300, None, None)], 10_000, 9_000, {"ksm_run": 0}),
              memory.MemoryTrial(1, [_inst(400, 30, 1000)], 10_000, 9_500, {"ksm_run": 1}),
              memory.MemoryTrial(2, [_inst(500, None, None)], 10_000, 9_800, {"ksm_run": 1})]
    row = memory.MemoryResult("qemu-microvm", "tcg", 256, trials).summary_row()
    assert list(row)[:12] == ["platform", "accel", "pss_kib", "uss_kib", "rss_kib", "vmm_overhead_kib",
                              "memavailable_drop_kib", "vmm_overhead_rss_kib", "guest_memtotal_kib",
                              "guest_memavailable_kib", "guest_mem_mib", "processes"]
    assert row["pss_kib"] == 400 and row["uss_kib"] == 390 and row["rss_kib"] == 410
    assert row["vmm_overhead_kib"] == 25 and row["vmm_overhead_rss_kib"] == 30
    assert row["memavailable_drop_kib"] == 500 and row["guest_memtotal_kib"] == 1000
    assert row["guest_memavailable_kib"] is None and row["n_trials"] == 3 and row["ksm_thp"] == {"ksm_run": 1}
