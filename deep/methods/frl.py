"""Fair Robust Learning (Xu et al., ICML 2021, Section 4, Algorithm 1, Eqs. 6-11).

Constraints per class i: R_nat(f,i) - R_nat(f) <= tau1 and R_bndy(f,i) - R_bndy(f) <= tau2.
FRL plays max over phi >= 0, min over f of the Lagrangian (Eq. 9)

    R_nat(f) + R_bndy(f) + sum_i phi_nat^i (R_nat(f,i) - R_nat(f) - tau1)^+
                         + sum_i phi_bndy^i (R_bndy(f,i) - R_bndy(f) - tau2)^+,

alternating: evaluate class-wise errors on the validation split (PGD-``eval_steps``: that
attack drives the multipliers), take a multiplier step, train one epoch with the resulting
class weights (Reweight) and/or per-class radii (Remargin, Eq. 11). The boundary term is
cross-entropy at the CE-PGD point by default (``loss="pgd_at"``, the loss of the PGD-AT start) or,
TRADES-style as in Section 4.1 (``loss="trades"``), the KL between the outputs on the adversarial
and on the clean input.

Two variants of the update rules (``variant``):

``"paper"`` (default) - the text of the paper:
    * phi^i <- max(0, phi^i + alpha (violation_i)), alpha2 for the boundary multipliers;
    * class weights = the gradient of Eq. 9 with respect to the class-wise errors:
      w_i = 1/K + a_i phi^i - (1/K) sum_j a_j phi^j, a_i = 1 if class i violates its
      constraint now (the (.)^+ is active), clipped at 0 and normalised to sum 1
      (``weight_rule="switched"``, the default); a class's whole multiplier is switched off the
      epoch its constraint holds, which at a large alpha hands the weight back and forth between
      two confusable classes (docs/results.md, ``frl figures controller_trace``).
      ``weight_rule="multiplier"`` takes a_i = 1 for every class, 1/K + phi^i - mean(phi): the form
      of the authors' code, with everything else of this variant kept;
    * Remargin, Eq. 11 with the violation of the constraint that Eq. 6 / 9 and Algorithm 1 step 8
      use (``remargin_rule="relative"``, the default): eps_i <- eps_i exp(alpha2 (R_bndy(f,i) -
      R_bndy(f) - tau2)), kept in [eps, eps_cap] (default cap 2 eps: the paper limits margins to
      16/255 at eps = 8/255); or Eq. 11 as printed (``"absolute"``), R_bndy(f,i) - tau2, under
      which every class whose boundary error exceeds tau2 (at CIFAR-10 scale: all of them) grows
      its radius every epoch;
    * loss: ``loss="pgd_at"`` (the default, chosen by ``frl ablation frl-loss``; docs/results.md) keeps the
      loss of the PGD-AT start: weighted clean CE (the R_nat weights) + beta weighted CE at the
      cross-entropy PGD point (the R_bndy weights); ``loss="trades"`` is Section 4.1's weighted
      CE + beta weighted KL. beta = 1 (Eq. 9 weighs R_nat and R_bndy equally); each sample's PGD
      step is eps_i / 4.

``"authors"`` - the released code (github hannxu123/fair_robust @ a80547d, frlrw.py / utils_frl.py
for Reweight, frlrmrw.py / utils_frl2.py for Reweight+Remargin):
    * the boundary multiplier step is 2 alpha1 (utils_frl.py:276); after each update phi is clipped
      at 0 and, if sum(phi) exceeds ``phi_limit`` (0.5), rescaled to sum to it (utils_frl.py:304-311);
    * w_i = 1/K + phi^i - mean(phi) (utils_frl.py:114-128);
    * Remargin: lambda_i += alpha2 (R_bndy(f,i) - R_bndy(f) - tau2) (utils_frl2.py:241),
      eps_i = eps clamp(exp(2 lambda_i), 0.98, 3) (utils_frl2.py:94); one PGD step size, max eps in
      the batch / 4 (utils_frl2.py:162);
    * beta = 1.5; alpha1 halves at every 40th (1-based) epoch before that epoch's update, alpha2
      never decays (frlrw.py:85-86; frlrmrw.py:52, 75-76);
    * the rest of the recipe (tau, alpha2, the TRADES loss, accdiff, the PGD-20 controller) is the
      preset :data:`AUTHORS_PRESET`, which ``frl_variant = "authors"`` fills in for every setting
      not given (``TrainConfig.resolve_defaults``: flags, TOML and Python alike).

The paper variant decays alpha (and the training loop the learning rate) by 0.1 every
``decay_every`` epochs (40 in the paper).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..choices import FRL_DECAY_EVERY, Loss, RemarginRule, WeightRule
from ..settings import GE0, GT0, Setting
from .base import Method, register
from .loss_choice import attack_loss_of, check_loss, robust_per_sample, two_terms
from .pgd_at import PGDAT

__all__ = [
    "violations",
    "boundary_errors",
    "update_multipliers",
    "lagrangian_weights",
    "authors_weights",
    "remargin_paper",
    "remargin_relative",
    "remargin_authors",
    "FRL",
    "FRLReweight",
    "FRLRemargin",
    "FRLReweightRemargin",
    "BaselineReweight",
    "VARIANTS",
]

VARIANTS = ("paper", "authors")
DECAY_EVERY = FRL_DECAY_EVERY  # Section 5.1: the lr (and alpha) x0.1 every 40 epochs

_FT = "FRL and Baseline Reweight (fine-tuning from --init)"  # the --help section of these settings

# FRL's settings left unset (None below): the paper's values (tau 0.05, alpha2 0.05), our default loss and
# boundary error; --frl-variant authors takes AUTHORS_PRESET's instead (FRL.resolve_settings)
DEFAULTS = dict(tau1=0.05, tau2=0.05, alpha2=0.05, bndy_metric="per_sample", frl_loss=Loss.PGD_AT.value)

SETTINGS = (
    Setting("tau1", None, "standard-error constraint tau1 > 0 (default 0.05; the authors' variant: 0.1 RW, 0.07 "
            "RW+RM)", "number", check=GT0, group=_FT),
    Setting("tau2", None, "boundary-error constraint tau2 > 0 (default 0.05; the authors' variant: 0.1 RW, 0.07 "
            "RW+RM)", "number", check=GT0, group=_FT),
    Setting("alpha1", 0.05, "multiplier step alpha1 >= 0 (default 0.05)", "number", check=GE0, group=_FT),
    Setting("alpha2", None, "multiplier / margin step alpha2 >= 0 (default 0.05; the authors' RW+RM: 0.2)",
            "number", check=GE0, group=_FT),
    Setting("frl_variant", "paper", "update rules of the paper's text (default) or of the authors' released code; "
            "authors also sets, where not given, their recipe: tau1 = tau2 = 0.1 (RW) / 0.07 (RW+RM), alpha2 0.2 "
            "(RW+RM), frl_loss trades, bndy_metric accdiff, eval_steps 20 (the controller's PGD-20)", "choice",
            choices=VARIANTS, group=_FT),
    Setting("frl_beta", None, "weight of the boundary (KL) term (default 1 paper / 1.5 authors)", "number",
            check=GE0, group=_FT),
    Setting("phi_limit", 0.5, "cap on sum(phi) (authors' variant, baseline)", "number", check=GT0, group=_FT),
    Setting("eps_cap", None, "largest per-class radius (default 2 eps paper, 3 eps authors)", "number", check=GT0,
            group=_FT),
    Setting("bndy_metric", None, "boundary error driving the multipliers: per_sample (default) or accdiff, clean "
            "minus attacked accuracy (the authors' variant)", "choice", choices=("per_sample", "accdiff"),
            group=_FT),
    # "pgd_at" (clean CE + beta adversarial CE: the loss of the PGD-AT start; default, chosen by
    # `frl ablation frl-loss`, docs/results.md) or "trades" (CE + beta KL, Section 4.1)
    Setting("frl_loss", None, "FRL loss: pgd_at = clean CE + beta adversarial CE, the loss of the PGD-AT start "
            "(default), trades = CE + beta KL (Section 4.1; the authors' variant)", "choice", choices=Loss.values(),
            group=_FT),
    # Reweight: "switched" (the gradient of Eq. 9: a class's multiplier counts only while its constraint
    # is broken; default) or "multiplier" (1/K + phi_i - mean(phi) for every class, the authors' form)
    Setting("frl_weight_rule", WeightRule.SWITCHED.value, "Reweight's class weights: switched = the gradient of "
            "Eq. 9, a class's multiplier counted only while it breaks its constraint (default); multiplier = "
            "1/K + phi_i - mean(phi) for every class (the authors' form; the paper variant only)", "choice",
            choices=WeightRule.values(), group=_FT),
    # Remargin: "relative" (the constraint of Eq. 6/9 and Algorithm 1: R_bndy(f,i) - R_bndy(f) - tau2,
    # eps_i never below eps; default) or "absolute" (Eq. 11 as printed, R_bndy(f,i) - tau2)
    Setting("remargin_rule", "relative", "Remargin: relative = the constraint of Eq. 9 and Algorithm 1 "
            "(R_bndy(f,i) - R_bndy(f) - tau2), eps_i >= eps (default); absolute = Eq. 11 as printed "
            "(R_bndy(f,i) - tau2)", "choice", choices=RemarginRule.values(), group=_FT),
)

# The authors' recipe (hannxu123/fair_robust @ a80547d): what --frl-variant authors sets where a setting
# is not given, per method, with the reference's file:line. The values it shares with our fine-tuning
# defaults (lr 1e-3, momentum 0.9, weight decay 5e-4, batch 128, 40 epochs, eps 8/255, 10 attack steps
# in eval mode, alpha1 0.05, phi_limit 0.5, beta 1.5 and the radius cap 3 eps of the variant) need no
# preset; tests/test_frl_authors_preset.py checks the whole recipe value by value.
AUTHORS_PRESET = {
    "frl_reweight": {
        "tau1": (0.1, "frlrw.py:103 (bound0)"),
        "tau2": (0.1, "frlrw.py:104 (bound1)"),
        "frl_loss": ("trades", "utils_frl.py:238-244 (CE + beta KL) and 187-213 (KL attack)"),
        "bndy_metric": ("accdiff", "utils_frl.py:175-179 (acc - acc_adv)"),
        "eval_steps": (20, "frlrw.py:38-44 (configs1: PGD-20, step 2/255, on the validation split)"),
    },
    "frl_reweight_remargin": {
        "tau1": (0.07, "frlrmrw.py:93 (bound0)"),
        "tau2": (0.07, "frlrmrw.py:94 (bound1)"),
        "alpha2": (0.2, "frlrmrw.py:96 (rate2)"),
        "frl_loss": ("trades", "utils_frl2.py:203-208 (CE + beta KL) and 151-178 (KL attack)"),
        "bndy_metric": ("accdiff", "utils_frl2.py:139-143 (acc - acc_adv)"),
        "eval_steps": (20, "frlrmrw.py:39-45 (configs1: PGD-20, step 2/255, on the validation split)"),
    },
    # Remargin alone: its script (frlrm.py) was deleted upstream (674a1df); the loss, the boundary error
    # and the controller's attack of the two scripts that remain, the paper's tau and alpha2
    "frl_remargin": {
        "frl_loss": ("trades", "utils_frl2.py:203-208 (CE + beta KL) and 151-178 (KL attack)"),
        "bndy_metric": ("accdiff", "utils_frl2.py:139-143 (acc - acc_adv)"),
        "eval_steps": (20, "frlrmrw.py:39-45 (configs1: PGD-20, step 2/255, on the validation split)"),
    },
}


def authors_preset(method: str) -> dict:
    """{setting: value} that ``frl_variant = "authors"`` sets for ``method`` where not given (empty for a
    method that is not FRL)."""
    return {k: v for k, (v, _) in AUTHORS_PRESET.get(method, {}).items()}


# --- update rules as pure functions -------------------------------------------------------


def violations(class_errors, avg_error, tau):
    """Constraint values R(f,i) - R(f) - tau (positive: violated), Eq. 6 / Algorithm 1 steps 7-8."""
    return torch.as_tensor(class_errors, dtype=torch.float64) - float(avg_error) - float(tau)


def update_multipliers(phi, violation, alpha, limit=None):
    """phi <- max(0, phi + alpha violation); if ``limit`` and sum(phi) > limit, rescale to sum to limit."""
    if alpha < 0:
        raise ValueError(f"alpha == {alpha}, must be >= 0")
    phi = (torch.as_tensor(phi, dtype=torch.float64) + alpha * torch.as_tensor(violation, dtype=torch.float64))
    phi = phi.clamp_min(0.0)
    if limit is not None and float(phi.sum()) > limit:
        phi = phi * (limit / phi.sum())
    return phi


def lagrangian_weights(phi, active):
    """The paper's class weights: d(Eq. 9)/d R(f,i) = 1/K + a_i phi_i - mean(a phi), clipped at 0, summing to 1."""
    phi = torch.as_tensor(phi, dtype=torch.float64)
    a = torch.as_tensor(active, dtype=torch.float64)
    k = phi.numel()
    w = (1.0 / k + a * phi - (a * phi).mean()).clamp_min(0.0)
    return w / w.sum() if float(w.sum()) > 0 else torch.full_like(phi, 1.0 / k)


