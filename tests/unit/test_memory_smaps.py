"""smaps / smaps_rollup parsing and the guest-RAM mapping search, on fixture text."""

from __future__ import annotations

from pathlib import Path

from vmscope.measure import smaps

FIX = Path(__file__).parent / "fixtures" / "smaps"


def test_rollup_fields_and_uss_includes_private_hugetlb():
    m = smaps.rollup_from_text(42, (FIX / "rollup_sample.txt").read_text(), "qemu")
    assert (m.pid, m.name) == (42, "qemu")
    assert m.rss_kib == 1768
    assert m.pss_kib == 282
    assert m.uss_kib == 36 + 112 + 4096  # Private_Clean + Private_Dirty + Private_Hugetlb
    assert m.swap_kib == 16
    assert m.anon_hugepages_kib == 2048


def test_parse_fields_ignores_header_and_flag_lines():
    text = "00400000-00401000 r-xp 00000000 00:00 0 [rollup]\nRss:   8 kB\nVmFlags: rd wr\nTHPeligible: 0\n"
    assert smaps.parse_fields(text) == {"Rss": 8}


def test_parse_smaps_mappings():
    maps = smaps.parse_smaps((FIX / "qemu_anon.smaps").read_text())
    assert len(maps) == 6
    exe, heap, ram, guard, arena, libc = maps
    assert exe.pathname == "/usr/bin/qemu-system-x86_64" and not exe.anonymous
    assert heap.pathname == "[heap]" and not heap.anonymous
    assert ram.anonymous and ram.size_kib == 262144 and ram.pss_kib == 40960 and ram.uss_kib == 40960
    assert guard.size_kib == 4 and guard.perms == "---p"
    assert libc.offset == 0x28000 and libc.inode == 7654321
    assert arena.rss_kib == 2048


def test_guest_ram_found_by_size_among_anonymous_mappings():
    maps = smaps.parse_smaps((FIX / "qemu_anon.smaps").read_text())
    ram = smaps.find_guest_ram(maps, 256)
    assert ram is not None and ram.size_kib == 256 * 1024
    d = ram.describe()
    assert d["pathname"] == "[anonymous]" and d["pss_kib"] == 40960


def test_guest_ram_tolerates_an_alignment_page_but_not_another_size():
    maps = smaps.parse_smaps((FIX / "qemu_anon.smaps").read_text())
    maps[2].end += 4096  # 256 MiB + 4 KiB
    assert smaps.find_guest_ram(maps, 256) is maps[2]
    assert smaps.find_guest_ram(maps, 512) is None
    assert smaps.find_guest_ram(maps, 8) is maps[4]  # the 8 MiB arena would be picked for an 8 MiB guest


def test_guest_ram_memory_backend_file():
    maps = smaps.parse_smaps((FIX / "qemu_memfd.smaps").read_text())
    ram = smaps.find_guest_ram(maps, 128)
    assert ram is not None and "memory-backend" in ram.pathname and not ram.anonymous
    assert ram.pss_kib == 30000


def test_no_guest_ram_in_a_container_like_process():
    maps = smaps.parse_smaps((FIX / "qemu_memfd.smaps").read_text())
    assert smaps.find_guest_ram(maps, 256) is None


def test_reading_a_vanished_process_gives_nothing():
    assert smaps.read_rollup(2**22 + 12345) is None
    assert smaps.read_smaps(2**22 + 12345) == []
    assert smaps.sample([2**22 + 12345]) == []
