"""The report's figures: matplotlib (Agg) rendered to base64 PNG data URIs, so the report works offline.

PNG rather than SVG on purpose: labels come partly from evidence text (study keys), and pixels
cannot carry markup. Mathtext is off for the same reason ("$" in a label is just a dollar sign).
Every function returns None when there is nothing to draw.
"""

from __future__ import annotations

import base64
import functools
import io
import math
import statistics
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from vmscope.report.text import studies  # noqa: E402
from vmscope.synthesis import PooledRow  # noqa: E402

PHASES = ("vmm_firmware", "runtime_setup", "kernel", "init_to_ready")  # in boot order; they sum to spawn -> ready
PHASE_COLORS = {"vmm_firmware": "#8c6bb1", "runtime_setup": "#6baed6", "kernel": "#fd8d3c", "init_to_ready": "#74c476"}
_RC = {"text.parse_math": False, "font.size": 9, "axes.grid": True, "grid.alpha": 0.3, "figure.dpi": 96}


@dataclass(frozen=True)
class Plot:
    id: str
    title: str
    alt: str  # a text description for readers without images
    uri: str  # data:image/png;base64,...


def label(platform: str, accel: str | None) -> str:
    """A platform's label in every figure: its accelerator is part of its name when it has one."""
    return f"{platform} [{accel.upper()}]" if accel else platform


def mixed_note(rows: list[dict[str, Any]]) -> str:
    accels = {r.get("accel") for r in rows if r.get("accel")}
    return " (mixes KVM and TCG: not comparable)" if {"kvm", "tcg"} <= accels else ""


@contextmanager
def _figure(width: float, height: float) -> Iterator[Figure]:
    with plt.rc_context(_RC):
        fig = plt.figure(figsize=(width, height))
        try:
            yield fig
        finally:
            plt.close(fig)


def _log_x(ax: Any, base: int = 10) -> None:
    """A log x axis labeled in plain numbers (mathtext is off, so the default 10^n labels would not render)."""
    ax.set_xscale("log", base=base)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _png(fig: Figure, tight: bool = True) -> str:
    buf = io.BytesIO()
    if tight:  # tight_layout costs ~0.1 s a figure; forest plots set their margins instead
        fig.tight_layout()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def startup_cdf(rows: list[dict[str, Any]]) -> Plot | None:
    series = [(label(r.get("platform", "?"), r.get("accel")), sorted(v for v in r.get("samples_ms") or []
                                                                     if _num(v) and v > 0)) for r in rows]
    series = [(name, s) for name, s in series if s]
    if not series:
        return None
    with _figure(7.5, 3.6) as fig:
        ax = fig.add_subplot()
        for name, s in series:
            ys = [(i + 1) / len(s) for i in range(len(s))]
            ax.step(s, ys, where="post", label=f"{name} (n={len(s)})")
        _log_x(ax)
        ax.set_xlabel("spawn -> ready, ms (log scale)")
        ax.set_ylabel("share of trials")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7, loc="lower right")
        title = "Startup latency CDF per platform" + mixed_note(rows)
        ax.set_title(title)
        return Plot("plot-startup-cdf", title, "Empirical CDF of spawn -> ready per platform", _png(fig))


def phase_bars(rows: list[dict[str, Any]]) -> Plot | None:
    data = [(label(r.get("platform", "?"), r.get("accel")), r.get("phases_ms") or {}) for r in rows]
    data = [(n, p) for n, p in data if any(_num(p.get(k)) for k in PHASES)]
    if not data:
        return None
    data.sort(key=lambda d: sum(_num(d[1].get(k)) or 0 for k in PHASES))
    with _figure(7.5, 0.9 + 0.38 * len(data)) as fig:
        ax = fig.add_subplot()
        left = [0.0] * len(data)
        for ph in PHASES:
            vals = [_num(p.get(ph)) or 0.0 for _, p in data]
            if any(vals):
                ax.barh([n for n, _ in data], vals, left=left, label=ph, color=PHASE_COLORS[ph])
                left = [a + b for a, b in zip(left, vals, strict=True)]
        ax.set_xlabel("median ms (phases sum to spawn -> ready)")
        ax.legend(fontsize=7, loc="lower right")
        title = "Startup phases per platform" + mixed_note(rows)
        ax.set_title(title)
        return Plot("plot-startup-phases", title, "Stacked median phases of spawn -> ready", _png(fig))


def _is_vm(platform: str) -> bool:
    from vmscope.model import VM_CLASSES
    from vmscope.platforms import PLATFORMS

    info = PLATFORMS.get(platform)
    return info is not None and info.platform_class in VM_CLASSES


