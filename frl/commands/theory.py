"""``frl theory``: the closed forms of Section 3 at one parameter point, and which claims hold there."""

from __future__ import annotations

import json
import math
import sys

from deep.atomic_files import write_json
from deep.errors import RunDirError

from ..errors import UserError
from ..parsing import number, whole

DEFAULTS = dict(d=2, K=math.sqrt(2.0), sigma=1.0, eta=2.0, eps=0.5, m=0, gamma=0.0)


def register(sub) -> None:
    p = sub.add_parser(
        "theory",
        help="closed-form b_nat, b_rob, class-wise errors and the paper's claims at one parameter point",
        description=(
            "Closed forms of Theorems 1-3 at one point of the Gaussian model (paper Eq. 2; Eq. 19 when m > 0). "
            "Defaults are Figure 2's setting: theta = (2, 2), sigma_-1^2 = 1, sigma_+1^2 = 2, eps = 0.5."
        ),
    )
    p.add_argument("--d", type=whole, default=DEFAULTS["d"], help="number of robust features (default 2)")
    p.add_argument("--K", type=number, default=DEFAULTS["K"], help="sigma_+1 / sigma_-1 > 1 (default sqrt(2))")
    p.add_argument("--sigma", type=number, default=DEFAULTS["sigma"], help="sigma_-1 > 0 (default 1)")
    p.add_argument("--eta", type=number, default=DEFAULTS["eta"], help="robust feature mean > 0 (default 2)")
    p.add_argument("--eps", type=number, default=DEFAULTS["eps"], help="l_inf radius, 0 < eps < eta (default 0.5)")
    p.add_argument("--m", type=whole, default=DEFAULTS["m"], help="non-robust features of D' (Eq. 19; default 0)")
    p.add_argument("--gamma", type=number, default=DEFAULTS["gamma"], help="non-robust feature mean, 0 < gamma < eps")
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                   help="write the numbers as JSON to FILE (or stdout when FILE is omitted) instead of the table")
    p.set_defaults(func=run)


def compute(d, K, sigma, eta, eps, m=0, gamma=0.0) -> dict:
    """All numbers of the table as a JSON-ready dict (raises ValueError outside the domain)."""
    import numpy as np

    import gaussian_theory as gt

    if eps <= 0:
        raise ValueError(f"eps == {eps:g}, must be > 0 (the table compares natural and robust training)")
    if m < 0:
        raise ValueError(f"m == {m}, must be >= 0")
    w_nat, b_n = gt.optimal_classifier(d, K, sigma, eta)
    w_rob, b_r = gt.optimal_classifier(d, K, sigma, eta, eps)
    if not (math.isfinite(b_n) and math.isfinite(b_r)):
        raise ValueError("these parameters overflow double precision (b_nat or b_rob is not finite); "
                         "choose a smaller K or eta / sigma")
    theta = np.full(d, float(eta))

    def errors(w, b):
        return {
            "std_error": gt.class_errors(w, b, theta, sigma, K).tolist(),
            "rob_error": gt.class_errors(w, b, theta, sigma, K, eps=eps).tolist(),
        }

    out = {
        "parameters": dict(d=d, K=K, sigma=sigma, eta=eta, eps=eps, m=m, gamma=gamma),
        "q": float(gt.q(K)),
        "b_nat": float(b_n),
        "b_rob": float(b_r),
        "f_nat": {"w": w_nat.tolist(), "b": b_n, **errors(w_nat, b_n)},
        "f_rob": {"w": w_rob.tolist(), "b": b_r, **errors(w_rob, b_r)},
    }
    claims = gt.evaluate_claims(d, K, sigma, eta, eps, m=m, gamma=gamma)
    out["claims"] = {k: {"holds": v, "statement": gt.CLAIMS[k]} for k, v in claims.items()}
    t_rob = math.sqrt(d) * (eta - eps) / sigma
    out["regimes"] = {
        "b_rob_positive": {"condition": "sqrt(d)(eta-eps)/sigma > K sqrt(q(K))",
                           "lhs": t_rob, "rhs": K * math.sqrt(float(gt.q(K)))},
    }
    if m > 0:
        r_nat, r_rob = gt.theorem3_R_nat(d, K, sigma, eta, eps, m, gamma)
        out["theorem3"] = {"R_nat_f_nat": r_nat.tolist(), "R_nat_f_rob": r_rob.tolist()}
        out["regimes"]["a3_both_classes_worse"] = {
            "condition": "sqrt(d eta^2 + m gamma^2)/sigma > T_star",
            "lhs": math.sqrt(d * eta**2 + m * gamma**2) / sigma,
            "rhs": float(gt.T_star(d, K, sigma, eta, eps)),
        }
    return out


