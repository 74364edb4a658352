"""Configurations per second of b_rob and class_errors over 10^6 broadcast configurations, on one core.

Usage: python benchmarks/theory_speed.py [--n 1000000] [--repeats 5]
Prints the best of the repeats (wall clock, validation included).
"""

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"  # one core, set before numpy loads

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import gaussian_theory as gt  # noqa: E402


def best_time(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    n = args.n
    rng = np.random.default_rng(0)
    d = rng.integers(1, 100, n).astype(float)
    K = 1 + rng.exponential(1.0, n)
    sigma = rng.uniform(0.5, 2.0, n)
    eta = rng.uniform(0.1, 2.0, n)
    eps = eta * rng.uniform(0.0, 0.9, n)
    w = rng.normal(size=(n, 2))
    b = rng.normal(size=n)
    theta = np.array([2.0, 2.0])

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print(f"numpy {np.__version__}, {platform.processor() or platform.machine()}, 1 core, n = {n:,}")
    rows = [
        ("b_rob", lambda: gt.b_rob(d, K, sigma, eta, eps)),
        ("class_errors (n=2, l_inf robust)", lambda: gt.class_errors(w, b, theta, sigma, K, eps=eps)),
        ("class_errors (n=2, standard)", lambda: gt.class_errors(w, b, theta, sigma, K)),
        ("R_nat_f_rob", lambda: gt.R_nat_f_rob(d, K, sigma, eta, eps)),
    ]
    for name, fn in rows:
        t = best_time(fn, args.repeats)
        rate = n / t
        print(f"{name:<36} {t * 1e3:8.1f} ms   {rate / 1e6:6.2f} M configurations/s   "
              f"{'meets' if rate >= 1e6 else 'BELOW'} the 1e6/s goal")


if __name__ == "__main__":
    main()
