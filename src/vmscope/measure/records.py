"""Turn live results into evidence records (kind "live"), the same type as published figures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from vmscope import __version__
from vmscope.model import EvidenceKind, Metric, PlatformClass, Record, Source, Statistic
from vmscope.platforms import PLATFORMS


def live_source(run_id: str, host: dict[str, Any], db_path: str = "") -> Source:
    return Source(
        key=f"vmscope-live-{run_id}",
        authors="vmscope (this host)",
        title=f"vmscope live run {run_id} on {host.get('hostname', 'this host')}",
        venue="live measurement",
        year=datetime.now(UTC).year,
        url=f"file://{db_path}" if db_path else "",
    )


def conditions_text(host: dict[str, Any], guest: dict[str, Any], accel: str | None, extra: str = "") -> str:
    parts = [
        f"host {host.get('cpu_model')} ({host.get('cores')} cores, {host.get('mem_total_mib')} MiB), "
        f"kernel {host.get('kernel')}, cgroups {host.get('cgroup_mode')}",
        f"guest kernel {guest.get('kernel_version', '?')} + vmscope busybox initramfs",
    ]
    if accel:
        caveat = " (software emulation, not comparable to KVM figures)" if accel == "tcg" else ""
        parts.append(f"accel {accel}{caveat}")
    if extra:
        parts.append(extra)
    return "; ".join(parts)


def live_record(
    *,
    run_id: str,
    index: int,
    platform: str,
    metric: Metric,
    measure: str,
    value: float,
    unit: str,
    statistic: Statistic,
    host: dict[str, Any],
    guest: dict[str, Any],
    accel: str | None = None,
    n: int | None = None,
    low: float | None = None,
    high: float | None = None,
    samples: list[float] | None = None,
    concurrency: int | None = None,
    notes: str = "",
    extra_conditions: str = "",
    db_path: str = "",
) -> Record:
    info = PLATFORMS.get(platform)
    pclass = info.platform_class if info else PlatformClass.process
    return Record(
        id=f"vmscope-live-{run_id}-{index}",
        source=live_source(run_id, host, db_path),
        platform=platform,
        platform_class=pclass,
        metric=metric,
        measure=measure,
        value=value,
        low=low,
        high=high,
        unit=unit,
        statistic=statistic,
        n=n,
        concurrency=concurrency,
        conditions=conditions_text(host, guest, accel, extra_conditions),
        location=f"results DB run {run_id}",
        retrieved_from=f"file://{db_path}" if db_path else "",
        notes=notes,
        kind=EvidenceKind.live,
        accel=accel,
        host=host,
        guest=guest,
        run_id=run_id,
        vmscope_version=__version__,
        samples=samples,
    )
