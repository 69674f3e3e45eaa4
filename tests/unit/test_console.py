import os
import subprocess
import sys
import time

import pytest

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


def test_failed_spawn_leaves_no_pipe_open(tmp_path, monkeypatch):
    from vmscope.model import PlatformClass
    from vmscope.platforms import base

    not_exec = tmp_path / "not-executable"
    not_exec.write_text("#!/bin/sh\n")
    inst = base.Instance("process", PlatformClass.process, None, tmp_path / "work")
    opened: list[int] = []
    closed: list[int] = []
    real_pipe2, real_close = os.pipe2, os.close

    def pipe2(flags: int) -> tuple[int, int]:
        fds = real_pipe2(flags)
        opened.extend(fds)
        return fds

    def close(fd: int) -> None:
        closed.append(fd)
        real_close(fd)

    monkeypatch.setattr(base.os, "pipe2", pipe2)
    monkeypatch.setattr(base.os, "close", close)
    try:
        with pytest.raises(OSError):
            inst.spawn([str(not_exec)])
        assert len(opened) == 4 and set(opened) <= set(closed)
    finally:
        monkeypatch.undo()
        inst.stop()
