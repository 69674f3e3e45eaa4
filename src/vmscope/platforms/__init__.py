"""Platform registry: id -> driver. One module per driver; the table below is the only list."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from vmscope.errors import UserError
from vmscope.model import PlatformClass
from vmscope.platforms.base import Availability, Driver, Instance, Resources


@dataclass(frozen=True)
class PlatformInfo:
    id: str
    platform_class: PlatformClass
    module: str  # vmscope.platforms.<module>
    how: str


PLATFORMS: dict[str, PlatformInfo] = {
    p.id: p
    for p in [
        PlatformInfo("process", PlatformClass.process, "process", "the guest's init as a plain host process"),
        PlatformInfo("bwrap", PlatformClass.container, "bwrap", "bubblewrap namespaces over the shared rootfs"),
        PlatformInfo("crun", PlatformClass.container, "oci", "OCI bundle from the shared rootfs, run by crun"),
        PlatformInfo("runc", PlatformClass.container, "oci", "OCI bundle from the shared rootfs, run by runc"),
        PlatformInfo("gvisor", PlatformClass.secure_container, "gvisor", "runsc (gVisor) over the OCI bundle"),
        PlatformInfo("qemu-pc", PlatformClass.traditional_vm, "qemu", "QEMU i440FX PC with SeaBIOS"),
        PlatformInfo("qemu-q35", PlatformClass.traditional_vm, "qemu", "QEMU Q35 PC with SeaBIOS"),
        PlatformInfo("qemu-microvm", PlatformClass.microvm, "qemu", "QEMU microvm, direct kernel boot"),
        PlatformInfo("firecracker", PlatformClass.microvm, "firecracker", "Firecracker (config file, serial)"),
        PlatformInfo("cloud-hypervisor", PlatformClass.microvm, "cloud_hypervisor", "Cloud Hypervisor"),
        PlatformInfo("kvm-floor", PlatformClass.floor, "kvm_floor", "raw KVM ioctls: create VM+vCPU, run to HLT"),
    ]
}


class _MissingDriver(Driver):
    def __init__(self, info: PlatformInfo, why: str):
        self.id = info.id  # type: ignore[misc]
        self.platform_class = info.platform_class  # type: ignore[misc]
        self._why = why

    def probe(self) -> Availability:
        return Availability(False, f"driver not available in this vmscope build: {self._why}")

    def launch(self, guest: object, resources: Resources) -> Instance:
        raise UserError(f"platform {self.id}: {self._why}")


def get_driver(platform_id: str) -> Driver:
    info = PLATFORMS.get(platform_id)
    if info is None:
        raise UserError(
            f"unknown platform {platform_id!r}",
            hint=f"choose from: {', '.join(PLATFORMS)} (or 'all')",
        )
    try:
        mod = importlib.import_module(f"vmscope.platforms.{info.module}")
    except ModuleNotFoundError as exc:
        return _MissingDriver(info, str(exc))
    return mod.driver(platform_id)


def parse_platforms(spec: str) -> list[str]:
    """'all' or a comma list -> platform ids (unknown ids are an error naming them)."""
    spec = spec.strip()
    if spec == "all":
        return list(PLATFORMS)
    ids = [s.strip() for s in spec.split(",") if s.strip()]
    if not ids:
        raise UserError("no platform given", hint=f"use --platform all or a comma list of: {', '.join(PLATFORMS)}")
    unknown = [i for i in ids if i not in PLATFORMS]
    if unknown:
        raise UserError(
            f"unknown platform {', '.join(map(repr, unknown))}",
            hint=f"choose from: {', '.join(PLATFORMS)} (or 'all')",
        )
    return list(dict.fromkeys(ids))


__all__ = ["PLATFORMS", "Availability", "Driver", "Instance", "PlatformInfo", "Resources", "get_driver",
           "parse_platforms"]
