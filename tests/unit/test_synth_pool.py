"""Pooling: DerSimonian-Laird checked against a hand computation; families map consistently."""

import math
from collections.abc import Callable
from typing import Any

import pytest
from helpers import record
from hypothesis import given
from hypothesis import strategies as st

from vmscope.model import PlatformClass, Record
from vmscope.synthesis.families import taxonomy
from vmscope.synthesis.pool import PoolMethod, dersimonian_laird


@pytest.fixture
def make_record() -> Callable[..., Record]:
    return record


@pytest.fixture
def make_obs() -> Callable[..., Any]:
    from vmscope.synthesis.normalize import normalize

    counter = iter(range(10_000))

    def _make(study: str, value: float, samples: list[float] | None = None, **over: Any) -> Any:
        rec = record(id=f"{study}-{next(counter)}", source={"key": study}, value=value, samples=samples, **over)
        (obs,), _ = normalize([rec])
        return obs

    return _make


def test_dersimonian_laird_by_hand() -> None:
    # effects 0.1, 0.3, 0.5 with within-study variances 0.01, 0.02, 0.04
    # fixed-effect weights w = 100, 50, 25; sum 175; fixed mean = (10 + 15 + 12.5) / 175
    fe_mean = 37.5 / 175
    q = 100 * (0.1 - fe_mean) ** 2 + 50 * (0.3 - fe_mean) ** 2 + 25 * (0.5 - fe_mean) ** 2
    assert q == pytest.approx(3.7142857, abs=1e-6)
    c = 175 - (100**2 + 50**2 + 25**2) / 175  # = 100
    tau2 = (q - 2) / c  # df = 2
    assert tau2 == pytest.approx(0.0171429, abs=1e-6)
    w_re = [1 / (0.01 + tau2), 1 / (0.02 + tau2), 1 / (0.04 + tau2)]
    mean = (w_re[0] * 0.1 + w_re[1] * 0.3 + w_re[2] * 0.5) / sum(w_re)
    se = math.sqrt(1 / sum(w_re))
    assert mean == pytest.approx(0.252398, abs=1e-6)

    got = dersimonian_laird([0.1, 0.3, 0.5], [0.01, 0.02, 0.04])
    assert got.tau2 == pytest.approx(tau2, rel=1e-9)
    assert got.mean == pytest.approx(mean, rel=1e-9)
    assert got.se == pytest.approx(se, rel=1e-9)
    assert got.i2 == pytest.approx((q - 2) / q, rel=1e-9)


def test_dersimonian_laird_homogeneous_has_zero_tau2() -> None:
    got = dersimonian_laird([1.0, 1.0, 1.0], [0.1, 0.2, 0.3])
    assert got.tau2 == 0
    assert got.mean == pytest.approx(1.0)


def test_pooled_row_from_studies_with_spread(make_obs) -> None:  # type: ignore[no-untyped-def]
    from vmscope.synthesis.pool import pool

    obs = [make_obs("s1", 100.0, samples=[90, 100, 110]), make_obs("s2", 200.0, samples=[180, 200, 220])]
    (row,) = pool(obs)
    assert row.method is PoolMethod.random_effects_dl
    assert row.n_studies == 2 and row.n_records == 2
    assert row.low < row.estimate < row.high
    assert 100 < row.estimate < 200
    assert [s.study for s in row.studies] == ["s1", "s2"]


def test_pooled_row_without_spread_is_median_and_range(make_obs) -> None:  # type: ignore[no-untyped-def]
    from vmscope.synthesis.pool import pool

    obs = [make_obs("s1", 100.0), make_obs("s2", 400.0), make_obs("s3", 200.0)]
    (row,) = pool(obs)
    assert row.method is PoolMethod.median_range
    assert row.estimate == pytest.approx(200.0)
    assert (row.low, row.high) == (100.0, 400.0)


_tax = taxonomy()
_all_measures = sorted({m for f in _tax.families.values() for m in f.measures})


@given(st.sampled_from(_all_measures), st.sampled_from(list(PlatformClass)))
def test_every_listed_measure_maps_to_its_one_family(measure: str, cls: PlatformClass) -> None:
    fam = _tax.family_of(measure, cls)
    assert fam is not None
    owners = [f for f in _tax.families.values() if measure in f.measures]
    assert owners == [fam]


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=30), st.sampled_from(list(PlatformClass)))
def test_unlisted_measures_are_not_pooled(measure: str, cls: PlatformClass) -> None:
    listed = {m for f in _tax.families.values() for m in f.measures} | {
        m for f in _tax.families.values() for m, _ in f.live_measures
    }
    if measure not in listed:
        assert _tax.family_of(measure, cls) is None


def test_live_spawn_to_ready_maps_by_class() -> None:
    assert _tax.family_of("spawn_to_ready", PlatformClass.microvm).id == "vmm_start_to_guest_init"
    assert _tax.family_of("spawn_to_ready", PlatformClass.traditional_vm).id == "vmm_start_to_guest_init"
    assert _tax.family_of("spawn_to_ready", PlatformClass.container).id == "runtime_start_to_workload"
    assert _tax.family_of("spawn_to_ready", PlatformClass.secure_container).id == "runtime_start_to_workload"


def test_dersimonian_laird_truncated_tau2_equals_fixed_effect() -> None:
    # identical effects: Q = 0 < df, tau^2 truncates to 0 and the fixed-effect se applies
    got = dersimonian_laird([1.0, 1.0, 1.0], [0.1, 0.2, 0.3])
    assert got.se == pytest.approx(math.sqrt(1 / (10 + 5 + 1 / 0.3)))
