"""`cloud-hypervisor`: the shared guest under Cloud Hypervisor, configured on the command line.

Documented flags: --kernel (the PVH ELF vmlinux), --initramfs, --cmdline, --memory size=<n>M,
--cpus boot=<n>, --serial tty (ttyS0 on the process's stdio, i.e. our pipe) and --console off
(no virtio-console). Cloud Hypervisor has ACPI, so the guest's poweroff ends the VMM.
"""

from __future__ import annotations

from pathlib import Path

from vmscope.guest.protocol import kernel_cmdline
from vmscope.platforms.base import Driver, Instance, LaunchError, Resources, stop_on_error
from vmscope.platforms.vmm_bin import ExternalVmmDriver, guest_vmlinux

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


class CloudHypervisorDriver(ExternalVmmDriver):
    id = "cloud-hypervisor"
    description = "Cloud Hypervisor (command line, serial console on stdio)"
    binary, bin_env, releases, bin_flag, display = (BINARY, BIN_ENV, RELEASES, "--cloud-hypervisor-bin",
                                                    "Cloud Hypervisor")

    def launch(self, guest: object, resources: Resources) -> Instance:
        exe = self.binary_or_raise()
        inst = Instance(self.id, self.platform_class, "kvm", self._workdir())
        with stop_on_error(inst):
            argv = cloud_hypervisor_argv(exe, guest, resources)
            inst.notes.update({"kernel_image": argv[argv.index("--kernel") + 1], "kernel_format": "ELF vmlinux (PVH)",
                               "cmdline": argv[argv.index("--cmdline") + 1]})
            inst.spawn(argv, cwd=inst.workdir)
        return inst


def driver(platform_id: str) -> Driver:
    return CloudHypervisorDriver()