def format_table(res: dict) -> str:
    p = res["parameters"]
    lines = [
        "Gaussian model (paper Eq. 2{}): d={d}, K={K:.6g}, sigma={sigma:.6g}, eta={eta:.6g}, eps={eps:.6g}{extra}".format(
            "; D' of Eq. 19" if p["m"] else "", extra=f", m={p['m']}, gamma={p['gamma']:.6g}" if p["m"] else "", **p),
        f"q(K) = {res['q']:.6g}   b_nat = g(eta) = {res['b_nat']:.6g}   b_rob = g(eta - eps) = {res['b_rob']:.6g}",
        "",
        f"{'class-wise error':<26}{'class -1':>12}{'class +1':>12}{'average':>12}",
    ]
    for name, key, label in (("f_nat", "std_error", "standard"), ("f_nat", "rob_error", "robust"),
                             ("f_rob", "std_error", "standard"), ("f_rob", "rob_error", "robust")):
        a, b = res[name][key]
        lines.append(f"{name + ' ' + label:<26}{a:>12.6f}{b:>12.6f}{(a + b) / 2:>12.6f}")
    if "theorem3" in res:
        lines.append("")
        lines.append("Theorem 3 (D'), standard errors:")
        for key in ("R_nat_f_nat", "R_nat_f_rob"):
            a, b = res["theorem3"][key]
            lines.append(f"{key:<26}{a:>12.6f}{b:>12.6f}{(a + b) / 2:>12.6f}")
    lines.append("")
    lines.append("claims of the paper at this point:")
    for c in res["claims"].values():
        lines.append(f"  [{'holds' if c['holds'] else 'FAILS'}] {c['statement']}")
    return "\n".join(lines)


# The table prints both classifiers' weight vectors (d + m numbers each): beyond this it is no table.
MAX_DIM = 100_000


def run(args) -> int:
    import warnings

    import numpy as np

    for name, v in (("--d", args.d), ("--m", args.m)):
        if v > MAX_DIM:
            raise UserError(f"{name} {v}: at most {MAX_DIM} (the output lists the weights of every feature; "
                            f"use gaussian_theory from Python for larger models)", prog="frl theory")
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):  # an overflow is reported below, once
            warnings.simplefilter("ignore", RuntimeWarning)
            res = compute(args.d, args.K, args.sigma, args.eta, args.eps, args.m, args.gamma)
    except ValueError as exc:
        raise UserError(str(exc), prog="frl theory") from None
    if not math.isfinite(res["q"]):
        raise UserError("these parameters overflow double precision (q is not finite); choose a smaller K",
                        prog="frl theory")
    if args.json is None:
        print(format_table(res))
    elif args.json == "-":
        json.dump(res, sys.stdout, indent=2)
        print()
    else:
        try:
            write_json(args.json, res)
        except RunDirError as exc:
            raise UserError(str(exc), prog="frl theory") from None
        print(f"{args.json}: the table as JSON (d={args.d}, K={args.K:g}, sigma={args.sigma:g}, eta={args.eta:g}, "
              f"eps={args.eps:g})")
    return 0
