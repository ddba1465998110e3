"""Noise robustness: test macro AUC under the paper's six physiological noise levels.

Run from the repository root::

    python benchmarks/noise_robustness.py [--data ../shared/data/ptb-xl] [--method cpc]

Models, each trained with ``skecg.evaluation.paper_recipe`` (epochs scaled by the CPU preset of
``paper_table.py``): the pretrained encoder finetuned, its linear evaluation, and the same
architecture trained supervised from scratch. Baseline wander, EM noise, powerline noise and
baseline shifts are drawn for each 2.5 s window of the test records (stride 1.25 s, as the
reference code adds them) and added together in mV at each level (level 0 is clean); window
probabilities are averaged per record. A model whose recipe standardises its input does so after
the noise. The self-supervised rows carry the paired bootstrap difference to the supervised
model on the same noisy windows (``delta`` [``delta_low``, ``delta_high``]).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _report import header, line_plot  # noqa: E402
from paper_table import DEFAULT_DATA, PRESETS, RESULTS  # noqa: E402

from skecg.datasets import load_ptbxl, ptbxl_split  # noqa: E402
from skecg.evaluation import (  # noqa: E402
    describe_recipe,
    fit_classifier,
    input_scaler,
    markdown_table,
    noise_robustness,
    paper_recipe,
)
from skecg.ssl import ENCODERS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--method", default="cpc", choices=sorted(ENCODERS))
    parser.add_argument("--seed", type=int, default=0)
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
    data = load_ptbxl(args.data, task=preset["task"], n_jobs=2)  # mV: noise is added in mV
    split = ptbxl_split(data.meta)
    params = dict(preset["methods"][args.method], random_state=args.seed)
    if args.pretrain_epochs is not None:
        params["max_epochs"] = args.pretrain_epochs
    scaler = input_scaler(paper_recipe(args.method, "linear")["input_scaling"],
                          data.X[split.train])
    pretrain = data.X[np.concatenate([split.train, split.valid])]
    encoder = ENCODERS[args.method](**params).fit(
        pretrain if scaler is None else scaler.transform(pretrain))
    name = args.method.upper()
    models, recipes = {}, {}
    for label, regime in ((f"{name} finetuned", "finetune"), (f"{name} linear", "linear"),
                          ("supervised", "supervised")):
        models[label], used = fit_classifier(encoder, data, regime=regime, splits=split,
                                             random_state=args.seed, **recipe)
        recipes[label] = f"{regime} (paper recipe): {describe_recipe(used)}"
    tables = []
    for label, model in models.items():
        baseline = None if label == "supervised" else models["supervised"]
        tables.append(noise_robustness(model, data, splits=split, baseline=baseline,
                                       n_bootstraps=500, random_state=args.seed)
                      .assign(model=label))
        print(markdown_table(tables[-1]), flush=True)
    table = pd.concat(tables, ignore_index=True)
    text = (header(f"PTB-XL at {args.data}: {len(data.X)} records, task {preset['task']}") +
            f"\nencoder: {args.method} {params}\nrecipe overrides: {recipe}\n" +
            "".join(f"recipe of {label}: {text}\n" for label, text in recipes.items()) + "\n" +
            markdown_table(table) + "\n")
    stem = Path(args.results) / f"noise_robustness_{args.method}"
    stem.with_suffix(".md").write_text(text)
    line_plot(table, "level", "model", stem.with_suffix(".png"), "noise level (0: clean)",
              "Robustness to physiological noise", band=False)
    print(text)


if __name__ == "__main__":
    main()
