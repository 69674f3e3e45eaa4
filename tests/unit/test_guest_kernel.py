"""Kernel selection: a user's kernel is validated; apt problems become UserErrors that suggest --kernel."""

from __future__ import annotations

import gzip
import os
import subprocess

import pytest

from vmscope.errors import UserError
from vmscope.guest import kernel
from vmscope.guest.fakes import FAKE_ELF, fake_bzimage


def test_missing_kernel(tmp_path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        kernel.validate_user_kernel(tmp_path / "nope")


def test_directory_is_not_a_kernel(tmp_path) -> None:
    with pytest.raises(UserError, match="not a regular file"):
        kernel.validate_user_kernel(tmp_path)


def test_random_file_is_not_a_bzimage(tmp_path) -> None:
    p = tmp_path / "k"
    p.write_bytes(b"hello" * 1000)
    with pytest.raises(UserError, match="not a bzImage") as info:
        kernel.validate_user_kernel(p)
    assert info.value.hint


def test_short_file_is_not_a_bzimage(tmp_path) -> None:
    p = tmp_path / "k"
    p.write_bytes(b"HdrS")
    with pytest.raises(UserError, match="not a bzImage"):
        kernel.validate_user_kernel(p)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_kernel(tmp_path) -> None:
    p = tmp_path / "k"
    p.write_bytes(b"x")
    p.chmod(0)
    with pytest.raises(UserError, match="not readable"):
        kernel.validate_user_kernel(p)


def test_bzimage_and_elf_accepted(tmp_path) -> None:
    bz = tmp_path / "bz"
    bz.write_bytes(fake_bzimage(gzip.compress(FAKE_ELF)))
    elf = tmp_path / "vmlinux"
    elf.write_bytes(FAKE_ELF)
    assert kernel.validate_user_kernel(bz) is False
    assert kernel.validate_user_kernel(elf) is True
    dest = tmp_path / "out"
    dest.mkdir()
    k = kernel.copy_user_kernel(elf, dest)
    assert k.is_elf and k.path.name == "vmlinux" and k.source == f"user:{elf}"


def test_apt_missing(monkeypatch) -> None:
    monkeypatch.setattr(kernel.shutil, "which", lambda _name: None)
    with pytest.raises(UserError, match="apt is not available") as info:
        kernel.resolve_debian_package()
    assert "--kernel" in info.value.hint


def _fake_run(stdout: str = "", stderr: str = "", rc: int = 0):
    def run(cmd, cwd=None, timeout=600):
        return subprocess.CompletedProcess(cmd, rc, stdout, stderr)

    return run


def test_resolve_package_from_apt_cache(monkeypatch) -> None:
    monkeypatch.setattr(kernel.shutil, "which", lambda name: f"/usr/bin/{name}")
    out = "linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-57-cloud-amd64\n"
    monkeypatch.setattr(kernel, "_run", _fake_run(stdout=out))
    assert kernel.resolve_debian_package() == "linux-image-6.1.0-57-cloud-amd64"


def test_package_not_found(monkeypatch) -> None:
    monkeypatch.setattr(kernel.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(kernel, "_run", _fake_run(stderr="E: No packages found", rc=0))
    with pytest.raises(UserError, match="does not know the package"):
        kernel.resolve_debian_package()


def test_download_failure_suggests_kernel_option(monkeypatch, tmp_path) -> None:
    calls = []

    def run(cmd, cwd=None, timeout=600):
        calls.append(cmd[:2])
        return subprocess.CompletedProcess(cmd, 100, "", "E: Failed to fetch http://x 404 Not Found")

    monkeypatch.setattr(kernel, "_run", run)
    with pytest.raises(UserError, match="downloading pkg failed") as info:
        kernel._download("pkg", tmp_path, lambda _m: None)
    assert "--kernel" in info.value.hint
    assert ["apt-get", "update"] not in calls


def test_download_runs_update_when_lists_missing(monkeypatch, tmp_path) -> None:
    calls, messages = [], []

    def run(cmd, cwd=None, timeout=600):
        calls.append(cmd[:2])
        if cmd[:2] == ["apt-get", "download"] and len(calls) == 1:
            return subprocess.CompletedProcess(cmd, 100, "", "E: Unable to locate package pkg")
        if cmd[:2] == ["apt-get", "download"]:
            (tmp_path / "pkg_1.0_amd64.deb").write_bytes(b"deb")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(kernel, "_run", run)
    deb = kernel._download("pkg", tmp_path, messages.append)
    assert deb.name == "pkg_1.0_amd64.deb"
    assert calls == [["apt-get", "download"], ["apt-get", "update"], ["apt-get", "download"]]
    assert any("apt-get update" in m for m in messages)
