"""OCI runtime bundle (config.json) over the shared rootfs, shared by runc, crun and runsc."""

from __future__ import annotations

import json
from pathlib import Path

from vmscope.platforms.seccomp import default_profile

# Capabilities a default container gets (the set container engines commonly grant).
DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]


def cgroup_path(container_id: str) -> str:
    return f"/vmscope/{container_id}"


def make_config(rootfs: Path, args: list[str], container_id: str, *, seccomp: bool,
                mem_mib: int | None = None, cgroups: bool = True) -> dict:
    caps = list(DEFAULT_CAPS)
    linux: dict = {
        "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")],
        "maskedPaths": [
            "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
            "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
        ],
        "readonlyPaths": ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                          "/proc/sysrq-trigger"],
    }
    if cgroups:
        linux["cgroupsPath"] = cgroup_path(container_id)
        if mem_mib:
            linux["resources"] = {"memory": {"limit": mem_mib * 1024 * 1024}}
    if seccomp:
        linux["seccomp"] = default_profile()
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin", "HOME=/root"],
            "cwd": "/",
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": str(rootfs), "readonly": True},
        "hostname": "vmscope",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]},
        ],
        "linux": linux,
    }


def write_bundle(bundle: Path, config: dict) -> Path:
    bundle.mkdir(parents=True, exist_ok=True)
    path = bundle / "config.json"
    path.write_text(json.dumps(config, indent=1))
    return path
