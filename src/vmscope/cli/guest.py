"""`vmscope guest build|info`: build and inspect the shared guest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vmscope.cli._app import guest_app
from vmscope.guest.build import Guest, build_guest, load_guest


def _size(path: Path | None) -> int | None:
    if path is None or not path.exists():
        return None
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return path.stat().st_size


def guest_info_dict(guest: Guest) -> dict:
    """Everything `guest info --json` prints; JSON-able."""

    def file_row(name: str, path: Path | None) -> dict:
        return {"path": str(path) if path else None, "bytes": _size(path), "sha256": guest.hashes.get(name)}

    return {
        "kernel_version": guest.kernel_version,
        "kernel_source": guest.kernel_source,
        "content_hash": guest.content_hash,
        "directory": str(guest.directory) if guest.directory else None,
        "kernel": {**file_row("kernel", guest.kernel), "format": "elf" if guest.kernel_is_elf else "bzImage"},
        "vmlinux": {
            **file_row("vmlinux", guest.vmlinux),
            "available": guest.vmlinux is not None,
            "payload_compression": guest.vmlinux_format,
            "error": guest.vmlinux_error,
        },
        "initramfs": {**file_row("initramfs", guest.initramfs), "compression": guest.initramfs_compression},
        "init": file_row("init", guest.files.get("init")),
        "busybox": file_row("busybox", guest.files.get("busybox")),
        "rootfs": {"path": str(guest.rootfs), "bytes": _size(guest.rootfs)},
        "fingerprint": guest.fingerprint(),
    }


def _human(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n / 1024:.1f} KiB"


def _rel(path: str | None, base: Path | None) -> str:
    if path is None:
        return "-"
    if base is not None and Path(path).is_relative_to(base):
        return str(Path(path).relative_to(base))
    return path


def print_guest(guest: Guest, console: Console) -> None:
    info = guest_info_dict(guest)
    console.print(f"[bold]shared guest[/] {info['directory']}")
    console.print(f"kernel {guest.kernel_version}  from {guest.kernel_source}")
    table = Table(show_header=True, header_style="bold")
    for col in ("file", "path", "size", "sha256"):
        table.add_column(col, overflow="fold")
    for name in ("kernel", "vmlinux", "initramfs", "init", "busybox"):
        row = info[name]
        table.add_row(name, _rel(row["path"], guest.directory), _human(row["bytes"]), (row["sha256"] or "-")[:16])
    table.add_row("rootfs", _rel(info["rootfs"]["path"], guest.directory), _human(info["rootfs"]["bytes"]), "")
    console.print(table)
    if guest.vmlinux is None:
        console.print(f"[yellow]vmlinux unavailable:[/] {guest.vmlinux_error}")
    elif guest.kernel_is_elf:
        console.print("[yellow]the kernel is an ELF vmlinux:[/] platforms that need a bzImage cannot use it")
    else:
        console.print(f"vmlinux extracted from the {guest.vmlinux_format} payload of the bzImage")
    console.print(f"initramfs: newc cpio, compression {guest.initramfs_compression}")


@guest_app.command("build")
def build_cmd(
    kernel: Annotated[
        Path | None,
        typer.Option("--kernel", help="Use this bzImage or ELF vmlinux instead of the Debian cloud kernel."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if an identical guest is cached.")] = False,
) -> None:
    """Build the shared guest (kernel, vmlinux, initramfs, rootfs) into vmscope's cache."""
    console = Console()
    with console.status("building the shared guest") as status:

        def progress(msg: str) -> None:
            status.update(msg)
            console.log(msg)

        guest = build_guest(kernel=kernel, force=force, progress=progress)
    print_guest(guest, console)


@guest_app.command("info")
def info_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the current shared guest: paths, sizes, sha256, kernel version and source, vmlinux status."""
    guest = load_guest()
    if as_json:
        typer.echo(json.dumps(guest_info_dict(guest), indent=2))
    else:
        print_guest(guest, Console())
