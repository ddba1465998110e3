"""Label efficiency: the paper's curves on the first k training folds, cross-validated.

Run from the repository root::

    python benchmarks/label_efficiency.py [--data ../shared/data/ptb-xl] [--method cpc]
        [--encoders CACHE]

PTB-XL's folds are rotated (``fold_rotation``, ``--n-splits``), so every labelled record is
tested once. Per split, the encoder is pretrained (labels unused) on the split's training and
validation records (or loaded from ``paper_table.py --cache``). For k of the split's training
folds: the encoder finetuned, its linear evaluation, and the same architecture trained from
scratch, each with ``skecg.evaluation.paper_recipe`` (epochs scaled by ``epoch_scale``),
selected on the split's validation folds; test scores of all splits are pooled (macro AUC,
95% bootstrap interval; finetuned rows carry the paired difference to supervised training on
the same folds).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _report import encoders_per_split, header, line_plot  # noqa: E402
from paper_table import DEFAULT_DATA, PRESETS, RESULTS  # noqa: E402

from skecg.datasets import fold_rotation, load_ptbxl  # noqa: E402
from skecg.evaluation import label_efficiency, markdown_table  # noqa: E402
from skecg.ssl import ENCODERS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.relpath(DEFAULT_DATA))
    parser.add_argument("--method", default="cpc", choices=sorted(ENCODERS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1, help="trainings per point (n_seeds)")
    parser.add_argument("--folds", type=int, nargs="+", default=[1, 2, 4, 6],
                        help="training folds used (of 6 with 5 splits)")
    parser.add_argument("--n-splits", type=int, default=5)
    parser.add_argument("--encoders", default=None,
                        help="paper_table.py's --cache folder of per-split encoders")
    parser.add_argument("--epoch-scale", type=float, default=None,
                        help="override the preset's epoch_scale of the recipes")
    parser.add_argument("--pretrain-epochs", type=int, default=None,
                        help="override the preset's pretraining epochs (smoke runs)")
    parser.add_argument("--results", default=str(RESULTS),
                        help="output folder (smoke runs: somewhere else than results/)")
    args = parser.parse_args()
    preset = PRESETS["cpu"]
    recipe = dict(preset["recipe"])
    if args.epoch_scale is not None:
        recipe["epoch_scale"] = args.epoch_scale
    data = load_ptbxl(args.data, task=preset["task"], n_jobs=2)  # mV: each model scales its own
    cv = fold_rotation(data.meta, n_splits=args.n_splits)
    params = dict(preset["methods"][args.method], random_state=args.seed)
    if args.pretrain_epochs is not None:
        params["max_epochs"] = args.pretrain_epochs
    wall, cpu = time.perf_counter(), time.process_time()
    encoders, source = encoders_per_split(args.method, data, cv, params, args.encoders)
    common = dict(n_folds=args.folds, cv=cv, n_bootstraps=500, n_seeds=args.seeds,
                  random_state=args.seed)
    # the linear layer trains on precomputed embeddings: the paper's steps are affordable
    table = pd.concat([
        label_efficiency(encoders, data, regimes=["finetune", "supervised"], **common,
                         **recipe),
        label_efficiency(encoders, data, regimes=["linear"], **common),
    ]).sort_values(["n_folds", "regime"], kind="stable", ignore_index=True)
    recipe = {"finetune and supervised": recipe, "linear": "the paper's 50 PTB-XL epochs"}
    took = (f"took {time.perf_counter() - wall:.0f} s wall, {time.process_time() - cpu:.0f} s "
            "CPU")
    text = (header(f"PTB-XL at {args.data}: {len(data.X)} records, task {preset['task']}, "
                   f"cross-validated over {args.n_splits} rotations of the folds") +
            f"\n{source}\nrecipe overrides: {recipe}; seeds {args.seeds}; {took}\n\n" +
            markdown_table(table) + "\n")
    stem = Path(args.results) / f"label_efficiency_{args.method}"
    stem.with_suffix(".md").write_text(text)
    line_plot(table.assign(curve=table["regime"]), "n_folds", "curve", stem.with_suffix(".png"),
              "training folds used per split", "Label efficiency (paper recipes, pooled "
              "over splits)")
    print(text)


if __name__ == "__main__":
    main()
