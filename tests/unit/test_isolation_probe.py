"""The isolation probe: syscall table, generated header, build with and without a compiler, fallback script."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from vmscope.guest import probe
from vmscope.measure.isolation import HostIdentity, inside_view, parse_probe

HEADER = """#ifndef _ASM_UNISTD_64_H
#define __NR_read 0
#define __NR_write 1
#define __NR_set_mempolicy_home_node 450
#endif
"""


def test_parse_unistd() -> None:
    assert probe.parse_unistd(HEADER) == {0: "read", 1: "write", 450: "set_mempolicy_home_node"}


def test_table_covers_newer_kernels_and_names_exclusions() -> None:
    table = probe.syscall_table()
    assert table.sweep_end >= probe.MIN_SWEEP_END
    assert table.name(0) == "read" or table.source == "fallback"
    assert table.name(462) == "mseal" and table.name(9999) == "nr9999"
    for nr, (name, why) in probe.EXCLUDED.items():
        assert table.name(nr) == name and why


def test_exclusions_are_the_destructive_ones() -> None:
    names = {name for name, _ in probe.EXCLUDED.values()}
    assert {"exit", "exit_group", "reboot", "kill", "fork", "vfork", "clone", "clone3", "kexec_load", "pause",
            "vhangup"} <= names
    assert "read" not in names and "mount" not in names  # harmless with invalid arguments: swept


def test_header_lists_every_exclusion() -> None:
    text = probe.table_header(probe.SyscallTable({0: "read"}, 470, 'a "quoted" path'))
    assert "#define VMSCOPE_SWEEP_END 470" in text
    assert all(str(nr) in text for nr in probe.EXCLUDED)
    assert '"quoted"' not in text


def test_fallback_without_compiler(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("VMSCOPE_PROBE_CC", "none")
    built = probe.build_probe(tmp_path)
    assert built.kind == "sh" and probe.probe_kind(built.data) == "sh" and "no C compiler" in built.note
    assert list(tmp_path.iterdir()) == []


def test_broken_compiler_falls_back(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("VMSCOPE_PROBE_CC", "/bin/false")
    built = probe.build_probe(tmp_path)
    assert built.kind == "sh" and "failed" in built.note
    assert list(tmp_path.iterdir()) == []


def _run(argv: list[str]) -> list[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    return [line for line in proc.stdout.splitlines() if line.startswith("VMSCOPE-PROBE ")]


@pytest.mark.skipif(probe.find_compiler() is None, reason="no C compiler (gcc/cc) here")
def test_compiled_probe_sweeps_the_host(tmp_path) -> None:
    built = probe.build_probe(tmp_path)
    assert built.kind == "c", built.note
    exe = tmp_path / "vmscope-probe"
    exe.write_bytes(built.data)
    exe.chmod(0o755)
    rep = parse_probe(_run([str(exe)]))
    assert rep.complete and not rep.problems and rep.probe == "c"
    view = inside_view(rep, HostIdentity.of_this_host(), token=None, baseline=rep.sweep)
    assert view.shares_host_kernel and view.sweep_done
    assert view.counts["excluded"] == len(probe.EXCLUDED)
    assert view.counts["kernel"] > 200  # read, write, openat ... all reach the host kernel here
    assert rep.sweep[0] == "e9"  # read(-1, ...) is EBADF


def test_shell_fallback_reports_the_same_view() -> None:
    sh = shutil.which("sh")
    if sh is None:
        pytest.skip("no sh")
    rep = parse_probe(_run([sh, str(probe.PROBE_SH)]))
    assert rep.probe == "sh" and rep.complete and not rep.problems, rep.problems
    view = inside_view(rep, HostIdentity.of_this_host(), token=None)
    assert view.shares_host_kernel and not view.sweep_done
    assert view.cap_eff and view.seccomp_mode is not None
