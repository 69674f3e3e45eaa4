"""Build, cache and load the shared guest: one kernel, one initramfs/rootfs, one init for every platform.

Cache layout (under paths.cache_dir()):

    guest/<content-hash>/manifest.json   what was built, from what, with sha256 of every file
    guest/<content-hash>/bzImage         the kernel (or `vmlinux` only, when the user gave an ELF)
    guest/<content-hash>/vmlinux         the ELF extracted from the bzImage (absent if extraction failed)
    guest/<content-hash>/initramfs.cpio  uncompressed newc cpio
    guest/<content-hash>/rootfs/         the same tree as a directory
    guest/current                        the content hash of the guest in use

The content hash covers the kernel bytes, the init script, the busybox bytes, the probe and BUILDER_VERSION, so a
change of any of them builds a new directory. A build happens in guest/.tmp-* and is renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vmscope import paths
from vmscope.errors import UserError
from vmscope.guest import initramfs, kernel, vmlinux
from vmscope.guest import probe as probe_mod
from vmscope.guest.protocol import init_argv, kernel_cmdline, process_command  # noqa: F401 (re-exported)

# Bump when the layout or content of a built guest changes; it is part of the content hash.
# 1: first version (uncompressed newc initramfs, all busybox applets as /bin symlinks).
# 2: /bin/vmscope-probe (the isolation probe, guest/probe.py) in the initramfs and rootfs.
BUILDER_VERSION = 2
MANIFEST_VERSION = 1
INIT_SCRIPT = Path(__file__).parent / "files" / "init"
INITRAMFS_COMPRESSION = "none"

_REBUILD_HINT = "rebuild it with `vmscope guest build --force`"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Guest:
    kernel: Path  # bzImage (or the ELF vmlinux, when the user gave one: see kernel_is_elf)
    vmlinux: Path | None  # extracted ELF vmlinux (None if extraction impossible, reason in vmlinux_error)
    initramfs: Path  # newc cpio archive, uncompressed (initramfs_compression == "none")
    rootfs: Path  # the same tree as a directory, for containers and the plain process
    kernel_version: str  # e.g. "6.1.0-57-cloud-amd64"
    kernel_source: str  # "debian:linux-image-6.1.0-57-cloud-amd64" or "user:/path"
    hashes: dict[str, str]  # sha256 of kernel, vmlinux, initramfs, init, busybox
    vmlinux_error: str | None = None
    kernel_is_elf: bool = False  # True: no bzImage exists; platforms that need one cannot use this guest
    vmlinux_format: str | None = None  # compression of the bzImage payload: lz4, zstd, xz, gzip ...
    initramfs_compression: str = INITRAMFS_COMPRESSION
    content_hash: str = ""
    directory: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)  # every hashed file by name

    def fingerprint(self) -> dict:
        """What identifies this guest in every result record."""
        return {
            "kernel_version": self.kernel_version,
            "kernel_source": self.kernel_source,
            "hashes": dict(self.hashes),
        }


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def content_hash(kernel_bytes: bytes, init_script: bytes, busybox: bytes, probe: bytes = b"") -> str:
    h = hashlib.sha256(f"vmscope-guest-builder-{BUILDER_VERSION}\n".encode())
    for part in (kernel_bytes, init_script, busybox, *((probe,) if probe else ())):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()[:32]


def guest_root() -> Path:
    root = paths.cache_dir() / "guest"
    root.mkdir(parents=True, exist_ok=True)
    return root


# --- loading


def _read_manifest(directory: Path) -> dict:
    path = directory / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise UserError(f"the shared guest in {directory} has no manifest.json", hint=_REBUILD_HINT) from exc
    except (OSError, ValueError) as exc:
        raise UserError(f"the guest manifest {path} is unreadable or corrupt ({exc})", hint=_REBUILD_HINT) from exc
    if not isinstance(manifest, dict) or manifest.get("manifest_version") != MANIFEST_VERSION:
        raise UserError(f"the guest manifest {path} has an unknown format", hint=_REBUILD_HINT)
    return manifest


def _guest_from_manifest(directory: Path, manifest: dict, verify: bool = True) -> Guest:
    try:
        files = {name: directory / rel for name, rel in manifest["files"].items()}
        hashes: dict[str, str] = dict(manifest["hashes"])
        rootfs = directory / manifest["rootfs"]
        if verify:
            for name, expected in hashes.items():
                path = files[name]
                if not path.is_file():
                    raise UserError(f"the shared guest's {name} file {path} is missing", hint=_REBUILD_HINT)
                if sha256_file(path) != expected:
                    raise UserError(
                        f"the shared guest's {name} file {path} is corrupt (sha256 differs from manifest)",
                        hint=_REBUILD_HINT,
                    )
            for name, rel in (("init", "init"), ("busybox", "bin/busybox")):
                path = rootfs / rel
                if not path.is_file() or sha256_file(path) != hashes[name]:
                    raise UserError(f"the shared guest's rootfs file {path} is missing or corrupt", hint=_REBUILD_HINT)
        return Guest(
            kernel=files["kernel"],
            vmlinux=files.get("vmlinux"),
            initramfs=files["initramfs"],
            rootfs=rootfs,
            kernel_version=manifest["kernel_version"],
            kernel_source=manifest["kernel_source"],
            hashes=hashes,
            vmlinux_error=manifest.get("vmlinux_error"),
            kernel_is_elf=bool(manifest.get("kernel_is_elf", False)),
            vmlinux_format=manifest.get("vmlinux_format"),
            initramfs_compression=manifest.get("initramfs_compression", INITRAMFS_COMPRESSION),
            content_hash=manifest["content_hash"],
            directory=directory,
            files=files,
        )
    except (KeyError, TypeError) as exc:
        raise UserError(f"the guest manifest in {directory} lacks a field ({exc})", hint=_REBUILD_HINT) from exc


def load_guest(verify: bool = True) -> Guest:
    """The current built guest; raises UserError if none is built or its files do not match the manifest."""
    root = guest_root()
    pointer = root / "current"
    try:
        digest = pointer.read_text().strip()
    except FileNotFoundError:
        raise UserError("no shared guest built yet", hint="run `vmscope guest build`") from None
    directory = root / digest
    if not digest or "/" in digest or not directory.is_dir():
        raise UserError(f"the guest pointer {pointer} names {digest!r}, which is not a built guest", hint=_REBUILD_HINT)
    return _guest_from_manifest(directory, _read_manifest(directory), verify=verify)


def ensure_guest(progress: Progress | None = None) -> Guest:
    """The current guest, building it first if none exists yet or if it was built by an older
    vmscope (same kernel choice); a corrupt one is still an error."""
    if not (guest_root() / "current").exists():
        return build_guest(progress=progress)
    guest = load_guest()
    manifest = _read_manifest(guest.directory)
    if manifest.get("builder_version") != BUILDER_VERSION:
        source = str(manifest.get("kernel_source", ""))
        kernel = Path(source.removeprefix("user:")) if source.startswith("user:") else None
        if progress:
            progress(f"the cached guest was built by an older vmscope (builder {manifest.get('builder_version')}); "
                     "rebuilding")
        return build_guest(kernel, progress=progress)
    return guest


# --- building


def _set_current(root: Path, digest: str) -> None:
    tmp = root / f".current.{os.getpid()}"
    tmp.write_text(digest + "\n")
    os.replace(tmp, root / "current")


def _kernel_release(kfile: kernel.KernelFile, data: bytes) -> str:
    if kfile.is_elf:
        return vmlinux.elf_kernel_release(data) or "unknown"
    try:
        hdr = vmlinux.parse_setup_header(data)
    except ValueError:
        return "unknown"
    return vmlinux.kernel_release(hdr.version_string) or "unknown"


def build_guest(
    kernel: Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
    *,
    busybox: Path | None = None,
) -> Guest:
    """Build the shared guest (or reuse an identical one) and make it current.

    `kernel`: a bzImage or ELF vmlinux; None fetches the Debian cloud kernel package.
    `progress`: called with a short message before each slow step.
    `busybox`: a static busybox other than /bin/busybox.
    """
    say = progress or (lambda _msg: None)
    root = guest_root()
    init_script = INIT_SCRIPT.read_bytes()
    busybox_bytes = initramfs.load_busybox(busybox)
    applets = initramfs.busybox_applets(busybox)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    tmp.chmod(0o755)  # mkdtemp makes it 0700; runtimes running as other users must read the rootfs
    try:
        if kernel is None:
            kfile = _fetch_debian(tmp, say)
        else:
            kfile = _copy_user(kernel, tmp)
        kernel_bytes = kfile.path.read_bytes()
        say("building the isolation probe")
        probe = probe_mod.build_probe(tmp)
        if probe.kind != "c":
            say(f"isolation probe: shell fallback without the syscall sweep ({probe.note})")
        digest = content_hash(kernel_bytes, init_script, busybox_bytes, probe.data)
        final = root / digest
        if final.is_dir() and not force:
            try:
                guest = _guest_from_manifest(final, _read_manifest(final))
            except UserError:
                say("the cached guest with this content is damaged: rebuilding it")
            else:
                say("an identical guest is already built: reusing it")
                _set_current(root, digest)
                return guest

        manifest = _assemble(tmp, kfile, kernel_bytes, init_script, busybox_bytes, applets, digest, say, probe)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        _move_into_place(tmp, final)
        _set_current(root, digest)
        return _guest_from_manifest(final, manifest, verify=False)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _fetch_debian(tmp: Path, say: Progress) -> kernel.KernelFile:
    return kernel.fetch_debian_kernel(tmp, progress=say)


def _copy_user(path: Path, tmp: Path) -> kernel.KernelFile:
    return kernel.copy_user_kernel(path, tmp)


def _assemble(
    tmp: Path,
    kfile: kernel.KernelFile,
    kernel_bytes: bytes,
    init_script: bytes,
    busybox: bytes,
    applets: list[str],
    digest: str,
    say: Progress,
    probe: probe_mod.BuiltProbe | None = None,
) -> dict:
    files = {"kernel": kfile.path.name}
    vmlinux_error = vmlinux_format = None
    if kfile.is_elf:
        files["vmlinux"] = kfile.path.name
    else:
        say("extracting vmlinux from the bzImage")
        try:
            elf, vmlinux_format = vmlinux.extract_vmlinux_bytes(kernel_bytes)
        except vmlinux.ExtractError as exc:
            vmlinux_error = str(exc)
        else:
            (tmp / "vmlinux").write_bytes(elf)
            files["vmlinux"] = "vmlinux"
            del elf

    say("writing the initramfs and rootfs")
    entries = initramfs.guest_entries(init_script, busybox, applets)
    if probe is not None:
        entries.append(initramfs.Entry(probe_mod.GUEST_PATH, "file", 0o755, probe.data))
        files["probe"] = f"rootfs/{probe_mod.GUEST_PATH}"
    initramfs.build_initramfs_and_rootfs(entries, tmp / "initramfs.cpio", tmp / "rootfs")
    (tmp / "init").write_bytes(init_script)
    (tmp / "init").chmod(0o755)
    files["initramfs"] = "initramfs.cpio"
    files["init"] = "init"
    files["busybox"] = "rootfs/bin/busybox"

    hashes = {
        name: hashlib.sha256(kernel_bytes).hexdigest() if name == "kernel" else sha256_file(tmp / rel)
        for name, rel in files.items()
    }
    return {
        "manifest_version": MANIFEST_VERSION,
        "builder_version": BUILDER_VERSION,
        "content_hash": digest,
        "created_unix": int(time.time()),
        "kernel_version": _kernel_release(kfile, kernel_bytes),
        "kernel_source": kfile.source,
        "kernel_is_elf": kfile.is_elf,
        "vmlinux_format": vmlinux_format,
        "vmlinux_error": vmlinux_error,
        "initramfs_compression": INITRAMFS_COMPRESSION,
        "probe_kind": probe.kind if probe is not None else None,
        "probe_note": probe.note if probe is not None else None,
        "files": files,
        "rootfs": "rootfs",
        "hashes": hashes,
    }


def _move_into_place(tmp: Path, final: Path) -> None:
    """Rename the finished build over `final`; an older directory of the same hash is removed after."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        os.rename(final, old)
    try:
        os.rename(tmp, final)
    except OSError:
        if old is not None and not final.exists():
            os.rename(old, final)
        raise
    if old is not None:
        with contextlib.suppress(OSError):
            shutil.rmtree(old)
