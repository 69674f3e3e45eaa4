"""`runc` and `crun`: an OCI bundle over the shared rootfs, run in the foreground."""

from __future__ import annotations

import functools
import os
import shutil
import uuid
from pathlib import Path

from vmscope import host
from vmscope.model import PlatformClass
from vmscope.platforms.base import Availability, Driver, Instance, LaunchError, Resources, stop_on_error
from vmscope.platforms.oci_bundle import cgroup_path, make_config, write_bundle
from vmscope.platforms.process import init_args
from vmscope.platforms.util import run_quiet, tool_version

CGROUP_ROOT = Path("/sys/fs/cgroup")


class OciInstance(Instance):
    runtime_argv: list[str]
    container_id: str

    def _cleanup(self) -> None:
        remove_container(self.runtime_argv, self.container_id)


def remove_container(runtime_argv: list[str], container_id: str, *, cgroups: bool = True) -> None:
    """Kill and delete a container the runtime may still know, then its cgroup directories."""
    run_quiet([*runtime_argv, "kill", container_id, "KILL"], timeout_s=5)
    run_quiet([*runtime_argv, "delete", "-f", container_id], timeout_s=10)
    if cgroups:
        remove_cgroup_dirs(container_id)


def remove_cgroup_dirs(container_id: str) -> None:
    """Remove this container's cgroup directories (every v1 hierarchy and v2) if any remain."""
    rel = cgroup_path(container_id).lstrip("/")
    for root in _cgroup_roots():
        d = root / rel
        if d.is_dir():
            try:
                os.rmdir(d)
            except OSError:
                pass
        parent = d.parent
        if parent != root and parent.is_dir():
            try:
                os.rmdir(parent)  # only succeeds when no other vmscope container is there
            except OSError:
                pass


def leftover_cgroups(container_id: str) -> list[Path]:
    rel = cgroup_path(container_id).lstrip("/")
    return [root / rel for root in _cgroup_roots() if (root / rel).exists()]


def _cgroup_roots() -> list[Path]:
    if not CGROUP_ROOT.is_dir():
        return []
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return [CGROUP_ROOT]
    return [p for p in CGROUP_ROOT.iterdir() if p.is_dir()]


@functools.cache
def trial_verdict(runtime: str) -> tuple[bool, str]:
    """Try it for real, once per process (every bench of `vmscope run` probes its platforms again):
    a runtime can be installed and still unable to run here."""
    from vmscope.platforms.trial import trial_run

    return trial_run(runtime)


class OciDriver(Driver):
    platform_class = PlatformClass.container

    def __init__(self, runtime: str):
        self.id = runtime  # type: ignore[misc]
        self.runtime = runtime
        self.description = f"OCI bundle from the shared rootfs, run by {runtime}"

    def probe(self) -> Availability:
        exe = shutil.which(self.runtime)
        if exe is None:
            return Availability(False, f"{self.runtime} not found (apt-get install {self.runtime})")
        version = tool_version([exe, "--version"])
        if os.geteuid() != 0:
            return Availability(False, f"{self.runtime} needs root for a rootful OCI container", version)
        ok, why = trial_verdict(self.runtime)
        return Availability(ok, why, version)

    def launch(self, guest, resources: Resources) -> Instance:
        workdir = self._workdir()
        inst = OciInstance(self.id, self.platform_class, None, workdir)
        cid = f"vmscope-{uuid.uuid4().hex[:12]}"
        inst.container_id = cid
        inst.runtime_argv = [self.runtime, "--root", str(workdir / "state")]
        with stop_on_error(inst):
            cfg = make_config(guest.rootfs, ["/init", *init_args("container", resources)], cid,
                              seccomp=resources.seccomp, cgroups=True)
            write_bundle(workdir / "bundle", cfg)
            inst.spawn([*inst.runtime_argv, "run", "--bundle", str(workdir / "bundle"), cid], cwd=workdir)
        inst.notes["cgroup_mode"] = host.cgroup_mode()
        return inst


def driver(platform_id: str) -> Driver:
    if platform_id not in ("runc", "crun"):
        raise LaunchError(f"oci driver does not run {platform_id}")
    return OciDriver(platform_id)
