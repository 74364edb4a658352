"""Each CPU speed trick measured alone and together, per model: what deep/fast_path.py's defaults rest on.

Usage (on an otherwise idle machine; 2 cores here):
    python benchmarks/cpu_fast_path.py                         # compact_cnn and small_cnn, all rows
    python benchmarks/cpu_fast_path.py --models compact_cnn --repeats 3

Rows, each the median over ``--repeats`` timed batches (small_cnn: 8x as many) after warm-up batches:

* ``train``: one PGD-AT training step (the project's PGDAT loss with its PGD, backward, SGD step;
  PGD-3 at 8/255 on CIFAR-sized 3x32x32 input for compact_cnn, PGD-10 at 0.2 on digits' 1x8x8 for
  small_cnn) at the model's batch size, in fp32, bf16 autocast, channels_last, both, and both with
  torch.compile; with 1 and 2 threads; and as two processes of 1 thread each, side by side (their
  images per second summed: what two stages or seeds run at once get from the 2 cores, ``frl run --jobs``);
* ``eval``: PGD-20-style evaluation steps (eval mode, fp32, input gradients only) of the plain
  module, in channels_last, and folded (conv + BN folded, channels_last: ``deep.fast_path.eval_module``);
* ``width``: the compact_cnn training step (bf16 + channels_last) at other widths (``--widths``),
  the measurement that chose its widths;
* ``data``: one epoch's batches of the data path alone: the whole uint8 split with crop + flip as
  tensor ops (``deep.data.BatchLoader``), against torchvision's transforms (RandomCrop(32, 4),
  RandomHorizontalFlip, ToTensor) over a DataLoader of PIL images, the reference codes' path.

Prints a table and writes the rows to benchmarks/results/cpu_fast_path.json (replacing that file).
Synthetic inputs of the real shapes; numbers are images per second.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from deep.atomic_files import write_text
from deep.attacks import eval_attack, training_attack
from deep.data import BatchLoader, TensorData
from deep.fast_path import FastPath, eval_module
from deep.methods.pgd_at import PGDAT
from deep.models import CompactCNN, build_model

SETUPS = {  # model: (input shape, batch, train eps, train steps, step)
    "compact_cnn": ((3, 32, 32), 128, 8 / 255, 3, 20 / 765),
    "small_cnn": ((1, 8, 8), 16, 0.2, 10, 0.05),
}
# small_cnn's step at batch 16 takes ~15 ms, dominated by per-call overhead: 8x the timed steps
REPEATS_FACTOR = {"compact_cnn": 1, "small_cnn": 8}
TRAIN_VARIANTS = (("fp32", FastPath()), ("bf16", FastPath(bf16=True)), ("channels_last", FastPath(channels_last=True)),
                  ("bf16 + channels_last", FastPath(bf16=True, channels_last=True)),
                  ("bf16 + channels_last + compile", FastPath(bf16=True, channels_last=True, compile=True)))


def _median_rate(step, n_images, warmup, repeats):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return n_images / statistics.median(times)


def train_rate(name, path: FastPath, warmup, repeats, threads=None, widths=None):
    shape, batch, eps, steps, step = SETUPS[name]
    torch.manual_seed(0)
    model = build_model(name, 10, shape[0]) if widths is None else CompactCNN(10, shape[0], widths=widths)
    if path.channels_last:
        model = model.to(memory_format=torch.channels_last)
    method = PGDAT(10, eps, training_attack("ce", eps, steps, step))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    net = torch.compile(model) if path.compile else model
    x, y = torch.rand(batch, *shape), torch.randint(0, 10, (batch,))
    if path.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)

    def one():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=path.bf16):
            loss = method.loss(net, x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    try:
        return _median_rate(one, batch, warmup + (3 if path.compile else 0), repeats)
    finally:
        torch.set_num_threads(old)


def _worker_rate(args):
    """One process of :func:`concurrent_train_rate`: wait for the others, then time its own steps."""
    barrier, name, path, warmup, repeats, threads = args
    torch.set_num_threads(threads)
    barrier.wait()
    return train_rate(name, path, warmup, repeats, threads=threads)


def concurrent_train_rate(name, path: FastPath, processes, warmup, repeats, threads=1):
    """Images per second of ``processes`` training processes of ``threads`` threads each, run at once, summed."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(processes)
        with ctx.Pool(processes) as pool:
            rates = pool.map(_worker_rate, [(barrier, name, path, warmup, repeats, threads)] * processes)
    return sum(rates)


