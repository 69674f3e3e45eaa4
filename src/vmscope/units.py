"""One registry of units: unit -> dimension, scale to the dimension's base unit, formatter.

Base units: time in ms, memory in KiB, rate in per_s, counts in count, ratios in ratio
(percent = 0.01 ratio). Names elsewhere in the
code carry their unit (``boot_ms``, ``pss_kib``) and convert through `convert`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Dimension(StrEnum):
    time = "time"
    memory = "memory"
    rate = "rate"
    count = "count"
    ratio = "ratio"
    boolean = "boolean"


@dataclass(frozen=True)
class Unit:
    name: str
    dimension: Dimension
    scale: float  # multiply a value in this unit by scale to get the dimension's base unit
    symbol: str

    def format(self, value: float) -> str:
        if self.dimension is Dimension.boolean:
            return "yes" if value else "no"
        return f"{number(value)} {self.symbol}".strip()


def number(value: float) -> str:
    """A figure for display, without unit: whole or >= 100 with thousands separators, else 3 significant digits."""
    return f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:.3g}"


BASE_UNIT: dict[Dimension, str] = {
    Dimension.time: "ms",
    Dimension.memory: "KiB",
    Dimension.rate: "per_s",
    Dimension.count: "count",
    Dimension.ratio: "ratio",
    Dimension.boolean: "bool",
}

_ROWS = [
    Unit("ns", Dimension.time, 1e-6, "ns"),
    Unit("us", Dimension.time, 1e-3, "us"),
    Unit("ms", Dimension.time, 1.0, "ms"),
    Unit("s", Dimension.time, 1e3, "s"),
    Unit("min", Dimension.time, 60e3, "min"),
    Unit("h", Dimension.time, 3600e3, "h"),
    Unit("B", Dimension.memory, 1 / 1024, "B"),
    Unit("KiB", Dimension.memory, 1.0, "KiB"),
    Unit("MiB", Dimension.memory, 1024.0, "MiB"),
    Unit("GiB", Dimension.memory, 1024.0**2, "GiB"),
    Unit("TiB", Dimension.memory, 1024.0**3, "TiB"),
    Unit("KB", Dimension.memory, 1000 / 1024, "kB"),
    Unit("MB", Dimension.memory, 1e6 / 1024, "MB"),
    Unit("GB", Dimension.memory, 1e9 / 1024, "GB"),
    Unit("per_s", Dimension.rate, 1.0, "/s"),
    Unit("per_min", Dimension.rate, 1 / 60, "/min"),
    Unit("per_h", Dimension.rate, 1 / 3600, "/h"),
    Unit("count", Dimension.count, 1.0, ""),
    Unit("instances", Dimension.count, 1.0, "instances"),
    Unit("lines", Dimension.count, 1.0, "lines"),
    Unit("syscalls", Dimension.count, 1.0, "syscalls"),
    Unit("devices", Dimension.count, 1.0, "devices"),
    Unit("ratio", Dimension.ratio, 1.0, "x"),
    Unit("percent", Dimension.ratio, 0.01, "%"),
    Unit("permille", Dimension.ratio, 0.001, "‰"),
    Unit("bool", Dimension.boolean, 1.0, ""),
]

UNITS: dict[str, Unit] = {u.name: u for u in _ROWS}


class UnitError(ValueError):
    pass


def get(name: str) -> Unit:
    try:
        return UNITS[name]
    except KeyError:
        raise UnitError(f"unknown unit {name!r}; known: {', '.join(UNITS)}") from None


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert between two units of one dimension (ms -> s, MB -> MiB ...)."""
    src, dst = get(from_unit), get(to_unit)
    if src.dimension is not dst.dimension:
        raise UnitError(f"cannot convert {from_unit} ({src.dimension}) to {to_unit} ({dst.dimension})")
    return value * src.scale / dst.scale


def to_base(value: float, unit: str) -> tuple[float, str]:
    u = get(unit)
    return value * u.scale, BASE_UNIT[u.dimension]


def dimension(unit: str) -> Dimension:
    return get(unit).dimension


def units_of(dim: Dimension) -> list[str]:
    """Every unit of one dimension, base unit first."""
    names = [u.name for u in _ROWS if u.dimension is dim]
    return sorted(names, key=lambda n: n != BASE_UNIT[dim])


def best_unit(value_in_base: float, dim: Dimension, candidates: tuple[str, ...] | None = None) -> str:
    """The largest unit of `dim` in which `value_in_base` is still >= 1 (for display: 2,048 KiB -> 2 MiB).

    Only binary memory units and ms/s are considered unless `candidates` says otherwise, so a
    table never mixes MB and MiB.
    """
    default = {Dimension.time: ("us", "ms", "s"), Dimension.memory: ("KiB", "MiB", "GiB")}
    names = candidates or default.get(dim, (BASE_UNIT[dim],))
    ordered = sorted(names, key=lambda n: UNITS[n].scale)
    chosen = ordered[0]
    for name in ordered:
        if abs(value_in_base) >= UNITS[name].scale:
            chosen = name
    return chosen


def fmt(value: float, unit: str) -> str:
    return get(unit).format(value)
