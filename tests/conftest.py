"""Shared fixtures: leak checks (processes, temp dirs, cgroups, containers) and isolated DBs."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from helpers import require_root, require_tool  # noqa: F401  (re-exported for tests)

# Every temp dir vmscope makes during the tests lands in a directory of this test session only,
# so the leak check is not confused by other programs (or other test runs) on the machine.
_SESSION_TMP = Path(tempfile.gettempdir()) / f"vmscope-tests-{os.getpid()}"
_SESSION_TMP.mkdir(exist_ok=True)
os.environ["TMPDIR"] = str(_SESSION_TMP)
tempfile.tempdir = str(_SESSION_TMP)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_SESSION_TMP, ignore_errors=True)


LEAK_PATTERNS = ("qemu-system", "runsc", "runc", "crun", "bwrap", "firecracker", "cloud-hypervisor")


def _ours(p: psutil.Process) -> bool:
    """Launched by this test process: still our descendant, or orphaned (re-parented to init).

    Processes other programs on the machine started (another test run, a shell) are not ours.
    """
    try:
        if p.ppid() == 1:
            return True
        return any(a.pid == os.getpid() for a in p.parents())
    except psutil.Error:
        return False


def _instance_processes() -> set[int]:
    """Processes that look like instances vmscope launched (VMMs, runtimes, the shared init)."""
    found = set()
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if any(pat in cmd for pat in LEAK_PATTERNS) or ("/init --env" in cmd) or ("vmscope/guest" in cmd):
            if p.info["pid"] != os.getpid() and _ours(p):
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


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def snapshot() -> dict[str, set]:
    return {"processes": _instance_processes(), "tmpdirs": _vmscope_tmpdirs(), "cgroups": _vmscope_cgroups()}


def leaks_since(before: dict[str, set], settle_s: float = 5.0) -> dict[str, set]:
    """What appeared since `before` and is still there (waiting a bounded time for exits)."""
    deadline = time.monotonic() + settle_s
    while True:
        now = snapshot()
        new = {k: now[k] - before[k] for k in now}
        new["processes"] = {p for p in new["processes"] if _alive(p)}
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

