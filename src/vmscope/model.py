"""The record types shared by every part of vmscope.

One `Record` type carries both a published figure (from the evidence base) and a live
measurement made by vmscope on this host (``kind == "live"``). Synthesis and reports never
branch on where a record came from except to show it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vmscope import units

# Version of the record format. Bump on every incompatible change and say what changed:
#   1 - first version: the evidence README's fields, plus the optional live fields
#       (accel, host, guest, run_id, vmscope_version, samples).
RECORD_FORMAT_VERSION = 1


class PlatformClass(StrEnum):
    traditional_vm = "traditional_vm"
    microvm = "microvm"
    vm_container = "vm_container"
    secure_container = "secure_container"
    container = "container"
    unikernel = "unikernel"
    process = "process"
    # vmscope's own raw-KVM floor: not a platform people deploy, the lower bound of "start a VM".
    floor = "floor"


# Classes whose instances boot their own guest kernel (the VMs): accelerator-dependent, have guest RAM.
VM_CLASSES = frozenset({PlatformClass.traditional_vm, PlatformClass.microvm})


class Metric(StrEnum):
    startup_latency = "startup_latency"
    memory_footprint = "memory_footprint"
    isolation = "isolation"
    scalability = "scalability"


class Statistic(StrEnum):
    mean = "mean"
    median = "median"
    p50 = "p50"
    p90 = "p90"
    p95 = "p95"
    p99 = "p99"
    min = "min"
    max = "max"
    single = "single"
    approx = "approx"
    upper_bound = "upper_bound"
    lower_bound = "lower_bound"


class EvidenceKind(StrEnum):
    peer_reviewed = "peer_reviewed"
    thesis = "thesis"
    preprint = "preprint"
    vendor_spec = "vendor_spec"
    vendor_doc = "vendor_doc"
    blog = "blog"
    live = "live"


class Accel(StrEnum):
    kvm = "kvm"
    tcg = "tcg"


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1)
    authors: str
    title: str
    venue: str
    year: int | None = Field(default=None, ge=1960, le=2100)
    url: str


class Record(BaseModel):
    """One figure or fact: a published one, or one vmscope measured (kind == live)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    source: Source
    platform: str = Field(min_length=1)
    platform_class: PlatformClass
    metric: Metric
    measure: str = Field(pattern=r"^[a-z0-9_]+$")
    value: float
    low: float | None = None
    high: float | None = None
    unit: str
    statistic: Statistic
    n: int | None = Field(default=None, ge=1)
    concurrency: int | None = Field(default=None, ge=1)
    conditions: str = ""
    location: str = ""
    retrieved_from: str = ""
    notes: str = ""
    kind: EvidenceKind
    # Live-only provenance (None for published records).
    accel: Accel | None = None
    host: dict[str, Any] | None = None
    guest: dict[str, Any] | None = None
    run_id: str | None = None
    vmscope_version: str | None = None
    samples: list[float] | None = None

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, v: str) -> str:
        if v not in units.UNITS:
            raise ValueError(f"unknown unit {v!r}; known: {', '.join(sorted(units.UNITS))}")
        return v

    @field_validator("platform")
    @classmethod
    def _platform_id(cls, v: str) -> str:
        if v != v.strip() or " " in v:
            raise ValueError(f"platform id {v!r} must not contain spaces")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Record:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low ({self.low}) is greater than high ({self.high})")
        if self.unit == "bool" and self.value not in (0, 1):
            raise ValueError(f"a bool record has value 0 or 1, not {self.value}")
        if self.kind == EvidenceKind.live and self.run_id is None:
            raise ValueError("a live record needs run_id")
        return self

    @property
    def is_live(self) -> bool:
        return self.kind == EvidenceKind.live
