"""Every public entry point refuses parameters outside the theorems' domain, naming the condition."""

import numpy as np
import pytest

import gaussian_theory as gt

GOOD = dict(d=2, K=1.5, sigma=1.0, eta=1.0)
BAD_MODEL = [
    ("K", 1.0, "K == 1, must be > 1"),
    ("K", 0.5, "K == 0.5, must be > 1"),
    ("sigma", 0.0, "sigma == 0, must be > 0"),
    ("sigma", -1.0, "sigma == -1, must be > 0"),
    ("eta", 0.0, "eta == 0, must be > 0"),
    ("d", 0, "d == 0, must be >= 1"),
    ("d", 1.5, "d == 1.5, must be a whole number"),
    ("sigma", np.nan, "sigma must not be NaN"),
]


@pytest.mark.parametrize("name,value,message", BAD_MODEL)
@pytest.mark.parametrize(
    "fn,extra",
    [
        (gt.b_nat, {}),
        (gt.b_rob, {"eps": 0.1}),
        (gt.R_nat_f_nat, {}),
        (gt.R_nat_f_rob, {"eps": 0.1}),
        (gt.R_rob_f_rob, {"eps": 0.1}),
        (gt.R_rob_f_nat, {"eps": 0.1}),
        (gt.optimal_classifier, {}),
        (gt.numerical_b, {}),
        (gt.theorem3_R_nat, {"eps": 0.5, "m": 3, "gamma": 0.1}),
    ],
)
def test_model_conditions(fn, extra, name, value, message):
    kw = {**GOOD, **extra, name: value}
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        fn(**kw)


@pytest.mark.parametrize("fn", [gt.b_rob, gt.R_nat_f_rob, gt.R_rob_f_rob, gt.optimal_classifier, gt.numerical_b])
def test_eps_conditions(fn):
    with pytest.raises(ValueError, match="eps == -0.1, must be >= 0"):
        fn(**GOOD, eps=-0.1)
    with pytest.raises(ValueError, match="eps == 1 >= eta == 1, must be eps < eta"):
        fn(**GOOD, eps=1.0)


def test_dprime_conditions():
    with pytest.raises(ValueError, match="gamma == 0.5 >= eps == 0.5, must be gamma < eps"):
        gt.theorem3_R_nat(**GOOD, eps=0.5, m=3, gamma=0.5)
    with pytest.raises(ValueError, match="gamma == 0.6 >= eps == 0.5"):
        gt.optimal_classifier(**GOOD, eps=0.5, m=3, gamma=0.6)
    with pytest.raises(ValueError, match="m == 0, must be >= 1"):
        gt.theorem3_R_nat(**GOOD, eps=0.5, m=0, gamma=0.1)
    with pytest.raises(ValueError, match="gamma == 0, must be > 0"):
        gt.optimal_classifier(**GOOD, m=3, gamma=0.0)


def test_array_arguments_are_checked_element_wise():
    with pytest.raises(ValueError, match="K == 0.9, must be > 1"):
        gt.b_nat(2, np.array([1.5, 0.9, 2.0]), 1.0, 1.0)
    with pytest.raises(ValueError, match="eps == 2 >= eta == 1"):
        gt.b_rob(2, 1.5, 1.0, np.array([1.0, 3.0]), np.array([2.0, 0.5]))


def test_class_errors_validation():
    ok = dict(w=[1.0, 1.0], b=0.0, theta=[1.0, 1.0], sigma=1.0, K=2.0)
    with pytest.raises(ValueError, match="norm == 'l3'"):
        gt.class_errors(**ok, norm="l3")
    with pytest.raises(ValueError, match="eps == -1, must be >= 0"):
        gt.class_errors(**ok, eps=-1.0)
    with pytest.raises(ValueError, match="K == 1, must be > 1"):
        gt.class_errors(**{**ok, "K": 1.0})
    with pytest.raises(ValueError, match="sigma == 0, must be > 0"):
        gt.class_errors(**{**ok, "sigma": 0.0})
    with pytest.raises(ValueError, match="must match"):
        gt.class_errors(**{**ok, "theta": [1.0, 1.0, 1.0]})
    with pytest.raises(ValueError, match="finite"):
        gt.class_errors(**{**ok, "b": np.inf})


def test_class_errors_batch_and_degenerate_w():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 5, 3))
    b = rng.normal(size=(4, 5))
    out = gt.class_errors(w, b, [1.0, 0.5, 2.0], 1.3, 1.7, eps=0.2)
    assert out.shape == (4, 5, 2)
    single = gt.class_errors(w[2, 3], b[2, 3], [1.0, 0.5, 2.0], 1.3, 1.7, eps=0.2)
    np.testing.assert_allclose(out[2, 3], single, rtol=1e-15)
    # w = 0: the constant classifier sign(b)
    np.testing.assert_array_equal(gt.class_errors([0.0, 0.0], 1.0, [1.0, 1.0], 1.0, 2.0), [1.0, 0.0])
    np.testing.assert_array_equal(gt.class_errors([0.0, 0.0], -1.0, [1.0, 1.0], 1.0, 2.0), [0.0, 1.0])
    np.testing.assert_array_equal(gt.class_errors([0.0, 0.0], 0.0, [1.0, 1.0], 1.0, 2.0), [1.0, 1.0])
