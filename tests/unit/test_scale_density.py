"""Density: checkpoints, line fit, instances in a budget (measured vs extrapolated), the curve."""

from __future__ import annotations

import pytest

from vmscope.measure import density
from vmscope.measure.density import EXTRAPOLATED, MEASURED, DensityPoint


@pytest.mark.parametrize("n,want", [(0, []), (1, [1]), (2, [2, 1]), (16, [16, 8, 4, 2, 1]),
                                    (12, [12, 8, 4, 2, 1])])
def test_checkpoints(n, want):
    assert density.checkpoints(n) == want


def _line(fixed: float, per: float, ks: list[int]) -> list[DensityPoint]:
    return [DensityPoint(k, fixed + per * k, per * 0.8) for k in ks]


def test_fit_recovers_a_line():
    line = density.fit(_line(1000.0, 500.0, [1, 2, 4, 8]))
    assert line is not None
    assert line.fixed_kib == pytest.approx(1000.0)
    assert line.per_instance_kib == pytest.approx(500.0)


def test_fit_with_one_count_goes_through_the_origin():
    line = density.fit([DensityPoint(4, 2000.0, None)])
    assert line is not None and line.fixed_kib == 0 and line.per_instance_kib == 500


def test_merge_takes_medians_per_count():
    pts = [DensityPoint(2, 100.0, 10.0), DensityPoint(2, 300.0, 30.0), DensityPoint(2, 200.0, None),
           DensityPoint(1, 50.0, None)]
    merged = density.merge(pts)
    assert [(p.running, p.memavailable_drop_kib, p.pss_kib_per_instance) for p in merged] == [
        (1, 50.0, None), (2, 200.0, 20.0)]


def test_budget_beyond_measured_range_is_extrapolated():
    est = density.in_budget(_line(1000.0, 500.0, [1, 2, 4, 8]), budget_kib=51000.0)
    assert est["label"] == EXTRAPOLATED
    assert est["instances"] == 100
    assert est["measured_up_to"] == 8


def test_budget_inside_measured_range_is_measured():
    est = density.in_budget(_line(1000.0, 500.0, [1, 2, 4, 8, 16]), budget_kib=4000.0)
    assert est["label"] == MEASURED
    assert est["instances"] == 4  # 8 instances take 5000 KiB > budget


def test_sweep_stopped_at_budget_is_measured():
    est = density.in_budget(_line(0.0, 500.0, [1, 2, 4]), budget_kib=2100.0, budget_reached=True)
    assert est["label"] == MEASURED and est["instances"] == 4


def test_no_growth_gives_no_estimate():
    est = density.in_budget([DensityPoint(1, 500.0, None), DensityPoint(2, 400.0, None)], budget_kib=1e6)
    assert est["instances"] is None and "why_none" in est


def test_curve_labels_every_point():
    pts = _line(1000.0, 500.0, [1, 2, 4, 8])
    est = density.in_budget(pts, budget_kib=51000.0)
    cur = density.curve(pts, est)
    measured = [p for p in cur if p["label"] == MEASURED]
    extra = [p for p in cur if p["label"] == EXTRAPOLATED]
    assert [p["running"] for p in measured] == [1, 2, 4, 8]
    assert [p["running"] for p in extra] == [16, 32, 64, 100]
    assert all(p["pss_kib_per_instance"] is None for p in extra)  # nothing measured there
    assert extra[-1]["memavailable_drop_kib"] == pytest.approx(51000.0)
    assert measured[0]["memavailable_drop_kib_per_instance"] == pytest.approx(1500.0)


def test_curve_without_extrapolation_is_only_measured():
    pts = _line(1000.0, 500.0, [1, 2, 4, 8, 16])
    est = density.in_budget(pts, budget_kib=4000.0)
    assert {p["label"] for p in density.curve(pts, est)} == {MEASURED}
