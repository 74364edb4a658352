"""Every figure and table the project can draw: id -> how to get its results and how to draw them.

A figure function takes results (a dict, as stored in ``<id>.json``) and returns a
matplotlib figure; it never trains or simulates. Where results come from is the
entry's ``source``:

* ``"theory"`` - cheap sweeps of :mod:`gaussian_theory`, recomputed every time;
* ``"simulation"`` - the Figure 2 simulation, cached in ``<id>.json`` and reused;
* ``"runs"`` - run directories (``--runs DIR``) read by :mod:`figures.results`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class FigureSpec:
    id: str
    title: str
    draw: Callable[[dict], object]
    compute: Callable[..., dict]
    source: str  # "theory" | "simulation" | "runs"
    markdown: Callable[[dict], str] | None = None


def _lazy(module, name):
    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    return call


def _fig2_compute(seed=0, progress=None, **_):
    from gaussian_theory.simulation import Fig2Config, run_fig2

    return run_fig2(config=Fig2Config(seed=seed), progress=progress)


def _theory(name):
    def compute(**_):
        return _lazy("gaussian_theory.sweeps", name)()

    return compute


def _from_runs(name, *ids):
    """compute(runs=...) -> figures.results.<name>(*ids, runs): results read from run directories."""

    def compute(runs, **_):
        return _lazy("figures.results", name)(*ids, runs)

    return compute


_CLASSWISE = {
    "fig1": "Figure 1: class-wise errors of natural training, PGD-AT, TRADES; CIFAR-10, PreAct-ResNet18",
    "fig5": "Figure 5: the same on CIFAR-10, WRN-28-10",
    "fig6": "Figure 6: the same against l2 0.5 attacks; CIFAR-10, PreAct-ResNet18",
    "fig7": "Figure 7: the same on SVHN, PreAct-ResNet18",
}
_SPECS = [
    FigureSpec("fig1", _CLASSWISE["fig1"], _lazy("figures.classwise", "draw_classwise_figure"), _from_runs("classwise_figure", "fig1"),
               "runs"),
    FigureSpec("fig2", "Figure 2: natural vs adversarial LR and MLP on the Gaussian mixture (simulation)",
               _lazy("figures.fig2", "draw_fig2"), _fig2_compute, "simulation"),
    FigureSpec("fig3", "Figure 3: one class's errors vs its boundary weight and its margin (frl ablation fig3)",
               _lazy("figures.fig3", "draw_fig3"), _from_runs("ablation_fig3"), "runs"),
    FigureSpec("fig4", "Figure 4: randomized smoothing, class-wise certified errors; CIFAR-10 (frl certify)",
               _lazy("figures.classwise", "draw_smoothing_figure"), _from_runs("smoothing_figure"), "runs"),
]
for _fid in ("fig5", "fig6", "fig7"):
    _SPECS.append(FigureSpec(_fid, _CLASSWISE[_fid], _lazy("figures.classwise", "draw_classwise_figure"),
                             _from_runs("classwise_figure", _fid), "runs"))
_SPECS.append(FigureSpec("table1", "Table 1: natural vs PGD-AT for cat, dog, car, ship; CIFAR-10 (paper vs ours)",
                         _lazy("figures.classwise", "draw_classwise_table"), _from_runs("classwise_table", "table1"), "runs",
                         _lazy("figures.classwise", "classwise_table_markdown")))
for _tid, _what in (("table2", "CIFAR-10, PreAct-ResNet18"), ("table3", "SVHN, PreAct-ResNet18"),
                    ("table7", "CIFAR-10, WRN-28-10"), ("table8", "SVHN, WRN-28-10")):
    _SPECS.append(FigureSpec(_tid, f"Table {_tid[5:]}: average & worst-class errors, {_what} (paper vs ours)",
                             _lazy("figures.tables", "draw_summary_table"), _from_runs("summary_table", _tid), "runs",
                             _lazy("figures.tables", "summary_table_markdown")))
for _tid, _what in (("table4", "CIFAR-10, PreAct-ResNet18"), ("table5", "CIFAR-10, WRN-28-10"),
                    ("table6", "SVHN, PreAct-ResNet18")):
    _SPECS.append(FigureSpec(_tid, f"Table {_tid[5:]}: class-wise natural vs PGD-AT and difference, {_what}",
                             _lazy("figures.classwise", "draw_classwise_table"), _from_runs("classwise_table", _tid), "runs",
                             _lazy("figures.classwise", "classwise_table_markdown")))
_SPECS.sort(key=lambda s: (not s.id.startswith("fig"), int(s.id.lstrip("figtable"))))  # fig1..fig7, table1..table8
_SPECS += [
    FigureSpec("demo_classwise", "frl demo: class-wise errors of the PGD-AT start, FRL and the controls (digits)",
               _lazy("figures.demo", "draw_demo"), _from_runs("demo_figure"), "runs"),
    FigureSpec("controller_trace", "Class-wise validation errors and class weights per epoch: does FRL's controller "
               "settle or swing? (any run directory, --runs)", _lazy("figures.controller", "draw_controller_trace"),
               _from_runs("controller_trace"), "runs",
               _lazy("figures.controller", "controller_trace_markdown")),
    FigureSpec("theory_errors_vs_eps", "Theorems 1-2: class-wise errors of f_nat and f_rob as eps grows",
               _lazy("figures.theory", "draw_errors_vs_eps"), _theory("errors_vs_eps"), "theory"),
    FigureSpec("theory_claims_map", "Where the paper's conditional claims hold (0 < b_rob; A.3 in D')",
               _lazy("figures.theory", "draw_claims_map"), _theory("claims_map"), "theory"),
]
FIGURES = {spec.id: spec for spec in _SPECS}
