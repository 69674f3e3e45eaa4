import os
import subprocess
import sys
import time

from vmscope.platforms import console as con


def test_marks_and_lines_are_parsed_across_chunk_boundaries():
    c = con.Console()
    c._feed(b"[    0.000000] Linux version 6.1\nVMSCOPE-IN", 100)
    c._feed(b"IT uptime_s=0.52\r\nVMSCOPE-READY uptime_s=0.60 env=vm mode=boot\n", 200)
    assert c.first_output_ns == 100
    assert c.mark("VMSCOPE-INIT") == (200, "uptime_s=0.52")
    ns, rest = c.mark("VMSCOPE-READY")
    assert ns == 200
    assert con.parse_fields(rest) == {"uptime_s": "0.60", "env": "vm", "mode": "boot"}
    assert [t for _, t in c.lines][0] == "[    0.000000] Linux version 6.1"


def test_wait_is_bounded():
    c = con.Console()
    t0 = time.monotonic()
    assert c.wait(lambda: False, 0.2) is False
    assert time.monotonic() - t0 < 15  # bounded (not hung)


def test_hub_follows_a_real_process_output_and_exit():
    r, w = os.pipe()
    proc = subprocess.Popen([sys.executable, "-c", "print('hello'); print('VMSCOPE-READY x=1')"], stdout=w)
    os.close(w)
    c = con.Console()
    # the hub reaps the child itself; Popen must not race it
    con.attach(c, r, proc.pid)
    assert c.wait(lambda: c.exit_ns is not None and c.eof_ns is not None, 10)
    proc.returncode = c.exit_status
    assert c.exit_status == 0
    assert c.mark("VMSCOPE-READY")[1] == "x=1"
    assert c.first_output_ns <= c.mark("VMSCOPE-READY")[0]


def test_save_writes_the_log(tmp_path):
    c = con.Console()
    c._feed(b"abc\n", 1)
    p = c.save(tmp_path / "logs" / "x.log")
    assert p.read_bytes() == b"abc\n"


def test_failed_spawn_leaves_no_pipe_open(tmp_path):
    from vmscope.model import PlatformClass
    from vmscope.platforms.base import Instance

    not_exec = tmp_path / "not-executable"
    not_exec.write_text("#!/bin/sh\n")
    inst = Instance("process", PlatformClass.process, None, tmp_path / "work")
    before = set(os.listdir("/proc/self/fd"))
    try:
        try:
            inst.spawn([str(not_exec)])
        except OSError:
            pass
        assert set(os.listdir("/proc/self/fd")) == before
    finally:
        inst.stop()
