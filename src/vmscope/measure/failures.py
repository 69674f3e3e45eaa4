"""A platform that failed during a bench: what went wrong and where its console log is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class PlatformFailure:
    platform: str
    error: str
    console_log: Path | None = None
    trial: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "error": self.error, "console_log": str(self.console_log or "")}
