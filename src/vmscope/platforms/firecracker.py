"""`firecracker`: the shared guest under Firecracker, configured by one JSON file (no API socket).

`firecracker --no-api --config-file <file>`: the file has the documented top-level sections
`boot-source` (kernel_image_path, initrd_path, boot_args), `machine-config` (vcpu_count,
mem_size_mib, smt) and `drives` (required by the parser, empty here: the guest lives in the
initramfs). Firecracker's serial console (ttyS0) is its own stdin/stdout, i.e. our pipe.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vmscope.guest.protocol import kernel_cmdline
from vmscope.platforms.base import Driver, Instance, LaunchError, Resources, stop_on_error
from vmscope.platforms.vmm_bin import ExternalVmmDriver, guest_vmlinux

BINARY = "firecracker"
BIN_ENV = "VMSCOPE_FIRECRACKER_BIN"
RELEASES = "https://github.com/firecracker-microvm/firecracker/releases"
CONFIG_FILE = "firecracker.json"
MAX_VCPUS = 32  # Firecracker's limit
# Firecracker has no ACPI power-off on x86: the guest's poweroff ends in a reboot, and `reboot=k`
# (keyboard-controller reset) is what makes Firecracker exit on it.
PLATFORM_CMDLINE = "reboot=k"


def firecracker_config(guest: object, resources: Resources) -> dict[str, Any]:
    """The --config-file document for one instance of the shared guest."""
    if not 1 <= resources.vcpus <= MAX_VCPUS:
        raise LaunchError(f"firecracker: --vcpus must be 1..{MAX_VCPUS}, not {resources.vcpus}")
    extra = " ".join(x for x in (PLATFORM_CMDLINE, resources.extra_cmdline.strip()) if x)
    return {
        "boot-source": {
            "kernel_image_path": str(guest_vmlinux(guest)),
            "initrd_path": str(guest.initramfs),  # type: ignore[attr-defined]
            "boot_args": kernel_cmdline(mode=resources.mode, probe=resources.probe, extra=extra),
        },
        "drives": [],
        "machine-config": {
            "vcpu_count": resources.vcpus,
            "mem_size_mib": resources.mem_mib,
            "smt": False,
        },
    }


def firecracker_argv(binary: str, config_path: Path) -> list[str]:
    return [binary, "--no-api", "--config-file", str(config_path)]


class FirecrackerDriver(ExternalVmmDriver):
    id = "firecracker"
    description = "Firecracker microVM (config file, serial console on stdio)"
    binary, bin_env, releases, bin_flag, display = BINARY, BIN_ENV, RELEASES, "--firecracker-bin", "Firecracker"

    def launch(self, guest: object, resources: Resources) -> Instance:
        exe = self.binary_or_raise()
        inst = Instance(self.id, self.platform_class, "kvm", self._workdir())
        with stop_on_error(inst):
            config = firecracker_config(guest, resources)
            path = inst.workdir / CONFIG_FILE
            path.write_text(json.dumps(config, indent=2))
            inst.notes.update({"config_file": CONFIG_FILE, "kernel_image": config["boot-source"]["kernel_image_path"],
                               "kernel_format": "ELF vmlinux", "cmdline": config["boot-source"]["boot_args"]})
            inst.spawn(firecracker_argv(exe, path), cwd=inst.workdir)
        return inst


def driver(platform_id: str) -> Driver:
    return FirecrackerDriver()
