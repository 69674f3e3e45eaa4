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
