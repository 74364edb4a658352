#!/usr/bin/env bash
# The prepared device run of issue 15 (GPU speed): epoch times of our step and of the reference loop
# faithful to each method (Rice et al. style for PGD-AT, the TRADES reference for TRADES / FRL), at
# the paper's batch 128 and at 512 and 1024, PreAct-ResNet18, eager (and compiled at 1024).
#   bash benchmarks/gpu_epoch_time.sh          # on the GPU machine ($OUT set by the device tool)
# No data needs to travel (synthetic CIFAR-sized batches). Under 10 minutes on one H100; at most
# three files come back: machine.txt, epoch_time.txt, rows.json.
set -uo pipefail
OUT=${OUT:-out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD  # the GPU image has torch but no network: run from the tree, no install
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; python -c "import torch; print('torch', torch.__version__)"; } \
  > "$OUT/machine.txt" 2>&1
RES=$(mktemp -d)
run() {  # method batch compile-flag
  timeout 150 python benchmarks/epoch_time.py --models preact_resnet18 --method "$1" --batch-size "$2" \
    --batches $((10240 / $2)) --warmup 3 "$3" --results "$RES" 2>&1 | grep -v "^appended" | tee -a "$OUT/epoch_time.txt"
}
# eager at every batch size and method (about 20 s each), compile where it was measured to matter
for method in pgd_at trades frl_reweight_remargin; do
  for bs in 128 512 1024; do run "$method" "$bs" --no-compile; done
done
for method in pgd_at frl_reweight_remargin; do run "$method" 1024 --compile; done
cat "$RES"/*.json > "$OUT/rows.json"
