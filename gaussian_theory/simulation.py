"""The simulation behind Figure 2: natural vs adversarial training of a logistic regression
and of an MLP on the two-class Gaussian mixture of Eq. 2.

Setting (paper, Figure 2): d = 2, theta = (2, 2), sigma_{-1}^2 = 1, sigma_{+1}^2 = 2
(K = sqrt 2), l_inf radius eps = 0.5; class -1 at -theta; f(x) = sign(<w, x> + b).

Logistic regression
    Minimises the mean logistic loss log(1 + exp(-m)) of the margin m = y(<w, x> + b).
    For a linear model the inner maximisation of adversarial training is exact: the worst
    l_inf perturbation lowers every margin by eps ||w||_1 (delta = -y eps sign(w)), so
    adversarial LR minimises the mean of log(1 + exp(-(m - eps ||w||_1))) - no attack is
    run. Optimiser: L-BFGS (scipy) with the analytic gradient, from w = 0.
    Its population optimum (infinite data) is computed by Gauss-Hermite quadrature of the
    same loss, because the margin of a linear model is one-dimensional Gaussian per class.

MLP
    2 -> 32 -> 32 -> 2 with ReLU (``hidden``), cross-entropy, full-batch Adam
    (lr 1e-2, ``mlp_steps`` = 400 steps) on ``n_mlp`` = 4,000 points per class, torch on CPU,
    seeded. Adversarial training is PGD-AT (Madry et al.): 10 steps of size 2.5 eps / 10
    from a random start, using the project's single attack :class:`deep.attacks.PGD`.

Evaluation
    Linear models: exact class-wise errors (:func:`~gaussian_theory.linear.class_errors`).
    MLPs: Monte Carlo on ``n_eval`` = 100,000 fresh points per class with the standard
    error sqrt(p(1-p)/n); the robust error uses PGD-30 (step 2.5 eps / 30) started at x
    plus ``restarts`` random restarts, a point counting as robust only if it survives all
    of them (an attack gives a lower bound on the true robust error). PGD-50 with three
    starts finds no further point on these models (checked when the defaults were chosen).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from .closed_form import R_nat_f_nat, R_nat_f_rob, R_rob_f_nat, R_rob_f_rob, b_nat, b_rob
from .linear import class_errors
from .monte_carlo import sample_mixture
from .validation import check_bound, check_eps_below_eta, check_model

__all__ = [
    "Fig2Setting",
    "Fig2Config",
    "train_logistic",
    "population_logistic",
    "train_mlp",
    "mlp_class_errors",
    "run_fig2",
]


@dataclass(frozen=True)
class Fig2Setting:
    """The Gaussian mixture of Figure 2 (Eq. 2 with d = 2)."""

    d: int = 2
    eta: float = 2.0
    sigma: float = 1.0
    K: float = math.sqrt(2.0)
    eps: float = 0.5

    def __post_init__(self):
        check_model(self.d, self.K, self.sigma, self.eta)
        check_eps_below_eta(self.eps, self.eta)

    @property
    def theta(self) -> np.ndarray:
        return np.full(self.d, float(self.eta))


@dataclass(frozen=True)
class Fig2Config:
    """Sample sizes, architecture and optimisation of the simulation (see the module docstring)."""

    seed: int = 0
    n_lr: int = 20_000
    n_mlp: int = 4_000
    hidden: tuple = (32, 32)
    mlp_steps: int = 400
    mlp_lr: float = 1e-2
    train_attack_steps: int = 10
    n_eval: int = 100_000
    eval_attack_steps: int = 30
    restarts: int = 1
    grid: int = 101
    n_show: int = 300
    extent: tuple = field(default=(-6.0, 8.0))

    def __post_init__(self):
        for name in ("n_lr", "n_mlp", "mlp_steps", "n_eval", "grid", "n_show"):
            check_bound(name, getattr(self, name), ge=1, integer=True)
        check_bound("train_attack_steps", self.train_attack_steps, ge=1, integer=True)
        check_bound("eval_attack_steps", self.eval_attack_steps, ge=1, integer=True)
        check_bound("restarts", self.restarts, ge=0, integer=True)
        check_bound("mlp_lr", self.mlp_lr, gt=0)
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden == {self.hidden}, must be a non-empty tuple of layer widths >= 1")


# --- logistic regression -----------------------------------------------------------------


def _logistic_objective(p, x, y, eps):
    w, b = p[:-1], p[-1]
    margin = y * (x @ w + b) - eps * np.abs(w).sum()
    loss = -log_expit(margin).mean()
    coef = -expit(-margin) / len(y)  # d loss / d margin, per sample
    grad_w = (coef * y) @ x - eps * np.sign(w) * coef.sum()
    return loss, np.concatenate([grad_w, [(coef * y).sum()]])


def train_logistic(x, y, eps=0.0):
    """Logistic regression by L-BFGS; adversarial (exact l_inf inner max) when eps > 0.

    Parameters
    ----------
    x : ndarray (n, d); y : ndarray of -1 / +1; eps : float >= 0

    Returns
    -------
    w : ndarray (d,), b : float
    """
    eps = float(check_bound("eps", eps, ge=0))
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    res = minimize(_logistic_objective, np.zeros(x.shape[1] + 1), args=(x, y, eps), jac=True, method="L-BFGS-B",
                   options={"maxiter": 2000, "gtol": 1e-10, "ftol": 1e-15})
    return res.x[:-1], float(res.x[-1])


def population_logistic(setting: Fig2Setting, eps=0.0, nodes=200):
    """The infinite-data optimum of (adversarial) logistic regression, by Gauss-Hermite quadrature.

    Per class the margin of a linear model is Gaussian: for class -1,
    N(<w, theta> - b - eps ||w||_1, sigma^2 ||w||^2), for class +1,
    N(<w, theta> + b - eps ||w||_1, K^2 sigma^2 ||w||^2). By symmetry of the coordinates
    the optimum has w = c 1, so the search is over (c, b).
    """
    eps = float(check_bound("eps", eps, ge=0))
    z, wq = np.polynomial.hermite_e.hermegauss(nodes)
    wq = wq / math.sqrt(2 * math.pi)
    d, eta, sigma, K = setting.d, setting.eta, setting.sigma, setting.K

    def loss(p):
        c, b = p
        mu = c * d * eta - eps * abs(c) * d
        s = abs(c) * math.sqrt(d) * sigma
        return 0.5 * -(log_expit(mu - b + s * z) @ wq) - 0.5 * (log_expit(mu + b + K * s * z) @ wq)

    res = minimize(loss, [1.0, 0.0], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-15, "maxiter": 10_000})
    c, b = res.x
    return np.full(d, c), float(b)


# --- MLP ---------------------------------------------------------------------------------


def _mlp(d, hidden):
    import torch.nn as nn

    layers, width = [], d
    for h in hidden:
        layers += [nn.Linear(width, int(h)), nn.ReLU()]
        width = int(h)
    layers.append(nn.Linear(width, 2))
    return nn.Sequential(*layers)


def _labels01(y):
    import torch

    return torch.as_tensor((np.asarray(y) > 0).astype(np.int64))


def _pgd(eps, steps):
    from deep.attacks import PGD

    return PGD(eps=eps, steps=steps, norm="linf", random_start=True, loss="ce", bounds=None, mode=None)


def train_mlp(x, y, eps=0.0, hidden=(32, 32), steps=400, lr=1e-2, attack_steps=10, seed=0):
    """Train the MLP by full-batch Adam, naturally (eps = 0) or by PGD adversarial training.

    Returns the torch model (class -1 is logit 0, class +1 logit 1).
    """
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    model = _mlp(x.shape[1], hidden)
    xt = torch.as_tensor(x, dtype=torch.float32)
    yt = _labels01(y)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    attack = _pgd(eps, attack_steps) if eps > 0 else None
    for _ in range(int(steps)):
        inputs = attack(model, xt, yt) if attack is not None else xt
        loss = F.cross_entropy(model(inputs), yt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    return model


def mlp_class_errors(model, setting: Fig2Setting, n=100_000, seed=1, attack_steps=30, restarts=1, chunk=50_000):
    """Monte Carlo class-wise standard and robust errors of a binary MLP, with standard errors.

    Returns dict with ``std_error``, ``std_error_se``, ``rob_error``, ``rob_error_se``
    (lists [class -1, class +1]) and ``n_per_class``.
    """
    import torch

    rng = np.random.default_rng(seed)
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    wrong_std = np.zeros(2)
    wrong_rob = np.zeros(2)
    done = 0
    try:
        while done < n:
            m = min(chunk, n - done)
            x, y = sample_mixture(m, setting.theta, setting.sigma, setting.K, rng)
            xt = torch.as_tensor(x, dtype=torch.float32)
            yt = _labels01(y)
            with torch.no_grad():
                ok = model(xt).argmax(1) == yt
            robust = ok.clone()
            attacks = [(_pgd(setting.eps, attack_steps), r) for r in range(restarts)]
            no_rand = _pgd(setting.eps, attack_steps)
            no_rand.random_start = False
            for attack in [no_rand] + [a for a, _ in attacks]:
                x_adv = attack(model, xt, yt)
                with torch.no_grad():
                    robust &= model(x_adv).argmax(1) == yt
            for cls in (0, 1):
                sel = slice(0, m) if cls == 0 else slice(m, 2 * m)
                wrong_std[cls] += (~ok[sel]).sum().item()
                wrong_rob[cls] += (~robust[sel]).sum().item()
            done += m
    finally:
        torch.random.set_rng_state(gen_state)
    p_std, p_rob = wrong_std / n, wrong_rob / n
    return {
        "std_error": p_std.tolist(),
        "std_error_se": np.sqrt(p_std * (1 - p_std) / n).tolist(),
        "rob_error": p_rob.tolist(),
        "rob_error_se": np.sqrt(p_rob * (1 - p_rob) / n).tolist(),
        "n_per_class": int(n),
    }


def _decision_grid(model, extent, size):
    import torch

    axis = np.linspace(extent[0], extent[1], size)
    xx, yy = np.meshgrid(axis, axis)
    pts = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=torch.float32)
    with torch.no_grad():
        logits = model(pts)
    score = (logits[:, 1] - logits[:, 0]).numpy().reshape(size, size)
    return {"axis": axis.round(6).tolist(), "score": score.round(4).tolist()}


# --- the whole Figure 2 ------------------------------------------------------------------


def _linear_entry(w, b, setting: Fig2Setting) -> dict:
    """A linear classifier's w, b and exact class-wise standard and robust errors."""
    theta, sigma, K = setting.theta, setting.sigma, setting.K
    return {"w": [float(v) for v in w], "b": float(b),
            "std_error": class_errors(w, b, theta, sigma, K).tolist(),
            "rob_error": class_errors(w, b, theta, sigma, K, eps=setting.eps).tolist()}


