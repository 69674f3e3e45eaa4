"""The default-style seccomp profile vmscope gives containers (OCI `linux.seccomp`).

Allow by default and return EPERM for the syscalls that mainstream container engines block
in their default profile (kernel modules, kexec, mount/namespace changes, tracing of other
processes, keyrings, clock setting, bpf, userfaultfd, ...). It is a deny list, so it is weaker
than an engine's allow list — the isolation measurement shows exactly what it leaves reachable.
"""

from __future__ import annotations

BLOCKED_SYSCALLS = [
    "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "clone3", "create_module",
    "delete_module", "finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "get_kernel_syms",
    "get_mempolicy", "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load",
    "keyctl", "lookup_dcookie", "mbind", "mount", "mount_setattr", "move_mount", "move_pages",
    "name_to_handle_at", "nfsservctl", "open_by_handle_at", "open_tree", "perf_event_open",
    "pivot_root", "process_vm_readv", "process_vm_writev", "ptrace", "query_module", "quotactl",
    "reboot", "request_key", "set_mempolicy", "setns", "settimeofday", "swapoff", "swapon",
    "sysfs", "_sysctl", "umount2", "unshare", "uselib", "userfaultfd", "ustat", "vm86", "vm86old",
]

EPERM = 1


def default_profile() -> dict:
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": list(BLOCKED_SYSCALLS), "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM},
        ],
    }
