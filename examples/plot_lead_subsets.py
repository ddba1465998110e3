"""
Fewer leads: comparing methods on lead I, I + II, the limb leads and all twelve
===============================================================================

Many ECG devices record fewer than twelve leads: a watch records lead I, a Holter two or three
leads, a monitor the six limb leads. :func:`skecg.evaluation.lead_robustness` measures what a
subset costs an encoder pretrained on twelve leads: one row per subset with its test macro AUC,
a bootstrap interval and the paired difference to all twelve leads on the same test records.
A token model (ST-MEM, JEPA, CMSC on the transformer) reads a subset natively, as a shorter
token sequence; a convolutional model (SimCLR here) reads it zero-filled. The models below
are tiny and trained for a few epochs so that the example runs in seconds: their numbers show
the interface, not the methods' merits.
"""

# %%
# Load the data
# -------------
# PTB-XL at 100 Hz with the five superdiagnostic labels; without the PTB-XL folder, synthetic
# ECG with the same layout stands in. The paper's folds: 1-8 train, 9 validation, 10 test.
import os
from pathlib import Path

import numpy as np
import pandas as pd

from skecg.datasets import load_ptbxl, make_synthetic_ecg, ptbxl_split

ptbxl = Path(os.environ.get("SKECG_DATA", "../shared/data/ptb-xl"))
if (ptbxl / "ptbxl_database.csv").is_file():
    data = load_ptbxl(ptbxl, sampling_rate=100, task="superdiagnostic")
    print(f"PTB-XL: {len(data.X)} records")
else:
    data = make_synthetic_ecg(n_records=300, random_state=0)
    print(f"SYNTHETIC ECG (no PTB-XL folder found): {len(data.X)} records")
split = ptbxl_split(data.meta)
unlabelled = data.X[np.concatenate([split.train, split.valid])]  # never the test records

# %%
# Pretrain three encoders on all twelve leads
# -------------------------------------------
# SimCLR on a small xresnet1d18 (convolutional), ST-MEM and CMSC on a tiny transformer over
# per-lead patches of 0.25 s. Each sees the same unlabelled training and validation records.
from skecg.ssl import CMSCEncoder, SimCLREncoder, STMEMEncoder

training = dict(batch_size=64, max_epochs=3, lr=1e-3, random_state=0)
encoders = {
    "SimCLR": SimCLREncoder(backbone="xresnet1d18", width=16, crop_length=250, stride=250,
                            **training),
    "ST-MEM": STMEMEncoder(size="tiny", patch_length=25, decoder_width=32, decoder_depth=1,
                           decoder_heads=2, crop_length=250, window=250, stride=250,
                           **training),
    "CMSC": CMSCEncoder(backbone="transformer", width=32, patch_length=25, crop_length=500,
                        window=250, stride=250, **training),
}
for name, encoder in encoders.items():
    encoder.fit(unlabelled)
    print(f"{name}: loss by epoch {np.round(encoder.history_[:, 'train_loss'], 3)}")

# %%
# A token model reads a subset by name
# ------------------------------------
# ``leads`` names the channels of the ``X`` passed next: leads I and II alone are 2 x 40 tokens
# of 10-s records, not twelve leads with ten of them zero. A convolutional encoder needs
# :func:`skecg.preprocessing.fill_leads` instead, which :func:`lead_robustness` applies.
stmem = encoders["ST-MEM"]
two_leads = stmem.set_params(leads=["I", "II"]).transform(data.X[:4, :2])
stmem.set_params(leads=None)  # back to all twelve
print("ST-MEM embeddings from leads I and II:", two_leads.shape)

# %%
# One row per subset
# ------------------
# The default subsets are lead I, leads I + II, the six limb leads and all twelve. The probe
# protocol fits a logistic regression on the averaged embeddings of each subset, its
# regularisation chosen on fold 9, and tests on fold 10; ``delta`` is the paired bootstrap
# difference to the twelve-lead row (0 for that row). ``cv=fold_rotation(data.meta)`` would
# test every record once and pool the scores.
from skecg.evaluation import lead_robustness, markdown_table, plot_lead_robustness

tables = []
for name, encoder in encoders.items():
    table = lead_robustness(encoder, data, splits=split, n_bootstraps=200)
    tables.append(table.assign(model=name))
table = pd.concat(tables, ignore_index=True)
print(markdown_table(table[["model", "subset", "n_leads", "test_auc", "test_auc_low",
                            "test_auc_high", "delta", "delta_low", "delta_high"]].round(3)))

# %%
# Left: the test macro AUC per subset and model, with 95% intervals. Right: the paired
# difference to all twelve leads; an interval that crosses 0 says the subset's loss is not
# resolved on this many test records.
fig = plot_lead_robustness(table, title="Test macro AUC on subsets of leads (tiny models)")