def _mlp_entry(name, eps, x, y, setting: Fig2Setting, config: Fig2Config, say):
    """An MLP trained at radius ``eps``: (its Monte Carlo class-wise errors, its decision grid)."""
    say(f"{name}: training")
    model = train_mlp(x, y, eps=eps, hidden=config.hidden, steps=config.mlp_steps, lr=config.mlp_lr,
                      attack_steps=config.train_attack_steps, seed=config.seed)
    say(f"{name}: evaluating on {config.n_eval:,} points per class")
    errors = mlp_class_errors(model, setting, n=config.n_eval, seed=config.seed + 1,
                              attack_steps=config.eval_attack_steps, restarts=config.restarts)
    return errors, _decision_grid(model, config.extent, config.grid)


def _theory(setting: Fig2Setting) -> dict:
    """Theorems 1 and 2 at Figure 2's setting: b_nat, b_rob and the class-wise errors of f_nat and f_rob."""
    d, K, sigma, eta, eps = setting.d, setting.K, setting.sigma, setting.eta, setting.eps
    return {
        "b_nat": float(b_nat(d, K, sigma, eta)),
        "b_rob": float(b_rob(d, K, sigma, eta, eps)),
        "f_nat": {"std_error": R_nat_f_nat(d, K, sigma, eta).tolist(),
                  "rob_error": R_rob_f_nat(d, K, sigma, eta, eps).tolist()},
        "f_rob": {"std_error": R_nat_f_rob(d, K, sigma, eta, eps).tolist(),
                  "rob_error": R_rob_f_rob(d, K, sigma, eta, eps).tolist()},
    }


