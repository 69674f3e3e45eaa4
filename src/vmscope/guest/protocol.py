"""The console protocol spoken by the guest's init (files/init), and how to start it on each kind of platform.

Lines the init prints, each on its own line, in this order:

    VMSCOPE-INIT uptime_s=<float>                       first thing after /proc is available
    VMSCOPE-MEM memtotal_kib=<int> memavailable_kib=<int>
    VMSCOPE-PROBE ...                                   only with probe enabled, printed by the probe binary
    VMSCOPE-READY uptime_s=<float> env=<vm|container|process> mode=<boot|hold>
    VMSCOPE-BYE                                         hold mode only, after VMSCOPE-STOP or EOF on stdin

`uptime_s` is the guest's own /proc/uptime (in process/container mode: the host kernel's uptime).
In mode boot the init then powers off (VM) or exits 0; in mode hold it waits for a `VMSCOPE-STOP`
line on stdin (the console, in a VM) first.
"""

from __future__ import annotations

import os
from pathlib import Path

INIT_PREFIX = "VMSCOPE-INIT"
MEM_PREFIX = "VMSCOPE-MEM"
PROBE_PREFIX = "VMSCOPE-PROBE"
READY_PREFIX = "VMSCOPE-READY"
BYE_LINE = "VMSCOPE-BYE"
STOP_LINE = "VMSCOPE-STOP"

MODES = ("boot", "hold")
ENVS = ("vm", "container", "process")


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"guest mode must be one of {MODES}, not {mode!r}")


def kernel_cmdline(mode: str = "boot", probe: bool = False, extra: str = "") -> str:
    """The kernel command line every VM driver uses. Not `quiet`: the printk timestamps are parsed."""
    _check_mode(mode)
    parts = [
        "console=ttyS0",
        "printk.time=1",
        "panic=-1",
        "rdinit=/init",
        "vmscope.env=vm",
        f"vmscope.mode={mode}",
    ]
    if probe:
        parts.append("vmscope.probe=1")
    if extra.strip():
        parts.append(extra.strip())
    return " ".join(parts)


def init_argv(env: str, mode: str = "boot", probe: bool = False, init: str = "/init") -> list[str]:
    """argv for a container (whose root is the guest rootfs): `/init --env container --mode boot`."""
    _check_mode(mode)
    if env not in ("container", "process"):
        raise ValueError(f"init_argv is for container/process platforms, not {env!r}")
    return [init, "--env", env, "--mode", mode, *(["--probe"] if probe else [])]


def process_command(rootfs: Path, mode: str = "boot", probe: bool = False) -> tuple[list[str], dict[str, str]]:
    """argv and environment to run the init as a plain host process from the rootfs (not chrooted)."""
    busybox = str(rootfs / "bin" / "busybox")
    argv = [busybox, "sh", *init_argv("process", mode, probe, init=str(rootfs / "init"))]
    env = {**os.environ, "VMSCOPE_BUSYBOX": busybox}
    return argv, env


def parse_line(line: str) -> tuple[str, dict[str, str]] | None:
    """'VMSCOPE-READY uptime_s=1.23 env=vm mode=boot' -> ('VMSCOPE-READY', {'uptime_s': '1.23', ...}).

    Returns None for lines that are not protocol lines. Tolerates leading console noise and a '\\r'.
    """
    idx = line.find("VMSCOPE-")
    if idx < 0:
        return None
    words = line[idx:].strip().split()
    fields: dict[str, str] = {}
    for w in words[1:]:
        key, sep, value = w.partition("=")
        if sep:
            fields[key] = value
    return words[0], fields
