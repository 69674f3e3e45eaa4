"""`gvisor`: runsc over the OCI bundle. The runsc platform is chosen by trying (ptrace here)."""

from __future__ import annotations

import functools
import os
import shutil
import uuid

from vmscope.model import PlatformClass
from vmscope.platforms.base import Availability, Driver, Instance, Resources, stop_on_error
from vmscope.platforms.oci import OciInstance
from vmscope.platforms.oci_bundle import make_config, write_bundle
from vmscope.platforms.process import init_args
from vmscope.platforms.util import tool_version

# Preference order: systrap (fast, newer gVisor), then kvm (needs a usable /dev/kvm), then ptrace.
RUNSC_PLATFORMS = ("systrap", "kvm", "ptrace")


def runsc_base(state_dir: str, runsc_platform: str) -> list[str]:
    return ["runsc", "--root", state_dir, "--platform", runsc_platform, "--network", "none",
            "--ignore-cgroups"]


@functools.cache
def choose_runsc_platform() -> tuple[str | None, dict[str, str]]:
    """Try each runsc platform with a tiny container; return the first that works and why others not."""
    from vmscope.platforms.trial import trial_run

    verdicts: dict[str, str] = {}
    for plat in RUNSC_PLATFORMS:
        ok, why = trial_run("gvisor", runsc_platform=plat)
        verdicts[plat] = ("works: " if ok else "") + why
        if ok:
            return plat, verdicts
    return None, verdicts


class GvisorDriver(Driver):
    id = "gvisor"
    platform_class = PlatformClass.secure_container
    description = "gVisor runsc (user-space kernel) over the OCI bundle"

    def probe(self) -> Availability:
        exe = shutil.which("runsc")
        if exe is None:
            return Availability(False, "runsc not found (apt-get install runsc)")
        version = tool_version([exe, "--version"])
        if os.geteuid() != 0:
            return Availability(False, "runsc needs root here", version)
        plat, verdicts = choose_runsc_platform()
        details = {f"runsc_platform_{k}": v for k, v in verdicts.items()}
        if plat is None:
            return Availability(False, "no runsc platform works here: "
                                + "; ".join(f"{k}: {v}" for k, v in verdicts.items()), version, details)
        return Availability(True, f"runsc --platform={plat}", version, details)

    def launch(self, guest, resources: Resources) -> Instance:
        plat, verdicts = choose_runsc_platform()
        workdir = self._workdir()
        inst = OciInstance(self.id, self.platform_class, None, workdir)
        inst.container_id = f"vmscope-{uuid.uuid4().hex[:12]}"
        inst.runtime_argv = runsc_base(str(workdir / "state"), plat or "ptrace")
        inst.notes["runsc_platform"] = plat or "ptrace"
        with stop_on_error(inst):
            # gVisor applies its own syscall filtering to the sandbox; the OCI seccomp profile
            # would be enforced by the Sentry against the workload, keep it for parity.
            cfg = make_config(guest.rootfs, ["/init", *init_args("container", resources)], inst.container_id,
                              seccomp=resources.seccomp, cgroups=False)
            write_bundle(workdir / "bundle", cfg)
            inst.spawn([*inst.runtime_argv, "run", "--bundle", str(workdir / "bundle"), inst.container_id],
                       cwd=workdir)
        return inst


def driver(platform_id: str) -> Driver:
    return GvisorDriver()
