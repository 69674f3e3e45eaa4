"""`cloud-hypervisor`: the shared guest under Cloud Hypervisor, configured on the command line.

Documented flags: --kernel (the PVH ELF vmlinux), --initramfs, --cmdline, --memory size=<n>M,
--cpus boot=<n>, --serial tty (ttyS0 on the process's stdio, i.e. our pipe) and --console off
(no virtio-console). Cloud Hypervisor has ACPI, so the guest's poweroff ends the VMM.
"""

from __future__ import annotations

from pathlib import Path

from vmscope.guest.protocol import kernel_cmdline
from vmscope.model import PlatformClass
from vmscope.platforms.base import Availability, Driver, Instance, LaunchError, Resources
from vmscope.platforms.firecracker import guest_vmlinux
from vmscope.platforms.util import tool_version
from vmscope.platforms.vmm_bin import find_vmm

BINARY = "cloud-hypervisor"
BIN_ENV = "VMSCOPE_CLOUD_HYPERVISOR_BIN"
RELEASES = "https://github.com/cloud-hypervisor/cloud-hypervisor/releases"


def cloud_hypervisor_argv(binary: str, guest: object, resources: Resources) -> list[str]:
    if resources.vcpus < 1 or resources.mem_mib < 64:
        raise LaunchError(f"cloud-hypervisor: need >= 1 vCPU and >= 64 MiB, not {resources.vcpus} / "
                          f"{resources.mem_mib} MiB")
    cmdline = kernel_cmdline(mode=resources.mode, probe=resources.probe, extra=resources.extra_cmdline)
    return [
        binary,
        "--kernel", str(guest_vmlinux(guest)),
        "--initramfs", str(Path(guest.initramfs)),  # type: ignore[attr-defined]
        "--cmdline", cmdline,
        "--memory", f"size={resources.mem_mib}M",
        "--cpus", f"boot={resources.vcpus}",
        "--serial", "tty",
        "--console", "off",
    ]


class CloudHypervisorDriver(Driver):
    id = "cloud-hypervisor"
    platform_class = PlatformClass.microvm
    description = "Cloud Hypervisor (command line, serial console on stdio)"

    def probe(self) -> Availability:
        from vmscope.platforms.accel import USABLE, kvm_verdict

        exe, where = find_vmm(BINARY, BIN_ENV)
        if exe is None:
            return Availability(False, f"{BINARY} not found in {where}; it is not packaged for Debian: get a "
                                       f"static release binary from {RELEASES} and put it on PATH or pass "
                                       f"--cloud-hypervisor-bin", details={"download": RELEASES})
        version = tool_version([exe, "--version"])
        verdict = kvm_verdict()
        if verdict["status"] != USABLE:
            return Availability(False, f"Cloud Hypervisor needs KVM that can run Linux; KVM here is "
                                       f"{verdict['status']}: {verdict.get('reason', '')}", version,
                                {"binary": exe})
        return Availability(True, f"{exe} (from {where})", version, {"binary": exe})

    def accel_for(self, resources: Resources) -> str | None:
        return "kvm"

    def launch(self, guest: object, resources: Resources) -> Instance:
        exe, where = find_vmm(BINARY, BIN_ENV)
        if exe is None:
            raise LaunchError(f"cloud-hypervisor: binary not found in {where}",
                              hint=f"download it from {RELEASES}; pass --cloud-hypervisor-bin")
        inst = Instance(self.id, self.platform_class, "kvm", self._workdir())
        try:
            argv = cloud_hypervisor_argv(exe, guest, resources)
            inst.notes.update({"kernel_image": argv[argv.index("--kernel") + 1], "kernel_format": "ELF vmlinux (PVH)",
                               "cmdline": argv[argv.index("--cmdline") + 1]})
            inst.spawn(argv, cwd=inst.workdir)
        except BaseException:
            inst.stop()
            raise
        return inst


def driver(platform_id: str) -> Driver:
    return CloudHypervisorDriver()
