"""Accelerator decision, KVM verdict caching, QMP client, kvm-floor constants, VM phase estimates."""

from __future__ import annotations

import ctypes
import json
import os
import socket
import threading
import time

import pytest

from vmscope.errors import UserError
from vmscope.measure.phases import kernel_points
from vmscope.platforms import accel, kvm_floor
from vmscope.platforms.base import LaunchError
from vmscope.platforms.console import Console
from vmscope.platforms.qmp import QmpClient, QmpError

MS = 1_000_000
CANNOT = {"status": "cannot_run_linux", "reason": "KVM internal error. Suberror: 1 / emulation failure"}


def with_verdict(monkeypatch, verdict):
    calls = []

    def fake(guest=None, refresh=False):
        calls.append(guest)
        return verdict

    monkeypatch.setattr(accel, "kvm_verdict", fake)
    return calls


def test_auto_uses_kvm_only_when_it_boots_linux(monkeypatch):
    with_verdict(monkeypatch, {"status": "usable", "reason": "ok"})
    assert accel.resolve_accel(None) == "kvm"
    for status in ("absent", "cannot_run_linux", "untested"):
        with_verdict(monkeypatch, {"status": status, "reason": "x"})
        assert accel.resolve_accel(None) == "tcg"


def test_forced_kvm_that_cannot_work_is_a_clear_error(monkeypatch):
    with_verdict(monkeypatch, CANNOT)
    with pytest.raises(LaunchError) as exc:
        accel.resolve_accel("kvm")
    msg = str(exc.value)
    assert "cannot_run_linux" in msg and "emulation failure" in msg and "--accel tcg" in msg


def test_forced_tcg_never_tries_kvm(monkeypatch):
    calls = with_verdict(monkeypatch, CANNOT)
    assert accel.resolve_accel("tcg") == "tcg" and calls == []
    with pytest.raises(UserError):
        accel.resolve_accel("whpx")


def test_absent_dev_kvm_is_decided_without_trying(monkeypatch):
    monkeypatch.setattr(accel.os.path, "exists", lambda p: False)
    monkeypatch.setattr(accel, "try_kvm", lambda *a, **k: pytest.fail("must not try"))
    assert accel.kvm_verdict()["status"] == "absent"


