"""Get a kernel: the distro's cloud kernel package (downloaded, unpacked, never installed) or a user's.

The result is a bzImage (or an ELF vmlinux given by the user) in a directory the caller owns.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vmscope.errors import UserError
from vmscope.guest import vmlinux as vml

DEBIAN_META_PACKAGE = "linux-image-cloud-amd64"
_KERNEL_HINT = "or pass your own kernel with `vmscope guest build --kernel PATH` (a bzImage or an ELF vmlinux)"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class KernelFile:
    path: Path  # the kernel file (bzImage, or ELF vmlinux when is_elf)
    source: str  # "debian:<package>" or "user:<absolute path>"
    is_elf: bool


def _run(cmd: list[str], cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def _last_lines(text: str, n: int = 3) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:]) if lines else "(no output)"


def resolve_debian_package(meta: str = DEBIAN_META_PACKAGE) -> str:
    """`linux-image-cloud-amd64` -> `linux-image-<ver>-cloud-amd64` via `apt-cache depends`."""
    if shutil.which("apt-cache") is None or shutil.which("apt-get") is None:
        raise UserError(
            "apt is not available on this host, so vmscope cannot fetch the Debian cloud kernel",
            hint=_KERNEL_HINT,
        )
    proc = _run(["apt-cache", "depends", meta], timeout=60)
    prefix = meta.removesuffix("cloud-amd64")  # "linux-image-"
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("Depends:"):
            dep = line.split(":", 1)[1].strip().strip("<>")
            if dep.startswith(prefix) and dep.endswith("-cloud-amd64") and dep != meta:
                return dep
    raise UserError(
        f"apt does not know the package {meta} (or it depends on no kernel image): "
        f"{_last_lines(proc.stderr or proc.stdout)}",
        hint=f"run `apt-get update` (the package lists may be missing), {_KERNEL_HINT}",
    )


def _download(pkg: str, workdir: Path, progress: Progress) -> Path:
    progress(f"downloading {pkg} with apt-get")
    proc = _run(["apt-get", "download", pkg], cwd=workdir)
    if proc.returncode != 0:
        err = proc.stderr + proc.stdout
        lists_missing = "Unable to locate package" in err or "Couldn't find any package" in err
        if lists_missing:
            progress("package lists look missing or stale: running `apt-get update`, then retrying")
            upd = _run(["apt-get", "update"], timeout=600)
            if upd.returncode != 0:
                raise UserError(
                    f"`apt-get update` failed: {_last_lines(upd.stderr + upd.stdout)}",
                    hint=f"fix the apt sources/network (as root), {_KERNEL_HINT}",
                )
            proc = _run(["apt-get", "download", pkg], cwd=workdir)
    if proc.returncode != 0:
        raise UserError(
            f"downloading {pkg} failed: {_last_lines(proc.stderr + proc.stdout)}",
            hint=f"check the network and apt sources, {_KERNEL_HINT}",
        )
    debs = sorted(workdir.glob(f"{pkg}_*.deb"))
    if not debs:
        raise UserError(f"apt-get download {pkg} reported success but left no .deb in {workdir}", hint=_KERNEL_HINT)
    return debs[0]


def fetch_debian_kernel(dest_dir: Path, progress: Progress | None = None) -> KernelFile:
    """Download and unpack the Debian cloud kernel; copy its bzImage into `dest_dir`."""
    progress = progress or (lambda _msg: None)
    progress(f"resolving {DEBIAN_META_PACKAGE}")
    pkg = resolve_debian_package()
    if shutil.which("dpkg-deb") is None:
        raise UserError("dpkg-deb is not available to unpack the kernel package", hint=_KERNEL_HINT)
    with tempfile.TemporaryDirectory(prefix="vmscope-kernel-") as tmp:
        tmpdir = Path(tmp)
        dl = tmpdir / "dl"
        dl.mkdir()
        deb = _download(pkg, dl, progress)
        progress(f"unpacking {deb.name}")
        root = tmpdir / "root"
        proc = _run(["dpkg-deb", "-x", str(deb), str(root)])
        if proc.returncode != 0:
            raise UserError(f"unpacking {deb.name} failed: {_last_lines(proc.stderr)}", hint=_KERNEL_HINT)
        images = sorted((root / "boot").glob("vmlinuz-*"))
        if not images:
            raise UserError(f"{deb.name} contains no boot/vmlinuz-*", hint=_KERNEL_HINT)
        dest = dest_dir / "bzImage"
        shutil.copyfile(images[0], dest)
    validate_user_kernel(dest)  # the package's image must itself be a bzImage
    return KernelFile(dest, f"debian:{pkg}", is_elf=False)


def validate_user_kernel(path: Path) -> bool:
    """Check a user's kernel file; returns True if it is an ELF vmlinux, False for a bzImage."""
    if not path.exists():
        raise UserError(f"kernel {path} does not exist", hint="pass the path of a bzImage or an ELF vmlinux")
    if not path.is_file():
        raise UserError(f"kernel {path} is not a regular file", hint="pass the path of a bzImage or vmlinux")
    try:
        with path.open("rb") as f:
            head = f.read(0x1000)
    except OSError as exc:
        raise UserError(f"kernel {path} is not readable: {exc.strerror}", hint="check its permissions") from exc
    if head.startswith(vml.ELF_MAGIC):
        return True
    if not vml.is_bzimage(head):
        raise UserError(
            f'kernel {path} is not a bzImage (no "HdrS" magic at offset 0x202) and not an ELF vmlinux',
            hint="pass an x86 bzImage (e.g. /boot/vmlinuz-*) or an uncompressed ELF vmlinux",
        )
    return False


def copy_user_kernel(path: Path, dest_dir: Path) -> KernelFile:
    path = path.expanduser().resolve()
    is_elf = validate_user_kernel(path)
    dest = dest_dir / ("vmlinux" if is_elf else "bzImage")
    shutil.copyfile(path, dest)
    return KernelFile(dest, f"user:{path}", is_elf=is_elf)
