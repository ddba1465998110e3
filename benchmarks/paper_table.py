"""The paper's table: linear evaluation and finetuning of SimCLR, BYOL, SwAV and CPC.

Run from the repository root::

    python benchmarks/paper_table.py --preset cpu [--data ../shared/data/ptb-xl]
    python benchmarks/paper_table.py --preset paper --data /path/to/full/ptb-xl --device cuda

For each method: self-supervised pretraining on folds 1-9 (labels unused), then
``skecg.evaluation.linear_evaluation`` (logistic probe on frozen embeddings, the same
architecture randomly initialised as baseline) and ``finetune_evaluation`` (head first, then all
layers with discriminative learning rates; the same architecture trained from scratch as the
supervised baseline). Test macro AUC on fold 10 with 95% bootstrap intervals.
The MiniRocket baseline is left out: neither aeon nor sktime installs beside scikit-learn 1.9 /
pandas 3.1 / numpy 2.4 today (both pin pandas<3.1; aeon's numba pin needs numpy<2.4).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _report import header, load_standardized_ptbxl  # noqa: E402

from skecg.cli import CPU_PRESETS  # noqa: E402
from skecg.evaluation import (  # noqa: E402
    finetune_evaluation,
    linear_evaluation,
    markdown_table,
    plot_table,
)
from skecg.ssl import ENCODERS  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ptb-xl"
PRESETS = {
    # the quickstart's CPU configurations trained 2.5x longer: about 4 minutes of pretraining
    # per method on 2 CPU cores for the 500 shared records
    "cpu": dict(
        task="superdiagnostic",
        methods={name: dict(params, max_epochs=int(2.5 * params["max_epochs"]))
                 for name, params in CPU_PRESETS.items()},
        finetune=dict(head_epochs=5, max_epochs=20, batch_size=64),
    ),
    # the paper's configuration: for a GPU and the full PTB-XL
    "paper": dict(
        task="all",
        methods={
            "simclr": dict(batch_size=4096, max_epochs=2000, lr=2.29e-3, warmup_epochs=10,
                           precision="bf16"),
            "byol": dict(batch_size=4096, max_epochs=2000, lr=2.29e-3, warmup_epochs=10,
                         precision="bf16"),
            "swav": dict(batch_size=4096, max_epochs=2000, lr=2.29e-3, warmup_epochs=10,
                         n_small_views=5, queue_length=8 * 4096, precision="bf16"),
            "cpc": dict(max_epochs=1000, precision="bf16"),
        },
        finetune=dict(head_epochs=50, max_epochs=70, batch_size=128),
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--methods", nargs="+", default=["simclr", "byol", "swav", "cpc"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-finetune", dest="finetune", action="store_false")
    args = parser.parse_args()
    preset = PRESETS[args.preset]

    data, split = load_standardized_ptbxl(args.data, preset["task"])
    out = [header(f"PTB-XL at {args.data}: {len(data.X)} records with a {preset['task']} label "
                  f"({data.y.shape[1]} labels; train {len(split.train)}, valid "
                  f"{len(split.valid)}, test {len(split.test)}). 500 records are 2.3% of "
                  "PTB-XL: not comparable with the paper's absolute values."),
           f"preset: {args.preset}", ""]
    print("\n".join(out), flush=True)
    tables = []
    for method in args.methods:
        params = dict(preset["methods"][method], device=args.device, random_state=args.seed)
        encoder = ENCODERS[method](**params)
        start = time.perf_counter()
        encoder.fit(data.X[np.concatenate([split.train, split.valid])])
        line = (f"{method}: pretrained {params['max_epochs']} epochs in "
                f"{time.perf_counter() - start:.0f} s ({params})")
        print(line, flush=True)
        out.append(line)
        tables.append(linear_evaluation(encoder, data, splits=split))
        if args.finetune:
            tables.append(finetune_evaluation(encoder, data, splits=split,
                                              random_state=args.seed, **preset["finetune"]))
        print(pd.concat(tables[-2:]).round(3).to_string(index=False), flush=True)
    table = pd.concat(tables, ignore_index=True)
    text = "\n".join(out) + "\n\n" + markdown_table(table) + "\n"
    stem = RESULTS / f"paper_table_{args.preset}"
    stem.with_suffix(".md").write_text(text)
    table.to_csv(stem.with_suffix(".csv"), index=False)
    plot_table(table, stem.with_suffix(".png"), title=f"PTB-XL ({preset['task']}) test macro AUC")
    print("\n" + text)


if __name__ == "__main__":
    main()
