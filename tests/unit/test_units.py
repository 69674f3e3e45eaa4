"""Unit registry: conversions round-trip and never cross dimensions."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmscope import units
from vmscope.units import UNITS, Dimension

_non_bool = [u for u in UNITS.values() if u.dimension is not Dimension.boolean]
_pairs = st.sampled_from([(a.name, b.name) for a in _non_bool for b in _non_bool if a.dimension is b.dimension])
_values = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False)


@given(_pairs, _values)
def test_convert_round_trip(pair: tuple[str, str], value: float) -> None:
    a, b = pair
    back = units.convert(units.convert(value, a, b), b, a)
    assert math.isclose(back, value, rel_tol=1e-12)


@given(_pairs, _values)
def test_convert_agrees_with_base(pair: tuple[str, str], value: float) -> None:
    a, b = pair
    base_a, unit_a = units.to_base(value, a)
    base_b, unit_b = units.to_base(units.convert(value, a, b), b)
    assert unit_a == unit_b
    assert math.isclose(base_a, base_b, rel_tol=1e-12)


def test_known_conversions() -> None:
    assert units.convert(1, "s", "ms") == 1000
    assert units.convert(1, "MiB", "KiB") == 1024
    assert math.isclose(units.convert(1, "MB", "MiB"), 1e6 / 2**20)
    assert units.convert(50, "percent", "ratio") == 0.5
    assert units.convert(2, "per_min", "per_s") == pytest.approx(1 / 30)


def test_cross_dimension_is_refused() -> None:
    with pytest.raises(units.UnitError):
        units.convert(1, "ms", "MiB")
    with pytest.raises(units.UnitError):
        units.get("furlongs")


def test_best_unit_and_units_of() -> None:
    assert units.best_unit(2048, Dimension.memory) == "MiB"
    assert units.best_unit(0.5, Dimension.time) == "us"
    assert units.units_of(Dimension.rate)[0] == "per_s"


def test_number_and_format_share_one_rule() -> None:
    assert units.number(1234.5) == "1,234" and units.number(2.0) == "2" and units.number(0.01234) == "0.0123"
    assert units.fmt(1234.5, "ms") == "1,234 ms" and units.fmt(3, "count") == "3"
