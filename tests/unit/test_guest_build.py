"""Building, caching and loading the shared guest with a synthetic kernel and busybox (no network, no root)."""

from __future__ import annotations

import gzip
import json

import pytest

from vmscope.errors import UserError
from vmscope.guest import build as gb
from vmscope.guest import initramfs
from vmscope.guest.fakes import FAKE_ELF, fake_bzimage, fake_static_elf


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("VMSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    kernel = tmp_path / "bzImage"
    kernel.write_bytes(fake_bzimage(gzip.compress(FAKE_ELF)))
    busybox = tmp_path / "busybox"
    busybox.write_bytes(fake_static_elf())
    return {"kernel": kernel, "busybox": busybox, "root": tmp_path / "cache" / "guest", "tmp": tmp_path}


def build(env, **kw) -> gb.Guest:
    return gb.build_guest(kernel=kw.pop("kernel", env["kernel"]), busybox=env["busybox"], **kw)


def test_no_guest_yet(env) -> None:
    with pytest.raises(UserError, match="no shared guest built yet") as info:
        gb.load_guest()
    assert "vmscope guest build" in info.value.hint


def test_build_then_load(env) -> None:
    messages: list[str] = []
    g = build(env, progress=messages.append)
    assert g.kernel.read_bytes() == env["kernel"].read_bytes()
    assert g.vmlinux is not None and g.vmlinux.read_bytes() == FAKE_ELF
    assert g.vmlinux_format == "gzip" and g.vmlinux_error is None
    assert g.kernel_version == "6.9.9-test-amd64"
    assert g.kernel_source == f"user:{env['kernel']}"
    assert set(g.hashes) >= {"kernel", "vmlinux", "initramfs", "init"}
    assert (g.rootfs / "init").read_bytes() == gb.INIT_SCRIPT.read_bytes()
    assert (g.rootfs / "bin" / "busybox").read_bytes() == env["busybox"].read_bytes()
    names = {e.path for e in initramfs.read_newc(g.initramfs.read_bytes())}
    assert {"init", "bin/busybox", "bin/sh", "dev/console", "proc", "sys"} <= names
    assert messages
    assert (env["root"] / "current").read_text().strip() == g.content_hash
    loaded = gb.load_guest()
    assert loaded == g
    json.dumps(loaded.fingerprint())
    assert loaded.fingerprint() == {
        "kernel_version": g.kernel_version,
        "kernel_source": g.kernel_source,
        "hashes": g.hashes,
    }
    assert not list(env["root"].glob(".tmp-*"))


def test_same_inputs_reuse_and_force_rebuilds(env) -> None:
    g1 = build(env)
    stamp = (g1.directory / "manifest.json").stat().st_mtime_ns
    msgs: list[str] = []
    g2 = build(env, progress=msgs.append)
    assert g2.content_hash == g1.content_hash
    assert (g1.directory / "manifest.json").stat().st_mtime_ns == stamp
    assert any("reusing" in m for m in msgs)
    g3 = build(env, force=True)
    assert g3.content_hash == g1.content_hash
    assert gb.load_guest().hashes == g1.hashes
    assert [p.name for p in env["root"].iterdir() if p.is_dir()] == [g1.content_hash]


def test_changed_kernel_gives_new_hash(env) -> None:
    g1 = build(env)
    other = env["tmp"] / "other"
    other.write_bytes(fake_bzimage(gzip.compress(FAKE_ELF), lead=0x100))
    g2 = build(env, kernel=other)
    assert g2.content_hash != g1.content_hash
    assert gb.load_guest().content_hash == g2.content_hash


def test_elf_kernel(env) -> None:
    elf = env["tmp"] / "vmlinux"
    elf.write_bytes(FAKE_ELF)
    g = build(env, kernel=elf)
    assert g.kernel_is_elf and g.kernel == g.vmlinux
    assert g.kernel_version == "6.9.9-test-amd64"
    assert gb.load_guest().kernel_is_elf


def test_unextractable_bzimage_records_reason(env) -> None:
    bad = env["tmp"] / "bad"
    bad.write_bytes(fake_bzimage(b"\x89LZO\x00" + bytes(200)))
    g = build(env, kernel=bad)
    assert g.vmlinux is None and "unknown magic" in g.vmlinux_error
    assert gb.load_guest().vmlinux is None


@pytest.mark.parametrize("name", ["initramfs", "kernel", "vmlinux", "init"])
def test_corrupt_file_detected(env, name) -> None:
    g = build(env)
    path = g.files[name]
    path.write_bytes(path.read_bytes() + b"!")
    with pytest.raises(UserError, match=f"{name} file .* is corrupt") as info:
        gb.load_guest()
    assert "--force" in info.value.hint


def test_missing_file_detected(env) -> None:
    g = build(env)
    g.initramfs.unlink()
    with pytest.raises(UserError, match="missing"):
        gb.load_guest()


def test_corrupt_rootfs_detected(env) -> None:
    g = build(env)
    (g.rootfs / "init").write_text("#!/bin/sh\n")
    with pytest.raises(UserError, match="rootfs"):
        gb.load_guest()


def test_bad_pointer_and_manifest(env) -> None:
    g = build(env)
    (env["root"] / "current").write_text("deadbeef\n")
    with pytest.raises(UserError, match="not a built guest"):
        gb.load_guest()
    (env["root"] / "current").write_text(g.content_hash)
    (g.directory / "manifest.json").write_text("{not json")
    with pytest.raises(UserError, match="corrupt"):
        gb.load_guest()
    # ensure_guest does not paper over corruption
    with pytest.raises(UserError, match="corrupt"):
        gb.ensure_guest()
    # a rebuild repairs it
    build(env)
    assert gb.load_guest().content_hash == g.content_hash


def test_failed_build_leaves_nothing(env, monkeypatch) -> None:
    def boom(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(initramfs, "build_initramfs_and_rootfs", boom)
    with pytest.raises(RuntimeError):
        build(env)
    assert list(env["root"].iterdir()) == []


def test_ensure_guest_builds_when_missing(env, monkeypatch) -> None:
    monkeypatch.setattr(initramfs, "DEFAULT_BUSYBOX", env["busybox"])
    monkeypatch.setattr(gb.kernel, "fetch_debian_kernel", lambda dest, progress=None: _debian(env, dest))
    g = gb.ensure_guest()
    assert g.kernel_source == "debian:linux-image-test"
    assert gb.ensure_guest() == g


def _debian(env, dest):
    path = dest / "bzImage"
    path.write_bytes(env["kernel"].read_bytes())
    return gb.kernel.KernelFile(path, "debian:linux-image-test", is_elf=False)


def test_ensure_guest_rebuilds_a_guest_from_an_older_builder(env, monkeypatch) -> None:
    monkeypatch.setattr(initramfs, "DEFAULT_BUSYBOX", env["busybox"])
    monkeypatch.setattr(gb.kernel, "fetch_debian_kernel", lambda dest, progress=None: _debian(env, dest))
    old = gb.ensure_guest()
    monkeypatch.setattr(gb, "BUILDER_VERSION", gb.BUILDER_VERSION + 1)
    new = gb.ensure_guest()
    assert new.directory != old.directory
    assert new.kernel_source == old.kernel_source
    assert json.loads((new.directory / "manifest.json").read_text())["builder_version"] == gb.BUILDER_VERSION
    assert gb.ensure_guest() == new
