"""Benchmark: linear probe of the four self-supervised encoders against random initialisation.

Run from the repository root::

    python benchmarks/bench_linear_probe.py [PTBXL_FOLDER] [--minutes 5] [--seeds 0 1 2] [--quick]

Protocol (the shared 500-record PTB-XL extract, superdiagnostic task, records without a label of
the task dropped by ``load_ptbxl``):

1. ``LeadStandardizer`` fitted on folds 1-9; each encoder pretrained self-supervised on folds 1-9
   (labels unused) in a small CPU configuration. The number of epochs is chosen to fill
   ``--minutes``: a 3-epoch calibration fit gives the epoch time, then a fresh encoder is fitted
   for ``minutes / epoch time`` epochs (the CPU is shared, so the fit may take longer or less).
2. ``transform`` (sliding windows of 2.5 s, stride 1.25 s, averaged per record), then
   ``skecg.evaluation.fit_probe``: ``StandardScaler`` + ``OneVsRestClassifier(LogisticRegression(
   max_iter=2000))`` fitted on folds 1-8 for each ``C`` of ``PROBE_C_GRID``, the best on fold 9
   (record-level macro AUC) kept and scored on fold 10: macro AUC with a 1000-resample bootstrap
   95% interval.
3. The same probe on the same architecture randomly initialised and never trained: the same
   estimator with ``max_epochs=0`` (same seed, so the very weights the pretraining started from).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
import skorch
import torch
from sklearn.base import clone

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import skecg  # noqa: E402
from skecg.datasets import load_ptbxl, ptbxl_split  # noqa: E402
from skecg.evaluation import PROBE_C_GRID, fit_probe  # noqa: E402
from skecg.metrics import bootstrap_macro_auc  # noqa: E402
from skecg.preprocessing import LeadStandardizer  # noqa: E402
from skecg.ssl import BYOLEncoder, CPCEncoder, SimCLREncoder, SwAVEncoder  # noqa: E402

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "shared" / "data" / "ptb-xl"
SMALL_XRESNET = {"backbone": "xresnet1d18", "width": 32, "batch_size": 64, "crop_length": 250,
                 "augmentations": ["RandomResizedCrop", "TimeOut"], "lr": 1e-3}

# Small CPU configurations (see the module docstring); everything else is the estimator default.
METHODS = {
    "CPC": (CPCEncoder, {"encoder_width": 128, "context_width": 128, "crop_length": 250,
                         "batch_size": 32, "lr": 1e-3}),
    "SimCLR": (SimCLREncoder, SMALL_XRESNET),
    "BYOL": (BYOLEncoder, {**SMALL_XRESNET, "base_momentum": 0.99}),
    "SwAV": (SwAVEncoder, {**SMALL_XRESNET, "n_prototypes": 100}),
}


def config_label(est) -> str:
    if isinstance(est, CPCEncoder):
        arch = f"{est.encoder_width}/{est.context_width}-wide CPC"
    else:
        arch = f"{est.backbone} w{est.width}"
    return f"{arch}, b{est.batch_size}, crop {est.crop_length}, lr {est.lr:g}"


def pretrain(est, X: np.ndarray, minutes: float, max_epochs_cap: int | None):
    """Fit ``est`` for as many epochs as fit in ``minutes``.

    The epoch time is the median of epochs 2-3 of a 3-epoch calibration fit (skorch's ``dur``;
    the first epoch carries one-off costs).
    """
    calibration = clone(est).set_params(max_epochs=3).fit(X)
    epoch_s = float(np.median(calibration.history_[1:, "dur"]))
    epochs = max(1, math.floor(minutes * 60 / epoch_s))
    if max_epochs_cap is not None:
        epochs = min(epochs, max_epochs_cap)
    est = clone(est).set_params(max_epochs=epochs)
    start = time.perf_counter()
    est.fit(X)
    return est, epochs, time.perf_counter() - start


def probe(features: np.ndarray, y: np.ndarray, split, seed: int) -> tuple[float, object]:
    """``skecg.evaluation.fit_probe`` (C picked on fold 9); bootstrap macro AUC on fold 10."""
    model, _ = fit_probe(features[split.train], y[split.train], features[split.valid],
                         y[split.valid])
    scores = model.predict_proba(features[split.test])
    C = model[-1].estimator.C
    return C, bootstrap_macro_auc(y[split.test], scores, n_bootstraps=1000, random_state=seed)


def fmt(result) -> str:
    return f"{result.point:.3f} [{result.low:.3f}, {result.high:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=str(DEFAULT_PATH))
    parser.add_argument("--minutes", type=float, default=5.0,
                        help="pretraining time per method and seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--max-epochs", type=int, default=None, help="cap on the epochs")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 epochs, one seed")
    args = parser.parse_args()
    if args.quick:
        args.max_epochs, args.seeds = 2, args.seeds[:1]
    torch.set_num_threads(2)

    print("command:", "python " + shlex.join(sys.argv))
    print(f"python {platform.python_version()}, torch {torch.__version__}, skecg "
          f"{skecg.__version__}, scikit-learn {sklearn.__version__}, skorch {skorch.__version__}")
    print(f"machine: {platform.platform()}; CPU, {os.cpu_count()} cores, "
          "torch.set_num_threads(2)")
    data = load_ptbxl(args.path, task="superdiagnostic")
    split = ptbxl_split(data.meta)
    pretrain_idx = np.concatenate([split.train, split.valid])
    print(f"data: {len(data.X)} PTB-XL records with a superdiagnostic label "
          f"({data.dropped_no_label} without dropped) from {args.path}; labels "
          f"{list(data.label_names)}; pretraining on folds 1-9: {len(pretrain_idx)}, probe "
          f"train folds 1-8: {len(split.train)}, C chosen on fold 9: {len(split.valid)}, "
          f"test fold 10: {len(split.test)}")
    print(f"budget: {args.minutes:g} min of pretraining per method and seed; seeds "
          f"{args.seeds}; probe C grid {PROBE_C_GRID}; load average {os.getloadavg()[0]:.2f}\n",
          flush=True)

    X = LeadStandardizer().fit(data.X[pretrain_idx]).transform(data.X)
    rows = []
    for name in args.methods:
        cls, params = METHODS[name]
        for seed in args.seeds:
            est = cls(**params, random_state=seed)
            trained, epochs, fit_s = pretrain(est, X[pretrain_idx], args.minutes,
                                              args.max_epochs)
            C_ssl, ssl = probe(trained.transform(X), data.y, split, seed)
            untrained = clone(est).set_params(max_epochs=0).fit(X[pretrain_idx])
            C_rnd, rnd = probe(untrained.transform(X), data.y, split, seed)
            loss = trained.history_[-1, "train_loss"]
            rows.append((name, config_label(est), seed, epochs, fit_s, ssl, rnd))
            print(f"{name} seed {seed}: {epochs} epochs in {fit_s:.0f} s (final train loss "
                  f"{loss:.3f}); probe {fmt(ssl)} (C={C_ssl:g}), random init {fmt(rnd)} "
                  f"(C={C_rnd:g}); delta {ssl.point - rnd.point:+.3f}", flush=True)

    print("\nSuperdiagnostic macro AUC on fold 10 (bootstrap 95% interval), linear probe on "
          "folds 1-8")
    header = (f"{'method':7s} {'config':46s} {'seed':>4s} {'epochs':>6s} {'pretrain':>8s} "
              f"{'probe AUC [95% CI]':>22s} {'random-init AUC [95% CI]':>24s} {'delta':>6s}")
    print(header)
    print("-" * len(header))
    for name, label, seed, epochs, fit_s, ssl, rnd in rows:
        print(f"{name:7s} {label:46s} {seed:4d} {epochs:6d} {fit_s / 60:6.1f} m "
              f"{fmt(ssl):>22s} {fmt(rnd):>24s} {ssl.point - rnd.point:+6.3f}")
    print("\nmean over seeds:")
    for name in args.methods:
        mine = [r for r in rows if r[0] == name]
        ssl = np.mean([r[5].point for r in mine])
        rnd = np.mean([r[6].point for r in mine])
        verdict = "beats" if ssl > rnd else "does NOT beat"
        print(f"{name:7s} probe {ssl:.3f} vs random init {rnd:.3f} ({len(mine)} seed(s)): "
              f"delta {ssl - rnd:+.3f}, pretraining {verdict} random init")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (2 cores)")


if __name__ == "__main__":
    main()
