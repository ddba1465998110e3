"""The paper's table: linear evaluation and finetuning of SimCLR, BYOL, SwAV and CPC.

Run from the repository root::

    python benchmarks/paper_table.py --preset cpu [--data ../shared/data/ptb-xl]
    python benchmarks/paper_table.py --preset paper --data /path/to/full/ptb-xl --device cuda

For each method: self-supervised pretraining on folds 1-9 (labels unused; CPC on per-lead
standardised input, SimCLR/BYOL/SwAV on raw mV, as the reference), then
``skecg.evaluation.linear_evaluation`` (the reference's linear layer on the frozen encoder, the
same architecture randomly initialised as baseline) and ``finetune_evaluation`` (the method's
reference recipe; the same architecture trained from scratch as the supervised baseline), both
with ``skecg.evaluation.paper_recipe``. Test macro AUC on fold 10 with 95% bootstrap intervals;
rows with a baseline carry the paired bootstrap difference to it (``delta``). The CPU preset
scales the recipes' epochs only (``epoch_scale``), never their shape.
When aeon is importable (the ``baselines`` extra, in its own virtual environment since aeon pins
pandas<3.1 and numba<0.64, hence numpy<2.4), a MiniRocket + ridge row is added on the same splits,
with its paired difference to supervised training of the first method's architecture (that
method's "supervised" row, retrained with the same seed).
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

from _report import header  # noqa: E402

from skecg.baselines import aeon_available, minirocket_evaluation  # noqa: E402
from skecg.cli import CPU_PRESETS  # noqa: E402
from skecg.datasets import load_ptbxl, ptbxl_split  # noqa: E402
from skecg.evaluation import (  # noqa: E402
    finetune_evaluation,
    fit_classifier,
    input_scaler,
    linear_evaluation,
    markdown_table,
    paper_recipe,
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
        recipe=dict(epoch_scale=0.4),  # the paper recipes at 40% of their epochs
    ),
    # the paper's configuration: for a GPU and the full PTB-XL
    "paper": dict(
        task="all",
        methods={
            "simclr": dict(batch_size=4096, max_epochs=2000, lr=2.29e-3, warmup_epochs=10,
                           precision="bf16"),
            "byol": dict(batch_size=4096, max_epochs=2000, lr=2.29e-3, warmup_epochs=10,
                         projection_dim=16, precision="bf16"),  # the reference's out_dim 16
            # the reference's SwAV run: 6 views of 250 samples, lr 1e-3, weight decay 1e-6
            "swav": dict(batch_size=4096, max_epochs=2000, lr=1e-3, weight_decay=1e-6,
                         warmup_epochs=10, n_views=6, n_small_views=0, crop_length=250,
                         queue_length=8 * 4096, precision="bf16"),
            "cpc": dict(max_epochs=1000, precision="bf16"),
        },
        recipe={},  # the reference's recipes exactly
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--methods", nargs="+", default=["simclr", "byol", "swav", "cpc"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1,
                        help="classifier trainings per protocol (n_seeds)")
    parser.add_argument("--epoch-scale", type=float, default=None,
                        help="override the preset's epoch_scale of the recipes")
    parser.add_argument("--pretrain-epochs", type=int, default=None,
                        help="override the preset's pretraining epochs (smoke runs)")
    parser.add_argument("--results", default=str(RESULTS),
                        help="output folder (smoke runs: somewhere else than results/)")
    parser.add_argument("--no-finetune", dest="finetune", action="store_false")
    args = parser.parse_args()
    preset = PRESETS[args.preset]
    recipe = dict(preset["recipe"])
    if args.epoch_scale is not None:
        recipe["epoch_scale"] = args.epoch_scale

    data = load_ptbxl(args.data, task=preset["task"], n_jobs=2)  # mV: scaled per recipe
    split = ptbxl_split(data.meta)
    out = [header(f"PTB-XL at {args.data}: {len(data.X)} records with a {preset['task']} label "
                  f"({data.y.shape[1]} labels; train {len(split.train)}, valid "
                  f"{len(split.valid)}, test {len(split.test)}). 500 records are 2.3% of "
                  "PTB-XL: not comparable with the paper's absolute values."),
           f"preset: {args.preset}; recipe overrides {recipe}; seeds {args.seeds}", ""]
    print("\n".join(out), flush=True)
    tables, encoders = [], {}
    for method in args.methods:
        params = dict(preset["methods"][method], device=args.device, random_state=args.seed)
        if args.pretrain_epochs is not None:
            params["max_epochs"] = args.pretrain_epochs
        encoder = ENCODERS[method](**params)
        scaler = input_scaler(paper_recipe(method, "linear")["input_scaling"],
                              data.X[split.train])
        pretrain = data.X[np.concatenate([split.train, split.valid])]
        start = time.perf_counter()
        encoder.fit(pretrain if scaler is None else scaler.transform(pretrain))
        encoders[method] = encoder
        line = (f"{method}: pretrained {params['max_epochs']} epochs in "
                f"{time.perf_counter() - start:.0f} s ({params})")
        print(line, flush=True)
        out.append(line)
        common = dict(splits=split, n_seeds=args.seeds, random_state=args.seed,
                      device=args.device, **recipe)
        tables.append(linear_evaluation(encoder, data, **common))
        if args.finetune:
            tables.append(finetune_evaluation(encoder, data, **common))
        print(pd.concat(tables[-2:]).round(3).to_string(index=False), flush=True)
    if aeon_available():
        reference = args.methods[0]
        supervised, _ = fit_classifier(encoders[reference], data, regime="supervised",
                                       splits=split, random_state=args.seed, device=args.device,
                                       **recipe)
        minirocket = minirocket_evaluation(
            data, splits=split, baseline=supervised, n_jobs=2, random_state=args.seed,
            baseline_name=f"supervised ({reference} architecture, {reference}'s recipe)")
        line = (f"minirocket: {minirocket['recipe'][0]}; fitted in "
                f"{minirocket.pop('fit_time')[0]:.0f} s (features and classifier, no pretraining)")
        print(line, flush=True)
        out.append(line)
        tables.append(minirocket)
    else:
        out.append("minirocket: left out (aeon is not importable here; see the baselines extra)")
    table = pd.concat(tables, ignore_index=True)
    text = "\n".join(out) + "\n\n" + markdown_table(table) + "\n"
    stem = Path(args.results) / f"paper_table_{args.preset}"
    stem.with_suffix(".md").write_text(text)
    table.to_csv(stem.with_suffix(".csv"), index=False)
    plot_table(table, stem.with_suffix(".png"), title=f"PTB-XL ({preset['task']}) test macro AUC")
    print("\n" + text)


if __name__ == "__main__":
    main()