def authors_weights(phi):
    """The released code's class weights: 1/K + phi_i - mean(phi) (a distribution while sum(phi) <= 1)."""
    phi = torch.as_tensor(phi, dtype=torch.float64)
    return 1.0 / phi.numel() + phi - phi.mean()


def remargin_paper(eps_class, bndy_class, alpha, tau, eps_cap):
    """Eq. 11: eps_i <- eps_i exp(alpha (R_bndy(f,i) - tau)), capped at eps_cap."""
    eps_class = torch.as_tensor(eps_class, dtype=torch.float64)
    grown = eps_class * torch.exp(alpha * (torch.as_tensor(bndy_class, dtype=torch.float64) - tau))
    return grown.clamp(max=float(eps_cap))


def remargin_relative(eps_class, bndy_class, bndy_avg, alpha, tau, eps, eps_cap):
    """Eq. 11 with the constraint's violation: eps_i <- eps_i exp(alpha (R_bndy(f,i) - R_bndy(f) - tau)), in [eps, eps_cap].

    Only a class whose boundary error exceeds the average by more than tau grows its radius;
    a radius shrinks back (never below the base eps) once its class is inside the band.
    """
    eps_class = torch.as_tensor(eps_class, dtype=torch.float64)
    grown = eps_class * torch.exp(alpha * violations(bndy_class, bndy_avg, tau))
    return grown.clamp(min=float(eps), max=float(eps_cap))


