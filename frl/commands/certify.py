"""``frl certify RUN``: randomized-smoothing certification (Cohen et al., 2019), class-wise."""

from __future__ import annotations

import sys

from ..parsing import number, path, whole

PROG = "frl certify"


def register(sub) -> None:
    p = sub.add_parser("certify", help="randomized smoothing: class-wise certified standard / robust error (CERTIFY)",
                       description="CERTIFY (and optionally PREDICT) every test example of RUN's model smoothed "
                                   "with N(0, sigma^2 I); writes class-wise certified errors at --radius.")
    p.add_argument("run", help="run directory (e.g. trained with --method gaussian_noise --sigma S)")
    p.add_argument("--sigma", type=number, required=True, help="noise level sigma > 0 of the smoothed classifier")
    p.add_argument("--radius", type=number, default=0.5, help="l2 radius R >= 0 (paper: 0.5)")
    p.add_argument("--n", type=whole, default=100_000, help="noise samples for the estimate (default 100000)")
    p.add_argument("--n0", type=whole, default=100, help="noise samples for the selection (default 100)")
    p.add_argument("--alpha", type=number, default=0.001, help="failure probability in (0, 1) (default 0.001)")
    p.add_argument("--predict", action="store_true", help="also run PREDICT (doubles the cost)")
    p.add_argument("--split", choices=("test", "val"), default="test")
    p.add_argument("--limit", type=whole, default=None, help="certify N examples spread evenly over the classes (the first N/K of each class in file order)")
    p.add_argument("--batch-size", type=whole, default=1000, help="noise samples per forward pass")
    p.add_argument("--device", default=None)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--seed", type=whole, default=0)
    p.add_argument("--out", type=path, default=None, help="output JSON (default RUN/certify.json; RUN/certify_<split>_limit<N>.json for a subset)")
    p.set_defaults(func=run)


def run(args) -> int:
    def progress(i, total):
        if sys.stderr.isatty():
            print(f"\r{PROG}: {i}/{total}", end="" if i < total else "\n", file=sys.stderr, flush=True)

    from deep.runs import certify_and_save

    out, res = certify_and_save(args.run, args.sigma, out=args.out, radius=args.radius, n=args.n, n0=args.n0,
                                alpha=args.alpha, split=args.split, limit=args.limit, batch_size=args.batch_size,
                                device=args.device, data_dir=args.data_dir, seed=args.seed, with_predict=args.predict,
                                progress=progress)
    if res["method"] != "gaussian_noise" or abs(res["train_sigma"] - args.sigma) > 1e-12:
        trained = ("trained with Gaussian noise at sigma " + f"{res['train_sigma']:g}" if res["method"] == "gaussian_noise"
                   else f"trained with {res['method']}, without noise")
        print(f"{PROG}: warning: {args.run} was {trained}; smoothing it at sigma {args.sigma:g} certifies little "
              f"(Cohen et al. train the base classifier with the noise it is smoothed with: "
              f"frl train --method gaussian_noise --sigma {args.sigma:g})", file=sys.stderr)
    print(f"{out}: certified std error {res['avg']['certified_std_error']:.4f}, certified error at radius "
          f"{args.radius:g} {res['avg']['certified_error']:.4f} (worst class {res['worst']['certified_error']:.4f})")
    return 0
