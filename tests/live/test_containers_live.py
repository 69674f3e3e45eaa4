"""Real launches of the shared guest on every shared-kernel platform usable here."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from helpers import require_root

from vmscope.platforms import get_driver
from vmscope.platforms.base import GuestTimeout, LaunchError, Resources
from vmscope.platforms.oci import leftover_cgroups

CONTAINER_PLATFORMS = ["process", "bwrap", "runc", "crun", "gvisor"]


def usable_or_skip(pid: str):
    if pid != "process":
        require_root()
    d = get_driver(pid)
    avail = d.probe()
    if not avail.usable:
        pytest.skip(f"{pid} cannot run here: {avail.reason}")
    return d


def assert_gone(inst) -> None:
    pids = [inst.pid] if inst.pid else []
    for p in pids:
        assert not psutil.pid_exists(p) or psutil.Process(p).status() == psutil.STATUS_ZOMBIE
    assert not inst.workdir.exists()
    cid = getattr(inst, "container_id", None)
    if cid:
        assert leftover_cgroups(cid) == []


@pytest.mark.parametrize("pid", CONTAINER_PLATFORMS)
def test_boot_reaches_ready_and_exits(pid, guest, no_leaks):
    d = usable_or_skip(pid)
    inst = d.launch(guest, Resources(mode="boot"))
    try:
        ready = inst.wait_ready(60)
        inst.wait_exit(30)
    finally:
        inst.stop()
    t = inst.timings()
    assert t["spawn"] <= t["first_output"] <= ready <= t["exit"]
    assert inst.exit_status == 0
    assert "env=container" in inst.console.text or "env=process" in inst.console.text
    assert "memtotal_kib=" in inst.console.text
    assert_gone(inst)


@pytest.mark.parametrize("pid", ["process", "bwrap", "runc", "gvisor"])
def test_hold_then_stop_leaves_nothing(pid, guest, no_leaks):
    d = usable_or_skip(pid)
    inst = d.launch(guest, Resources(mode="hold"))
    try:
        inst.wait_ready(60)
        assert inst.pids(), "a held instance has live host processes"
        assert not inst.exited
    finally:
        inst.stop()
    inst.stop()  # idempotent
    assert inst.exited
    assert_gone(inst)


def wait_for_child(pid: int, needle: str, timeout_s: float = 60.0) -> None:
    """Bounded wait until a descendant of pid has needle in its command line."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for k in psutil.Process(pid).children(recursive=True):
            try:
                if needle in " ".join(k.cmdline()):
                    return
            except psutil.Error:  # exited or zombie between listing and reading
                continue
        time.sleep(0.05)
    raise AssertionError(f"no {needle} child of {pid} within {timeout_s} s")


def hanging_guest(guest, tmp_path: Path):
    """A copy of the guest whose init never prints ready (sleeps instead)."""
    root = tmp_path / "rootfs"
    shutil.copytree(guest.rootfs, root, symlinks=True)
    (root / "init").write_text("#!/bin/sh\necho 'VMSCOPE-INIT uptime_s=0'\nexec /bin/sleep 600\n")
    (root / "init").chmod(0o755)
    return replace(guest, rootfs=root)


@pytest.mark.parametrize("pid", ["bwrap", "runc"])
def test_guest_that_never_becomes_ready_times_out_and_is_cleaned(pid, guest, tmp_path, no_leaks):
    d = usable_or_skip(pid)
    g = hanging_guest(guest, tmp_path)
    inst = d.launch(g, Resources(mode="boot"))
    try:
        with pytest.raises(GuestTimeout) as e:
            inst.wait_ready(2.0)
        assert "not ready after" in str(e.value)
        assert "VMSCOPE-INIT" in str(e.value)  # the console tail is in the message
    finally:
        inst.stop()
    assert_gone(inst)


def test_runtime_killed_mid_start_is_reported_and_cleaned(guest, no_leaks):
    d = usable_or_skip("runc")
    inst = d.launch(guest, Resources(mode="hold"))
    try:
        os.kill(inst.pid, signal.SIGKILL)
        with pytest.raises(LaunchError) as e:
            inst.wait_ready(30)
        # either it died before ready (reported) or it got to ready first on a fast host
        assert "exited with status" in str(e.value)
    except pytest.fail.Exception:
        raise
    finally:
        inst.stop()
    assert_gone(inst)


def test_bench_cli_json_and_db(guest, tmp_db, no_leaks):
    from vmscope.cli.bench_startup import run_startup
    from vmscope.store import ResultsDB

    doc = run_startup("process,bwrap", trials=3, warmup=1, db=tmp_db, show_progress=False)
    assert {r["platform"] for r in doc["results"]} == {"process", "bwrap"}
    for r in doc["results"]:
        assert r["accel"] is None
        assert r["n"] == 3 and len(r["samples_ms"]) == 3
        assert r["ci_low_ms"] <= r["median_ms"] <= r["ci_high_ms"]
        assert min(r["samples_ms"]) <= r["median_ms"] <= r["p95_ms"] <= max(r["samples_ms"])
        assert {"runtime_setup", "init_to_ready", "spawn_to_ready"} <= set(r["phases_ms"])
    assert set(doc["host"]) >= {"cpu_model", "cores", "kernel", "cgroup_mode"}
    with ResultsDB(tmp_db) as db:
        assert len(db.samples(doc["run_id"])) == 6
        recs = db.records(doc["run_id"])
        assert {r.platform for r in recs} == {"process", "bwrap"}
        assert all(r.kind == "live" and r.measure == "spawn_to_ready" for r in recs)


def test_hung_platform_fails_clearly_and_stores_nothing_for_it(guest, tmp_db, no_leaks, capsys):
    from vmscope.cli import main
    from vmscope.store import ResultsDB

    rc = main(["bench", "startup", "--platform", "process", "--trials", "2", "--timeout", "0.0001",
               "--db", str(tmp_db), "--json"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "process" in err and "not ready" in err and "console log" in err
    with ResultsDB(tmp_db) as db:
        assert db.samples() == []


@pytest.mark.skipif(sys.platform != "linux", reason="linux only")
def test_ctrl_c_mid_run_leaves_nothing(guest, tmp_db, no_leaks):
    require_root()
    usable_or_skip("runc")
    env = dict(os.environ, COLUMNS="120")
    proc = subprocess.Popen([sys.executable, "-m", "vmscope", "bench", "startup", "--platform", "runc,bwrap",
                             "--trials", "200", "--db", str(tmp_db)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            # a job started in the background may inherit SIGINT ignored; a user's shell does not
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # wait until it is really launching containers, then interrupt like a user would
    wait_for_child(proc.pid, "runc")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert b"interrupted" in err


def test_sigterm_mid_run_leaves_nothing(guest, tmp_db, no_leaks):
    require_root()
    usable_or_skip("runc")
    proc = subprocess.Popen([sys.executable, "-m", "vmscope", "bench", "startup", "--platform", "runc",
                             "--trials", "200", "--db", str(tmp_db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_child(proc.pid, "runc")
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err.decode()