def remargin_authors(lam, bndy_class, bndy_avg, alpha, tau, eps, lo=0.98, hi=3.0):
    """The released code: lambda_i += alpha (R_bndy(f,i) - R_bndy(f) - tau); eps_i = eps clamp(exp(2 lambda_i), lo, hi)."""
    lam = torch.as_tensor(lam, dtype=torch.float64) + alpha * violations(bndy_class, bndy_avg, tau)
    return lam, float(eps) * torch.exp(2.0 * lam).clamp(lo, hi)


# --- the methods ---------------------------------------------------------------------------


def boundary_errors(val: dict, metric: str):
    """Class-wise boundary errors and their average, by the chosen definition."""
    if metric == "per_sample":
        return val["bndy_error"], val["avg"]["bndy_error"]
    b = torch.as_tensor(val["bndy_error_accdiff"], dtype=torch.float64)
    n = torch.as_tensor(val["n_per_class"], dtype=torch.float64)
    return b.tolist(), float((b * n).sum() / n.sum())


class FRL(Method):
    """FRL Reweight / Remargin / Reweight+Remargin; see the module docstring for the two variants.

    The loss has TRADES' two class-weighted terms (FRL's Reweight sets both weights,
    :func:`~deep.methods.loss_choice.two_terms`); ``loss="pgd_at"`` takes the cross-entropy at the
    PGD point as the robust term instead of the KL. The three registered methods below fix
    ``reweight`` / ``remargin``.
    """

    name = "frl"
    finetunes = True
    needs_initial_validation = True
    reads_validation = True
    reweight_on, remargin_on = True, False  # what the registered subclass switches on
    declares = SETTINGS
    settings = ("tau1", "tau2", "alpha1", "alpha2", "frl_variant", "frl_beta", "phi_limit", "eps_cap", "bndy_metric",
                "frl_loss", "remargin_rule", "frl_weight_rule", "lr_step_every")

    @classmethod
    def resolve_settings(cls, cfg):
        """FRL's settings left None: the authors' recipe (``frl_variant = "authors"``, for an FRL method), else
        :data:`DEFAULTS` (for every method, so that every config.json holds them)."""
        preset = authors_preset(cfg.method) if cfg.frl_variant == "authors" else {}
        for name, value in {**DEFAULTS, **preset}.items():
            if getattr(cfg, name) is None:
                setattr(cfg, name, value)

    def __init__(self, num_classes, eps, attack, *, reweight=True, remargin=False, tau1=0.05, tau2=0.05,
                 alpha1=0.05, alpha2=0.05, variant="paper", beta=None, phi_limit=0.5, eps_cap=None,
                 decay_every=DECAY_EVERY, bndy_metric="per_sample", loss="pgd_at", remargin_rule="relative",
                 weight_rule="switched"):
        if variant not in VARIANTS:
            raise ValueError(f"variant == {variant!r}, must be one of {', '.join(VARIANTS)}")
        super().__init__(num_classes, eps, attack)
        self.beta = float(beta if beta is not None else (1.0 if variant == "paper" else 1.5))
        if not self.beta >= 0:
            raise ValueError(f"beta == {beta}, must be >= 0")
        for name, v in (("tau1", tau1), ("tau2", tau2)):
            if not v > 0:
                raise ValueError(f"{name} == {v}, must be > 0")
        for name, v in (("alpha1", alpha1), ("alpha2", alpha2)):
            if not v >= 0:
                raise ValueError(f"{name} == {v}, must be >= 0")
        if bndy_metric not in ("per_sample", "accdiff"):
            raise ValueError(f"bndy_metric == {bndy_metric!r}, must be per_sample or accdiff")
        if remargin_rule not in RemarginRule.values():
            raise ValueError(f"remargin_rule == {remargin_rule!r}, must be one of {', '.join(RemarginRule.values())}")
        if weight_rule not in WeightRule.values():
            raise ValueError(f"weight_rule == {weight_rule!r}, must be one of {', '.join(WeightRule.values())}")
        self.loss_form, self.remargin_rule, self.weight_rule = check_loss(loss, "loss"), remargin_rule, weight_rule
        self.reweight, self.remargin = bool(reweight), bool(remargin)
        self.name = "frl_" + "_".join(n for n, on in (("reweight", reweight), ("remargin", remargin)) if on)
        self.tau1, self.tau2 = float(tau1), float(tau2)
        self.alpha1, self.alpha2 = float(alpha1), float(alpha2)
        self.variant = variant
        self.phi_limit = float(phi_limit) if variant == "authors" else None
        self.eps_cap = float(eps_cap if eps_cap is not None else (2 * eps if variant == "paper" else 3 * eps))
        self.decay_every = int(decay_every)
        self.bndy_metric = bndy_metric
        k = self.num_classes
        self.phi_nat = torch.zeros(k, dtype=torch.float64)
        self.phi_bndy = torch.zeros(k, dtype=torch.float64)
        self.lam = torch.zeros(k, dtype=torch.float64)
        self.class_weights = torch.full((k,), 1.0 / k)
        self.class_weights_bndy = torch.full((k,), 1.0 / k)

    @classmethod
    def attack_loss_for(cls, cfg):
        return attack_loss_of(cfg.frl_loss)  # the PGD-AT loss is trained against a CE attack

    @classmethod
    def from_config(cls, cfg, num_classes, attack):
        # alpha decays with the learning rate: every lr_step_every epochs (Section 5.1: 40)
        return cls(num_classes, cfg.eps, attack, reweight=cls.reweight_on, remargin=cls.remargin_on, tau1=cfg.tau1,
                   tau2=cfg.tau2, alpha1=cfg.alpha1, alpha2=cfg.alpha2, variant=cfg.frl_variant, beta=cfg.frl_beta,
                   phi_limit=cfg.phi_limit, eps_cap=cfg.eps_cap, decay_every=cfg.lr_step_every,
                   bndy_metric=cfg.bndy_metric, loss=cfg.frl_loss, remargin_rule=cfg.remargin_rule,
                   weight_rule=cfg.frl_weight_rule)

    def _alphas(self, epoch):
        """The multiplier steps of the update before 0-based ``epoch``."""
        if self.decay_every <= 0:
            return self.alpha1, self.alpha2
        if self.variant == "authors":  # rate1 /= 2 when the 1-based epoch is a multiple of 40; rate2 fixed
            return self.alpha1 * 0.5 ** ((epoch + 1) // self.decay_every), self.alpha2
        decay = 0.1 ** (epoch // self.decay_every)
        return self.alpha1 * decay, self.alpha2 * decay

    def on_epoch_start(self, epoch, val):
        if val is None:
            return
        a1, a2 = self._alphas(epoch)
        v_nat = violations(val["std_error"], val["avg"]["std_error"], self.tau1)
        bndy, bndy_avg = boundary_errors(val, self.bndy_metric)
        v_bndy = violations(bndy, bndy_avg, self.tau2)
        step_bndy = a2 if self.variant == "paper" else 2 * a1
        self.phi_nat = update_multipliers(self.phi_nat, v_nat, a1, self.phi_limit)
        if self.reweight:
            self.phi_bndy = update_multipliers(self.phi_bndy, v_bndy, step_bndy, self.phi_limit)
        if self.variant == "paper":
            every = self.weight_rule == WeightRule.MULTIPLIER.value  # a_i = 1 for every class, not only violators
            self.class_weights = lagrangian_weights(self.phi_nat, every | (v_nat > 0)).float()
            if self.reweight:
                self.class_weights_bndy = lagrangian_weights(self.phi_bndy, every | (v_bndy > 0)).float()
        else:
            self.class_weights = authors_weights(self.phi_nat).float()
            if self.reweight:
                self.class_weights_bndy = authors_weights(self.phi_bndy).float()
        if self.remargin:
            if self.variant == "paper" and self.remargin_rule == "absolute":
                self.eps_class = remargin_paper(self.eps_class, bndy, a2, self.tau2, self.eps_cap).float()
            elif self.variant == "paper":
                self.eps_class = remargin_relative(self.eps_class, bndy, bndy_avg, a2, self.tau2, self.eps,
                                                   self.eps_cap).float()
            else:
                self.lam, eps_c = remargin_authors(self.lam, bndy, bndy_avg, a2, self.tau2, self.eps)
                self.eps_class = eps_c.clamp(max=self.eps_cap).float()

    def loss(self, model, x, y):
        if self.variant == "authors":
            # one step size for the whole batch: the largest radius / 4
            self.attack.step_size = float(self.sample_eps(y).max()) / 4
        clean_logits, adv_logits = self.adversarial_forward(model, x, y)
        return two_terms(F.cross_entropy(clean_logits, y, reduction="none"),
                         robust_per_sample(self.loss_form, adv_logits, clean_logits, y), self.sample_weights(y),
                         self.sample_weights(y, self.class_weights_bndy), self.beta)

    def scale_boundary_weight(self, i, factor):
        self.class_weights_bndy[i] *= factor

    def state_dict(self):
        return {**super().state_dict(), "class_weights_bndy": self.class_weights_bndy.clone(),
                "phi_nat": self.phi_nat.clone(), "phi_bndy": self.phi_bndy.clone(), "lam": self.lam.clone()}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        for key in ("class_weights_bndy", "phi_nat", "phi_bndy", "lam"):
            setattr(self, key, state[key].clone())

    def log(self):
        return {"phi_nat": self.phi_nat.tolist(), "phi_bndy": self.phi_bndy.tolist(),
                "eps_class": self.eps_class.tolist(), "class_weights": self.class_weights.tolist(),
                "class_weights_bndy": self.class_weights_bndy.tolist()}


@register
class FRLReweight(FRL):
    name, order = "frl_reweight", 4
    reweight_on, remargin_on = True, False


@register
class FRLRemargin(FRL):
    name, order = "frl_remargin", 5
    reweight_on, remargin_on = False, True


@register
class FRLReweightRemargin(FRL):
    name, order = "frl_reweight_remargin", 6
    reweight_on, remargin_on = True, True


@register
class BaselineReweight(PGDAT):
    """The paper's Baseline Reweight (Agarwal et al., 2018, arXiv:1803.02453, as Section 5.1 applies it).

    PGD-AT whose cost is upweighted for the class with the highest robust error in the
    training data: each epoch, on a fixed probe of the training split, the worst class i*
    gets phi_{i*} += alpha1 (R_rob(f,i*) - R_rob(f)); phi is clipped at 0 and its sum kept
    <= phi_limit, and the class weights are 1/K + phi - mean(phi) (a distribution).
    """

    name = "baseline_reweight"
    order = 3
    finetunes = True
    needs_initial_validation = True
    reads_validation = True
    controller_split = "train"
    settings = ("alpha1", "phi_limit")

    def __init__(self, num_classes, eps, attack, *, alpha1=0.05, phi_limit=0.5):
        super().__init__(num_classes, eps, attack)
        if not alpha1 >= 0:
            raise ValueError(f"alpha1 == {alpha1}, must be >= 0")
        self.alpha1, self.phi_limit = float(alpha1), float(phi_limit)
        self.phi = torch.zeros(self.num_classes, dtype=torch.float64)
        self.class_weights = torch.full((self.num_classes,), 1.0 / self.num_classes)

    @classmethod
    def from_config(cls, cfg, num_classes, attack):
        return cls(num_classes, cfg.eps, attack, alpha1=cfg.alpha1, phi_limit=cfg.phi_limit)

    def on_epoch_start(self, epoch, val):
        if val is None:
            return
        rob = torch.as_tensor(val["rob_error"], dtype=torch.float64)
        step = torch.zeros_like(rob)
        worst = int(rob.argmax())
        step[worst] = rob[worst] - val["avg"]["rob_error"]
        self.phi = update_multipliers(self.phi, step, self.alpha1, self.phi_limit)
        self.class_weights = authors_weights(self.phi).float()

    def state_dict(self):
        return {**super().state_dict(), "phi": self.phi.clone()}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.phi = state["phi"].clone()

    def log(self):
        return {"phi": self.phi.tolist(), "class_weights": self.class_weights.tolist()}
