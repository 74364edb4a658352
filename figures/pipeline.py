"""A staged pipeline's results (``frl run`` with ``[[stage]]`` tables) as one Markdown page: the six
numbers per stage, each stage's change against the first (the start), the targets of the fast
CIFAR-10 schedule, and the class-wise standard / boundary / robust errors."""

from __future__ import annotations

from .ablation import SIX, SIX_LABELS, six_numbers

__all__ = ["pipeline_markdown", "target_checks", "START_TARGETS", "FRL_TARGETS"]

# The targets of the fast schedule (issue 11): the start, PGD-20 on the test split, in %.
START_TARGETS = {"avg_std": 20.0, "avg_rob": 55.0}
# FRL Reweight+Remargin against its start, in points: (number, largest allowed change).
FRL_TARGETS = (("worst_rob", -8.0), ("avg_rob", 1.0), ("avg_std", 2.0), ("avg_bndy", 0.0))


def target_checks(evals: dict, start: str, frl: str = "frl_reweight_remargin") -> list[tuple[str, float, float, bool]]:
    """(what, value, bound, met) for the start's two targets and, if the FRL stage exists, its four."""
    s = six_numbers(evals[start])
    rows = [(f"start {k.replace('_', ' ')} ≤ {b:g} %", s[k], b, s[k] <= b) for k, b in START_TARGETS.items()]
    if frl in evals:
        f = six_numbers(evals[frl])
        rows += [(f"{frl} Δ {k.replace('_', ' ')} ≤ {b:+g}", f[k] - s[k], b, f[k] - s[k] <= b) for k, b in FRL_TARGETS]
    return rows


def pipeline_markdown(evals: dict, title: str = "") -> str:
    """``evals``: {stage name: eval.json dict}, in pipeline order; the first stage is the start."""
    names = list(evals)
    start = names[0]
    first = evals[start]
    attack = first.get("attack", {})
    lines = [f"## {title}" if title else "## pipeline",
             f"Test split, {attack.get('name', 'pgd').upper()}-{attack.get('steps', '')} "
             f"({attack.get('norm', '')}, eps {attack.get('eps', 0):.4g}), in %; Δ: change against `{start}`.", "",
             "| stage | epoch | " + " | ".join(SIX_LABELS) + " | Δ avg std | Δ avg bndy | Δ avg rob | Δ worst rob |",
             "|" + "---|" * (len(SIX) + 6)]
    base = six_numbers(first)
    for name in names:
        six = six_numbers(evals[name])
        deltas = ["" if name == start else f"{six[k] - base[k]:+.1f}"
                  for k in ("avg_std", "avg_bndy", "avg_rob", "worst_rob")]
        ep = evals[name].get("epoch")
        lines.append(f"| {name} | {'' if ep is None else ep + 1} | " + " | ".join(f"{six[k]:.1f}" for k in SIX)
                     + " | " + " | ".join(deltas) + " |")
    lines += ["", "Targets:", ""]
    for what, value, bound, met in target_checks(evals, start):
        lines.append(f"- {what}: {value:.1f} -> {'met' if met else 'NOT met'}")
    classes = first.get("class_names") or [str(i) for i in range(len(first["std_error"]))]
    for key, label in (("std_error", "standard"), ("bndy_error", "boundary"), ("rob_error", "robust")):
        lines += ["", f"Class-wise {label} error (%):", "",
                  "| stage | " + " | ".join(classes) + " |", "|" + "---|" * (len(classes) + 1)]
        for name in names:
            lines.append(f"| {name} | " + " | ".join(f"{100 * v:.1f}" for v in evals[name][key]) + " |")
    return "\n".join(lines) + "\n"
