"""`process`: the guest's init run as a plain host process — the floor for "no isolation"."""

from __future__ import annotations

from vmscope.guest.protocol import init_argv
from vmscope.model import PlatformClass
from vmscope.platforms.base import Availability, Driver, Instance, Resources, stop_on_error


def init_args(env: str, resources: Resources) -> list[str]:
    """Arguments the shared init takes outside a VM (see guest/protocol.py)."""
    return init_argv(env, resources.mode, resources.probe)[1:]


class ProcessDriver(Driver):
    id = "process"
    platform_class = PlatformClass.process
    description = "the shared init as a plain host process"

    def probe(self) -> Availability:
        return Availability(True, "always available (no isolation: the floor)")

    def launch(self, guest, resources: Resources) -> Instance:
        rootfs = guest.rootfs
        busybox = rootfs / "bin" / "busybox"
        inst = Instance(self.id, self.platform_class, None, self._workdir())
        env = {
            "PATH": f"{rootfs / 'bin'}:/usr/bin:/bin",
            "VMSCOPE_BUSYBOX": str(busybox),
            "VMSCOPE_ROOT": str(rootfs),
            "HOME": str(inst.workdir),
        }
        with stop_on_error(inst):
            inst.spawn([str(busybox), "sh", str(rootfs / "init"), *init_args("process", resources)],
                       env=env, cwd=inst.workdir)
        return inst


def driver(platform_id: str) -> Driver:
    return ProcessDriver()