def memory_bars(rows: list[dict[str, Any]]) -> Plot | None:
    data = []
    for r in rows:
        pss, over = _num(r.get("pss_kib")), _num(r.get("vmm_overhead_kib"))
        if pss is None and over is None:
            continue
        guest_part = max((pss or 0) - (over or 0), 0) if over is not None else None
        # a shared-kernel platform "sees" the host's MemTotal: only a VM's guest RAM is worth a marker
        is_vm = _is_vm(str(r.get("platform", "")))
        data.append((label(r.get("platform", "?"), r.get("accel")), pss, over, guest_part,
                     _num(r.get("guest_memtotal_kib")) if is_vm else None))
    if not data:
        return None
    data.sort(key=lambda d: d[1] or 0)
    mib = 1024.0
    with _figure(7.5, 1.0 + 0.42 * len(data)) as fig:
        ax = fig.add_subplot()
        names = [d[0] for d in data]
        guest = [(d[3] or 0) / mib for d in data]
        over = [(d[2] or 0) / mib for d in data]
        other = [((d[1] or 0) / mib if d[2] is None else 0) for d in data]
        ax.barh(names, guest, color="#9ecae1", label="guest RAM touched (PSS - VMM overhead)")
        ax.barh(names, over, left=guest, color="#e6550d", label="VMM overhead (guest-RAM mapping excluded)")
        ax.barh(names, other, color="#bdbdbd", label="host processes PSS (no guest-RAM split)")
        for i, d in enumerate(data):
            if d[4]:
                ax.plot([d[4] / mib], [i], marker="|", markersize=14, color="black")
        if any(d[4] for d in data):
            ax.plot([], [], marker="|", linestyle="", color="black", label="guest MemTotal (VMs)")
        ax.set_xlabel("MiB per instance (median over trials)")
        ax.legend(fontsize=7, loc="lower right")
        title = "Memory per instance: VMM overhead vs guest RAM" + mixed_note(rows)
        ax.set_title(title)
        return Plot("plot-memory", title, "Per-instance PSS split into guest RAM and VMM overhead", _png(fig))


def concurrency_curves(rows: list[dict[str, Any]]) -> Plot | None:
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if _num(r.get("concurrency")):
            by[label(r.get("platform", "?"), r.get("accel"))].append(r)
    if not by:
        return None
    with _figure(8.5, 3.4) as fig:
        lat, rate = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        for name, rs in sorted(by.items()):
            rs.sort(key=lambda r: r["concurrency"])
            cs = [r["concurrency"] for r in rs]
            line = lat.plot(cs, [_num(r.get("p50_ms")) for r in rs], marker="o", label=f"{name} p50")[0]
            lat.plot(cs, [_num(r.get("p95_ms")) for r in rs], marker="^", linestyle="--", color=line.get_color(),
                     label=f"{name} p95")
            rate.plot(cs, [_num(r.get("launch_rate_per_s")) for r in rs], marker="o", label=name)
        for ax in (lat, rate):
            _log_x(ax, 2)
            ax.set_xlabel("concurrency (instances starting at once)")
        lat.set_ylabel("spawn -> ready, ms")
        lat.set_title("Startup latency vs concurrency")
        rate.set_ylabel("instances ready per second")
        rate.set_title("Launch rate vs concurrency")
        lat.legend(fontsize=6)
        rate.legend(fontsize=6)
        title = "Concurrency curves" + mixed_note(rows)
        return Plot("plot-concurrency", title, "p50/p95 startup latency and launch rate vs concurrency", _png(fig))


