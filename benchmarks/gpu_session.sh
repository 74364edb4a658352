#!/usr/bin/env bash
# One prepared device run for issue 7 (speed, parity, fast schedule): run it on the GPU machine as
#   bash benchmarks/gpu_session.sh
# with data/cifar10_jpeg_q75.tgz carried (a copy of ../shared/data/cifar10_jpeg_q75.tgz; the unpacked
# tree is too large to travel) and $OUT set by the device tool. Everything it measures lands under $OUT (benchmark rows, parity, fast-schedule runs).
set -euo pipefail
OUT=${OUT:-out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD  # the GPU image has torch but no network: run from the tree, no install
python -c "import tqdm, scipy, sklearn" 2>/dev/null || echo "note: tqdm/scipy/scikit-learn missing (not needed here)"
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
python benchmarks/epoch_time.py --results "$OUT/benchmarks" 2>&1 | tee "$OUT/epoch_time.txt"
python benchmarks/parity.py --epochs 3 --out "$OUT/parity" 2>&1 | tail -20 | tee "$OUT/parity.txt"
python -m frl prepare-cifar10 data/cifar10_jpeg_q75.tgz --out /tmp/cifar10_q75
python -m frl run configs/fast/cifar10_preact_frl.toml --runs /tmp/runs --device cuda --data-dir /tmp/cifar10_q75 \
  2>&1 | tail -40 | tee "$OUT/fast.txt"
