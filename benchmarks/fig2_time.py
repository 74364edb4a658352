"""Wall-clock time of `frl figures fig2 --recompute` (simulation + drawing), the issue's <= 30 s goal on 2 cores.

Usage: python benchmarks/fig2_time.py [--repeats 2]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    times = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "frl", "figures", "fig2", "--recompute", "--out", out],
                           check=True, capture_output=True)
            times.append(time.perf_counter() - t0)
    print(f"cores available: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}")
    print("frl figures fig2 --recompute: " + ", ".join(f"{t:.1f} s" for t in times)
          + f"  (best {min(times):.1f} s; goal <= 30 s)")


if __name__ == "__main__":
    main()
