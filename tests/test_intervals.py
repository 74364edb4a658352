"""95 % intervals (figures/intervals.py) and the per-example outcomes eval.json carries for them."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from deep.attacks import eval_attack
from deep.data import BatchLoader, load_split
from deep.evaluate import decode_examples, encode_examples, evaluate_classwise
from deep.models import build_model
from figures.intervals import clopper_pearson, paired_change, result_intervals, significance, worst_class_interval


@given(st.integers(1, 3000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
@settings(max_examples=60, deadline=None)
def test_clopper_pearson_is_scipys_exact_interval(kn):
    k, n = kn
    lo, hi = clopper_pearson(k, n)
    ref = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
    assert lo == pytest.approx(ref.low, abs=1e-9) and hi == pytest.approx(ref.high, abs=1e-9)
    assert lo <= k / n <= hi


def test_clopper_pearson_covers_at_least_its_level():
    """Exact intervals are conservative: over binomial draws the true p is inside >= 95 % of the time."""
    rng = np.random.default_rng(0)
    for p in (0.05, 0.3, 0.6):
        k = rng.binomial(1000, p, size=4000)
        lo, hi = clopper_pearson(k, np.full_like(k, 1000))
        assert np.mean((lo <= p) & (p <= hi)) >= 0.95


def test_bad_counts_and_levels_are_refused():
    for k, n in ((5, 3), (-1, 3), (1, 0), (1.5, 3)):
        with pytest.raises(ValueError):
            clopper_pearson(k, n)
    with pytest.raises(ValueError, match="level"):
        clopper_pearson(1, 3, level=1.0)
    with pytest.raises(ValueError):
        worst_class_interval([3, 4], [10])


def test_significance_needs_every_seed_on_one_side():
    assert significance([(1.0, 0.2, 2.0), (0.5, 0.1, 0.9)]) == "up"
    assert significance([(-1.0, -2.0, -0.2)]) == "down"
    assert significance([(1.0, 0.2, 2.0), (0.5, -0.1, 0.9)]) == "no" and significance([]) == "no"


def test_the_worst_class_interval_brackets_the_clear_worst_at_the_simultaneous_level():
    k, n = [100, 200, 600], [1000, 1000, 1000]
    lo, hi = worst_class_interval(k, n)
    assert (lo, hi) == tuple(float(v) for v in clopper_pearson(600, 1000, 1 - 0.05 / 3))
    assert lo < 0.6 < hi


@pytest.mark.parametrize("p", [[0.45] * 10, [0.46, 0.45, 0.45] + [0.3] * 7, [0.7] + [0.3] * 9])
def test_the_worst_class_interval_covers_the_true_worst_even_with_tied_classes(p):
    """Where a bootstrap of the maximum fails (tied classes), the simultaneous interval still covers."""
    rng = np.random.default_rng(2)
    n = np.full(len(p), 1000)
    hits = [lo <= max(p) <= hi for lo, hi in (worst_class_interval(rng.binomial(n, p), n) for _ in range(400))]
    assert np.mean(hits) >= 0.95


def _two_models(shift, n_per_class=1000, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), n_per_class)
    a = rng.random(labels.size) < 0.4
    b = a.copy()
    flip = rng.random(labels.size) < shift  # b gets these wrong too
    b |= flip
    return labels, a, b


def test_a_model_against_itself_changes_nothing_with_certainty():
    labels, a, _ = _two_models(0.0)
    ch = paired_change(labels, a, a)
    assert ch["avg"] == (0.0, 0.0, 0.0) and ch["worst"] == (0.0, 0.0, 0.0)


def test_a_real_change_is_found_and_the_pairing_makes_it_sharper():
    labels, a, b = _two_models(0.03)
    ch = paired_change(labels, a, b)
    assert ch["avg"][0] == pytest.approx(b.mean() - a.mean())
    assert ch["avg"][1] > 0  # significant: the interval excludes 0
    # unpaired, the same 1.8-point change would be lost in two +-1 point intervals
    lo_a, hi_a = clopper_pearson(a.sum(), a.size)
    lo_b, hi_b = clopper_pearson(b.sum(), b.size)
    assert ch["avg"][2] - ch["avg"][1] < 0.5 * ((hi_a - lo_a) + (hi_b - lo_b))
    rev = paired_change(labels, b, a)
    assert rev["avg"][0] == pytest.approx(-ch["avg"][0]) and rev["avg"][2] < 0


def test_noise_alone_is_not_called_significant_too_often():
    """Two models that differ only by chance (each example's outcome redrawn with the same rate): the
    95 % interval of the average change excludes 0 in about 5 % of the pairs, not more."""
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(10), 300)
    hits = 0
    for trial in range(60):
        a = rng.random(labels.size) < 0.4
        b = rng.random(labels.size) < 0.4
        lo, hi = paired_change(labels, a, b, draws=1000, seed=trial)["avg"][1:]
        hits += not (lo <= 0 <= hi)
    assert hits <= 9  # 5 % of 60 is 3; binomial 99.9 % bound ~ 9


def test_paired_change_refuses_arrays_of_different_lengths():
    with pytest.raises(ValueError, match="one length"):
        paired_change([0, 1], [True, False], [True])


@given(st.lists(st.tuples(st.integers(0, 11), st.booleans(), st.booleans()), min_size=1, max_size=300))
@settings(max_examples=50, deadline=None)
def test_examples_round_trip(rows):
    labels = np.array([r[0] for r in rows])
    std = np.array([r[1] for r in rows])
    rob = std | np.array([r[2] for r in rows])
    enc = encode_examples(labels, std, rob)
    got = decode_examples(enc)
    assert np.array_equal(got[0], labels) and np.array_equal(got[1], std) and np.array_equal(got[2], rob)


def test_decode_refuses_what_is_not_an_examples_record():
    enc = encode_examples(np.array([0, 1, 2]), np.array([True, False, False]), np.array([True, True, False]))
    for bad in ({}, {**enc, "n": 99}, {**enc, "labels": "%%%"},
                encode_examples(np.array([0, 1]), np.array([True, False]), np.array([False, False]))):
        with pytest.raises(ValueError):
            decode_examples(bad)


def test_evaluation_outcomes_agree_with_its_counts_and_intervals():
    data = load_split("digits", False)
    torch.manual_seed(0)
    model = build_model("small_cnn", 10, 1)
    res = evaluate_classwise(model, BatchLoader(data, 100, shuffle=False), 10, eval_attack(0.2, 2, "linf"),
                             examples=True)
    labels, std, rob = decode_examples(res["examples"])
    assert np.array_equal(labels, data.y.numpy())
    for c in range(10):
        m = labels == c
        assert std[m].mean() == pytest.approx(res["std_error"][c])
        assert rob[m].mean() == pytest.approx(res["rob_error"][c])
        assert (rob[m] & ~std[m]).mean() == pytest.approx(res["bndy_error"][c])
    iv = result_intervals(res)
    lo, hi = iv["rob_error"]["avg"]
    assert lo <= res["avg"]["rob_error"] <= hi
    assert all(lo <= v <= hi for v, (lo, hi) in zip(res["std_error"], iv["std_error"]["per_class"]))
