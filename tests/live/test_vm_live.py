"""Real boots of the shared guest under QEMU (TCG here), the raw-KVM floor, and the VMMs not installed here.

Kept few on purpose: each TCG boot costs seconds.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from helpers import require_tool

from vmscope.measure.phases import phases_ms, timing_points
from vmscope.measure.startup import run_trial
from vmscope.platforms import get_driver
from vmscope.platforms.base import GuestTimeout, LaunchError, Resources
from vmscope.platforms.console import MARK_BYE

BOOT_TIMEOUT_S = 120.0
TCG = Resources(accel="tcg")


@pytest.fixture
def qemu():
    require_tool("qemu-system-x86_64", "qemu-system-x86")


def assert_nothing_left(inst) -> None:
    assert not inst.workdir.exists()
    assert inst.pid is not None and not psutil.pid_exists(inst.pid)
    marker = str(inst.workdir)
    for p in psutil.process_iter(["cmdline"]):
        assert marker not in " ".join(p.info["cmdline"] or []), f"left running: {p.pid}"


def assert_phases_ordered(inst) -> dict[str, float]:
    pts = timing_points(inst)
    for k in ("spawn", "kernel_start", "init_start", "ready", "exit"):
        assert k in pts, f"{k} missing from {sorted(pts)}"
    assert pts["spawn"] <= pts["kernel_start"] <= pts["init_start"] <= pts["ready"] <= pts["exit"]
    ph = phases_ms(pts)
    for k in ("vmm_firmware", "kernel", "init_to_ready", "spawn_to_ready"):
        assert k in ph and ph[k] >= 0
    return ph


@pytest.mark.parametrize("platform", ["qemu-pc", "qemu-q35"])
def test_full_pc_boots_with_phases_and_keeps_its_console(qemu, guest, platform, tmp_path):
    d = get_driver(platform)
    inst = d.launch(guest, TCG)
    try:
        inst.wait_ready(BOOT_TIMEOUT_S)
        inst.wait_exit(30)
    finally:
        inst.stop()
    assert inst.accel == "tcg" and inst.exit_status == 0
    assert inst.notes["kernel_format"].startswith("bzImage") and "SeaBIOS" in inst.notes["firmware"]
    assert_phases_ordered(inst)
    log = inst.console.save(tmp_path / f"{platform}.log")
    text = log.read_text()
    assert "Run /init as init process" in text and "VMSCOPE-READY" in text
    assert_nothing_left(inst)


def test_microvm_hold_mode_answers_qmp_and_stops_on_the_console_line(qemu, guest):
    inst = get_driver("qemu-microvm").launch(guest, Resources(accel="tcg", mode="hold"))
    try:
        inst.wait_ready(BOOT_TIMEOUT_S)
        assert "PVH" in inst.notes["kernel_format"] if guest.vmlinux else True
        assert inst.pids() and inst.pid in inst.pids()
        with inst.qmp(timeout_s=10) as q:
            assert q.execute("query-status")["status"] == "running"
    finally:
        inst.stop()
    assert inst.console.mark(MARK_BYE) is not None, "the guest should have read the STOP line and said bye"
    assert_phases_ordered(inst)
    assert_nothing_left(inst)


def test_a_panicking_kernel_times_out_with_its_console_saved(qemu, guest, tmp_path):
    # rdinit pointing nowhere -> no root fs -> panic; panic=0 keeps the panicked VM up (never ready)
    res = Resources(accel="tcg", extra_cmdline="rdinit=/nonexistent panic=0")
    d = get_driver("qemu-pc")
    t0 = time.monotonic()
    with pytest.raises(GuestTimeout) as exc:
        run_trial(d, guest, res, 0, timeout_s=25, log_dir=tmp_path)
    assert time.monotonic() - t0 < 25 + 15  # the timeout plus a bounded stop
    assert "not ready after" in str(exc.value) and "console log:" in str(exc.value)
    log = tmp_path / "qemu-pc-0.log"
    assert log.exists() and "Kernel panic" in log.read_text()
    # workdirs live in this test session's private TMPDIR (tests/conftest.py): none may remain, nor its VMM
    tmp = tempfile.gettempdir()
    assert not list(Path(tmp).glob("vmscope-qemu-pc-*"))
    assert not [p.pid for p in psutil.process_iter(["cmdline"])
                if "qemu-system" in " ".join(p.info["cmdline"] or []) and tmp in " ".join(p.info["cmdline"] or [])]


def test_a_vmm_killed_mid_boot_is_reported_quickly(qemu, guest):
    inst = get_driver("qemu-q35").launch(guest, TCG)
    try:
        assert inst.console.wait(lambda: inst.console.first_output_ns is not None, 60)
        os.kill(inst.pid, signal.SIGKILL)
        t0 = time.monotonic()
        with pytest.raises(LaunchError) as exc:
            inst.wait_ready(BOOT_TIMEOUT_S)
        assert not isinstance(exc.value, GuestTimeout)
        assert time.monotonic() - t0 < BOOT_TIMEOUT_S / 2  # reported on exit, not at the timeout
        assert "exited with status -9" in str(exc.value)
    finally:
        inst.stop()
    assert_nothing_left(inst)


def test_kvm_floor_runs_to_hlt_and_sees_the_byte(tmp_path):
    d = get_driver("kvm-floor")
    avail = d.probe()
    if not avail.usable:
        pytest.skip(f"kvm-floor cannot run here: {avail.reason}")
    inst = d.launch(None, Resources())
    assert inst.result.byte == 0x42 and inst.result.port == 0x10
    pts = timing_points(inst)
    assert pts["spawn"] < pts["first_output"] < pts["ready"] <= pts["exit"]
    assert inst.accel == "kvm" and inst.pids() == []
    trial = run_trial(d, None, Resources(), 0, 5, tmp_path)
    assert trial.phases_ms["spawn_to_ready"] > 0


@pytest.mark.parametrize("platform", ["firecracker", "cloud-hypervisor"])
def test_external_vmms_boot_when_present(guest, platform):
    d = get_driver(platform)
    avail = d.probe()
    if not avail.usable:
        pytest.skip(f"{platform} cannot run here: {avail.reason}")
    inst = d.launch(guest, Resources())
    try:
        inst.wait_ready(BOOT_TIMEOUT_S)
    finally:
        inst.stop()
    assert inst.accel == "kvm"
    assert_nothing_left(inst)
