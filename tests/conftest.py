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
