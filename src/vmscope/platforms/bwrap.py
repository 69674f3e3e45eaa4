"""`bwrap`: bubblewrap namespaces (pid, mount, net, ipc, uts, cgroup, user when possible)."""

from __future__ import annotations

import shutil

from vmscope.model import PlatformClass
from vmscope.platforms.base import Availability, Driver, Instance, Resources, stop_on_error
from vmscope.platforms.process import init_args
from vmscope.platforms.util import tool_version


class BwrapDriver(Driver):
    id = "bwrap"
    platform_class = PlatformClass.container
    description = "bubblewrap namespaces over the shared rootfs"

    def probe(self) -> Availability:
        exe = shutil.which("bwrap")
        if exe is None:
            return Availability(False, "bwrap not found (apt-get install bubblewrap)")
        return Availability(True, "bwrap found", tool_version([exe, "--version"]))

    def launch(self, guest, resources: Resources) -> Instance:
        inst = Instance(self.id, self.platform_class, None, self._workdir())
        argv = [
            "bwrap", "--unshare-all", "--die-with-parent", "--hostname", "vmscope",
            "--ro-bind", str(guest.rootfs), "/",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
            "--clearenv", "--setenv", "PATH", "/bin",
            "--cap-drop", "ALL",
            "/init", *init_args("container", resources),
        ]
        with stop_on_error(inst):
            inst.spawn(argv, cwd=inst.workdir)
        return inst


def driver(platform_id: str) -> Driver:
    return BwrapDriver()
