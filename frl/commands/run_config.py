"""``frl run CONFIG``: train (resumably) and evaluate the run or the stages a TOML file describes.

The format is :mod:`deep.pipeline`'s: ``[run]`` (``name``, ``table``) and ``[train]`` (settings of
``frl train`` without the dashes), or ``[[stage]]`` tables run in order. A staged pipeline ends
with ``summary.json`` and ``summary.md`` beside its stages: the six numbers per stage, each
stage's change against the first, the targets, and the class-wise errors. ``--seeds 0 1 2`` runs
it once per seed; a config whose ``[run]`` says ``compare = "<stage>"`` (configs/compare/) ends with
``frl compare``'s table and figure over the seeds; one whose ``[run]`` says ``summary = "<stage>"``
(configs/cpu/cifar10_frl.toml) ends every seed with summary.json / summary.md over the seeds so far:
mean ± std, 95 % intervals and the paired changes against that stage. ``--jobs N`` trains N stages
(of any seed) at once, each in its own process (:mod:`deep.side_by_side`).
"""

from __future__ import annotations

from ..parsing import path, whole

PROG = "frl run"


def register(sub) -> None:
    p = sub.add_parser("run", help="train and evaluate the run a TOML config describes (resumable)",
                       description=__doc__.splitlines()[0])
    p.add_argument("config", help="TOML file, e.g. configs/paper/table2/pgd_at.toml")
    p.add_argument("--runs", type=path, default="runs", help="root of the run directories (default runs)")
    p.add_argument("--device", default=None, help="cpu or cuda (default cpu)")
    p.add_argument("--data-dir", default=None, help="dataset location")
    p.add_argument("--download", action="store_true", help="download the dataset into --data-dir")
    p.add_argument("--seeds", type=whole, nargs="+", default=None, metavar="N",
                   help="run the whole config once per seed, into <stage>/seed_N (e.g. --seeds 0 1 2); with "
                        "[run] compare = STAGE, the stages are then compared over the seeds (frl compare)")
    p.add_argument("--train-set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one [train] key in every stage (repeatable; a TOML value or a bare word, e.g. "
                        "epochs=1 or model=small_cnn); for quick trials, the run directories record it")
    p.add_argument("--jobs", type=whole, default=1, metavar="N",
                   help="train up to N stages side by side, each in its own process with its share of the threads, "
                        "a stage once the stage it starts from has finished (default 1; on 2 cores of an AVX-512 BF16 "
                        "CPU --jobs 2 trained two compact_cnn stages 1.14-1.23x faster than one after another, "
                        "docs/speed.md)")
    p.set_defaults(func=run)


def run(args) -> int:
    from deep.pipeline import parse_overrides, run_pipeline
    from figures.pipeline import pipeline_markdown
    from figures.seeds import write_seeds_summary

    from .train import stderr_log

    if args.device:
        from deep.build import resolve_device

        resolve_device(args.device)  # named before the config is read

    from .compare import write_compare

    run_pipeline(args.config, runs=args.runs, device=args.device, data_dir=args.data_dir, download=args.download,
                 overrides=parse_overrides(args.train_set), log=stderr_log,
                 markdown=lambda evals: pipeline_markdown(evals, title=f"{args.config}"), seeds=args.seeds,
                 compare=lambda folder, base, seeds: write_compare(folder, base, seeds=seeds),
                 summarise=lambda folder, start, names: write_seeds_summary(folder, start, names, title=args.config),
                 jobs=args.jobs)
    return 0
