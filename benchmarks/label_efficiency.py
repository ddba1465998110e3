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

from _report import header  # noqa: E402
from paper_table import DEFAULT_DATA, PRESETS, RESULTS  # noqa: E402

from skecg.datasets import load_ptbxl, ptbxl_split  # noqa: E402
from skecg.evaluation import label_efficiency, markdown_table  # noqa: E402
from skecg.preprocessing import LeadStandardizer  # noqa: E402
from skecg.ssl import ENCODERS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--method", default="cpc", choices=sorted(ENCODERS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    preset = PRESETS["cpu"]
    data = load_ptbxl(args.data, task=preset["task"], n_jobs=2)
    split = ptbxl_split(data.meta)
    data.X = LeadStandardizer().fit(data.X[split.train]).transform(data.X)
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
    plot(table, stem.with_suffix(".png"))
    print(text)


def plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, rows in table.groupby("pretraining", sort=False):
        ax.plot(rows["n_folds"], rows["test_auc"], marker="o", label=label)
        ax.fill_between(rows["n_folds"], rows["test_auc_low"], rows["test_auc_high"], alpha=0.2)
    ax.set_xlabel("training folds used (of 8)")
    ax.set_ylabel("test macro AUC")
    ax.set_title("Label efficiency (linear probe)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
