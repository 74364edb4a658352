#!/usr/bin/env bash
# The prepared device run of issue 16's comparison at the fast scale: TRADES (beta 6), +WAT and +DAFA
# trained from scratch with the one-cycle schedule, +FRL (Reweight+Remargin, TRADES loss) fine-tuned
# from the TRADES run, each evaluated with PGD-20 on the test split, then `frl compare` against TRADES.
# One seed (SEED); rerun with SEED=1, 2 into the same RUNS for mean ± std. Planned for <= 8 minutes on
# one H100 (PreAct-ResNet18, batch 512, 10 epochs, PGD-10 training attack).
#
# Here, once:  mkdir -p data && cp ../shared/data/cifar10_jpeg_q75.tgz data/
# GPU machine (device tool: carry ["data/cifar10_jpeg_q75.tgz"]):  bash benchmarks/gpu_compare_fast.sh
# Back in $OUT (6 files): machine.txt, log.txt, compare.json, compare.md, compare.png, compare.pdf.
# Arguments after the script name go to every `frl train` (the CPU test shrinks the runs with them).
set -euo pipefail
OUT=${OUT:-out}
RUNS=${RUNS:-/tmp/frl_compare}
DATA=${DATA:-/tmp/cifar10_q75}
TGZ=${TGZ:-data/cifar10_jpeg_q75.tgz}
DEVICE=${DEVICE:-cuda}
SEED=${SEED:-0}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1  # the GPU image has torch but no network: run from the tree
{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
  python -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__)"
} > "$OUT/machine.txt" 2>&1
SECONDS=0
log() { echo "[${SECONDS}s] $*" | tee -a "$OUT/log.txt"; }
python -m frl prepare-cifar10 "$TGZ" --out "$DATA" 2>&1 | tee -a "$OUT/log.txt"
COMMON=(--dataset cifar10 --data-dir "$DATA" --model preact_resnet18 --eps 8/255 --batch-size 512 --attack-steps 10
        --val-per-class 100 --test-every 0 --no-compile --device "$DEVICE" --seed "$SEED" --resume)
SCRATCH=(--epochs 10 --lr 0.4 --lr-schedule onecycle)
train() {  # method-folder, then flags
  local name=$1; shift
  log "train $name"
  python -m frl train "${COMMON[@]}" "$@" --out "$RUNS/$name/seed_$SEED" 2>&1 | tail -3 | tee -a "$OUT/log.txt"
  python -m frl eval "$RUNS/$name/seed_$SEED" --steps 20 --device "$DEVICE" 2>&1 | tee -a "$OUT/log.txt"
}
train trades --method trades --beta 6 "${SCRATCH[@]}" "$@"
train wat --method wat --beta 6 "${SCRATCH[@]}" "$@"
train dafa --method dafa --beta 6 --dafa-warmup 7 "${SCRATCH[@]}" "$@"
train frl --method frl_reweight_remargin --frl-loss trades --init "$RUNS/trades/seed_$SEED" --epochs 3 --lr 0.002 "$@"
python -m frl compare "$RUNS" --base trades --out "$OUT" 2>&1 | tee -a "$OUT/log.txt"
log "done"
