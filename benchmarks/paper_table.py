"""The paper's table, cross-validated: linear evaluation and finetuning of the methods.

Run from the repository root::

    python benchmarks/paper_table.py --preset cpu [--data ../shared/data/ptb-xl] [--methods ...]
    python benchmarks/paper_table.py --merge PART.csv [PART.csv ...]   # combine parallel runs
    python benchmarks/paper_table.py --methods cmsc --recipe batch_size=32  # recipe overrides
    ~/skecg-baselines/bin/python benchmarks/paper_table.py --methods minirocket  # aeon's env
    python benchmarks/paper_table.py --preset paper --data /path/to/full/ptb-xl --device cuda

PTB-XL's ten stratified folds are rotated (``skecg.datasets.fold_rotation``, ``--n-splits``):
each split tests on one group of folds, selects epochs on the next and trains on the rest, so
every labelled record is tested exactly once. For each method and split, the encoder is
pretrained self-supervised on that split's training and validation signals (labels unused, test
records never seen; CPC standardises its input per lead, SimCLR/BYOL/SwAV use raw mV, as the
reference, and so do ST-MEM, JEPA and CMSC), then ``skecg.evaluation.linear_evaluation`` (the
reference's linear layer on the frozen encoder, trained for the recipe's epochs of the full
PTB-XL, against the same architecture randomly initialised) and ``finetune_evaluation`` (the
method's recipe, against the same architecture trained from scratch) run with
``skecg.evaluation.paper_recipe``. Test scores of all splits are pooled: one macro AUC over all
records with a 95% bootstrap interval, paired bootstrap differences to the baseline (``delta``)
over the same records, and the spread over splits (``split_auc_std``). The CPU preset scales
pretraining and the recipes' epochs only (``epoch_scale``), never their shape.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _report import encoders_per_split, header  # noqa: E402

from skecg.baselines import minirocket_evaluation  # noqa: E402
from skecg.cli import CPU_PRESETS  # noqa: E402
from skecg.datasets import fold_rotation, load_ptbxl  # noqa: E402
from skecg.evaluation import (  # noqa: E402
    finetune_evaluation,
    fit_classifier,
    linear_evaluation,
    markdown_table,
    plot_table,
    pretrain_per_split,
)
from skecg.ssl import ENCODERS  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ptb-xl"
PRESETS = {
    # the quickstart's CPU configurations; pretraining epochs per split are set on the command
    # line (--pretrain-epochs) to fit the time at hand, and every run states them
    "cpu": dict(task="superdiagnostic", methods=dict(CPU_PRESETS),
                recipe=dict(epoch_scale=0.4)),  # the paper recipes at 40% of their epochs
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
            # the authors' configurations (../shared/reference/methods.md), at 100 Hz.
            # ST-MEM: ViT-B/0.3 s on 9-s crops, mask 0.75, AdamW wd 0.01, lr 1.5e-4 x
            # batch/256, warm-up then cosine, 800 epochs (batch: skecg's; the authors' configs
            # leave it open)
            "stmem": dict(size="stmem-b", patch_length=30, crop_length=900, batch_size=256,
                          lr=1.5e-4, weight_decay=0.01, warmup_epochs=40, max_epochs=800,
                          precision="bf16"),
            # ECG-JEPA (Weimann & Conrad): ViT-S on 10-s records, keep 15-25 %, L1, EMA 0.998
            # -> 0.9995, AdamW lr 1e-3 after warm-up then cosine, batch 2048 (100k steps on
            # their 1 M records; PTB-XL's 17k records make ~120 steps per 100 epochs)
            "jepa": dict(size="jepa-s", crop_length=1000, batch_size=2048, lr=1e-3,
                         weight_decay=0.05, warmup_epochs=10, max_epochs=1000,  # wd: their
                         # cosine 0.01 -> 0.1 made constant
                         precision="bf16"),
            # CMSC (CLOCS): Adam lr 1e-4, no weight decay, batch 256, 400 epochs (the authors
            # stop early with patience 15); two 5-s halves of a 10-s record
            "cmsc": dict(crop_length=1000, batch_size=256, optimizer="adam", lr=1e-4,
                         weight_decay=0.0, max_epochs=400, precision="bf16"),
        },
        recipe={},  # the reference's recipes exactly
    ),
}


def run(args) -> None:
    preset = PRESETS[args.preset]
    recipe = dict(preset["recipe"])
    if args.epoch_scale is not None:
        recipe["epoch_scale"] = args.epoch_scale
    recipe.update(args.recipe)
    data = load_ptbxl(args.data, task=preset["task"], n_jobs=2)  # mV: each model scales its own
    cv = fold_rotation(data.meta, n_splits=args.n_splits)
    n_labelled = sum(len(s.test) for s in cv)
    out = [header(f"PTB-XL at {args.data}: {len(data.X)} records with a {preset['task']} label "
                  f"({data.y.shape[1]} labels), {n_labelled} in folds 1-10, cross-validated "
                  f"over {args.n_splits} rotations of the folds (test / valid / train folds "
                  f"{[(s.test_folds, s.valid_folds) for s in cv]}). 500 records are 2.3% of "
                  "PTB-XL: not comparable with the paper's absolute values."),
           f"preset: {args.preset}; finetuning recipe overrides {recipe}; linear recipe "
           f"epoch_scale {args.linear_epoch_scale} (of the paper's 50 PTB-XL epochs); "
           f"protocols {args.protocols}; seeds {args.seeds}", ""]
    print("\n".join(out), flush=True)
    tables = []
    for method in args.methods:
        if method == "minirocket":
            tables.append(minirocket_row(data, cv, recipe, args, out))
            continue
        params = dict(preset["methods"][method], device=args.device, random_state=args.seed)
        if args.pretrain_epochs is not None:
            params["max_epochs"] = args.pretrain_epochs
        wall, cpu = time.perf_counter(), time.process_time()
        if args.encoders:
            encoders, source = encoders_per_split(method, data, cv, params, args.encoders)
            print(source, flush=True)
            out.append(f"{method}: {source}")
        else:
            encoders = pretrain_per_split(ENCODERS[method](**params), data, cv)
        if not args.encoders:
            if args.cache:
                folder = Path(args.cache) / method
                folder.mkdir(parents=True, exist_ok=True)
                for i, encoder in enumerate(encoders):
                    encoder.save(folder / f"split{i}.skecg")
            line = (f"{method}: pretrained {params['max_epochs']} epochs per split x "
                    f"{len(cv)} splits in {time.perf_counter() - wall:.0f} s wall, "
                    f"{time.process_time() - cpu:.0f} s CPU ({params})")
            print(line, flush=True)
            out.append(line)
        common = dict(cv=cv, n_seeds=args.seeds, random_state=args.seed)
        on_device = dict(common, device=args.device)  # the probe trains no network
        runs = {"linear": (linear_evaluation, dict(on_device,
                                                   epoch_scale=args.linear_epoch_scale)),
                "probe": (linear_evaluation, dict(common, protocol="probe")),
                "finetune": (finetune_evaluation, dict(on_device, **recipe))}
        for name in args.protocols:
            protocol, kwargs = runs[name]
            wall, cpu = time.perf_counter(), time.process_time()
            tables.append(protocol(encoders, data, **kwargs))
            line = (f"{method}: {name} ({protocol.__name__}) in {time.perf_counter() - wall:.0f} "
                    f"s wall, {time.process_time() - cpu:.0f} s CPU")
            print(line, flush=True)
            out.append(line)
        print(pd.concat(tables[-len(args.protocols):]).round(3).to_string(index=False),
              flush=True)
    table = pd.concat(tables, ignore_index=True)
    stem = Path(args.results) / (f"paper_table_{args.preset}" + (f"_{args.part}" if args.part
                                                                   else ""))
    write(table, "\n".join(out), stem, preset["task"])


def minirocket_row(data, cv, recipe: dict, args, out: list) -> pd.DataFrame:
    """MiniRocket (aeon; its own environment) on the same rotations, with its paired delta to
    the xresnet1d50 trained from scratch by the SimCLR/BYOL/SwAV supervised recipe."""
    wall, cpu = time.perf_counter(), time.process_time()
    supervised = [fit_classifier("simclr", data, regime="supervised", splits=split,
                                 random_state=args.seed, **recipe)[0] for split in cv]
    line = (f"supervised xresnet1d50 (paper recipe, {recipe}) for MiniRocket's delta: "
            f"{time.perf_counter() - wall:.0f} s wall, {time.process_time() - cpu:.0f} s CPU")
    wall, cpu = time.perf_counter(), time.process_time()
    table = minirocket_evaluation(data, cv=cv, baseline=supervised,
                                  baseline_name="supervised xresnet1d50", n_jobs=1,
                                  random_state=args.seed)
    from aeon import __version__ as aeon_version

    line += (f"; minirocket_evaluation (aeon {aeon_version}) in "
             f"{time.perf_counter() - wall:.0f} s wall, "
             f"{time.process_time() - cpu:.0f} s CPU")
    print(line, flush=True)
    out.append(f"minirocket: {line}")
    return table.drop(columns="fit_time")


def write(table: pd.DataFrame, text: str, stem: Path, task: str) -> None:
    stem.with_suffix(".md").write_text(text + "\n\n" + markdown_table(table) + "\n")
    table.to_csv(stem.with_suffix(".csv"), index=False)
    plot_table(table, stem.with_suffix(".png"), title=f"PTB-XL ({task}) test macro AUC")
    print(f"wrote {stem.with_suffix('.md')}")


def merge(parts: list[str], stem: Path, task: str, leave_out=()) -> None:
    """Concatenate the CSVs (and the headers of the .md files) of parallel runs.

    ``leave_out`` holds ``"MODEL:REGIME"`` entries whose rows are not put in the merged table;
    the merged file names each with its numbers and points to the part file that keeps it.
    """
    tables, texts = [], []
    for part in parts:
        part = Path(part)
        tables.append(pd.read_csv(part, keep_default_na=True))
        text = part.with_suffix(".md").read_text().split("\n\n| model")[0]
        texts.append(text)
    table = pd.concat(tables, ignore_index=True)
    key = ["model", "pretraining", "regime", "protocol"]
    replaced = int(table.duplicated(key, keep="last").sum())
    # a later run's row replaces an earlier one of the same model, pretraining, regime and
    # protocol; rows are grouped by model (first appearance) and kept in protocol order
    table = table.drop_duplicates(key, keep="last")
    left = []
    for entry in leave_out:
        model, regime = entry.split(":")
        rows = table[(table["model"] == model) & (table["regime"] == regime)]
        for _, row in rows.iterrows():
            text = f"{model} {regime}: test AUC {row['test_auc']:.3f}"
            if pd.notna(row.get("delta")):
                text += (f", delta {row['delta']:+.3f} [{row['delta_low']:+.3f}, "
                         f"{row['delta_high']:+.3f}]")
            left.append(f"{text}, {row['steps']:.0f} optimiser steps ({row['note']})")
        table = table.drop(rows.index)
    order = {m: i for i, m in enumerate(dict.fromkeys(pd.concat(tables)["model"]))}
    protocols = ["paper", "probe", "finetune", "supervised"]
    rank = table["protocol"].map(lambda p: next((i for i, k in enumerate(protocols)
                                                 if p.startswith(k)), len(protocols)))
    table = table.assign(_m=table["model"].map(order), _p=rank).sort_values(
        ["_m", "_p"], kind="stable").drop(columns=["_m", "_p"]).reset_index(drop=True)
    note = (f"{len(parts)} runs of benchmarks/paper_table.py (each with OMP_NUM_THREADS=1, "
            "several in parallel), merged by `--merge`"
            + (f"; {replaced} rows of an earlier run were replaced by a later run's rows of the "
               "same model, pretraining, regime and protocol" if replaced else "")
            + ". Each run's header follows, in merge order (SCRATCH: a scratch folder outside "
            "the project holding the per-split encoders of the first runs, which later runs "
            "reuse with --encoders)."
            + ("".join(f"\nLeft out of this table (kept in its run's file): {t}." for t in left)
               if left else ""))
    write(table, "\n\n".join([note, *texts]), stem, task)


def recipe_entry(text: str) -> tuple:
    """``KEY=VALUE`` of ``--recipe``: VALUE read as a Python literal (a number, a tuple)."""
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. batch_size=32); got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value  # a plain string, e.g. optimizer=adam


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--data", default=os.path.relpath(DEFAULT_DATA))
    parser.add_argument("--methods", nargs="+", default=["simclr", "byol", "swav", "cpc"],
                        help="SSL methods (simclr byol swav cpc stmem jepa cmsc) and "
                             "'minirocket' (needs aeon: the baselines environment)")
    parser.add_argument("--n-splits", type=int, default=5,
                        help="rotations of PTB-XL's ten folds (fold_rotation)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1,
                        help="classifier trainings per protocol (n_seeds)")
    parser.add_argument("--epoch-scale", type=float, default=None,
                        help="override the preset's epoch_scale of the recipes")
    parser.add_argument("--recipe", nargs="+", type=recipe_entry, default=[],
                        metavar="KEY=VALUE",
                        help="override entries of the finetuning and supervised recipes (e.g. "
                             "batch_size=32 where the recipe's batch leaves a few optimiser "
                             "steps on 300 records); stated in the results' header")
    parser.add_argument("--pretrain-epochs", type=int, default=None,
                        help="override the preset's pretraining epochs")
    parser.add_argument("--results", default=str(RESULTS),
                        help="output folder (smoke runs: somewhere else than results/)")
    parser.add_argument("--part", default=None,
                        help="suffix of this run's files (parallel runs, merged by --merge)")
    parser.add_argument("--cache", default=None,
                        help="folder to save the pretrained encoders in (one file per split)")
    parser.add_argument("--encoders", default=None,
                        help="a --cache folder of an earlier run: reuse its per-split encoders")
    parser.add_argument("--protocols", nargs="+", default=["linear", "finetune"],
                        choices=["linear", "probe", "finetune"],
                        help="linear: the paper's linear layer; probe: logistic regression on "
                             "averaged embeddings; finetune: finetuned vs supervised")
    parser.add_argument("--linear-epoch-scale", type=float, default=1.0,
                        help="epochs of the linear recipe, as a fraction of the paper's 50 "
                             "PTB-XL epochs (default 1: the paper's ~6,800 steps; cheap on "
                             "precomputed embeddings)")
    parser.add_argument("--merge", nargs="+", default=None, metavar="PART_CSV",
                        help="merge the CSV files of parallel runs into the preset's table")
    parser.add_argument("--leave-out", nargs="*", default=(), metavar="MODEL:REGIME",
                        help="with --merge: rows not to put in the table (named with their "
                             "numbers in it)")
    args = parser.parse_args()
    if args.merge:
        merge(args.merge, Path(args.results) / f"paper_table_{args.preset}",
              PRESETS[args.preset]["task"], args.leave_out)
    else:
        run(args)


if __name__ == "__main__":
    main()
