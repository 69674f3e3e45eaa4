"""Decide by trying whether a container runtime can run here: a tiny bundle running `true`."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from pathlib import Path

import psutil

from vmscope.platforms.oci_bundle import make_config, write_bundle
from vmscope.platforms.util import signals_deferred

TRIAL_TIMEOUT_S = 10.0
KILL_WAIT_S = 5.0


def _tiny_rootfs(root: Path) -> bool:
    bb = shutil.which("busybox")
    if bb is None:
        return False
    (root / "bin").mkdir(parents=True)
    shutil.copy2(bb, root / "bin" / "busybox")
    for d in ("proc", "dev", "sys", "tmp"):
        (root / d).mkdir()
    return True


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for child in _children(proc.pid):
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    try:
        proc.communicate(timeout=KILL_WAIT_S)
    except subprocess.TimeoutExpired:
        # a helper that left the group (a daemonised sandbox) still holds the pipe: stop reading it
        if proc.stdout is not None:
            proc.stdout.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(KILL_WAIT_S)


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def trial_run(platform_id: str, runsc_platform: str | None = None) -> tuple[bool, str]:
    """Run `/bin/busybox true` in a container; (worked, why-not or how)."""
    from vmscope.platforms.gvisor import runsc_base
    from vmscope.platforms.oci import remove_container

    tmp = Path(tempfile.mkdtemp(prefix=f"vmscope-trial-{platform_id}-"))
    proc: subprocess.Popen | None = None
    cid = f"vmscope-trial-{uuid.uuid4().hex[:8]}"
    if platform_id == "gvisor":
        base = runsc_base(str(tmp / "state"), runsc_platform or "ptrace")
    else:
        base = [platform_id, "--root", str(tmp / "state")]
    try:
        if not _tiny_rootfs(tmp / "rootfs"):
            return False, "busybox not found to build a trial container (apt-get install busybox-static)"
        cfg = make_config(tmp / "rootfs", ["/bin/busybox", "true"], cid, seccomp=False,
                          cgroups=platform_id != "gvisor")
        write_bundle(tmp / "bundle", cfg)
        try:
            proc = subprocess.Popen([*base, "run", "--bundle", str(tmp / "bundle"), cid], text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        except OSError as exc:
            return False, f"cannot execute: {exc}"
        try:
            output, _ = proc.communicate(timeout=TRIAL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            return False, f"a trivial container did not finish within {TRIAL_TIMEOUT_S:.0f} s (hangs here)"
        if proc.returncode == 0:
            return True, "a trial container ran"
        msg = " ".join(output.split())[-400:]
        return False, f"a trial container failed (exit {proc.returncode}): {msg}"
    finally:
        with signals_deferred():
            if proc is not None and proc.poll() is None:
                kill_group(proc)
            remove_container(base, cid, cgroups=platform_id != "gvisor")
            shutil.rmtree(tmp, ignore_errors=True)
