"""
Label efficiency and robustness to physiological noise
======================================================

Two of the paper's claims for self-supervised pretraining: it helps most when few labels are
available, and the learned representations degrade less under noise. Both protocols are one
call each in :mod:`skecg.evaluation`:

* :func:`~skecg.evaluation.label_efficiency` trains the classifier on the first *k* of the
  eight training folds only;
* :func:`~skecg.evaluation.noise_robustness` adds the paper's six levels of baseline wander,
  electrode motion, powerline noise and baseline shifts to the test records.
"""

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from skecg.datasets import load_ptbxl, make_synthetic_ecg, ptbxl_split
from skecg.evaluation import label_efficiency, noise_robustness
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
# A small SimCLR encoder pretrained on folds 1-9 and its randomly initialised twin
# (``max_epochs=0``). SimCLR and BYOL take signals in mV, as in the paper, so the noise keeps
# its calibrated size.
development = data.X[np.concatenate([split.train, split.valid])]
pretrained = SimCLREncoder(backbone="xresnet1d18", width=32, batch_size=64, max_epochs=8,
                           random_state=0).fit(development)
random_init = SimCLREncoder(backbone="xresnet1d18", width=32, max_epochs=0,
                            random_state=0).fit(development)

# %%
# Label efficiency
# ----------------
# A linear probe on the frozen embeddings (``protocol="probe"``, the fast variant), trained on
# folds 1..k, selected on fold 9 and tested on fold 10. The paper's curves also finetune the
# encoder and train the architecture from scratch at each k (``regimes=("finetune", "linear",
# "supervised")``, the default), which takes far longer; ``cv=fold_rotation(data.meta)`` would
# test every record once instead of fold 10 only (then pass a template or one encoder per split,
# see :doc:`/user_guide/protocols`).
fig, ax = plt.subplots(figsize=(6, 4))
for name, encoder in [("SimCLR", pretrained), ("random init", random_init)]:
    curve = label_efficiency(encoder, data, n_folds=[1, 2, 4, 8], splits=split,
                             regimes=["linear"], protocol="probe", n_bootstraps=100)
    print(name, "\n", curve[["n_folds", "n_train", "test_auc"]].round(3).to_string(index=False))
    ax.errorbar(curve["n_train"], curve["test_auc"],
                yerr=[curve["test_auc"] - curve["test_auc_low"],
                      curve["test_auc_high"] - curve["test_auc"]],
                marker="o", capsize=3, label=name)
ax.set_xlabel("labelled training records (first k folds)")
ax.set_ylabel("test macro AUC")
ax.set_title("Label efficiency")
ax.legend()
fig.tight_layout()

# %%
# Noise robustness
# ----------------
# The probe trained on all eight folds, as a pipeline on raw ECG, scored on the test records
# with increasing noise (level 0 is clean).
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

fig, ax = plt.subplots(figsize=(6, 4))
for name, encoder in [("SimCLR", pretrained), ("random init", random_init)]:
    # FrozenEstimator: fitting the pipeline fits only the probe, the encoder stays as it is
    model = make_pipeline(FrozenEstimator(encoder), StandardScaler(),
                          OneVsRestClassifier(LogisticRegression(C=0.1, max_iter=2000)))
    model.fit(data.X[split.train], data.y[split.train])
    curve = noise_robustness(model, data, splits=split, n_bootstraps=100)
    print(name, "\n", curve.round(3).to_string(index=False))
    ax.plot(curve["level"], curve["test_auc"], marker="o", label=name)
ax.set_xlabel("noise level (0 = clean)")
ax.set_ylabel("test macro AUC")
ax.set_title("Robustness to physiological noise")
ax.legend()
fig.tight_layout()
