"""Label efficiency: the paper's curves on the first k PTB-XL training folds.

Run from the repository root::

    python benchmarks/label_efficiency.py [--data ../shared/data/ptb-xl] [--method cpc]

The encoder is pretrained (labels unused) on folds 1-9 with the CPU preset of
``paper_table.py`` (input scaled as the method's recipe says). For k = 1..8 training folds:
the encoder finetuned, its linear evaluation, and the same architecture trained from scratch,
each with ``skecg.evaluation.paper_recipe`` (epochs scaled by the preset's ``epoch_scale``),
selected on fold 9 and scored on fold 10 (macro AUC, 95% bootstrap interval; finetuned rows
carry the paired difference to supervised training on the same folds).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _report import header, line_plot  # noqa: E402
from paper_table import DEFAULT_DATA, PRESETS, RESULTS  # noqa: E402

from skecg.datasets import load_ptbxl, ptbxl_split  # noqa: E402
from skecg.evaluation import (  # noqa: E402
    input_scaler,
    label_efficiency,
    markdown_table,
    paper_recipe,
)
from skecg.ssl import ENCODERS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--method", default="cpc", choices=sorted(ENCODERS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1, help="trainings per point (n_seeds)")
    parser.add_argument("--folds", type=int, nargs="+", default=list(range(1, 9)))
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
    data = load_ptbxl(args.data, task=preset["task"], n_jobs=2)  # mV: scaled per recipe
    split = ptbxl_split(data.meta)
    params = dict(preset["methods"][args.method], random_state=args.seed)
    if args.pretrain_epochs is not None:
        params["max_epochs"] = args.pretrain_epochs
    scaler = input_scaler(paper_recipe(args.method, "linear")["input_scaling"],
                          data.X[split.train])
    pretrain = data.X[np.concatenate([split.train, split.valid])]
    encoder = ENCODERS[args.method](**params).fit(
        pretrain if scaler is None else scaler.transform(pretrain))
    table = label_efficiency(encoder, data, n_folds=args.folds, splits=split, n_bootstraps=500,
                             n_seeds=args.seeds, random_state=args.seed, **recipe)
    text = (header(f"PTB-XL at {args.data}: {len(data.X)} records, task {preset['task']}") +
            f"\nencoder: {args.method} {params}\nrecipe overrides: {recipe}; seeds "
            f"{args.seeds}\n\n" + markdown_table(table) + "\n")
    stem = Path(args.results) / f"label_efficiency_{args.method}"
    stem.with_suffix(".md").write_text(text)
    line_plot(table.assign(curve=table["regime"]), "n_folds", "curve", stem.with_suffix(".png"),
              "training folds used (of 8)", "Label efficiency (paper recipes)")
    print(text)


if __name__ == "__main__":
    main()
