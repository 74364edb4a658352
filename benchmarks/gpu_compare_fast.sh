#!/usr/bin/env bash
# The prepared device run of issue 16's comparison at the fast scale: configs/compare/cifar10_fast.toml
# for one seed - TRADES (beta 6), +WAT, +DAFA and +CFA from scratch with the one-cycle schedule, +FRL
# (Reweight+Remargin, TRADES loss) fine-tuned from the TRADES run, each scored with PGD-20 on the test
# split, then `frl compare` against TRADES. Planned for <= 8 minutes on one H100 (PreAct-ResNet18,
# batch 512, 6 epochs, PGD-5 training attack; not yet measured). Rerun with SEED=1, 2 into the same
# RUNS for mean ± std; a run cut by the time limit continues where it stopped (every stage resumes).
#
# Here, once:  mkdir -p data && cp ../shared/data/cifar10_jpeg_q75.tgz data/
# GPU machine (device tool: carry ["data/cifar10_jpeg_q75.tgz"]):  bash benchmarks/gpu_compare_fast.sh
# Back in $OUT (6 files): machine.txt, log.txt, compare.json, compare.md, compare.png, compare.pdf.
# Arguments after the script name go to `frl run` (the CPU test shrinks the runs with --train-set).
set -euo pipefail
RUNS=${RUNS:-/tmp/frl_compare}
SEED=${SEED:-0}
CONFIG=configs/compare/cifar10_fast.toml
source "$(dirname "$0")/gpu_env.sh"  # OUT DATA TGZ DEVICE, machine.txt, the clock
log() { echo "[${SECONDS}s] $*" | tee -a "$OUT/log.txt"; }
python -m frl prepare-cifar10 "$TGZ" --out "$DATA" 2>&1 | tee -a "$OUT/log.txt"
log "frl run $CONFIG --seeds $SEED"
# every epoch line and result path, with the seconds since the start (the epoch lines carry their own times)
python -m frl run "$CONFIG" --runs "$RUNS" --data-dir "$DATA" --device "$DEVICE" --seeds "$SEED" "$@" 2>&1 \
  | while IFS= read -r line; do log "$line"; done
cp "$RUNS"/compare/cifar10_fast/compare.{json,md,png,pdf} "$OUT"/
log "done"
