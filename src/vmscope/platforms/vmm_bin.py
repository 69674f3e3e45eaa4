"""Locating a VMM binary that is not a Debian package (Firecracker, Cloud Hypervisor)."""

from __future__ import annotations

import os
import shutil


def find_vmm(name: str, env_var: str) -> tuple[str | None, str]:
    """(path or None, where it was looked for). `env_var` (set by --<name>-bin) wins over PATH."""
    given = os.environ.get(env_var, "").strip()
    if given:
        path = os.path.abspath(os.path.expanduser(given))
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path, f"${env_var}"
        return None, f"${env_var}={given} (not an executable file)"
    found = shutil.which(name)
    return found, "PATH" if found else f"PATH (and ${env_var} is not set)"
