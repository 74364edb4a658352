"""--frl-variant authors against the released code (hannxu123/fair_robust @ a80547d), value by value.

The reference values are written out here from the reference's files (file:line beside each), not
read from deep/methods/frl.py, so that a wrong or missing preset value fails.
"""

import pytest

from deep.build import build_method
from deep.config import TrainConfig
from frl.train_flags import settings_from_flags
from deep.methods.frl import AUTHORS_PRESET

EPS = 8 / 255
SHARED = {  # both scripts (frlrw.py / frlrmrw.py; same lines unless noted)
    "lr": 0.001,                # frlrw.py:26 optim.SGD(lr=0.001, momentum=0.9, weight_decay=5e-4)
    "momentum": 0.9,            # frlrw.py:26
    "weight_decay": 5e-4,       # frlrw.py:26
    "lr_step_every": 40,        # frlrw.py:27 MultiStepLR(milestones=[40, 80], gamma=0.1): x0.1 at 40 (and 80)
    "batch_size": 128,          # frlrw.py:99 / frlrmrw.py:89
    "epochs": 40,               # frlrw.py:98 / frlrmrw.py:88
    "eps": EPS,                 # frlrw.py:31 configs['epsilon'] = 8/255
    "attack_steps": 10,         # frlrw.py:32 configs['num_steps'] = 10 (training attack)
    "attack_mode": "eval",      # utils_frl.py:200 model.eval() in trades_adv
    "eval_steps": 20,           # frlrw.py:38-44 configs1: PGD-20 for validation (the controller) and test
    "val_per_class": 300,       # data_loader.py:56-58 tmp_idx[4700:5000]: 300 per class
    "normalize": False,         # data_loader.py:18, 23 Normalize commented out
    "alpha1": 0.05,             # frlrw.py:105 / frlrmrw.py:95 rate1
    "phi_limit": 0.5,           # frlrw.py:107 / frlrmrw.py:97 lim
    "frl_loss": "trades",       # utils_frl.py:238-244 CE + beta KL at the KL attack's point
    "bndy_metric": "accdiff",   # utils_frl.py:178-179 class_bndy_error = acc - acc_adv
}
REFERENCE = {
    "frl_reweight": {**SHARED, "tau1": 0.1, "tau2": 0.1},  # frlrw.py:103-104 bound0, bound1
    # frlrmrw.py:93-94 bound0 = bound1 = 0.07; frlrmrw.py:96 rate2 = 0.2
    "frl_reweight_remargin": {**SHARED, "tau1": 0.07, "tau2": 0.07, "alpha2": 0.2},
}
METHOD = {  # what the variant itself (deep/methods/frl.py) must do with them
    "beta": 1.5,               # frlrw.py:101 / frlrmrw.py:91
    "phi_limit": 0.5,
    "eps_cap": 3 * EPS,        # utils_frl2.py:94 clamp(exp(2 lam2), min=0.98, max=3)
}


def readme_command(method, *extra):
    """The README's command, parsed as `frl train` parses it."""
    return settings_from_flags(["--dataset", "cifar10", "--method", method, "--frl-variant", "authors",
                                "--init", "runs/pgd", "--out", "runs/frl", *extra])


@pytest.mark.parametrize("method", sorted(REFERENCE))
def test_the_readme_command_builds_the_released_recipe_value_by_value(method):
    cfg = TrainConfig.from_mapping(readme_command(method))
    got = {k: getattr(cfg, k) for k in REFERENCE[method]}
    assert _close(got, REFERENCE[method]), got
    m = build_method(cfg, [str(i) for i in range(10)])
    assert m.beta == METHOD["beta"] and m.phi_limit == METHOD["phi_limit"]
    assert m.eps_cap == pytest.approx(METHOD["eps_cap"])
    assert m.attack_loss_for(cfg) == "kl"  # the KL attack of trades_adv (utils_frl.py:199-208)


def _close(got, want):
    return all((got[k] == pytest.approx(v)) if isinstance(v, float) else got[k] == v for k, v in want.items())


def test_every_preset_value_names_its_source_line():
    for method, table in AUTHORS_PRESET.items():
        for key, (value, where) in table.items():
            assert ".py:" in where, (method, key)
            assert REFERENCE.get(method, SHARED)[key] == value, (method, key)


def test_the_preset_is_the_same_from_python_flags_and_toml(tmp_path):
    from deep.pipeline import load_pipeline, stage_config, stages

    python = TrainConfig(dataset="cifar10", method="frl_reweight_remargin", frl_variant="authors", init="runs/pgd",
                         out="runs/frl")
    flags = TrainConfig.from_mapping(readme_command("frl_reweight_remargin"))
    toml = tmp_path / "a.toml"
    toml.write_text('[run]\nname = "a"\n[[stage]]\nname = "frl"\n[stage.train]\ndataset = "cifar10"\n'
                    'method = "frl_reweight_remargin"\nfrl_variant = "authors"\ninit = "runs/pgd"\n')
    staged = stage_config(stages(load_pipeline(toml))[0], "runs")
    keys = list(REFERENCE["frl_reweight_remargin"])
    assert [getattr(python, k) for k in keys] == [getattr(flags, k) for k in keys] == [getattr(staged, k) for k in keys]
    remargin = TrainConfig(dataset="cifar10", method="frl_remargin", frl_variant="authors", init="runs/pgd")
    assert (remargin.frl_loss, remargin.bndy_metric, remargin.eval_steps, remargin.tau2) == ("trades", "accdiff", 20,
                                                                                           0.05)


def test_a_setting_given_beside_the_preset_wins_one_by_one():
    cfg = TrainConfig.from_mapping(readme_command("frl_reweight_remargin", "--tau1", "0.2", "--eval-steps", "7"))
    assert cfg.tau1 == 0.2 and cfg.eval_steps == 7
    assert cfg.tau2 == 0.07 and cfg.alpha2 == 0.2 and cfg.frl_loss == "trades"  # the rest stays the authors'
    paper = TrainConfig.from_mapping({"method": "frl_reweight_remargin", "init": "runs/pgd"})
    assert (paper.tau1, paper.tau2, paper.alpha2, paper.eval_steps, paper.frl_loss) == (0.05, 0.05, 0.05, 10, "pgd_at")


def test_the_authors_halve_alpha1_at_every_40th_epoch_and_never_decay_alpha2():
    """frlrw.py:85-86: `if now_epoch % 40 == 0: rate1 = rate1 / 2` (1-based, before that epoch's update);
    frlrmrw.py:52 rate2 = args.rate2, never changed. Our on_epoch_start takes 0-based epochs."""
    authors = build_method(TrainConfig.from_mapping(readme_command("frl_reweight_remargin")), list("0123456789"))
    assert authors._alphas(0) == (0.05, 0.2) and authors._alphas(38) == (0.05, 0.2)
    assert authors._alphas(39) == (0.025, 0.2) and authors._alphas(79) == (0.0125, 0.2)
    paper = build_method(TrainConfig(method="frl_reweight_remargin", init="runs/pgd"), list("0123456789"))
    assert paper._alphas(39) == (0.05, 0.05) and paper._alphas(40) == pytest.approx((0.005, 0.005))
