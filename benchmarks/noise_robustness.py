"""Noise robustness: test macro AUC under the paper's six physiological noise levels.

Run from the repository root::

    python benchmarks/noise_robustness.py [--data ../shared/data/ptb-xl] [--method cpc]

Models: the pretrained encoder + logistic probe (CPU preset of ``paper_table.py``), the same
architecture randomly initialised + probe, and the same architecture trained supervised from
scratch (``ECGClassifier``). Baseline wander, EM noise, powerline noise and baseline shifts are
added together to the (standardised) test records at each level; level 0 is clean.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.pipeline import make_pipeline
from skorch.dataset import Dataset
from skorch.helper import predefined_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _report import header, line_plot, load_standardized_ptbxl  # noqa: E402
from paper_table import DEFAULT_DATA, PRESETS, RESULTS  # noqa: E402

from skecg.classifier import ECGClassifier  # noqa: E402
from skecg.evaluation import (  # noqa: E402
    fit_probe,
    markdown_table,
    noise_robustness,
    supervised_baseline_params,
)
from skecg.ssl import ENCODERS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--method", default="cpc", choices=sorted(ENCODERS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    preset = PRESETS["cpu"]
    data, split = load_standardized_ptbxl(args.data, preset["task"])
    params = dict(preset["methods"][args.method], random_state=args.seed)
    pretrain = data.X[np.concatenate([split.train, split.valid])]
    models = {}
    for label, epochs in ((args.method.upper(), params["max_epochs"]), ("random init", 0)):
        encoder = ENCODERS[args.method](**{**params, "max_epochs": epochs}).fit(pretrain)
        features = {k: encoder.transform(data.X[idx]) for k, idx in split.items()}
        probe, _ = fit_probe(features["train"], data.y[split.train], features["valid"],
                             data.y[split.valid])
        models[f"{label} + probe"] = make_pipeline(encoder, probe)
    valid = Dataset(data.X[split.valid], data.y[split.valid])
    supervised = ECGClassifier(**supervised_baseline_params(encoder), max_epochs=15, batch_size=64,
                               random_state=args.seed, train_split=predefined_split(valid))
    models["supervised"] = supervised.fit(data.X[split.train], data.y[split.train])
    tables = []
    for label, model in models.items():
        tables.append(noise_robustness(model, data, splits=split, n_bootstraps=500,
                                       random_state=args.seed).assign(model=label))
        print(markdown_table(tables[-1]), flush=True)
    table = pd.concat(tables, ignore_index=True)
    text = (header(f"PTB-XL at {args.data}: {len(data.X)} records, task {preset['task']}") +
            f"\nencoder: {args.method} {params}\n\n" + markdown_table(table) + "\n")
    stem = RESULTS / f"noise_robustness_{args.method}"
    stem.with_suffix(".md").write_text(text)
    line_plot(table, "level", "model", stem.with_suffix(".png"), "noise level (0: clean)",
              "Robustness to physiological noise", band=False)
    print(text)



if __name__ == "__main__":
    main()
