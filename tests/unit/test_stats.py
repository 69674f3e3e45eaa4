import numpy as np
import pytest

from vmscope.stats import bootstrap_median_ci, interleaved_order, summarize


def test_summary_of_known_samples():
    s = summarize([10.0, 12.0, 11.0, 13.0, 9.0])
    assert s.n == 5
    assert s.median == 11.0
    assert s.min == 9.0 and s.max == 13.0
    assert s.mean == pytest.approx(11.0)
    assert s.std == pytest.approx(np.std([10, 12, 11, 13, 9], ddof=1))
    assert s.cov == pytest.approx(s.std / 11.0)
    assert s.ci_low <= s.median <= s.ci_high


def test_noise_warning_threshold():
    quiet = summarize([100.0, 101.0, 99.0, 100.5, 99.5])
    noisy = summarize([50.0, 100.0, 150.0, 80.0, 120.0])
    assert not quiet.noisy
    assert noisy.noisy


def test_bootstrap_ci_is_reproducible_and_brackets_the_median():
    rng = np.random.default_rng(1)
    data = list(rng.lognormal(3.0, 0.3, size=40))
    a = bootstrap_median_ci(data)
    b = bootstrap_median_ci(data)
    assert a == b
    assert a[0] < float(np.median(data)) < a[1]


def test_ci_needs_three_samples():
    assert bootstrap_median_ci([1.0, 2.0]) == (None, None)
    assert summarize([5.0]).cov is None


def test_interleaved_order_alternates_direction():
    order = interleaved_order(["a", "b", "c"], 3)
    assert [p for p, _ in order] == ["a", "b", "c", "c", "b", "a", "a", "b", "c"]
    assert [t for _, t in order] == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_empty_samples_rejected():
    with pytest.raises(ValueError):
        summarize([])
