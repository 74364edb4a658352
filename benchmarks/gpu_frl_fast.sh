#!/usr/bin/env bash
# The one prepared device run of the fast CIFAR-10 schedule (issue 11): the PGD-AT start with the
# one-cycle schedule, FRL Reweight+Remargin from it, and the two controls (PGD-AT continued; the
# loss switch alone), each ending with PGD-20 on the test split. Planned for <= 8 minutes on one H100.
#
# Here, once (data/ is ignored by git, so the 20 MB archive travels only when carried):
#   mkdir -p data && cp ../shared/data/cifar10_jpeg_q75.tgz data/
# On the GPU machine (device tool: carry ["data/cifar10_jpeg_q75.tgz"]):
#   bash benchmarks/gpu_frl_fast.sh
# What comes back, in $OUT (at most 8 files, no folders): machine.txt, log.txt, fast_frl.md (the six
# numbers per stage, the changes against the start, the targets, class-wise tables), summary.json,
# stages.json (every stage's eval.json and per-epoch validation errors).
# Arguments after the script name go to `frl run` (the CPU test passes --train-set overrides).
# Numbers from this data are "CIFAR-10 (JPEG q75)".
set -euo pipefail
CONFIG=${CONFIG:-configs/fast/cifar10_preact_frl.toml}
source "$(dirname "$0")/gpu_env.sh"  # OUT RUNS DATA TGZ DEVICE, machine.txt, the clock
python -m frl prepare-cifar10 "$TGZ" --out "$DATA" 2>&1 | tee "$OUT/log.txt"
echo "[${SECONDS}s] data ready" | tee -a "$OUT/log.txt"
python -m frl run "$CONFIG" --runs "$RUNS" --device "$DEVICE" --data-dir "$DATA" "$@" 2>&1 | tee -a "$OUT/log.txt"
echo "[${SECONDS}s] pipeline done" | tee -a "$OUT/log.txt"
python - "$CONFIG" "$RUNS" "$OUT" <<'PY'
import json, shutil, sys, tomllib
from pathlib import Path

config, runs, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
cfg = tomllib.loads(Path(config).read_text())
group = runs / cfg["run"].get("table", "") / cfg["run"]["name"]
stages = {}
for stage in cfg["stage"]:
    d = group / stage["name"]
    metrics = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines() if line.strip()]
    keep = ("epoch", "split", "loss", "lr", "epoch_time", "images_per_s", "avg", "worst", "eps_class",
            "class_weights", "class_weights_bndy")
    stages[stage["name"]] = {"eval": json.loads((d / "eval.json").read_text()),
                             "config": json.loads((d / "config.json").read_text()),
                             "metrics": [{k: m[k] for k in keep if k in m} for m in metrics]}
(out / "stages.json").write_text(json.dumps(stages, indent=1))
shutil.copy(group / "summary.md", out / "fast_frl.md")
shutil.copy(group / "summary.json", out / "summary.json")
print((out / "fast_frl.md").read_text())
PY
