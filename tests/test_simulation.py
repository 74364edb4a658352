"""Figure 2's simulation: exact adversarial LR, its population optimum, the MLP and its evaluation."""

import itertools

import numpy as np
import pytest
import torch

import gaussian_theory as gt
from gaussian_theory.simulation import (
    Fig2Config,
    Fig2Setting,
    _logistic_objective,
    mlp_class_errors,
    population_logistic,
    train_logistic,
)

SETTING = Fig2Setting()


def test_adversarial_logistic_loss_is_the_exact_inner_max():
    """For a linear model the worst l_inf perturbation is a corner of the box; the closed form matches it."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 2))
    y = rng.choice([-1.0, 1.0], 50)
    w, b, eps = rng.normal(size=2), 0.3, 0.5
    closed, _ = _logistic_objective(np.concatenate([w, [b]]), x, y, eps)
    corners = np.array(list(itertools.product([-eps, eps], repeat=2)))
    brute = np.mean([max(np.log1p(np.exp(-yi * ((xi + c) @ w + b))) for c in corners) for xi, yi in zip(x, y)])
    assert closed == pytest.approx(brute, rel=1e-12)


def test_logistic_gradient_is_the_derivative():
    rng = np.random.default_rng(1)
    x, y = gt.sample_mixture(100, SETTING.theta, SETTING.sigma, SETTING.K, rng)
    p = np.array([0.7, 1.3, -0.2])
    _, grad = _logistic_objective(p, x, y, 0.5)
    h = 1e-6
    num = [(_logistic_objective(p + h * e, x, y, 0.5)[0] - _logistic_objective(p - h * e, x, y, 0.5)[0]) / (2 * h)
           for e in np.eye(3)]
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("eps", [0.0, 0.5])
def test_sample_lr_converges_to_the_population_optimum(eps):
    """With 200,000 points per class the fitted LR is within sampling noise of the infinite-data optimum."""
    x, y = gt.sample_mixture(200_000, SETTING.theta, SETTING.sigma, SETTING.K, np.random.default_rng(3))
    w, b = train_logistic(x, y, eps)
    w_pop, b_pop = population_logistic(SETTING, eps)
    np.testing.assert_allclose(w, w_pop, rtol=0.03)
    assert b == pytest.approx(b_pop, abs=0.05)
    err = gt.class_errors(w, b, SETTING.theta, SETTING.sigma, SETTING.K)
    err_pop = gt.class_errors(w_pop, b_pop, SETTING.theta, SETTING.sigma, SETTING.K)
    np.testing.assert_allclose(err, err_pop, atol=4e-4)


def test_population_lr_values_and_the_shift_toward_class_plus1():
    """Population optimum of logistic loss: w = c 1 with the first-order conditions met;
    adversarial training raises class +1's standard error and lowers class -1's."""
    w_nat, b_nat_lr = population_logistic(SETTING)
    w_adv, b_adv_lr = population_logistic(SETTING, SETTING.eps)
    # the values derived by quadrature, independent of sampling
    assert w_nat[0] == pytest.approx(2.7806, abs=2e-3) and b_nat_lr == pytest.approx(1.6511, abs=2e-3)
    assert w_adv[0] == pytest.approx(2.0756, abs=2e-3) and b_adv_lr == pytest.approx(0.8473, abs=2e-3)
    e_nat = gt.class_errors(w_nat, b_nat_lr, SETTING.theta, SETTING.sigma, SETTING.K)
    e_adv = gt.class_errors(w_adv, b_adv_lr, SETTING.theta, SETTING.sigma, SETTING.K)
    assert e_adv[1] > e_nat[1] and e_adv[0] < e_nat[0]
    # logistic loss is a surrogate: its boundary -b/(2c) sits near, not at, the 0-1 optimum -b_nat/2
    assert b_nat_lr / w_nat[0] == pytest.approx(float(gt.b_nat(2, SETTING.K, 1.0, 2.0)), abs=0.05)
    assert b_adv_lr / w_adv[0] == pytest.approx(float(gt.b_rob(2, SETTING.K, 1.0, 2.0, 0.5)), abs=0.07)


def test_population_quadrature_matches_monte_carlo_loss():
    from scipy.special import log_expit

    w, b = population_logistic(SETTING)
    x, y = gt.sample_mixture(400_000, SETTING.theta, SETTING.sigma, SETTING.K, np.random.default_rng(4))
    mc = -log_expit(y * (x @ w + b)).mean()
    grad_mc = _logistic_objective(np.concatenate([w, [b]]), x, y, 0.0)[1]
    assert np.all(np.abs(grad_mc) < 2e-3)  # the population optimum is a stationary point of the loss
    assert mc < _logistic_objective(np.concatenate([1.1 * w, [b]]), x, y, 0.0)[0]


def test_mlp_evaluation_is_exact_on_a_linear_network():
    """A network with no hidden layer is linear: PGD finds the exact worst case and the Monte Carlo
    estimates must agree with class_errors within 4 standard errors."""
    torch.manual_seed(0)
    net = torch.nn.Linear(2, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[-0.5, -0.6], [0.5, 0.6]]))
        net.bias.copy_(torch.tensor([-0.1, 0.1]))
    w = (net.weight[1] - net.weight[0]).detach().numpy().astype(float)
    b = float((net.bias[1] - net.bias[0]).detach())
    res = mlp_class_errors(net, SETTING, n=100_000, seed=5, attack_steps=10, restarts=0)
    exact_std = gt.class_errors(w, b, SETTING.theta, SETTING.sigma, SETTING.K)
    exact_rob = gt.class_errors(w, b, SETTING.theta, SETTING.sigma, SETTING.K, eps=SETTING.eps)
    assert np.all(np.abs(np.array(res["std_error"]) - exact_std) < 4 * np.array(res["std_error_se"]) + 1e-4)
    assert np.all(np.abs(np.array(res["rob_error"]) - exact_rob) < 4 * np.array(res["rob_error_se"]) + 1e-4)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="eps == 3 >= eta == 2"):
        Fig2Setting(eps=3.0)
    with pytest.raises(ValueError, match="K == 1, must be > 1"):
        Fig2Setting(K=1.0)
    with pytest.raises(ValueError, match="n_eval == 0, must be >= 1"):
        Fig2Config(n_eval=0)
    with pytest.raises(ValueError, match="hidden"):
        Fig2Config(hidden=())


def test_fig2_results_shape_and_expected_outcome(fig2_results):
    """The full-size default run: the JSON contract, and adversarial training moving both
    boundaries toward class +1 (class +1's standard error up, class -1's down) beyond 3 standard errors."""
    res = fig2_results
    assert set(res["models"]) == {"lr_natural", "lr_adversarial", "mlp_natural", "mlp_adversarial"}
    for key in ("lr_natural", "lr_adversarial"):
        m = res["models"][key]
        assert len(m["w"]) == 2 and isinstance(m["b"], float)
        assert len(m["std_error"]) == 2 and len(m["rob_error"]) == 2
    lr_n, lr_a = res["models"]["lr_natural"], res["models"]["lr_adversarial"]
    assert lr_a["std_error"][1] > lr_n["std_error"][1] and lr_a["std_error"][0] < lr_n["std_error"][0]
    mn, ma = res["models"]["mlp_natural"], res["models"]["mlp_adversarial"]
    assert mn["n_per_class"] >= 100_000
    se = np.hypot(mn["std_error_se"], ma["std_error_se"])
    assert ma["std_error"][1] - mn["std_error"][1] > 3 * se[1]
    assert mn["std_error"][0] - ma["std_error"][0] > 3 * se[0]
    # the adversarial MLP is more robust on average
    assert np.mean(ma["rob_error"]) < np.mean(mn["rob_error"])
    # LR at 20,000 points per class sits near its population optimum
    for key in ("lr_natural", "lr_adversarial"):
        np.testing.assert_allclose(res["models"][key]["std_error"], res["population"][key]["std_error"], atol=1.5e-3)
