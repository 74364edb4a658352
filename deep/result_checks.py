"""The shapes of the result files (``eval.json``, ``certify.json``) and the six numbers every summary reports.

A reader checks what it reads: :func:`check_eval` / :func:`check_certify` raise
:class:`~deep.errors.RunDirError` naming the file and what is wrong with it.
"""

from __future__ import annotations

import math

from .errors import RunDirError

__all__ = ["SIX", "six_numbers", "check_eval", "check_certify"]

# The six numbers every summary reports: (name, group, key) of an eval.json.
SIX = (("avg_std", "avg", "std_error"), ("worst_std", "worst", "std_error"),
       ("avg_bndy", "avg", "bndy_error"), ("worst_bndy", "worst", "bndy_error"),
       ("avg_rob", "avg", "rob_error"), ("worst_rob", "worst", "rob_error"))

_ERRORS = ("std_error", "bndy_error", "rob_error")


def six_numbers(res: dict) -> dict:
    """{avg_std, worst_std, avg_bndy, worst_bndy, avg_rob, worst_rob} (fractions) of an eval.json dict."""
    return {name: res[group][key] for name, group, key in SIX}


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _require(ok: bool, path, what: str) -> None:
    if not ok:
        raise RunDirError(f"{path} is not a valid result file: {what}")


def _check_classwise(res: dict, path) -> int:
    """The class-wise lists of an eval dict (one length, numbers or None), its names and counts; the length."""
    lists = [res.get(k) for k in _ERRORS]
    _require(all(isinstance(v, list) and v for v in lists) and len({len(v) for v in lists}) == 1, path,
             "std_error, bndy_error and rob_error must be lists of one length (one number per class)")
    _require(all(_is_number(x) or x is None for v in lists for x in v), path, "class-wise errors must be numbers")
    k = len(lists[0])
    names = res.get("class_names")
    _require(names is None or (isinstance(names, list) and len(names) == k), path,
             "class_names must list one name per class")
    counts = res.get("n_per_class")
    _require(counts is None or (isinstance(counts, list) and len(counts) == k and all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts) and sum(counts) >= 1), path,
             "n_per_class must list one whole number >= 0 per class")
    return k


def check_eval(res, path="eval.json") -> dict:
    """An eval.json dict: avg / worst numbers and class-wise lists of one length (None for an absent class)."""
    _require(isinstance(res, dict), path, "expected a JSON object")
    for group in ("avg", "worst"):
        g = res.get(group)
        _require(isinstance(g, dict) and all(_is_number(g.get(k)) for k in _ERRORS),
                 path, f"'{group}' needs numbers std_error, bndy_error, rob_error")
    k = _check_classwise(res, path)
    for key in ("checkpoint", "split", "method"):
        _require(res.get(key) is None or isinstance(res.get(key), str), path, f"{key} must be text")
    attack = res.get("attack")
    _require(attack is None or (isinstance(attack, dict) and isinstance(attack.get("name", "pgd"), str) and all(
        attack.get(a) is None or _is_number(attack[a]) for a in ("eps", "steps", "step_size"))), path,
             "attack must be an object with a name and numbers eps, steps, step_size")
    _require(res.get("examples") is None or isinstance(res.get("examples"), dict), path,
             "examples must be an object")
    if "pgd" in res:
        _require(isinstance(res["pgd"], dict) and "pgd" not in res["pgd"], path, "pgd must be an eval object")
        check_eval(res["pgd"], f"{path} (its pgd entry)")
        _require(len(res["pgd"]["rob_error"]) == k, path, "pgd must have one error per class too")
    return res


def check_certify(res, path="certify.json") -> dict:
    """A certify.json dict: sigma, radius and class-wise certified errors of one length."""
    _require(isinstance(res, dict), path, "expected a JSON object")
    _require(_is_number(res.get("sigma")) and _is_number(res.get("radius")), path, "needs numbers sigma and radius")
    lists = [res.get(k) for k in ("certified_std_error", "certified_error")]
    _require(all(isinstance(v, list) and v for v in lists) and len({len(v) for v in lists}) == 1 and
             all(_is_number(x) or x is None for v in lists for x in v), path,
             "certified_std_error and certified_error must be lists of numbers of one length")
    return res
