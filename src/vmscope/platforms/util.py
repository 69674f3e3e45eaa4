"""Small helpers shared by drivers."""

from __future__ import annotations

import subprocess


def tool_version(argv: list[str], timeout_s: float = 10.0) -> str | None:
    """First non-empty line of `tool --version`, or None when it cannot run."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in (out.stdout + out.stderr).splitlines():
        if line.strip():
            return line.strip()
    return None


def run_quiet(argv: list[str], timeout_s: float = 10.0) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired):
        return None
