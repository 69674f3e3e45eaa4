"""What the VMMs that are not Debian packages share (Firecracker, Cloud Hypervisor): finding the binary,
probing it, and the ELF vmlinux they boot."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import ClassVar

from vmscope.model import PlatformClass
from vmscope.platforms.base import Availability, Driver, LaunchError, Resources
from vmscope.platforms.util import tool_version


def find_vmm(name: str, env_var: str) -> tuple[str | None, str]:
    """(path or None, where it was looked for). `env_var` (set by --<name>-bin) wins over PATH."""
    given = os.environ.get(env_var, "").strip()
    if given:
        path = os.path.abspath(os.path.expanduser(given))
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path, f"${env_var}"
        return None, f"${env_var}={given} (not an executable file)"
    found = shutil.which(name)
    return found, "PATH" if found else f"PATH (and ${env_var} is not set)"


def guest_vmlinux(guest: object) -> Path:
    """The ELF vmlinux these VMMs boot, or a LaunchError saying why the guest has none."""
    vmlinux = getattr(guest, "vmlinux", None)
    if vmlinux is None:
        why = getattr(guest, "vmlinux_error", None) or "the guest has no extracted vmlinux"
        raise LaunchError(f"this VMM boots an uncompressed ELF vmlinux, and none is available: {why}",
                          hint="rebuild the guest (`vmscope guest build --force`) or give an ELF kernel")
    return Path(vmlinux)


class ExternalVmmDriver(Driver):
    """A KVM-only VMM that is not packaged here: found on PATH or via --<name>-bin, usable only
    where KVM can run a Linux guest."""

    platform_class = PlatformClass.microvm
    binary: ClassVar[str]
    bin_env: ClassVar[str]
    releases: ClassVar[str]
    bin_flag: ClassVar[str]
    display: ClassVar[str]

    def probe(self) -> Availability:
        from vmscope.platforms.accel import USABLE, kvm_verdict

        exe, where = find_vmm(self.binary, self.bin_env)
        if exe is None:
            return Availability(False, f"{self.binary} not found in {where}; it is not packaged for Debian: get a "
                                       f"static release binary from {self.releases} and put it on PATH or pass "
                                       f"{self.bin_flag}", details={"download": self.releases})
        version = tool_version([exe, "--version"])
        verdict = kvm_verdict()
        if verdict["status"] != USABLE:
            return Availability(False, f"{self.display} needs KVM that can run Linux; KVM here is "
                                       f"{verdict['status']}: {verdict.get('reason', '')}", version,
                                {"binary": exe})
        return Availability(True, f"{exe} (from {where})", version, {"binary": exe})

    def accel_for(self, resources: Resources) -> str | None:
        return "kvm"

    def binary_or_raise(self) -> str:
        exe, where = find_vmm(self.binary, self.bin_env)
        if exe is None:
            raise LaunchError(f"{self.id}: binary not found in {where}",
                              hint=f"download it from {self.releases}; pass {self.bin_flag}")
        return exe