def run_fig2(setting: Fig2Setting | None = None, config: Fig2Config | None = None, progress=None) -> dict:
    """Run the Figure 2 simulation and return its results (the ``fig2.json`` shape).

    ``{"setting", "config", "theory", "models": {"lr_natural", "lr_adversarial",
    "mlp_natural", "mlp_adversarial"}, "population", "samples", "mlp_grid"}``; linear
    models carry ``w``, ``b`` and exact ``std_error`` / ``rob_error`` ([class -1, class +1]),
    MLPs Monte Carlo errors with their standard errors.
    """
    setting = setting or Fig2Setting()
    config = config or Fig2Config()
    if setting.d != 2:
        raise ValueError(f"d == {setting.d}, Figure 2 is two-dimensional (d must be 2)")
    say = progress or (lambda msg: None)
    theta, sigma, K, eps = setting.theta, setting.sigma, setting.K, setting.eps
    rng = np.random.default_rng(config.seed)

    def linear_entry(w, b):
        return _linear_entry(w, b, setting)

    models = {}
    say("logistic regression (natural, adversarial)")
    x_lr, y_lr = sample_mixture(config.n_lr, theta, sigma, K, rng)
    models["lr_natural"] = linear_entry(*train_logistic(x_lr, y_lr))
    models["lr_adversarial"] = linear_entry(*train_logistic(x_lr, y_lr, eps=eps))

    x_mlp, y_mlp = sample_mixture(config.n_mlp, theta, sigma, K, rng)
    grids = {}
    for name, e in (("mlp_natural", 0.0), ("mlp_adversarial", eps)):
        models[name], grids[name] = _mlp_entry(name, e, x_mlp, y_mlp, setting, config, say)

    population = {
        "lr_natural": linear_entry(*population_logistic(setting)),
        "lr_adversarial": linear_entry(*population_logistic(setting, eps)),
    }
    show = config.n_show
    samples = {"class_-1": x_mlp[:show].round(4).tolist(), "class_+1": x_mlp[config.n_mlp:config.n_mlp + show].round(4).tolist()}
    cfg = {**asdict(config), "hidden": list(config.hidden), "extent": list(config.extent)}
    return {
        "setting": asdict(setting),
        "config": cfg,
        "theory": _theory(setting),
        "population": population,
        "models": models,
        "samples": samples,
        "mlp_grid": grids,
    }
