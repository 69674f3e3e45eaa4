"""`qemu-pc`, `qemu-q35` (full PC with SeaBIOS) and `qemu-microvm` (no PCI, direct kernel boot).

All three boot the shared kernel + initramfs with the same memory, vCPUs and command line;
the serial console is the process's stdio, i.e. our pipe (and stdin carries the STOP line in
hold mode). Each instance gets a QMP socket in its workdir (see platforms/qmp.py).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from vmscope.errors import UserError
from vmscope.guest.protocol import kernel_cmdline
from vmscope.model import PlatformClass
from vmscope.platforms.base import Availability, Driver, Instance, LaunchError, Resources, stop_on_error
from vmscope.platforms.qmp import QmpClient
from vmscope.platforms.util import tool_version

QEMU = "qemu-system-x86_64"
QMP_SOCKET = "qmp.sock"


@dataclass(frozen=True)
class Machine:
    platform: str
    platform_class: PlatformClass
    machine: str  # the -machine value
    firmware: str  # what runs before the kernel
    prefer_pvh: bool  # boot the ELF vmlinux through its PVH entry when the guest has one


# microvm: no option ROMs, ISA serial for console=ttyS0, no PCIe. The PIT and RTC stay on: the
# kernel needs a reference to calibrate the TSC against (without them it hangs under TCG).
MICROVM_OPTIONS = "x-option-roms=off,isa-serial=on,pcie=off"

MACHINES: dict[str, Machine] = {
    m.platform: m
    for m in [
        Machine("qemu-pc", PlatformClass.traditional_vm, "pc", "SeaBIOS (QEMU's default bios-256k.bin)", False),
        Machine("qemu-q35", PlatformClass.traditional_vm, "q35", "SeaBIOS (QEMU's default bios-256k.bin)", False),
        Machine("qemu-microvm", PlatformClass.microvm, f"microvm,{MICROVM_OPTIONS}",
                "qboot (bios-microvm.bin: jumps to the kernel, no option ROMs)", True),
    ]
}


def host_tsc_khz() -> int | None:
    """The host TSC frequency in kHz (TCG's guest TSC ticks at the host's rate), from /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return round(float(line.split(":", 1)[1]) * 1000)
    except (OSError, ValueError):
        pass
    return None


def kernel_image(machine: Machine, guest: object) -> tuple[Path, str]:
    """The kernel file to pass to -kernel and a description of its format/boot path."""
    vmlinux = getattr(guest, "vmlinux", None)
    if getattr(guest, "kernel_is_elf", False) or (machine.prefer_pvh and vmlinux is not None):
        path = vmlinux if vmlinux is not None else guest.kernel  # type: ignore[attr-defined]
        return Path(path), "ELF vmlinux, PVH entry (QEMU loads the ELF directly)"
    return Path(guest.kernel), "bzImage, Linux boot protocol"  # type: ignore[attr-defined]


def accel_args(accel: str, vcpus: int) -> list[str]:
    if accel == "kvm":
        return ["-accel", "kvm"]
    if accel == "tcg":
        # one host thread per vCPU when there is more than one (multi-threaded TCG)
        return ["-accel", "tcg,thread=multi" if vcpus > 1 else "tcg"]
    raise UserError(f"unknown accelerator {accel!r}", hint="use --accel kvm or --accel tcg")


def platform_cmdline(machine: Machine, accel: str, resources: Resources, tsc_khz: int | None) -> str:
    """The shared command line plus what this machine needs; the user's extra comes last (it wins)."""
    extra: list[str] = []
    if machine.platform == "qemu-microvm" and accel == "tcg" and tsc_khz:
        # microvm has no HPET/ACPI PM timer; under TCG the PIT-based TSC calibration often fails
        # and the kernel hangs. Telling it the (host) TSC rate removes the calibration.
        extra.append(f"tsc_early_khz={tsc_khz}")
    if resources.extra_cmdline.strip():
        extra.append(resources.extra_cmdline.strip())
    return kernel_cmdline(mode=resources.mode, probe=resources.probe, extra=" ".join(extra))


