"""The init's console protocol: kernel command line, argv helpers, line parsing, and the init itself."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from vmscope.guest import protocol
from vmscope.guest.build import INIT_SCRIPT, kernel_cmdline


def test_kernel_cmdline() -> None:
    assert kernel_cmdline() == ("console=ttyS0 printk.time=1 panic=-1 rdinit=/init vmscope.env=vm vmscope.mode=boot")
    line = kernel_cmdline("hold", probe=True, extra="mitigations=off")
    assert line.endswith("vmscope.mode=hold vmscope.probe=1 mitigations=off")
    assert "quiet" not in line
    with pytest.raises(ValueError):
        kernel_cmdline("sleep")


def test_init_argv() -> None:
    assert protocol.init_argv("container") == ["/init", "--env", "container", "--mode", "boot"]
    assert protocol.init_argv("process", "hold", probe=True)[-1] == "--probe"
    with pytest.raises(ValueError):
        protocol.init_argv("vm")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "VMSCOPE-READY uptime_s=1.86 env=vm mode=boot\r",
            ("VMSCOPE-READY", {"uptime_s": "1.86", "env": "vm", "mode": "boot"}),
        ),
        ("[    1.9] x VMSCOPE-INIT uptime_s=1.83", ("VMSCOPE-INIT", {"uptime_s": "1.83"})),
        ("VMSCOPE-BYE", ("VMSCOPE-BYE", {})),
        ("[    1.911441] reboot: Power down", None),
    ],
)
def test_parse_line(line, expected) -> None:
    assert protocol.parse_line(line) == expected


BUSYBOX = shutil.which("busybox") or "/bin/busybox"
needs_busybox = pytest.mark.skipif(not os.access(BUSYBOX, os.X_OK), reason="busybox is not installed")


def _rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    shutil.copy(INIT_SCRIPT, root / "init")
    (root / "bin" / "busybox").symlink_to(BUSYBOX)
    return root


def _run(root: Path, mode: str, stdin: str = "", probe: bool = False) -> list[tuple[str, dict]]:
    argv, env = protocol.process_command(root, mode, probe)
    proc = subprocess.run(argv, input=stdin, env=env, capture_output=True, text=True, timeout=20, check=True)
    return [p for p in map(protocol.parse_line, proc.stdout.splitlines()) if p]


@needs_busybox
def test_init_process_boot(tmp_path) -> None:
    lines = _run(_rootfs(tmp_path), "boot")
    assert [k for k, _ in lines] == ["VMSCOPE-INIT", "VMSCOPE-MEM", "VMSCOPE-READY"]
    assert float(lines[0][1]["uptime_s"]) > 0
    assert int(lines[1][1]["memtotal_kib"]) > 0 and int(lines[1][1]["memavailable_kib"]) > 0
    assert lines[2][1] | {"uptime_s": ""} == {"uptime_s": "", "env": "process", "mode": "boot"}


@needs_busybox
def test_init_process_hold_waits_for_stop(tmp_path) -> None:
    root = _rootfs(tmp_path)
    lines = _run(root, "hold", stdin="noise\nVMSCOPE-STOP\nafter\n")
    assert [k for k, _ in lines][-2:] == ["VMSCOPE-READY", "VMSCOPE-BYE"]
    # EOF also ends hold
    assert _run(root, "hold")[-1][0] == "VMSCOPE-BYE"


@needs_busybox
def test_init_runs_probe_hook(tmp_path) -> None:
    root = _rootfs(tmp_path)
    probe = root / "bin" / "vmscope-probe"
    probe.write_text("#!/bin/sh\necho 'VMSCOPE-PROBE boot_id=abc'\n")
    probe.chmod(0o755)
    keys = [k for k, _ in _run(root, "boot", probe=True)]
    assert keys == ["VMSCOPE-INIT", "VMSCOPE-MEM", "VMSCOPE-PROBE", "VMSCOPE-READY"]
    assert "VMSCOPE-PROBE" not in [k for k, _ in _run(root, "boot", probe=False)]