def density_points(rows: list[dict[str, Any]]) -> dict[str, list[tuple[int, float, str]]]:
    """platform label -> [(running, MiB per instance, label)], median over sweeps per running count."""
    acc: dict[str, dict[int, list[tuple[float, str]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        for p in r.get("density") or []:
            k, drop = _num(p.get("running")), _num(p.get("memavailable_drop_kib"))
            if not k or drop is None:
                continue
            acc[label(r.get("platform", "?"), r.get("accel"))][int(k)].append(
                (drop / k / 1024, str(p.get("label") or "measured")))
    out: dict[str, list[tuple[int, float, str]]] = {}
    for name, pts in acc.items():
        out[name] = [(k, statistics.median(v for v, _ in vs),
                      "measured" if any(lab == "measured" for _, lab in vs) else "extrapolated")
                     for k, vs in sorted(pts.items())]
    return out


def density_curves(rows: list[dict[str, Any]]) -> Plot | None:
    curves = density_points(rows)
    if not curves:
        return None
    with _figure(7.5, 3.4) as fig:
        ax = fig.add_subplot()
        for name, pts in sorted(curves.items()):
            meas = [(k, v) for k, v, lab in pts if lab == "measured"]
            extra = [(k, v) for k, v, lab in pts if lab != "measured"]
            line = ax.plot([k for k, _ in meas], [v for _, v in meas], marker="o", label=f"{name} (measured)")[0]
            if extra:
                ax.plot([k for k, _ in extra], [v for _, v in extra], marker="o", fillstyle="none", linestyle=":",
                        color=line.get_color(), label=f"{name} (extrapolated)")
        _log_x(ax, 2)
        ax.set_xlabel("instances running")
        ax.set_ylabel("MemAvailable drop per instance, MiB")
        ax.legend(fontsize=7)
        title = "Density: host memory per instance vs instances running" + mixed_note(rows)
        ax.set_title(title)
        return Plot("plot-density", title, "Per-instance MemAvailable drop vs number of running instances", _png(fig))


def _contribution(v: Any) -> float | None:
    if isinstance(v, dict):
        for key in ("contribution", "weighted", "points"):
            if _num(v.get(key)) is not None:
                return _num(v.get(key))
    return None


def isolation_bars(rows: list[dict[str, Any]]) -> Plot | None:
    data = [r for r in rows if _num(r.get("index")) is not None or _num(r.get("host_syscalls_reachable")) is not None]
    if not data:
        return None
    data.sort(key=lambda r: _num(r.get("index")) or 0)
    names = [label(r.get("platform", "?"), r.get("accel")) for r in data]
    with _figure(8.5, 1.0 + 0.42 * len(data)) as fig:
        idx, sys_ax = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        comps = sorted({k for r in data for k, v in (r.get("components") or {}).items()
                        if _contribution(v) is not None})
        if comps:
            left = [0.0] * len(data)
            cmap = plt.get_cmap("tab10")
            for i, c in enumerate(comps):
                vals = [_contribution((r.get("components") or {}).get(c)) or 0.0 for r in data]
                idx.barh(names, vals, left=left, label=c, color=cmap(i % 10))
                left = [a + b for a, b in zip(left, vals, strict=True)]
            idx.legend(fontsize=6, loc="lower right")
        else:
            idx.barh(names, [_num(r.get("index")) or 0 for r in data], color="#3182bd")
        idx.set_xlim(0, 1)
        idx.set_xlabel("isolation index (0-1, higher = stronger)")
        idx.set_title("Isolation index and its components")
        sys_ax.barh(names, [_num(r.get("host_syscalls_reachable")) or 0 for r in data], color="#de2d26")
        sys_ax.set_xlabel("host-kernel syscalls reachable (fewer = better)")
        sys_ax.set_title("Host syscall reachability")
        sys_ax.tick_params(labelleft=False)
        title = "Isolation breakdown" + mixed_note(rows)
        return Plot("plot-isolation", title, "Isolation index by component and reachable host syscalls", _png(fig))


def forest_plot(family: str, rows: list[PooledRow], max_studies: int = 12) -> Plot | None:
    """Per group: its studies (point + range) and the pooled estimate (diamond) with its interval."""
    return _forest(family, tuple(rows), max_studies)


@functools.lru_cache(maxsize=128)  # the literature rarely changes between reports built by one process
def _forest(family: str, all_rows: tuple[PooledRow, ...], max_studies: int) -> Plot | None:
    rows = [r for r in all_rows if r.estimate > 0 and r.low > 0 and r.high > 0]
    if not rows:
        return None
    lines: list[tuple[str, float, float, float, bool]] = []  # label, est, low, high, pooled?
    for r in sorted(rows, key=lambda r: r.estimate):
        for s in sorted(r.studies, key=lambda s: s.estimate)[:max_studies]:
            if s.estimate > 0:
                lines.append((f"  {s.study}", s.estimate, max(s.low, 1e-12), max(s.high, 1e-12), False))
        if len(r.studies) > max_studies:
            lines.append((f"  ... {len(r.studies) - max_studies} more studies", math.nan, math.nan, math.nan, False))
        lines.append((f"{r.group} (pooled, {studies(r.n_studies)})", r.estimate, r.low, r.high, True))
    with _figure(7.5, max(2.0, 0.9 + 0.22 * len(lines))) as fig:
        ax = fig.add_subplot()
        ys = list(range(len(lines)))[::-1]
        for y, (_, est, low, high, pooled) in zip(ys, lines, strict=True):
            if math.isnan(est):
                continue
            ax.plot([low, high], [y, y], color="black" if pooled else "#777777", linewidth=1.6 if pooled else 1)
            ax.plot([est], [y], marker="D" if pooled else "s", markersize=7 if pooled else 4,
                    color="#d95f02" if pooled else "#1b9e77")
        ax.set_yticks(ys, [lab for lab, *_ in lines], fontsize=7)
        ax.set_ylim(-0.7, len(lines) - 0.3)
        ax.margins(x=0.08)
        _log_x(ax)
        ax.set_xlabel(f"{rows[0].unit} (log scale)")
        title = f"Forest plot: {family}"
        ax.set_title(title)
        height = fig.get_figheight()
        fig.subplots_adjust(left=0.42, right=0.97, top=1 - 0.3 / height, bottom=0.55 / height)
        return Plot(f"forest-{family}", title, f"Per-study and pooled estimates for {family}", _png(fig, tight=False))
