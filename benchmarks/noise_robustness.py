"""Noise robustness under the paper's six physiological noise levels, cross-validated.

Run from the repository root::

    python benchmarks/noise_robustness.py [--data ../shared/data/ptb-xl] [--method cpc]
        [--encoders CACHE]

PTB-XL's folds are rotated (``fold_rotation``, ``--n-splits``), so every labelled record is
tested once. Per split, models are trained with ``skecg.evaluation.paper_recipe`` (epochs
scaled by the CPU preset of ``paper_table.py``): the split's pretrained encoder (pretrained on
its training and validation records, or loaded from ``paper_table.py --cache``) finetuned, its
linear evaluation, and the same architecture trained supervised from scratch. Baseline wander,
EM noise, powerline noise and baseline shifts are drawn for each 2.5 s window of the test
records (stride 1.25 s, as the reference code adds them) and added together in mV at each
level (level 0 is clean); window probabilities are averaged per record and pooled over splits.
A model whose recipe standardises its input does so after the noise. The self-supervised rows
carry the paired bootstrap difference to the supervised model on the same noisy windows.
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
from skecg.evaluation import (  # noqa: E402
    describe_recipe,
    fit_classifier,
    markdown_table,
    noise_robustness,
)
from skecg.ssl import ENCODERS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.relpath(DEFAULT_DATA))
    parser.add_argument("--method", default="cpc", choices=sorted(ENCODERS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-splits", type=int, default=5)
    parser.add_argument("--encoders", default=None,
                        help="paper_table.py's --cache folder of per-split encoders")
    parser.add_argument("--epoch-scale", type=float, default=None,
                        help="override the preset's epoch_scale of the recipes")
    parser.add_argument("--pretrain-epochs", type=int, default=None,
                        help="override the preset's pretraining epochs")
    parser.add_argument("--results", default=str(RESULTS),
                        help="output folder (smoke runs: somewhere else than results/)")
    args = parser.parse_args()
    preset = PRESETS["cpu"]
    recipe = dict(preset["recipe"])
    if args.epoch_scale is not None:
        recipe["epoch_scale"] = args.epoch_scale
    data = load_ptbxl(args.data, task=preset["task"], n_jobs=2)  # mV: noise is added in mV
    cv = fold_rotation(data.meta, n_splits=args.n_splits)
    params = dict(preset["methods"][args.method], random_state=args.seed)
    if args.pretrain_epochs is not None:
        params["max_epochs"] = args.pretrain_epochs
    wall, cpu = time.perf_counter(), time.process_time()
    encoders, source = encoders_per_split(args.method, data, cv, params, args.encoders)
    name = args.method.upper()
    models, recipes = {}, {}
    for label, regime in ((f"{name} finetuned", "finetune"), (f"{name} linear", "linear"),
                          ("supervised", "supervised")):
        models[label] = []
        for encoder, split in zip(encoders, cv, strict=True):
            # the linear layer trains on precomputed embeddings: the paper's steps fit
            model, info = fit_classifier(encoder, data, regime=regime, splits=split,
                                         random_state=args.seed,
                                         **({} if regime == "linear" else recipe))
            models[label].append(model)
        recipes[label] = f"{regime} (paper recipe): {describe_recipe(info.params)}"
    tables = []
    for label, per_split in models.items():
        baseline = None if label == "supervised" else models["supervised"]
        tables.append(noise_robustness(per_split, data, cv=cv, baseline=baseline,
                                       n_bootstraps=500, random_state=args.seed)
                      .assign(model=label))
        print(markdown_table(tables[-1]), flush=True)
    table = pd.concat(tables, ignore_index=True)
    took = (f"took {time.perf_counter() - wall:.0f} s wall, {time.process_time() - cpu:.0f} s "
            "CPU")
    text = (header(f"PTB-XL at {args.data}: {len(data.X)} records, task {preset['task']}, "
                   f"cross-validated over {args.n_splits} rotations of the folds") +
            f"\n{source}\nrecipe overrides: {recipe}; {took}\n" +
            "".join(f"recipe of {label}: {text}\n" for label, text in recipes.items()) + "\n" +
            markdown_table(table) + "\n")
    stem = Path(args.results) / f"noise_robustness_{args.method}"
    stem.with_suffix(".md").write_text(text)
    line_plot(table, "level", "model", stem.with_suffix(".png"), "noise level (0: clean)",
              "Robustness to physiological noise (pooled over splits)", band=False)
    print(text)


if __name__ == "__main__":
    main()
