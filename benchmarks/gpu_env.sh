# Sourced by the prepared device scripts that train on CIFAR-10 (gpu_frl_fast.sh, gpu_compare_fast.sh):
# the locations they read from the environment (the CPU tests point them at a tiny archive), the
# machine facts in $OUT/machine.txt, and the clock of their log lines. The GPU image has torch but
# no network: the scripts run from the tree (PYTHONPATH), unbuffered so that log lines come in order.
OUT=${OUT:-out}
RUNS=${RUNS:-/tmp/frl_runs}
DATA=${DATA:-/tmp/cifar10_q75}
TGZ=${TGZ:-data/cifar10_jpeg_q75.tgz}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
  python -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda)"
  nproc
} > "$OUT/machine.txt" 2>&1
SECONDS=0
