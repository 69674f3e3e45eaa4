"""`kvm-floor`: the physical floor of "start a VM" on this host, with raw KVM ioctls from Python.

Open /dev/kvm, create a VM, give it one page of memory, create a vCPU, and run three real-mode
instructions (`mov al, 0x42; out 0x10, al; hlt`) until KVM reports the port write and the HLT.
No VMM process, no firmware, no kernel: what is left is the cost KVM itself charges.
Constants come from <linux/kvm.h> (x86-64); the ioctl numbers encode the struct sizes, so a
wrong layout fails loudly (EINVAL/ENOTTY) instead of silently.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from vmscope.model import PlatformClass
from vmscope.platforms.base import Availability, Driver, Instance, LaunchError, Resources

KVM_DEVICE = "/dev/kvm"

# ioctl numbers (KVMIO = 0xAE), as the kernel header computes them for x86-64
KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
KVM_GET_VCPU_MMAP_SIZE = 0xAE04
KVM_CREATE_VCPU = 0xAE41
KVM_SET_USER_MEMORY_REGION = 0x4020AE46  # _IOW(KVMIO, 0x46, struct kvm_userspace_memory_region /* 32 */)
KVM_RUN = 0xAE80
KVM_GET_REGS = 0x8090AE81  # _IOR(KVMIO, 0x81, struct kvm_regs /* 144 */)
KVM_SET_REGS = 0x4090AE82
KVM_GET_SREGS = 0x8138AE83  # _IOR(KVMIO, 0x83, struct kvm_sregs /* 312 */)
KVM_SET_SREGS = 0x4138AE84

KVM_API_VERSION = 12
KVM_EXIT_IO = 2
KVM_EXIT_HLT = 5
KVM_EXIT_IO_OUT = 1
EXIT_NAMES = {0: "UNKNOWN", 1: "EXCEPTION", 2: "IO", 5: "HLT", 6: "MMIO", 8: "SHUTDOWN", 9: "FAIL_ENTRY",
              17: "INTERNAL_ERROR"}

# kvm_run: exit_reason at 8; the io member of the exit union at 32
_RUN_EXIT_REASON = 8
_RUN_IO = 32
_IO_FMT = "<BBHIQ"  # direction, size, port, count, data_offset

GUEST_PHYS = 0x1000
GUEST_PAGE = 0x1000
PORT = 0x10
MAGIC = 0x42
# mov al, MAGIC ; out PORT, al ; hlt
CODE = bytes([0xB0, MAGIC, 0xE6, PORT, 0xF4])
MAX_EXITS = 8  # the code above exits exactly twice; anything more is a failure, not a retry
# The floor runs in-process and writes no file: its instances have no workdir (this path is never created).
NO_WORKDIR = Path("/nonexistent/vmscope-kvm-floor")


class _Segment(ctypes.Structure):
    _fields_ = [("base", ctypes.c_uint64), ("limit", ctypes.c_uint32), ("selector", ctypes.c_uint16),
                ("type", ctypes.c_uint8), ("present", ctypes.c_uint8), ("dpl", ctypes.c_uint8),
                ("db", ctypes.c_uint8), ("s", ctypes.c_uint8), ("l", ctypes.c_uint8), ("g", ctypes.c_uint8),
                ("avl", ctypes.c_uint8), ("unusable", ctypes.c_uint8), ("padding", ctypes.c_uint8)]


class _DTable(ctypes.Structure):
    _fields_ = [("base", ctypes.c_uint64), ("limit", ctypes.c_uint16), ("padding", ctypes.c_uint16 * 3)]


class _SRegs(ctypes.Structure):
    _fields_ = [*((n, _Segment) for n in ("cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt")),
                ("gdt", _DTable), ("idt", _DTable),
                *((n, ctypes.c_uint64) for n in ("cr0", "cr2", "cr3", "cr4", "cr8", "efer", "apic_base")),
                ("interrupt_bitmap", ctypes.c_uint64 * 4)]


class _Regs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9",
                                               "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags")]


class _MemRegion(ctypes.Structure):
    _fields_ = [("slot", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("guest_phys_addr", ctypes.c_uint64),
                ("memory_size", ctypes.c_uint64), ("userspace_addr", ctypes.c_uint64)]


assert ctypes.sizeof(_SRegs) == 312 and ctypes.sizeof(_Regs) == 144 and ctypes.sizeof(_MemRegion) == 32


@dataclass(frozen=True)
class FloorRun:
    """Monotonic ns of one create -> HLT run, and what the guest did."""

    create_ns: int  # just before KVM_CREATE_VM
    out_ns: int  # KVM_RUN returned with the OUT exit
    hlt_ns: int  # KVM_RUN returned with the HLT exit
    closed_ns: int  # every fd and mapping released
    byte: int
    port: int
    api_version: int
    vcpu_mmap_size: int

    @property
    def create_to_hlt_us(self) -> float:
        return (self.hlt_ns - self.create_ns) / 1e3


class FloorError(LaunchError):
    """The tiny guest did not run as expected (no KVM, ioctl refused, unexpected exit)."""


def _ioctl(fd: int, req: int, arg: int | ctypes.Structure = 0, what: str = "") -> int:
    try:
        return fcntl.ioctl(fd, req, arg)
    except OSError as exc:
        raise FloorError(f"kvm-floor: {what or hex(req)} failed: {exc.strerror} (errno {exc.errno})") from exc


def run_floor(device: str = KVM_DEVICE) -> FloorRun:
    """Create a VM and a vCPU, run the real-mode code to HLT, tear everything down; time it."""
    try:
        kvm = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        raise FloorError(f"kvm-floor: cannot open {device}: {exc.strerror}",
                         hint="KVM needs /dev/kvm (kvm module loaded, and read/write access to it)") from exc
    vm = vcpu = -1
    mem: mmap.mmap | None = None
    run: mmap.mmap | None = None
    try:
        api = _ioctl(kvm, KVM_GET_API_VERSION, what="KVM_GET_API_VERSION")
        if api != KVM_API_VERSION:
            raise FloorError(f"kvm-floor: KVM API version {api}, expected {KVM_API_VERSION}")
        run_size = _ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, what="KVM_GET_VCPU_MMAP_SIZE")
        create_ns = time.monotonic_ns()
        vm = _ioctl(kvm, KVM_CREATE_VM, 0, "KVM_CREATE_VM")
        mem = mmap.mmap(-1, GUEST_PAGE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, mmap.PROT_READ | mmap.PROT_WRITE)
        mem[: len(CODE)] = CODE
        anchor = ctypes.c_char.from_buffer(mem)
        region = _MemRegion(0, 0, GUEST_PHYS, GUEST_PAGE, ctypes.addressof(anchor))
        del anchor  # the address stays valid while `mem` is mapped; the export must not pin it
        _ioctl(vm, KVM_SET_USER_MEMORY_REGION, region, "KVM_SET_USER_MEMORY_REGION")
        vcpu = _ioctl(vm, KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU")
        run = mmap.mmap(vcpu, run_size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        _real_mode(vcpu)
        out_ns, hlt_ns, byte, port = _run_to_hlt(vcpu, run)
    finally:
        if run is not None:
            run.close()
        if mem is not None:
            mem.close()
        for fd in (vcpu, vm, kvm):
            if fd >= 0:
                os.close(fd)
    closed_ns = time.monotonic_ns()
    if byte != MAGIC or port != PORT:
        raise FloorError(f"kvm-floor: the guest wrote {byte:#x} to port {port:#x}, expected {MAGIC:#x} to {PORT:#x}")
    return FloorRun(create_ns, out_ns, hlt_ns, closed_ns, byte, port, api, run_size)


def _real_mode(vcpu: int) -> None:
    sregs = _SRegs()
    _ioctl(vcpu, KVM_GET_SREGS, sregs, "KVM_GET_SREGS")
    sregs.cs.base = 0
    sregs.cs.selector = 0
    _ioctl(vcpu, KVM_SET_SREGS, sregs, "KVM_SET_SREGS")
    regs = _Regs()
    regs.rip = GUEST_PHYS
    regs.rflags = 0x2  # bit 1 is reserved and must be set
    _ioctl(vcpu, KVM_SET_REGS, regs, "KVM_SET_REGS")


def _run_to_hlt(vcpu: int, run: mmap.mmap) -> tuple[int, int, int, int]:
    """KVM_RUN until HLT; returns (out_ns, hlt_ns, byte, port). Bounded by MAX_EXITS."""
    out_ns = byte = port = -1
    for _ in range(MAX_EXITS):
        try:
            fcntl.ioctl(vcpu, KVM_RUN, 0)
        except OSError as exc:
            if exc.errno == errno.EINTR:
                continue
            raise FloorError(f"kvm-floor: KVM_RUN failed: {exc.strerror} (errno {exc.errno})") from exc
        now = time.monotonic_ns()
        (reason,) = struct.unpack_from("<I", run, _RUN_EXIT_REASON)
        if reason == KVM_EXIT_IO:
            direction, size, io_port, count, offset = struct.unpack_from(_IO_FMT, run, _RUN_IO)
            if direction == KVM_EXIT_IO_OUT and size == 1 and count >= 1:
                out_ns, byte, port = now, run[offset], io_port
            continue
        if reason == KVM_EXIT_HLT:
            if out_ns < 0:
                raise FloorError("kvm-floor: the vCPU halted before writing the port")
            return out_ns, now, byte, port
        raise FloorError(f"kvm-floor: unexpected KVM exit {EXIT_NAMES.get(reason, reason)} ({reason})")
    raise FloorError(f"kvm-floor: no HLT after {MAX_EXITS} KVM exits")


class FloorInstance(Instance):
    """An instance that ran in-process and is already over when launch() returns.

    spawn = before KVM_CREATE_VM, first_output = the OUT exit, ready = HLT, exit = fds closed.
    """

    def __init__(self, result: FloorRun):
        super().__init__("kvm-floor", PlatformClass.floor, "kvm", NO_WORKDIR)
        self.result = result
        self.spawn_ns = result.create_ns
        self.notes.update({
            "interval": "KVM_CREATE_VM -> KVM_EXIT_HLT (in-process, no VMM, no kernel)",
            "guest_code": "real mode: mov al,0x42; out 0x10,al; hlt",
            "kvm_api_version": str(result.api_version),
            "kvm_run_mmap_size": str(result.vcpu_mmap_size),
        })

    @property
    def first_output_ns(self) -> int | None:
        return self.result.out_ns

    @property
    def ready_ns(self) -> int | None:
        return self.result.hlt_ns

    @property
    def exit_ns(self) -> int | None:
        return self.result.closed_ns

    @property
    def exit_status(self) -> int | None:
        return 0

    @property
    def exited(self) -> bool:
        return True

    def pids(self) -> list[int]:
        return []  # it ran inside this process, and is over

    def wait_ready(self, timeout_s: float) -> int:
        return self.result.hlt_ns

    def wait_exit(self, timeout_s: float) -> int | None:
        return self.result.closed_ns

    def stop(self) -> None:
        # nothing to stop and no workdir: every fd and mapping was released inside run_floor()
        self._stopped = True


class KvmFloorDriver(Driver):
    id = "kvm-floor"
    platform_class = PlatformClass.floor
    description = "raw KVM ioctls: create VM + vCPU, run three real-mode instructions to HLT"

    def probe(self) -> Availability:
        if not os.path.exists(KVM_DEVICE):
            return Availability(False, f"{KVM_DEVICE} does not exist (no KVM here, or the module is not loaded)")
        try:
            runs = sorted((run_floor() for _ in range(5)), key=lambda r: r.create_to_hlt_us)
        except FloorError as exc:
            return Availability(False, str(exc).split("\n")[0])
        us = runs[2].create_to_hlt_us
        return Availability(True, f"tiny real-mode guest ran to HLT: create -> HLT {us:.0f} us (median of 5)",
                            f"KVM API {runs[0].api_version}", {"create_to_hlt_us": f"{us:.1f}"})

    def launch(self, guest: object, resources: Resources) -> Instance:
        # The floor has no guest kernel: `guest` and the resources do not apply.
        return FloorInstance(run_floor())

    def accel_for(self, resources: Resources) -> str | None:
        return "kvm"


def driver(platform_id: str) -> Driver:
    return KvmFloorDriver()
