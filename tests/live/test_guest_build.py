"""Build the real shared guest (Debian cloud kernel + busybox-static) and run its init; boot it under QEMU."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from vmscope.guest import initramfs, protocol
from vmscope.guest.build import build_guest, kernel_cmdline, load_guest

pytestmark = pytest.mark.live


def _busybox_static() -> str | None:
    try:
        initramfs.load_busybox()
    except Exception as exc:  # the UserError text is the best skip reason
        return str(exc)
    return None


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    reason = _busybox_static()
    if reason:
        pytest.skip(f"busybox-static unusable: {reason}")
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("apt-get/dpkg-deb not available to fetch the Debian cloud kernel")
    mp = pytest.MonkeyPatch()
    mp.setenv("VMSCOPE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    try:
        yield build_guest()
    finally:
        mp.undo()


def test_guest_is_complete(guest) -> None:
    assert guest.kernel_source.startswith("debian:linux-image-")
    assert guest.kernel_version.endswith("-cloud-amd64")
    assert guest.vmlinux is not None, guest.vmlinux_error
    assert guest.vmlinux.read_bytes()[:4] == b"\x7fELF"
    assert load_guest() == guest


def test_init_process_mode_prints_ready(guest) -> None:
    argv, env = protocol.process_command(guest.rootfs, "boot")
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=True)
    parsed = [p for p in map(protocol.parse_line, proc.stdout.splitlines()) if p]
    assert [k for k, _ in parsed] == ["VMSCOPE-INIT", "VMSCOPE-MEM", "VMSCOPE-READY"]
    assert parsed[-1][1]["env"] == "process"


@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="qemu-system-x86_64 is not installed")
def test_qemu_tcg_boot_reaches_ready_and_powers_off(guest, tmp_path) -> None:
    cmd = [
        "qemu-system-x86_64", "-machine", "q35,accel=tcg", "-m", "256", "-nographic", "-no-reboot",
        "-kernel", str(guest.kernel), "-initrd", str(guest.initramfs), "-append", kernel_cmdline("boot"),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
    out = proc.stdout.decode(errors="replace")
    (tmp_path / "console.log").write_text(out)
    keys = [p[0] for p in map(protocol.parse_line, out.splitlines()) if p]
    assert keys[:3] == ["VMSCOPE-INIT", "VMSCOPE-MEM", "VMSCOPE-READY"], out[-2000:]
    assert "reboot: Power down" in out
    assert proc.returncode == 0
