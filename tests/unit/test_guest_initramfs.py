"""The newc cpio writer (read back by our reader and by GNU cpio), the rootfs tree, the busybox checks."""

from __future__ import annotations

import shutil
import struct
import subprocess

import pytest

from vmscope.errors import UserError
from vmscope.guest import initramfs as ifs

INIT = b"#!/bin/sh\necho hi\n"
BUSYBOX = b"\x7fELF fake busybox" + bytes(1001)  # odd length: exercises the 4-byte padding


def entries() -> list[ifs.Entry]:
    return ifs.guest_entries(INIT, BUSYBOX, ["mount", "poweroff", "cat"])


def test_roundtrip_with_own_reader(tmp_path) -> None:
    dest = tmp_path / "initramfs.cpio"
    ifs.write_newc(entries(), dest)
    back = {e.path: e for e in ifs.read_newc(dest.read_bytes())}
    assert back["init"].data == INIT and back["init"].mode == 0o755 and back["init"].kind == "file"
    assert back["bin/busybox"].data == BUSYBOX
    assert back["bin/sh"] == ifs.Entry("bin/sh", "symlink", 0o777, b"busybox")
    assert back["dev/console"].kind == "chardev" and back["dev/console"].rdev == (5, 1)
    for d in ("proc", "sys", "dev", "tmp", "etc", "root", "bin"):
        assert back[d].kind == "dir"
    assert back["tmp"].mode == 0o1777


def test_archive_is_reproducible(tmp_path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    ifs.write_newc(entries(), a)
    ifs.write_newc(entries(), b)
    assert a.read_bytes() == b.read_bytes()
    assert len(a.read_bytes()) % 4 == 0


@pytest.mark.skipif(shutil.which("cpio") is None, reason="GNU cpio is not installed")
def test_gnu_cpio_lists_and_extracts(tmp_path) -> None:
    dest = tmp_path / "initramfs.cpio"
    ifs.write_newc(entries(), dest)
    listing = subprocess.run(
        ["cpio", "-itv", "--quiet"], stdin=dest.open("rb"), capture_output=True, text=True, check=True
    ).stdout
    lines = {line.split()[-1] if "->" not in line else line.split()[-3]: line for line in listing.splitlines()}
    assert lines["init"].startswith("-rwxr-xr-x")
    assert lines["dev/console"].startswith("crw-------")
    assert "5,   1" in lines["dev/console"] or "5, 1" in lines["dev/console"]
    assert lines["bin/mount"].startswith("lrwxrwxrwx") and lines["bin/mount"].endswith("-> busybox")

    out = tmp_path / "x"
    out.mkdir()
    # Skip the device node: creating it needs root, and the files are what we check here.
    subprocess.run(
        ["cpio", "-id", "--quiet", "--no-absolute-filenames", "-f", "dev/console"],
        stdin=dest.open("rb"),
        cwd=out,
        check=True,
    )
    assert (out / "init").read_bytes() == INIT
    assert (out / "bin" / "busybox").read_bytes() == BUSYBOX
    assert (out / "bin" / "sh").readlink().as_posix() == "busybox"


def test_rootfs_tree_matches_archive(tmp_path) -> None:
    root = tmp_path / "rootfs"
    ifs.build_initramfs_and_rootfs(entries(), tmp_path / "i.cpio", root)
    assert (root / "init").read_bytes() == INIT
    assert (root / "init").stat().st_mode & 0o777 == 0o755
    assert (root / "bin" / "busybox").read_bytes() == BUSYBOX
    assert (root / "bin" / "poweroff").is_symlink()
    assert (root / "sbin").readlink().as_posix() == "bin"
    for d in ("proc", "sys", "dev", "tmp", "etc", "root"):
        assert (root / d).is_dir()
    assert not (root / "dev" / "console").exists()
    # Rebuilding over an existing tree replaces it.
    ifs.build_initramfs_and_rootfs(entries(), tmp_path / "i.cpio", root)
    assert (root / "init").read_bytes() == INIT


def _elf64(phdr_types: list[int]) -> bytes:
    header = bytearray(64)
    header[:4] = b"\x7fELF"
    header[4], header[5] = 2, 1
    struct.pack_into("<Q", header, 0x20, 64)
    struct.pack_into("<HH", header, 0x36, 56, len(phdr_types))
    phdrs = b"".join(struct.pack("<I", t) + bytes(52) for t in phdr_types)
    return bytes(header) + phdrs


def test_elf_interp_detection() -> None:
    assert ifs.elf_has_interp(_elf64([6, 3, 1])) is True
    assert ifs.elf_has_interp(_elf64([1, 1, 4])) is False
    with pytest.raises(ValueError):
        ifs.elf_has_interp(b"#!/bin/sh")


def test_busybox_missing(tmp_path) -> None:
    with pytest.raises(UserError, match="busybox not found") as info:
        ifs.load_busybox(tmp_path / "busybox")
    assert "busybox-static" in info.value.hint


def test_busybox_dynamic_rejected(tmp_path) -> None:
    p = tmp_path / "busybox"
    p.write_bytes(_elf64([6, 3, 1]))
    with pytest.raises(UserError, match="dynamically linked") as info:
        ifs.load_busybox(p)
    assert "apt-get install busybox-static" in info.value.hint


def test_busybox_not_elf(tmp_path) -> None:
    p = tmp_path / "busybox"
    p.write_text("#!/bin/sh\n")
    with pytest.raises(UserError, match="not a valid ELF"):
        ifs.load_busybox(p)


def test_static_busybox_accepted(tmp_path) -> None:
    p = tmp_path / "busybox"
    p.write_bytes(_elf64([1, 1]))
    assert ifs.load_busybox(p) == p.read_bytes()


def test_applets_fall_back_when_busybox_cannot_run(tmp_path) -> None:
    applets = ifs.busybox_applets(tmp_path / "nonexistent")
    assert {"sh", "mount", "poweroff", "cat"} <= set(applets)
