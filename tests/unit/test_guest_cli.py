"""`vmscope guest build|info` through the real entry point, on a synthetic kernel and busybox."""

from __future__ import annotations

import gzip
import json

import pytest

from vmscope.cli import main
from vmscope.guest import initramfs
from vmscope.guest.fakes import FAKE_ELF, fake_bzimage, fake_static_elf


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("VMSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    busybox = tmp_path / "busybox"
    busybox.write_bytes(fake_static_elf())
    monkeypatch.setattr(initramfs, "DEFAULT_BUSYBOX", busybox)
    path = tmp_path / "bzImage"
    path.write_bytes(fake_bzimage(gzip.compress(FAKE_ELF)))
    return path


def test_info_before_build_is_a_user_error(kernel, capsys) -> None:
    assert main(["guest", "info"]) == 1
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "no shared guest built yet" in err and "vmscope guest build" in err


def test_build_then_info_json(kernel, capsys) -> None:
    assert main(["guest", "build", "--kernel", str(kernel)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "6.9.9-test-amd64" in out and "vmlinux extracted from the gzip payload" in out
    assert main(["guest", "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kernel_version"] == "6.9.9-test-amd64"
    assert info["kernel_source"] == f"user:{kernel}"
    assert info["vmlinux"]["available"] and info["vmlinux"]["payload_compression"] == "gzip"
    assert info["initramfs"]["compression"] == "none"
    assert info["kernel"]["bytes"] == kernel.stat().st_size
    assert set(info["fingerprint"]) == {"kernel_version", "kernel_source", "hashes"}


def test_build_rejects_non_kernel(kernel, tmp_path, capsys) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    assert main(["guest", "build", "--kernel", str(bad)]) == 1
    assert "not a bzImage" in " ".join(capsys.readouterr().err.split())