def qemu_argv(machine: Machine, guest: object, resources: Resources, accel: str, workdir: Path,
              qemu: str = QEMU, tsc_khz: int | None = None) -> tuple[list[str], dict[str, str]]:
    """The QEMU command line for one instance, and notes recording what was chosen."""
    if resources.mem_mib < 64:
        raise UserError(f"--guest-mem {resources.mem_mib} MiB is too small for the shared guest (need >= 64)")
    if resources.vcpus < 1:
        raise UserError("--vcpus must be at least 1")
    image, image_format = kernel_image(machine, guest)
    cmdline = platform_cmdline(machine, accel, resources, tsc_khz)
    accel_opts = accel_args(accel, resources.vcpus)
    argv = [
        qemu,
        "-name", f"vmscope-{machine.platform}",
        "-machine", machine.machine,
        *accel_opts,
        "-m", f"{resources.mem_mib}M",
        "-smp", str(resources.vcpus),
        "-nodefaults", "-no-user-config",
        "-display", "none",
        "-serial", "stdio",
        "-no-reboot",
        "-kernel", str(image),
        "-initrd", str(guest.initramfs),  # type: ignore[attr-defined]
        "-append", cmdline,
        # relative to QEMU's cwd (the workdir): a long TMPDIR cannot overflow the 108-byte socket path
        "-qmp", f"unix:{QMP_SOCKET},server=on,wait=off",
    ]
    notes = {
        "machine": machine.machine,
        "firmware": machine.firmware,
        "kernel_image": str(image),
        "kernel_format": image_format,
        "accel_args": " ".join(accel_opts),
        "cmdline": cmdline,
    }
    return argv, notes


class QemuInstance(Instance):
    @property
    def qmp_socket(self) -> Path:
        return self.workdir / QMP_SOCKET

    def qmp(self, timeout_s: float = 5.0) -> QmpClient:
        """A connected QMP client (use it as a context manager)."""
        return QmpClient(self.qmp_socket, timeout_s).connect()


@functools.cache
def qemu_machines(qemu: str) -> frozenset[str]:
    try:
        out = subprocess.run([qemu, "-machine", "help"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    return frozenset(line.split()[0] for line in out.splitlines()[1:] if line.strip())


class QemuDriver(Driver):
    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.id = machine.platform  # type: ignore[misc]
        self.platform_class = machine.platform_class  # type: ignore[misc]
        self.description = f"QEMU -machine {machine.machine.split(',')[0]}"  # type: ignore[misc]

    def binary(self) -> str | None:
        return shutil.which(QEMU)

    def probe(self) -> Availability:
        from vmscope.platforms.accel import USABLE, kvm_verdict

        exe = self.binary()
        if exe is None:
            return Availability(False, f"{QEMU} not found (apt-get install qemu-system-x86)")
        version = tool_version([exe, "--version"])
        base = self.machine.machine.split(",")[0]
        machines = qemu_machines(exe)
        if machines and base not in machines:
            return Availability(False, f"this QEMU has no '{base}' machine", version)
        verdict = kvm_verdict()
        accel = "kvm" if verdict["status"] == USABLE else "tcg"
        details = {"accel": accel, "kvm": verdict["status"], "kvm_reason": verdict.get("reason", ""),
                   "machine": self.machine.machine, "firmware": self.machine.firmware}
        why = "KVM" if accel == "kvm" else f"TCG (software emulation; KVM {verdict['status']})"
        return Availability(True, f"-machine {base} under {why}", version, details)

    def accel_for(self, resources: Resources) -> str | None:
        from vmscope.platforms.accel import resolve_accel

        return resolve_accel(resources.accel)

    def launch(self, guest: object, resources: Resources) -> Instance:
        from vmscope.platforms.accel import resolve_accel

        exe = self.binary()
        if exe is None:
            raise LaunchError(f"{self.id}: {QEMU} not found", hint="apt-get install qemu-system-x86")
        accel = resolve_accel(resources.accel, guest)
        return spawn_qemu(self.machine, guest, resources, accel, self._workdir(), exe)


def spawn_qemu(machine: Machine, guest: object, resources: Resources, accel: str, workdir: Path,
               qemu: str = QEMU, extra_args: tuple[str, ...] = ()) -> QemuInstance:
    """Start QEMU for one instance; on any failure nothing is left behind."""
    inst = QemuInstance(machine.platform, machine.platform_class, accel, workdir)
    with stop_on_error(inst):
        argv, notes = qemu_argv(machine, guest, resources, accel, workdir, qemu, host_tsc_khz())
        inst.notes.update(notes)
        inst.spawn([*argv, *extra_args], cwd=workdir)
    return inst


def driver(platform_id: str) -> Driver:
    if platform_id not in MACHINES:
        raise UserError(f"the qemu driver has no platform {platform_id!r}", hint=f"one of {', '.join(MACHINES)}")
    return QemuDriver(MACHINES[platform_id])
