"""
Finetuning regimes and the paper's recipes
==========================================

The paper uses a network on labelled ECG in three ways:

* **linear evaluation**: the pretrained encoder is frozen (its BatchNorm statistics too) and
  only a linear layer learns;
* **finetuning**: the pretrained encoder and a head are trained together (for CPC: the head
  first, then all layers with smaller learning rates for the pretrained layers);
* **supervised from scratch**: the same architecture, randomly initialised, all layers trained.

Each regime is an :class:`skecg.classifier.ECGClassifier` (a skorch classifier that trains on
random 2.5 s crops and predicts by averaging the sigmoid outputs of sliding windows per record),
configured by :func:`skecg.evaluation.paper_recipe` with the settings of the paper's reference
code for each method. ``epoch_scale`` shortens a recipe without changing its shape.
"""

# %%
import os
from pathlib import Path

import numpy as np
import pandas as pd

from skecg.datasets import load_ptbxl, make_synthetic_ecg, ptbxl_split
from skecg.evaluation import describe_recipe, fit_classifier, paper_recipe
from skecg.metrics import bootstrap_macro_auc
from skecg.ssl import SimCLREncoder

ptbxl = Path(os.environ.get("SKECG_DATA", "../shared/data/ptb-xl"))
if (ptbxl / "ptbxl_database.csv").is_file():
    data = load_ptbxl(ptbxl, sampling_rate=100, task="superdiagnostic")
    print(f"PTB-XL: {len(data.X)} records")
else:
    data = make_synthetic_ecg(n_records=400, random_state=0)
    print(f"SYNTHETIC ECG (no PTB-XL folder found): {len(data.X)} records")
split = ptbxl_split(data.meta)

# %%
# The recipes
# -----------
# A recipe is a plain dict of ``ECGClassifier`` parameters, readable and overridable.
for method in ("simclr", "cpc"):
    for regime in ("linear", "finetune", "supervised"):
        print(f"{method:7s} {regime:11s}", describe_recipe(paper_recipe(method, regime)))

# %%
# Pretrain a small SimCLR encoder on folds 1-9 (no labels; signals in mV).
encoder = SimCLREncoder(backbone="xresnet1d18", width=32, batch_size=64, max_epochs=8,
                        random_state=0)
encoder.fit(data.X[np.concatenate([split.train, split.valid])])

# %%
# Train the three regimes
# -----------------------
# :func:`~skecg.evaluation.fit_classifier` builds ``ECGClassifier(**paper_recipe(...))`` (the
# recipe's input scaling is part of the model: records go in in mV), trains it on folds 1-8,
# chooses the epoch on fold 9 and returns the fitted classifier and an ``info`` Bunch (the
# recipe, ``valid_auc``, optimiser ``steps``, ``best_step`` and a ``note`` when the fit is
# doubtful). Finetuning and the supervised regime train with skorch, fold 9 as the validation
# set (its record-level macro AUC, ``valid_auc``, is in the history each epoch), and keep the
# best epoch; the supervised regime trains the encoder's architecture (here xresnet1d18, width
# 32) from scratch. The linear regime trains its layer on precomputed crop embeddings of the
# frozen encoder for the paper's number of optimiser steps (the recipe's epochs of the full
# PTB-XL), which is why it reports far more steps; its full recipe takes seconds here. To keep
# this example short, the regimes that train all layers run at 10% of their epochs (5 instead
# of 50) and batch 64; when their best epoch is the last one, ``fit_classifier`` says so (in
# ``info.note`` and a warning): such a fit may be too short to compare regimes.
overrides = {"linear": {}, "finetune": dict(epoch_scale=0.1, batch_size=64),
             "supervised": dict(epoch_scale=0.1, batch_size=64)}
models, rows = {}, []
for regime in ("linear", "finetune", "supervised"):
    model, info = fit_classifier(encoder, data, regime=regime, splits=split,
                                 **overrides[regime])
    models[regime] = model
    auc = bootstrap_macro_auc(data.y[split.test], model.predict_proba(data.X[split.test]),
                              n_bootstraps=300, random_state=0)
    rows.append(dict(regime=regime, epochs=info.params["max_epochs"], steps=info.steps,
                     best_step=info.best_step, lr=info.params["lr"], valid_auc=info.valid_auc,
                     test_auc=auc.point, low=auc.low, high=auc.high))
print(pd.DataFrame(rows).round(4).to_string(index=False))

# %%
# Validation AUC by epoch
# -----------------------
# What the two regimes that train all layers learned, epoch by epoch, on fold 9 (the linear
# layer's evaluations are not skorch epochs; the table above gives its best step and validation
# AUC). Whether finetuning beats training from scratch needs far more records and epochs than
# this example uses (see :doc:`/reproducing`).
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 4))
for regime in ("finetune", "supervised"):
    history = models[regime].history
    ax.plot(history[:, "epoch"], history[:, "valid_auc"], marker="o", label=regime)
ax.set_xlabel("epoch")
ax.set_ylabel("validation macro AUC (fold 9)")
ax.legend()
fig.tight_layout()
