"""The guest's file tree, written two ways: a newc cpio archive (initramfs) and a plain directory (rootfs).

The cpio is written here in Python, so device nodes (/dev/console) go into the archive without root.
The archive is uncompressed: every kernel accepts it, and it is small (busybox is ~2 MiB).
"""

from __future__ import annotations

import os
import shutil
import stat
import struct
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from vmscope.errors import UserError

BUSYBOX_HINT = "install the static busybox: `apt-get install busybox-static`"
DEFAULT_BUSYBOX = Path("/bin/busybox")

# Applets the init script and the probes rely on; used when `busybox --list` cannot run here.
_FALLBACK_APPLETS = (
    "sh ash mount umount poweroff reboot halt cat echo sleep uname ls mkdir rm cp mv ln ps kill stty "
    "dmesg grep sed head tail wc date true false test env printf id hostname free top"
).split()

_NEWC_MAGIC = b"070701"
_TRAILER = "TRAILER!!!"


@dataclass(frozen=True)
class Entry:
    """One archive member. `path` is relative ('bin/sh'); `data` is file bytes or a symlink target."""

    path: str
    kind: str  # "dir" | "file" | "symlink" | "chardev"
    mode: int = 0o755  # permission bits only
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)


def _align4(n: int) -> int:
    return (4 - n % 4) % 4


def _type_bits(kind: str) -> int:
    return {"dir": stat.S_IFDIR, "file": stat.S_IFREG, "symlink": stat.S_IFLNK, "chardev": stat.S_IFCHR}[kind]


def write_newc(entries: Iterable[Entry], dest: Path) -> None:
    """Write a newc ("070701") cpio archive with uid/gid 0 and mtime 0, so it is reproducible."""
    with dest.open("wb") as out:
        ino = 0
        for e in [*entries, Entry(_TRAILER, "file", 0)]:
            ino += 1
            is_trailer = e.path == _TRAILER
            name = e.path.encode() + b"\0"
            mode = 0 if is_trailer else _type_bits(e.kind) | e.mode
            fields = [
                0 if is_trailer else ino,
                mode,
                0,  # uid
                0,  # gid
                2 if e.kind == "dir" else 1,  # nlink
                0,  # mtime
                len(e.data),
                0,  # devmajor
                0,  # devminor
                e.rdev[0],
                e.rdev[1],
                len(name),
                0,  # check
            ]
            header = _NEWC_MAGIC + b"".join(b"%08X" % f for f in fields)
            out.write(header + name + b"\0" * _align4(len(header) + len(name)))
            out.write(e.data + b"\0" * _align4(len(e.data)))


def read_newc(data: bytes) -> list[Entry]:
    """Parse a newc archive back into entries (used by tests and `guest info` checks)."""
    pos, entries = 0, []
    while True:
        if data[pos : pos + 6] != _NEWC_MAGIC:
            raise ValueError(f"bad cpio magic at offset {pos}")
        f = [int(data[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rmaj, rmin, namesize = f[1], f[6], f[9], f[10], f[11]
        name_start = pos + 110
        name = data[name_start : name_start + namesize - 1].decode()
        body = name_start + namesize + _align4(110 + namesize)
        if name == _TRAILER:
            return entries
        payload = data[body : body + size]
        kind = {stat.S_IFDIR: "dir", stat.S_IFREG: "file", stat.S_IFLNK: "symlink", stat.S_IFCHR: "chardev"}[
            stat.S_IFMT(mode)
        ]
        entries.append(Entry(name, kind, stat.S_IMODE(mode), payload, (rmaj, rmin)))
        pos = body + size + _align4(size)


def write_tree(entries: Iterable[Entry], root: Path) -> None:
    """Materialise entries as a directory tree; device nodes are skipped (containers bring their own /dev)."""
    root.mkdir(parents=True, exist_ok=True)
    for e in entries:
        target = root / e.path
        if e.kind == "dir":
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(e.mode)
        elif e.kind == "file":
            target.write_bytes(e.data)
            target.chmod(e.mode)
        elif e.kind == "symlink":
            os.symlink(e.data.decode(), target)


# --- busybox


def elf_has_interp(data: bytes) -> bool:
    """True if the ELF has a PT_INTERP program header (i.e. it is dynamically linked)."""
    if data[:4] != b"\x7fELF":
        raise ValueError("not an ELF file")
    is64 = data[4] == 2
    endian = "<" if data[5] == 1 else ">"
    if is64:
        (phoff,) = struct.unpack_from(endian + "Q", data, 0x20)
        phentsize, phnum = struct.unpack_from(endian + "HH", data, 0x36)
    else:
        (phoff,) = struct.unpack_from(endian + "I", data, 0x1C)
        phentsize, phnum = struct.unpack_from(endian + "HH", data, 0x2A)
    pt_interp = 3
    for i in range(phnum):
        (p_type,) = struct.unpack_from(endian + "I", data, phoff + i * phentsize)
        if p_type == pt_interp:
            return True
    return False


def load_busybox(path: Path | None = None) -> bytes:
    path = path or DEFAULT_BUSYBOX
    if not path.is_file():
        raise UserError(f"busybox not found at {path}", hint=BUSYBOX_HINT)
    data = path.read_bytes()
    try:
        dynamic = elf_has_interp(data)
    except (ValueError, struct.error) as exc:
        raise UserError(f"{path} is not a valid ELF executable ({exc})", hint=BUSYBOX_HINT) from exc
    if dynamic:
        raise UserError(
            f"{path} is dynamically linked; the guest has no libc, so it needs a static busybox",
            hint=BUSYBOX_HINT,
        )
    return data


def busybox_applets(path: Path | None = None) -> list[str]:
    path = path or DEFAULT_BUSYBOX
    try:
        proc = subprocess.run([str(path), "--list"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return list(_FALLBACK_APPLETS)
    names = [n.strip() for n in proc.stdout.split() if n.strip() and "/" not in n]
    return sorted(set(names) - {"busybox"}) if proc.returncode == 0 and names else list(_FALLBACK_APPLETS)


def guest_entries(init_script: bytes, busybox: bytes, applets: Iterable[str]) -> list[Entry]:
    """The guest tree: /init, /bin/busybox and its applet links, empty mount points, /dev/console."""
    dir_modes = {
        "bin": 0o755,
        "dev": 0o755,
        "etc": 0o755,
        "proc": 0o555,
        "root": 0o700,
        "sys": 0o555,
        "tmp": 0o1777,
    }
    entries = [Entry(d, "dir", m) for d, m in dir_modes.items()]
    entries += [
        Entry("sbin", "symlink", 0o777, b"bin"),
        Entry("init", "file", 0o755, init_script),
        Entry("bin/busybox", "file", 0o755, busybox),
    ]
    entries += [Entry(f"bin/{a}", "symlink", 0o777, b"busybox") for a in sorted(set(applets) | {"sh"})]
    entries.append(Entry("dev/console", "chardev", 0o600, rdev=(5, 1)))
    return entries


def build_initramfs_and_rootfs(entries: list[Entry], cpio_path: Path, rootfs: Path) -> None:
    write_newc(entries, cpio_path)
    if rootfs.exists():
        shutil.rmtree(rootfs)
    write_tree(entries, rootfs)
