"""The one PGD: invariants every attack must keep, per-sample radii, no parameter gradients."""

import pytest
import torch

from deep.attacks import PGD


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("loss", ["ce", "kl"])
@pytest.mark.parametrize("random_start", [True, False])
def test_invariants(norm, loss, random_start):
    model = _model().train()
    x = torch.rand(32, 3, 2, 2)
    y = torch.randint(0, 3, (32,))
    eps = torch.linspace(0.01, 0.3, 32)
    attack = PGD(eps=0.1, steps=5, norm=norm, loss=loss, random_start=random_start)
    x_adv = attack(model, x, y, eps=eps)
    delta = (x_adv - x).flatten(1)
    size = delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
    assert torch.all(size <= eps + 1e-6)
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert model.training  # mode restored
    assert all(p.grad is None for p in model.parameters())


def test_attack_raises_the_loss_and_zero_steps_is_clean():
    model = _model()
    x = torch.rand(64, 3, 2, 2)
    y = torch.randint(0, 3, (64,))
    ce = torch.nn.functional.cross_entropy
    x_adv = PGD(eps=0.2, steps=10)(model, x, y)
    assert ce(model(x_adv), y) > ce(model(x), y)
    assert torch.equal(PGD(eps=0.2, steps=0, random_start=False)(model, x, y), x)


def test_unbounded_inputs_for_gaussian_data():
    model = _model()
    x = torch.randn(8, 3, 2, 2) * 5
    x_adv = PGD(eps=0.5, steps=3, bounds=None)(model, x, torch.zeros(8, dtype=torch.long))
    assert (x_adv - x).abs().max() <= 0.5 + 1e-6 and x_adv.min() < 0


@pytest.mark.parametrize("kw,msg", [({"eps": -1}, "eps == -1"), ({"eps": 0.1, "norm": "l1"}, "norm == 'l1'"),
                                    ({"eps": 0.1, "steps": -2}, "steps == -2"), ({"eps": 0.1, "loss": "mse"}, "loss")])
def test_bad_parameters(kw, msg):
    with pytest.raises(ValueError, match=msg):
        PGD(**kw)