def eval_rate(name, variant, warmup, repeats, batch=500, steps=5):
    """Images x attack steps per second of the evaluation PGD (eval mode, fp32)."""
    shape, _, eps, _, _ = SETUPS[name]
    torch.manual_seed(0)
    model = build_model(name, 10, shape[0]).eval()
    x, y = torch.rand(batch, *shape), torch.randint(0, 10, (batch,))
    if variant == "channels_last":
        model = copy.deepcopy(model).to(memory_format=torch.channels_last)
    elif variant == "folded":
        model = eval_module(model, FastPath(eval_folded=True))
    attack = eval_attack(eps, steps, "linf")
    return _median_rate(lambda: attack(model, x, y), batch * steps, warmup, repeats)


def data_rates(n=10_000, batch=128):
    g = torch.Generator().manual_seed(0)
    data = TensorData(torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g), torch.arange(n) % 10,
                      tuple(str(i) for i in range(10)), augment=True)
    loader = BatchLoader(data, batch, shuffle=True)
    t0 = time.perf_counter()
    for _ in loader:
        pass
    ours = n / (time.perf_counter() - t0)
    from PIL import Image
    from torchvision import transforms

    images = [Image.fromarray(a) for a in data.x.permute(0, 2, 3, 1).numpy()]
    tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                             transforms.ToTensor()])

    class PIL(torch.utils.data.Dataset):
        def __len__(self):
            return n

        def __getitem__(self, i):
            return tf(images[i]), int(data.y[i])

    t0 = time.perf_counter()
    for _ in torch.utils.data.DataLoader(PIL(), batch_size=batch, shuffle=True):
        pass
    return ours, n / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="compact_cnn,small_cnn")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--widths", default="32-32-64-128,32-64-128-256,48-96-192-384",
                    help="compact_cnn widths (stem-block1-block2-block3) of the width rows; '' for none")
    ap.add_argument("--out", default=str(Path(__file__).with_name("results") / "cpu_fast_path.json"))
    args = ap.parse_args()
    meta = {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "capability": torch.backends.cpu.get_cpu_capability(),
            "date": datetime.date.today().isoformat()}
    rows = []

    def add(**row):
        rows.append({**row, **meta})
        print(f"{row['model']:<12} {row['kind']:<6} {row['variant']:<34} {row['images_per_s']:9.0f} img/s"
              + (f"   x{row['vs_plain']:.2f}" if "vs_plain" in row else ""), flush=True)

    for name in filter(None, args.models.split(",")):
        shape, batch, eps, steps, _ = SETUPS[name]
        repeats = args.repeats * REPEATS_FACTOR[name]
        base = None
        for label, path in TRAIN_VARIANTS:
            rate = train_rate(name, path, args.warmup, repeats)
            base = base or rate
            add(model=name, kind="train", variant=label, batch=batch, attack_steps=steps, repeats=repeats,
                images_per_s=round(rate, 1), vs_plain=round(rate / base, 2))
        best = FastPath(bf16=True, channels_last=True)
        for threads in (1, 2):
            rate = train_rate(name, best, args.warmup, repeats, threads=threads)
            add(model=name, kind="train", variant=f"bf16 + channels_last, {threads} thread(s)", batch=batch,
                attack_steps=steps, images_per_s=round(rate, 1), vs_plain=round(rate / base, 2))
        rate = concurrent_train_rate(name, best, 2, args.warmup, repeats)
        add(model=name, kind="train", variant="bf16 + channels_last, 2 processes x 1 thread", batch=batch,
            attack_steps=steps, images_per_s=round(rate, 1), vs_plain=round(rate / base, 2))
        ebase = None
        for variant in ("plain", "channels_last", "folded"):
            rate = eval_rate(name, variant, args.warmup, repeats)
            ebase = ebase or rate
            add(model=name, kind="eval", variant=f"fp32 {variant}", batch=500, images_per_s=round(rate, 1),
                vs_plain=round(rate / ebase, 2), unit="images x attack steps per second")
    for w in filter(None, args.widths.split(",")):
        widths = tuple(int(v) for v in w.split("-"))
        model = CompactCNN(widths=widths)
        rate = train_rate("compact_cnn", FastPath(bf16=True, channels_last=True), args.warmup, args.repeats,
                          widths=widths)
        add(model="compact_cnn", kind="width", variant=f"widths {w}, bf16 + channels_last", batch=SETUPS[
            "compact_cnn"][1], parameters=sum(p.numel() for p in model.parameters()), images_per_s=round(rate, 1))
    ours, ref = data_rates()
    add(model="(data)", kind="data", variant="uint8 split + tensor crop/flip", images_per_s=round(ours, 1),
        vs_plain=round(ours / ref, 2))
    add(model="(data)", kind="data", variant="torchvision transforms + DataLoader", images_per_s=round(ref, 1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_text(args.out, json.dumps(rows, indent=1) + "\n")
    print(f"wrote {len(rows)} rows to {args.out}")


if __name__ == "__main__":
    main()
