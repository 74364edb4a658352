import os

from hypothesis import HealthCheck, settings

# Property tests: a fixed, CI-sized budget; "ci" is the default everywhere.
settings.register_profile("ci", max_examples=150, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=3000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

import pytest


@pytest.fixture(scope="session")
def fig2_results():
    """One full-size Figure 2 simulation (about 15 s on 2 cores), shared by the tests that need it."""
    from gaussian_theory.simulation import run_fig2

    return run_fig2()


@pytest.fixture
def interrupted_then_resumed(monkeypatch):
    """run(argv, out, after): `frl <argv> --out out` interrupted (Ctrl-C) right after its ``after``-th
    checkpoint, then resumed with --resume; asserts the exit codes 130 and 0."""
    from deep.run_dir import RunDir
    from frl.cli import main

    real_save = RunDir.save_checkpoint

    def run(argv, out, after):
        calls = []

        def save_then_die(self, state):
            real_save(self, state)
            calls.append(1)
            if len(calls) == after:
                raise KeyboardInterrupt

        monkeypatch.setattr(RunDir, "save_checkpoint", save_then_die)
        assert main([*argv, "--out", out]) == 130
        monkeypatch.setattr(RunDir, "save_checkpoint", real_save)
        assert main([*argv, "--out", out, "--resume"]) == 0

    return run


class StopTraining(Exception):
    """Raised by :func:`stop_after_first_epoch`: a run cut right after its first checkpoint."""


def stop_after_first_epoch(msg):
    """A train_run log that stops the run once epoch 1 is logged (after its checkpoint is written)."""
    if str(msg).startswith("epoch 1/"):
        raise StopTraining
