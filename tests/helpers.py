"""Helpers tests import (`from helpers import ...`; tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

from vmscope.model import Record


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (containers and /dev/kvm)")


def require_tool(name: str, package: str) -> None:
    if shutil.which(name) is None:
        pytest.skip(f"{name} not installed (apt-get install {package})")


def record(**over: Any) -> Record:
    base: dict[str, Any] = {
        "id": "t-1",
        "source": {"key": "t", "authors": "A", "title": "T", "venue": "V", "year": 2020, "url": "https://x"},
        "platform": "firecracker",
        "platform_class": "microvm",
        "metric": "startup_latency",
        "measure": "vmm_exec_to_guest_init",
        "value": 100.0,
        "unit": "ms",
        "statistic": "median",
        "kind": "peer_reviewed",
    }
    source = dict(base["source"], **over.pop("source", {}))
    base.update(over)
    base["source"] = source
    return Record.model_validate(base)
