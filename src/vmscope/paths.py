"""Where vmscope keeps things: XDG cache (rebuildable artefacts) and data (results) directories."""

from __future__ import annotations

import os
from pathlib import Path

from vmscope.errors import UserError


def _resolve(override_env: str, xdg_env: str, default_rel: str) -> Path:
    override = os.environ.get(override_env)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get(xdg_env)
    # The XDG spec says relative values are invalid and must be ignored.
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "vmscope"
    return Path.home() / default_rel / "vmscope"


def _ensure(path: Path, what: str, override_env: str) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot create the vmscope {what} directory {path}: {exc.strerror}",
            hint=f"set {override_env} to a writable directory",
        ) from exc
    return path


def cache_dir() -> Path:
    """$VMSCOPE_CACHE_DIR, else $XDG_CACHE_HOME/vmscope, else ~/.cache/vmscope (created)."""
    return _ensure(_resolve("VMSCOPE_CACHE_DIR", "XDG_CACHE_HOME", ".cache"), "cache", "VMSCOPE_CACHE_DIR")


def data_dir() -> Path:
    """$VMSCOPE_DATA_DIR, else $XDG_DATA_HOME/vmscope, else ~/.local/share/vmscope (created)."""
    return _ensure(_resolve("VMSCOPE_DATA_DIR", "XDG_DATA_HOME", ".local/share"), "data", "VMSCOPE_DATA_DIR")
