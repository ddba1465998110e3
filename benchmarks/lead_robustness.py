"""Lead robustness: test macro AUC of a conv and a token encoder on subsets of the leads.

Run from the repository root::

    OMP_NUM_THREADS=1 python benchmarks/lead_robustness.py [--data ../shared/data/ptb-xl]
        [--n-splits 3] [--simclr-epochs 25] [--stmem-epochs 15]

One convolutional method (SimCLR, xresnet1d18 of width 32) and one token method (ST-MEM on
the "small" transformer) are pretrained per rotation of PTB-XL's folds on that rotation's
training and validation records (never its test records). ``skecg.evaluation.lead_robustness``
then evaluates each on lead I, leads I + II, the six limb leads and all twelve with the probe
protocol (logistic regression on per-record averaged embeddings of the subset, C on the
validation records), pooled over rotations: SimCLR reads a subset zero-filled to 12 leads,
ST-MEM reads it natively as a shorter token sequence. Every row carries the paired bootstrap
difference to all twelve leads on the same records.

SHORTENED for a shared 2-core CPU: pretraining for ``--simclr-epochs``/``--stmem-epochs``
epochs (the CPU preset of SimCLR trains 300, the paper 2000; ST-MEM's authors 800), ST-MEM on
2.5 s crops with 0.25 s patches and a 64 x 1 decoder (the authors: 9 s crops, 0.3 s patches,
256 x 4 decoder), the probe protocol instead of the paper's linear layer, one seed, and 3
rotations of the folds (the other benchmarks use 5).
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

from _report import header  # noqa: E402
from paper_table import DEFAULT_DATA, RESULTS  # noqa: E402

from skecg.datasets import fold_rotation, load_ptbxl  # noqa: E402
from skecg.evaluation import (  # noqa: E402
    lead_robustness,
    markdown_table,
    plot_lead_robustness,
)
from skecg.ssl import SimCLREncoder, STMEMEncoder  # noqa: E402


def encoders(args) -> dict:
    """The two unfitted encoders (templates, pretrained per rotation by lead_robustness)."""
    return {
        "SimCLR": SimCLREncoder(backbone="xresnet1d18", width=32, crop_length=250, batch_size=64,
                                lr=1e-3, max_epochs=args.simclr_epochs, random_state=args.seed),
        "STMEM": STMEMEncoder(size="small", patch_length=25, crop_length=250, window=250,
                              stride=125, decoder_width=64, decoder_depth=1, decoder_heads=2,
                              batch_size=64, lr=1e-3, warmup_epochs=2,
                              max_epochs=args.stmem_epochs, random_state=args.seed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.relpath(DEFAULT_DATA))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-splits", type=int, default=3)
    parser.add_argument("--simclr-epochs", type=int, default=25)
    parser.add_argument("--stmem-epochs", type=int, default=15)
    parser.add_argument("--n-bootstraps", type=int, default=1000)
    parser.add_argument("--results", default=str(RESULTS),
                        help="output folder (smoke runs: somewhere else than results/)")
    args = parser.parse_args()
    data = load_ptbxl(args.data, task="superdiagnostic", n_jobs=1)
    cv = fold_rotation(data.meta, n_splits=args.n_splits)
    tables, lines = [], []
    for name, template in encoders(args).items():
        wall, cpu = time.perf_counter(), time.process_time()
        table = lead_robustness(template, data, cv=cv, protocol="probe",
                                n_bootstraps=args.n_bootstraps, random_state=args.seed)
        tables.append(table.assign(model=name))
        params = {k: v for k, v in template.get_params().items()
                  if k in ("backbone", "width", "size", "patch_length", "crop_length",
                           "decoder_width", "decoder_depth", "batch_size", "lr", "max_epochs")}
        lines.append(f"{name}: {type(template).__name__}({params}); pretraining and evaluation "
                     f"took {time.perf_counter() - wall:.0f} s wall, "
                     f"{time.process_time() - cpu:.0f} s CPU")
        print(lines[-1], flush=True)
        print(markdown_table(table.drop(columns=["pretraining", "protocol"])), flush=True)
    table = pd.concat(tables, ignore_index=True)
    shown = table.drop(columns=["pretraining", "protocol"])
    doc = __doc__.split("\n\n")
    text = (header(f"PTB-XL at {args.data}: {len(data.X)} records, task superdiagnostic "
                   f"({data.y.shape[1]} labels), cross-validated over {args.n_splits} rotations "
                   "of the folds (every record tested once)") + "\n\n" +
            "\n".join(lines) + "\n\n" + " ".join(doc[3].split()) + "\n\n" +
            " ".join(doc[4].split()) + "\n\npretraining: " + table["pretraining"].iloc[0] +
            "; protocol: " + table["protocol"].iloc[0] + "\n\n" + markdown_table(shown) + "\n")
    stem = Path(args.results) / "lead_robustness"
    stem.with_suffix(".md").write_text(text)
    table.to_csv(stem.with_suffix(".csv"), index=False)
    plot_lead_robustness(table, stem.with_suffix(".png"),
                         title=f"PTB-XL superdiagnostic, {len(data.X)} records, probe on subsets "
                               f"of leads, pooled over {args.n_splits} rotations")
    print(text)


if __name__ == "__main__":
    main()
