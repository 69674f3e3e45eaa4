"""Isolation, the measurement run: hold each platform's instance with the probe, look from both sides.

Per platform: write a random token to /tmp/vmscope-token-<token> and start a host sentinel process whose
argv[0] is vmscope-sentinel-<token>; launch the shared guest with probe=True, mode="hold"; wait for
ready (the probe has run by then); read the outside view of the instance's host processes (and QMP for
QEMU); stop; classify the probe's report against the host's identity, the token and the host's own
unfiltered sweep (the probe run directly on the host once per run: the baseline).
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vmscope.guest.probe import GUEST_PATH, probe_kind
from vmscope.measure.failures import PlatformFailure
from vmscope.measure.isolation import HostIdentity, InsideView, inside_view, parse_probe
from vmscope.measure.isolation_outside import OutsideView, Tracer, emulated_device_count, outside_view
from vmscope.model import VM_CLASSES
from vmscope.platforms import PLATFORMS, get_driver
from vmscope.platforms.base import Resources
from vmscope.platforms.console import MARK_PROBE

TOKEN_DIR = Path("/tmp")  # the probe looks exactly here (guest/files/probe.c)
BASELINE_TIMEOUT_S = 120.0


@dataclass
class PlatformIsolation:
    platform: str
    accel: str | None
    seccomp_profile: bool
    inside: InsideView
    outside: OutsideView
    console_log: Path | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def guest_probe(guest: Any) -> tuple[Path | None, str]:
    """The probe file in the guest rootfs and its kind ("c", "sh"), or (None, "none")."""
    path = Path(guest.rootfs) / GUEST_PATH
    if not path.is_file():
        return None, "none"
    with path.open("rb") as f:
        return path, probe_kind(f.read(4))


def host_baseline(guest: Any) -> tuple[dict[int, str] | None, str]:
    """The sweep on the host itself, unfiltered (the compiled probe run directly, `--sweep-only`)."""
    path, kind = guest_probe(guest)
    if path is None or kind != "c":
        return None, f"no host baseline: the guest's probe is {kind!r}, not the compiled one"
    try:
        proc = subprocess.run([str(path), "--sweep-only"], capture_output=True, text=True,
                              timeout=BASELINE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"no host baseline: {exc}"
    rep = parse_probe(line for line in proc.stdout.splitlines() if MARK_PROBE in line)
    if not rep.complete:
        return None, f"no host baseline: incomplete sweep ({'; '.join(rep.problems) or proc.returncode})"
    return rep.sweep, "host baseline: the probe run unfiltered on the host"


def console_log_path(log_dir: Path, platform: str, seccomp: bool) -> Path:
    """Where measure_one saves an instance's console, so a failure can point at the same file."""
    return log_dir / f"isolation-{platform}{'' if seccomp else '-noseccomp'}.log"


class HostMarkers:
    """The token file and sentinel process the probe looks for; removed on exit, always."""

    def __init__(self, lifetime_s: float = 600.0) -> None:
        self.lifetime_s = lifetime_s  # the sentinel ends by itself even if vmscope is killed
        self.token = secrets.token_hex(8)
        self.file = TOKEN_DIR / f"vmscope-token-{self.token}"
        self.sentinel: subprocess.Popen | None = None

    def __enter__(self) -> HostMarkers:
        self.file.write_text(self.token + "\n")
        self.file.chmod(0o644)
        sleep = shutil.which("sleep")
        if sleep is not None:
            argv = [f"vmscope-sentinel-{self.token}", str(int(self.lifetime_s))]
            try:
                self.sentinel = subprocess.Popen(argv, executable=sleep, stdin=subprocess.DEVNULL,
                                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                 start_new_session=True)
            except BaseException:
                self.__exit__()  # the token file must not outlive a failed start
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.sentinel is not None:
            self.sentinel.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.sentinel.wait(timeout=5)
        with contextlib.suppress(OSError):
            self.file.unlink()


def measure_one(platform: str, guest: Any, resources: Resources, timeout_s: float, host: HostIdentity,
                baseline: dict[int, str] | None, log_dir: Path | None = None, trace: bool = False,
                ) -> PlatformIsolation:
    """Launch, look, stop. Raises the driver's LaunchError (with the console log saved) on failure."""
    driver = get_driver(platform)
    res = replace(resources, mode="hold", probe=True)
    is_vm = PLATFORMS[platform].platform_class in VM_CLASSES
    notes: dict[str, Any] = {}
    log_path = None
    with HostMarkers(timeout_s + 120.0) as markers:
        inst = driver.launch(guest, res)
        try:
            tracer = Tracer(inst.pids(), inst.workdir / "strace.txt") if trace else None
            try:
                inst.wait_ready(timeout_s)
            finally:
                trace_count = tracer.stop() if tracer is not None else None
            outside = outside_view(inst.pids())
            if tracer is not None:
                outside.trace_syscalls, outside.trace_note = trace_count, tracer.note
            if is_vm:
                outside.emulated_devices, outside.emulated_devices_note = emulated_device_count(inst)
            notes.update(inst.notes)
            accel = inst.accel
        finally:
            if log_dir is not None:
                log_dir.mkdir(parents=True, exist_ok=True)
                log_path = console_log_path(log_dir, platform, resources.seccomp)
                with contextlib.suppress(OSError):
                    inst.console.save(log_path)
            lines = [rest for _, rest in inst.console.all_marks(MARK_PROBE)]
            inst.stop()
        token = markers.token
    report = parse_probe(lines)
    inside = inside_view(report, host, token, baseline)
    return PlatformIsolation(platform, accel, resources.seccomp, inside, outside, log_path, notes)


def measure_isolation(platforms: list[str], guest: Any, resources: Resources, timeout_s: float,
                      log_dir: Path | None = None, trace: bool = False,
                      progress: Callable[[str], None] | None = None,
                      ) -> tuple[list[PlatformIsolation], list[PlatformFailure], str]:
    """Every platform in turn; a platform that fails is reported and the others still run."""
    say = progress or (lambda _m: None)
    say("host baseline sweep")
    baseline, baseline_note = host_baseline(guest)
    host = HostIdentity.of_this_host()
    results: list[PlatformIsolation] = []
    failures: list[PlatformFailure] = []
    for pid in platforms:
        say(pid)
        try:
            results.append(measure_one(pid, guest, resources, timeout_s, host, baseline, log_dir, trace))
        except Exception as exc:  # one platform's failure must not lose the others' results
            log = console_log_path(log_dir, pid, resources.seccomp) if log_dir is not None else None
            failures.append(PlatformFailure(pid, str(exc), log if log is not None and log.exists() else None))
    return results, failures, baseline_note
