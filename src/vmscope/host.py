"""Host fingerprint and capability facts (what every result record carries)."""

from __future__ import annotations

import functools
import json
import os
import platform
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from vmscope.platforms.util import tool_version

TOOLS = {
    "qemu": ["qemu-system-x86_64", "--version"],
    "runc": ["runc", "--version"],
    "crun": ["crun", "--version"],
    "runsc": ["runsc", "--version"],
    "bwrap": ["bwrap", "--version"],
    "firecracker": ["firecracker", "--version"],
    "cloud-hypervisor": ["cloud-hypervisor", "--version"],
    "hyperfine": ["hyperfine", "--version"],
    "strace": ["strace", "-V"],
}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cgroup_mode() -> str:
    """'v2' (unified), 'hybrid' (v1 controllers + a v2 mount) or 'v1'."""
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        return "v2"
    if (root / "unified").is_dir():
        return "hybrid"
    return "v1" if root.is_dir() else "none"


@functools.cache
def tool_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name, argv in TOOLS.items():
        exe = shutil.which(argv[0])
        out[name] = tool_version([exe, *argv[1:]]) if exe else None
    return out


@functools.cache
def fingerprint() -> dict[str, Any]:
    """Host facts every live record carries, so runs from different hosts can be matched."""
    vm = psutil.virtual_memory()
    return {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "mem_total_mib": vm.total // (1024 * 1024),
        "kernel": platform.release(),
        "kernel_version": platform.version(),
        "arch": platform.machine(),
        "os": _os_release(),
        "cgroup_mode": cgroup_mode(),
        "kvm_device": os.path.exists("/dev/kvm"),
        "python": platform.python_version(),
        "tools": tool_versions(),
    }


def _os_release() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def host_key() -> str:
    """Identifies this host+kernel for cached capability verdicts."""
    return f"{socket.gethostname()}|{platform.release()}|{cpu_model()}"


def _verdicts() -> tuple[Path, dict[str, Any]]:
    from vmscope.paths import cache_dir

    path = cache_dir() / "host-verdicts.json"
    try:
        return path, json.loads(path.read_text())
    except (OSError, ValueError):
        return path, {}


def has_cached_verdict(name: str) -> bool:
    return f"{host_key()}|{name}" in _verdicts()[1]


def cached_verdict(name: str, compute: Callable[[], Any], *, refresh: bool = False) -> Any:
    """A capability verdict (e.g. "can KVM boot a Linux guest here") cached per host in the cache dir."""
    path, data = _verdicts()
    key = f"{host_key()}|{name}"
    if not refresh and key in data:
        return data[key]
    value = compute()
    data[key] = value
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs a re-probe next time
    return value
