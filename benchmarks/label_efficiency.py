"""Label efficiency: linear probes trained on the first k PTB-XL training folds only.

Run from the repository root::

    python benchmarks/label_efficiency.py [--data ../shared/data/ptb-xl] [--method cpc]

The encoder is pretrained (labels unused) on folds 1-9 with the CPU preset of
``paper_table.py``; the same architecture randomly initialised is the baseline. Each probe is
selected on fold 9 and scored on fold 10 (macro AUC, 95% bootstrap interval).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _report import header, line_plot, load_standardized_ptbxl  # noqa: E402
from paper_table import DEFAULT_DATA, PRESETS, RESULTS  # noqa: E402

from skecg.evaluation import label_efficiency, markdown_table  # noqa: E402
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
    tables = []
    for label, epochs in ((args.method.upper(), params["max_epochs"]), ("random init", 0)):
        encoder = ENCODERS[args.method](**{**params, "max_epochs": epochs}).fit(pretrain)
        table = label_efficiency(encoder, data, splits=split, n_bootstraps=500)
        tables.append(table.assign(pretraining=label))
        print(markdown_table(tables[-1]), flush=True)
    table = pd.concat(tables, ignore_index=True)
    text = (header(f"PTB-XL at {args.data}: {len(data.X)} records, task {preset['task']}") +
            f"\nencoder: {args.method} {params}\n\n" + markdown_table(table) + "\n")
    stem = RESULTS / f"label_efficiency_{args.method}"
    stem.with_suffix(".md").write_text(text)
    line_plot(table, "n_folds", "pretraining", stem.with_suffix(".png"),
              "training folds used (of 8)", "Label efficiency (linear probe)")
    print(text)



if __name__ == "__main__":
    main()
