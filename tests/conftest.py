"""Shared fixtures: leak checks (processes, temp dirs, cgroups, containers) and isolated DBs."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import psutil
import pytest

LEAK_PATTERNS = ("qemu-system", "runsc", "runc", "crun", "bwrap", "firecracker", "cloud-hypervisor")


def _instance_processes() -> set[int]:
    """Processes that look like instances vmscope launched (VMMs, runtimes, the shared init)."""
    found = set()
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if any(pat in cmd for pat in LEAK_PATTERNS) or ("/init --env" in cmd) or ("vmscope/guest" in cmd):
            if p.info["pid"] != os.getpid():
                found.add(p.info["pid"])
    return found


def _vmscope_tmpdirs() -> set[str]:
    tmp = Path(tempfile.gettempdir())
    return {str(p) for p in tmp.glob("vmscope-*")}


def _vmscope_cgroups() -> set[str]:
    root = Path("/sys/fs/cgroup")
    out = set()
    for d in [root, *root.glob("*")]:
        v = d / "vmscope"
        if v.is_dir():
            out.update(str(c) for c in v.iterdir() if c.is_dir())
    return out


def snapshot() -> dict[str, set]:
    return {"processes": _instance_processes(), "tmpdirs": _vmscope_tmpdirs(), "cgroups": _vmscope_cgroups()}


def leaks_since(before: dict[str, set], settle_s: float = 5.0) -> dict[str, set]:
    """What appeared since `before` and is still there (waiting a bounded time for exits)."""
    deadline = time.monotonic() + settle_s
    while True:
        now = snapshot()
        new = {k: now[k] - before[k] for k in now}
        new["processes"] = {p for p in new["processes"] if psutil.pid_exists(p)
                            and psutil.Process(p).status() != psutil.STATUS_ZOMBIE}
        if not any(new.values()) or time.monotonic() > deadline:
            return {k: v for k, v in new.items() if v}
        time.sleep(0.2)


@pytest.fixture
def no_leaks():
    """Fails the test if it left an instance process, a vmscope temp dir or a cgroup behind."""
    before = snapshot()
    yield
    left = leaks_since(before)
    if left.get("processes"):
        desc = []
        for pid in left["processes"]:
            try:
                desc.append(f"{pid}: {' '.join(psutil.Process(pid).cmdline())}")
            except psutil.NoSuchProcess:
                pass
        left["processes"] = set(desc)
    assert not left, f"left behind: {left}"


@pytest.fixture
def tmp_db(tmp_path) -> Path:
    return tmp_path / "results.sqlite"


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (containers and /dev/kvm)")


def require_tool(name: str, package: str) -> None:
    if shutil.which(name) is None:
        pytest.skip(f"{name} not installed (apt-get install {package})")