def test_verdict_is_cached_per_host_but_untested_is_not(monkeypatch, tmp_path):
    monkeypatch.setenv("VMSCOPE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(accel.os.path, "exists", lambda p: True)
    monkeypatch.setattr(accel.os, "access", lambda p, m: True)
    monkeypatch.setattr(accel.shutil, "which", lambda name: None)
    assert accel.kvm_verdict(guest=object())["status"] == "untested"
    assert not (tmp_path / "host-verdicts.json").exists() or "kvm" not in (tmp_path / "host-verdicts.json").read_text()
    monkeypatch.setattr(accel.shutil, "which", lambda name: "/usr/bin/" + name)
    tries = []
    monkeypatch.setattr(accel, "try_kvm", lambda guest: tries.append(guest) or dict(CANNOT))
    assert accel.kvm_verdict(guest="g")["status"] == "cannot_run_linux"
    assert accel.kvm_verdict(guest="g")["status"] == "cannot_run_linux"
    assert tries == ["g"]  # second answer from the cache
    accel.kvm_verdict(guest="g", refresh=True)
    assert tries == ["g", "g"]


def test_faulting_instruction_is_named():
    dump = "RIP=ffffffff81317850\nCode=24 5b 80 41 <f0> 48 0f c7 4d 20 74 66 4c 8b\n"
    assert accel.faulting_instruction(dump) == "lock cmpxchg16b (f0 48 0f c7 4d 20 74 66)"
    assert accel.faulting_instruction("Code=00 <0f> 0b 90") == "0f 0b 90"
    assert accel.faulting_instruction("no dump") is None


# --- QMP client against a tiny fake server
def serve(path, script, events=False):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dirfd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:  # like QEMU binding relative to its cwd: works whatever the length of TMPDIR
        srv.bind(f"/proc/self/fd/{dirfd}/{path.name}")
    finally:
        os.close(dirfd)
    srv.listen(1)

    def run():
        conn, _ = srv.accept()
        with conn:
            conn.sendall(b'{"QMP": {"version": {}, "capabilities": []}}\r\n')
            f = conn.makefile("rb")
            for reply in script:
                line = f.readline()
                if not line:
                    return
                if events:
                    conn.sendall(b'{"event": "RTC_CHANGE", "data": {}}\r\n')
                if reply is not None:
                    conn.sendall(json.dumps(reply).encode() + b"\r\n")
                else:
                    time.sleep(2)
        srv.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_qmp_execute_skips_events_and_returns_the_reply(tmp_path):
    path = tmp_path / "qmp.sock"
    serve(path, [{"return": {}}, {"return": {"status": "running", "running": True}}], events=True)
    with QmpClient(path, timeout_s=2).connect() as q:
        assert q.execute("query-status")["status"] == "running"
        assert q.events and q.events[0]["event"] == "RTC_CHANGE"


def test_qmp_socket_under_a_very_long_directory(tmp_path):
    deep = tmp_path / ("d" * 120)
    deep.mkdir()
    path = deep / "qmp.sock"
    assert len(str(path)) > 108
    serve(path, [{"return": {}}, {"return": {"status": "running"}}])
    with QmpClient(path, timeout_s=5).connect() as q:
        assert q.execute("query-status")["status"] == "running"


def test_qmp_errors_and_timeouts_are_bounded(tmp_path):
    path = tmp_path / "qmp.sock"
    serve(path, [{"return": {}}, {"error": {"class": "CommandNotFound", "desc": "nope"}}, None])
    q = QmpClient(path, timeout_s=0.5).connect()
    with pytest.raises(QmpError, match="CommandNotFound"):
        q.execute("bogus")
    t0 = time.monotonic()
    with pytest.raises(QmpError, match="no reply"):
        q.execute("query-status")
    assert time.monotonic() - t0 < 15  # bounded (not hung); generous for a loaded host
    q.close()
    t0 = time.monotonic()
    with pytest.raises(QmpError, match="not reachable"):
        QmpClient(tmp_path / "absent.sock", timeout_s=0.3).connect()
    assert time.monotonic() - t0 < 15  # bounded (not hung)


# --- kvm-floor: the ioctl numbers must agree with the struct sizes they encode
def _ioc(direction: int, nr: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (0xAE << 8) | nr


def test_kvm_ioctl_numbers_encode_the_struct_sizes():
    write, read = 1, 2
    assert kvm_floor.KVM_SET_USER_MEMORY_REGION == _ioc(write, 0x46, ctypes.sizeof(kvm_floor._MemRegion))
    assert kvm_floor.KVM_GET_REGS == _ioc(read, 0x81, ctypes.sizeof(kvm_floor._Regs))
    assert kvm_floor.KVM_SET_REGS == _ioc(write, 0x82, ctypes.sizeof(kvm_floor._Regs))
    assert kvm_floor.KVM_GET_SREGS == _ioc(read, 0x83, ctypes.sizeof(kvm_floor._SRegs))
    assert kvm_floor.KVM_SET_SREGS == _ioc(write, 0x84, ctypes.sizeof(kvm_floor._SRegs))
    assert kvm_floor.KVM_RUN == _ioc(0, 0x80, 0) and kvm_floor.KVM_CREATE_VM == _ioc(0, 0x01, 0)
    assert kvm_floor._SRegs.cr0.offset == 224 and kvm_floor._Regs.rip.offset == 128
    assert kvm_floor.CODE == bytes([0xB0, 0x42, 0xE6, 0x10, 0xF4])


def test_kvm_floor_without_dev_kvm_is_a_launch_error(tmp_path):
    with pytest.raises(LaunchError, match="cannot open"):
        kvm_floor.run_floor(str(tmp_path / "kvm"))


# --- phases: a guest clock that fell behind (TCG) must not move init_start earlier than it happened
def test_lagging_guest_clock_uses_the_receipt_time_of_run_init():
    c = Console()
    c._feed(b"[    0.100000] Linux version 6.1.0\n", 1000 * MS)  # kernel start 900 ms
    c._feed(b"[    0.850000] Spectre V1 : Mitigation\n", 1750 * MS)
    c._feed(b"[    0.850000] Mount-cache hash table entries\n", 2600 * MS)  # clock stalled ~1 s
    c._feed(b"[    1.500000] Run /init as init process\n", 3400 * MS)
    pts = kernel_points(c)
    assert pts["kernel_start"] == 900 * MS
    assert pts["init_start"] == 3400 * MS  # not 900 + 1500


def test_kvm_floor_probe_without_dev_kvm(monkeypatch):
    monkeypatch.setattr(kvm_floor.os.path, "exists", lambda p: False)
    avail = kvm_floor.driver("kvm-floor").probe()
    assert not avail.usable and "/dev/kvm does not exist" in avail.reason
