"""Every figure and table the project can draw: id -> how to get its results and how to draw them.

A figure function takes results (a dict, as stored in ``<id>.json``) and returns a
matplotlib figure; it never trains or simulates. Where results come from is the
entry's ``compute`` (cheap theory sweeps, or the Figure 2 simulation), which the CLI
calls only when no cached results fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class FigureSpec:
    id: str
    title: str
    draw: Callable[[dict], object]
    compute: Callable[..., dict]
    cheap: bool  # True: always recomputed; False: cached results are reused


def _fig2_compute(seed=0, progress=None):
    from gaussian_theory.simulation import Fig2Config, run_fig2

    return run_fig2(config=Fig2Config(seed=seed), progress=progress)


def _errors_vs_eps_compute(**_):
    from gaussian_theory.sweeps import errors_vs_eps

    return errors_vs_eps()


def _claims_map_compute(**_):
    from gaussian_theory.sweeps import claims_map

    return claims_map()


def _draw(module, name):
    def draw(res):
        import importlib

        return getattr(importlib.import_module(f"figures.{module}"), name)(res)

    return draw


FIGURES = {
    spec.id: spec
    for spec in (
        FigureSpec("fig2", "Figure 2: natural vs adversarial LR and MLP on the Gaussian mixture (simulation)",
                   _draw("fig2", "draw_fig2"), _fig2_compute, cheap=False),
        FigureSpec("theory_errors_vs_eps", "Theorems 1-2: class-wise errors of f_nat and f_rob as eps grows",
                   _draw("theory", "draw_errors_vs_eps"), _errors_vs_eps_compute, cheap=True),
        FigureSpec("theory_claims_map", "Where the paper's conditional claims hold (0 < b_rob; A.3 in D')",
                   _draw("theory", "draw_claims_map"), _claims_map_compute, cheap=True),
    )
}
