"""Models run a training step on CPU; class-wise evaluation counts per sample; the methods' losses."""

import pytest
import torch
import torch.nn.functional as F

from deep.attacks import PGD
from deep.evaluate import ClasswiseCounts, classwise_counts, evaluate_classwise
from deep.methods import PGDAT, TRADES, Natural, weighted_mean
from deep.methods.trades import kl_per_sample
from deep.models import build_model


@pytest.mark.parametrize("name,params", [("preact_resnet18", 11_172_170), ("preact_resnet18_authors", 11_172_170 - 2 * 512),
                                         ("wrn28_10", 36_479_194)])
def test_paper_models_take_a_pgd_training_step_on_cpu(name, params):
    torch.manual_seed(0)
    model = build_model(name, 10, 3, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    assert sum(p.numel() for p in model.parameters()) == params
    x, y = torch.rand(2, 3, 32, 32), torch.tensor([1, 7])
    method = PGDAT(10, eps=8 / 255, attack=PGD(eps=8 / 255, steps=1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    model.train()
    loss = method.loss(model, x, y)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss) and all(p.grad is not None for p in model.parameters())
    assert model(x).shape == (2, 10)


def test_the_settings_know_every_architecture_the_models_build():
    from deep.config import MODELS
    from deep.models import ModelName

    assert set(MODELS) == {m.value for m in ModelName}


class _Fixed(torch.nn.Module):
    """Predicts class 0 for inputs whose mean is below 0.5 and class 1 otherwise (smoothly)."""

    def forward(self, x):
        s = (x.flatten(1).mean(1) - 0.5) * 50
        return torch.stack([-s, s], 1)


def test_boundary_error_is_counted_per_sample():
    model = _Fixed()
    # class 0 examples: mean 0.2 (robustly right), 0.49 (right, flips at eps 0.05), 0.8 (wrong)
    x = torch.stack([torch.full((1, 2, 2), v) for v in (0.2, 0.49, 0.8, 0.7, 0.52)])
    y = torch.tensor([0, 0, 0, 1, 1])  # class 1: 0.7 robust, 0.52 flips
    c = classwise_counts(model, x, y, 2, PGD(eps=0.05, steps=5, random_start=False))
    assert c.n.tolist() == [3, 2] and c.nat.tolist() == [1, 0] and c.bndy.tolist() == [1, 1]
    rates = c.rates(["a", "b"])
    assert rates["std_error"] == pytest.approx([1 / 3, 0]) and rates["bndy_error"] == pytest.approx([1 / 3, 0.5])
    assert rates["rob_error"] == pytest.approx([2 / 3, 0.5])
    assert rates["avg"]["rob_error"] == pytest.approx(3 / 5) and rates["worst"]["rob_error"] == pytest.approx(2 / 3)
    assert rates["bndy_error_accdiff"] == pytest.approx(rates["bndy_error"])  # no attack "fixes" a mistake here


def test_accdiff_boundary_error_differs_when_the_attack_fixes_a_mistake():
    """The authors' clean-minus-attacked accuracy vs our per-sample count: a sample wrong on the clean
    input but right under attack counts -1 in the accuracy difference and 0 per sample."""
    fixed = ClasswiseCounts(*map(torch.tensor, ([2.0], [1.0], [0.0], [0.0])))
    assert fixed.rates()["bndy_error"] == [0.0] and fixed.rates()["bndy_error_accdiff"] == [-0.5]


def test_counts_sum_like_processes_would():
    a = ClasswiseCounts(*map(torch.tensor, ([2.0, 3.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0])))
    b = ClasswiseCounts(*map(torch.tensor, ([1.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0])))
    total = ClasswiseCounts.from_tensor(a.as_tensor() + b.as_tensor())
    assert total.rates()["rob_error"] == pytest.approx([2 / 3, 2 / 4])


def test_evaluation_restores_mode_and_robust_is_at_least_standard():
    torch.manual_seed(0)
    model = build_model("small_cnn", 10, 1).train()
    x, y = torch.rand(40, 1, 8, 8), torch.arange(40) % 10
    res = evaluate_classwise(model, [(x[:20], y[:20]), (x[20:], y[20:])], 10, PGD(eps=0.1, steps=3))
    assert model.training
    assert all(r >= s for r, s in zip(res["rob_error"], res["std_error"]))
    assert res["n_per_class"] == [4] * 10


def test_weighted_mean_and_methods_reduce_to_their_definitions():
    torch.manual_seed(0)
    model = build_model("small_cnn", 10, 1)
    x, y = torch.rand(16, 1, 8, 8), torch.arange(16) % 10
    l = torch.rand(16)
    assert weighted_mean(l, torch.ones(16)) == pytest.approx(float(l.mean()))
    nat = Natural(10)
    assert nat.loss(model, x, y).item() == pytest.approx(F.cross_entropy(model(x), y).item(), rel=1e-6)
    nat.class_weights = torch.zeros(10)
    nat.class_weights[3] = 1.0
    sel = y == 3
    assert nat.loss(model, x, y).item() == pytest.approx(F.cross_entropy(model(x[sel]), y[sel]).item(), rel=1e-6)


def test_trades_loss_is_ce_plus_beta_kl():
    torch.manual_seed(0)
    model = build_model("small_cnn", 10, 1).eval()
    x, y = torch.rand(8, 1, 8, 8), torch.arange(8)
    attack = PGD(eps=0.1, steps=2, loss="kl", random_start=False, mode=None)
    method = TRADES(10, eps=0.1, attack=attack, beta=6.0)
    torch.manual_seed(1)
    got = method.loss(model, x, y)
    torch.manual_seed(1)
    x_adv = attack(model, x, y, eps=torch.full((8,), 0.1), clean_logits=model(x).detach())
    ref = F.cross_entropy(model(x), y) + 6.0 * kl_per_sample(model(x_adv), model(x)).mean()
    assert got.item() == pytest.approx(ref.item(), rel=1e-5)
    # the per-sample KL is torch's batchmean KL(p_clean || p_other), on well-separated logits
    a, b = torch.randn(8, 10) * 3, torch.randn(8, 10) * 3
    ref_kl = F.kl_div(F.log_softmax(b, 1), F.softmax(a, 1), reduction="batchmean")
    assert kl_per_sample(b, a).mean().item() == pytest.approx(ref_kl.item(), rel=1e-5)


def test_per_sample_eps_reaches_the_attack():
    torch.manual_seed(0)
    seen = {}

    class Spy(PGD):
        def perturb(self, model, x, y, eps=None, clean_logits=None):
            seen["eps"] = eps
            return super().perturb(model, x, y, eps, clean_logits)

    method = PGDAT(3, eps=0.1, attack=Spy(eps=0.1, steps=1))
    method.eps_class = torch.tensor([0.1, 0.2, 0.3])
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    method.loss(model, torch.rand(4, 1, 2, 2), torch.tensor([0, 1, 2, 2]))
    assert seen["eps"].tolist() == pytest.approx([0.1, 0.2, 0.3, 0.3])
