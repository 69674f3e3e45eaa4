"""Which accelerator QEMU guests use here: KVM only if it has been seen to boot a real Linux guest.

A /dev/kvm that exists is not enough: on nested, software KVMs a tiny real-mode guest runs but an
unmodified Linux kernel dies ("KVM internal error. Suberror: 1 ... emulation failure"). So the
verdict comes from trying: boot the shared guest once under `-accel kvm` with a bounded timeout,
keep what QEMU said, and cache the verdict per host (host.cached_verdict).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from vmscope import host
from vmscope.errors import UserError
from vmscope.platforms.base import LaunchError, Resources
from vmscope.platforms.console import MARK_READY

ABSENT = "absent"
USABLE = "usable"
CANNOT_RUN_LINUX = "cannot_run_linux"
UNTESTED = "untested"  # not cached: no QEMU or no guest to try with yet

VERDICT_NAME = "kvm_linux_guest"
# Under a working KVM this guest is ready in well under a second; on a software-nested KVM the
# emulation failure can take tens of seconds of wall time to be reached, so allow that long.
TRIAL_TIMEOUT_S = 60.0
CPU_HOST_TIMEOUT_S = 10.0
_FAILURE_TEXT = re.compile(r"KVM internal error|emulation failure|Suberror|failed to set MSR|"
                           r"kvm_.*Assertion|error: |KVM_.* failed", re.IGNORECASE)


def _failure_lines(text: str, limit: int = 8) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if _FAILURE_TEXT.search(ln)][:limit]


_CODE_AT_RIP = re.compile(r"^Code=.*<([0-9a-f]{2})>((?: [0-9a-f]{2})*)", re.MULTILINE)


def faulting_instruction(text: str) -> str | None:
    """The bytes QEMU dumped at RIP ("Code=... <f0> 48 0f c7 ..."), named when it is cmpxchg16b."""
    m = _CODE_AT_RIP.search(text)
    if not m:
        return None
    code = [m.group(1), *m.group(2).split()][:8]
    ops = code[1:] if code[0] == "f0" else code
    name = ""
    if len(ops) >= 4 and int(ops[0], 16) & 0xF8 == 0x48 and ops[1:3] == ["0f", "c7"] and \
            (int(ops[3], 16) >> 3) & 7 == 1:
        name = ("lock " if code[0] == "f0" else "") + "cmpxchg16b"
    return f"{name} ({' '.join(code)})" if name else " ".join(code)


def kvm_verdict(guest: object | None = None, refresh: bool = False) -> dict[str, Any]:
    """{"status": absent|usable|cannot_run_linux|untested, "reason": ..., ...}; tried once per host."""
    if not os.path.exists("/dev/kvm"):
        return {"status": ABSENT, "reason": "/dev/kvm does not exist (no KVM here, or the kvm module is not loaded)"}
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return {"status": ABSENT, "reason": "/dev/kvm exists but is not read/writable by this user (kvm group?)"}

    def compute() -> dict[str, Any]:
        if shutil.which("qemu-system-x86_64") is None:
            raise _Untested("qemu-system-x86_64 not found: cannot try KVM with a Linux guest")
        g = guest if guest is not None else _built_guest()
        if g is None:
            raise _Untested("no shared guest built yet to try KVM with (`vmscope guest build`)")
        return try_kvm(g)

    try:
        return host.cached_verdict(VERDICT_NAME, compute, refresh=refresh)
    except _Untested as exc:  # not cached: it is a fact about this moment, not about the host
        return {"status": UNTESTED, "reason": str(exc)}


def kvm_trial_pending() -> bool:
    """True when kvm_verdict() would now boot a guest to find out (slow: up to a minute, once per host),
    so a command can say what it is doing instead of looking hung."""
    return (os.access("/dev/kvm", os.R_OK | os.W_OK) and shutil.which("qemu-system-x86_64") is not None
            and not host.has_cached_verdict(VERDICT_NAME) and _built_guest() is not None)


class _Untested(Exception):
    pass


def _built_guest() -> object | None:
    from vmscope.guest.build import load_guest

    try:
        return load_guest(verify=False)
    except UserError:
        return None


def try_kvm(guest: object, timeout_s: float = TRIAL_TIMEOUT_S) -> dict[str, Any]:
    """Boot the shared guest once under KVM (qemu-microvm: no firmware in the way) and judge."""
    from vmscope.platforms.qemu import MACHINES, spawn_qemu

    machine = MACHINES["qemu-microvm"]
    res = Resources(mem_mib=256, vcpus=1, mode="boot")
    started = time.monotonic()
    inst = spawn_qemu(machine, guest, res, "kvm", _tmpdir())
    try:
        c = inst.console
        c.wait(lambda: bool(c.marks.get(MARK_READY)) or c.exit_ns is not None or "KVM internal error" in c.text,
               timeout_s)
        if not c.marks.get(MARK_READY) and "KVM internal error" in c.text:
            # QEMU dumps the registers and, last, the code bytes at RIP: wait for that whole line
            c.wait(lambda: any(t.startswith("Code=") for _, t in c.lines[-4:]) or c.exit_ns is not None, 2.0)
        elapsed = time.monotonic() - started
        text = c.text
        ready = inst.ready_ns
    finally:
        inst.stop()
    verdict: dict[str, Any] = {"checked_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                               "how": f"booted the shared guest under qemu -machine microvm -accel kvm "
                                      f"(timeout {timeout_s:.0f} s)",
                               "kernel_image": inst.notes.get("kernel_image", "")}
    if ready is not None:
        ms = (ready - (inst.spawn_ns or ready)) / 1e6
        return {"status": USABLE, "reason": f"a Linux guest booted to ready under KVM in {ms:.0f} ms", **verdict}
    lines = _failure_lines(text)
    insn = faulting_instruction(text)
    if insn:
        verdict["instruction_at_rip"] = insn
    if lines:
        what = " / ".join(lines) + (f" at {insn}" if insn else "")
    elif "terminating on signal" in text:
        # someone else's signal ended the trial: that says nothing about KVM, so do not cache it
        raise _Untested(f"the KVM trial was interrupted from outside ({_last_line(text)}); run `vmscope doctor` again")
    elif inst.exit_status is not None:
        what = f"QEMU exited with status {inst.exit_status} before the guest was ready; last output: {_last_line(text)}"
    else:
        what = f"no ready marker after {elapsed:.0f} s; last console line: {_last_line(text)}"
    verdict["qemu_output"] = lines
    cpu_host = _try_cpu_host(guest)
    if cpu_host:
        verdict["cpu_host"] = cpu_host
        what += f"; with -cpu host: {cpu_host}"
    return {"status": CANNOT_RUN_LINUX, "reason": f"/dev/kvm is present but a Linux guest cannot run: {what}",
            **verdict}


def _last_line(text: str) -> str:
    lines = [t.strip() for t in text.splitlines() if t.strip()]
    return lines[-1] if lines else "(no console output)"


def _try_cpu_host(guest: object) -> str:
    """`-cpu host` fails differently on some nested KVMs (MSR 0x10a, IA32_ARCH_CAPABILITIES)."""
    from vmscope.platforms.qemu import MACHINES, spawn_qemu

    inst = spawn_qemu(MACHINES["qemu-microvm"], guest, Resources(mode="boot"), "kvm", _tmpdir(),
                      extra_args=("-cpu", "host"))
    try:
        c = inst.console
        c.wait(lambda: c.exit_ns is not None or bool(c.marks.get(MARK_READY)), CPU_HOST_TIMEOUT_S)
        if c.exit_ns is not None:
            c.wait(lambda: c.eof_ns is not None, 1.0)
        text = c.text
    finally:
        inst.stop()
    return " / ".join(_failure_lines(text, 3))


def _tmpdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="vmscope-kvm-trial-"))


def check_accel(requested: str | None) -> None:
    """--accel takes kvm, tcg or nothing (auto)."""
    if requested not in (None, "kvm", "tcg"):
        raise UserError(f"unknown accelerator {requested!r}", hint="use --accel kvm or --accel tcg")


def resolve_accel(requested: str | None, guest: object | None = None) -> str:
    """The accelerator to use: tcg if asked; kvm if asked and KVM can run Linux here (else an error);
    by default kvm only when the verdict says usable, otherwise tcg — never silently."""
    check_accel(requested)
    if requested == "tcg":
        return "tcg"
    verdict = kvm_verdict(guest)
    if verdict["status"] == USABLE:
        return "kvm"
    if requested == "kvm":
        raise LaunchError(
            f"--accel kvm: KVM cannot be used here (verdict {verdict['status']}): {verdict.get('reason', '')}",
            hint="leave out --accel (QEMU then runs under TCG, recorded as accel=tcg) or use --accel tcg; "
                 "`vmscope doctor` shows the KVM verdict",
        )
    return "tcg"


def verdict_summary(verdict: dict[str, Any]) -> dict[str, Any]:
    """The doctor's host-level entry: status and reason (plus the evidence when there is some)."""
    keys = ("status", "reason", "checked_at", "cpu_host")
    return {k: verdict[k] for k in keys if k in verdict}


__all__ = ["ABSENT", "CANNOT_RUN_LINUX", "UNTESTED", "USABLE", "check_accel", "kvm_verdict", "resolve_accel",
           "try_kvm", "verdict_summary"]
