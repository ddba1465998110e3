"""
Loading your own WFDB records
=============================

Hospital exports and PhysioNet databases often come as a folder of WFDB records (a ``.hea``
header beside a ``.dat`` or ``.mat`` signal file). :func:`skecg.datasets.load_wfdb` reads such a
folder recursively into one ``(n_records, n_leads, n_samples)`` array in mV, in the standard lead
order, resampled to one rate and cropped or padded to one length, so that any skecg encoder can
embed it. This example writes three records with :func:`wfdb.wrsamp` into a temporary folder
(one at 500 Hz, one at 250 Hz with the leads in another order, one of only 8 s) and loads them.
"""

# %%
import tempfile
from pathlib import Path

import numpy as np
import wfdb

from skecg import LEAD_NAMES
from skecg.datasets import load_wfdb, make_synthetic_ecg

folder = Path(tempfile.mkdtemp(prefix="skecg-wfdb-"))
rng = np.random.default_rng(0)


def write_record(name, fs, seconds, lead_order):
    """Write a synthetic 12-lead record as a WFDB record (format 16, 1000 units per mV)."""
    ecg = make_synthetic_ecg(n_records=1, fs=fs, duration=seconds, random_state=len(name)).X[0]
    order = [LEAD_NAMES.index(lead) for lead in lead_order]
    (folder / "site-a").mkdir(exist_ok=True)
    wfdb.wrsamp(name, fs=fs, units=["mV"] * 12, sig_name=list(lead_order),
                p_signal=ecg[order].T.astype(np.float64), fmt=["16"] * 12, adc_gain=[1000] * 12,
                baseline=[0] * 12, write_dir=str(folder / "site-a"),
                comments=["Age: 61", "Sex: Female"])


write_record("rec001", 500, 10, LEAD_NAMES)
write_record("rec002", 250, 10, LEAD_NAMES[::-1])
write_record("rec003", 500, 8, LEAD_NAMES)
print(sorted(p.name for p in (folder / "site-a").iterdir()))

# %%
# Load them at 100 Hz and 10 s
# ----------------------------
# Different rates are resampled (polyphase filtering), leads are matched by name and put in the
# standard order, and the 8 s record is zero-padded at the end (``crop="start"``,
# ``pad="zeros"``).
data = load_wfdb(folder, fs=100, duration=10)
print("X", data.X.shape, "fs", data.fs, "leads", data.lead_names)
print(data.meta[["record", "fs_original", "n_samples_original"]])

# %%
# The second record was stored with its leads reversed; it comes back in the standard order.
import matplotlib.pyplot as plt

fig, axes = plt.subplots(3, 1, figsize=(8, 5), sharex=True)
t = np.arange(data.X.shape[-1]) / data.fs
for ax, record, x in zip(axes, data.meta["record"], data.X, strict=True):
    ax.plot(t, x[1], lw=0.8)
    ax.set_ylabel(f"{record}\nlead II (mV)")
axes[-1].set_xlabel("time (s)")
fig.tight_layout()

# %%
# Records that cannot be read
# ---------------------------
# With ``on_error="skip"`` unreadable records are left out and reported in one warning and in
# ``data.skipped``; the default, ``"raise"``, names the record and what was wrong.
(folder / "site-a" / "rec004.hea").write_text("rec004 12 500 5000\n")  # no signal lines
import warnings

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    data = load_wfdb(folder, fs=100, duration=10, on_error="skip")
print(len(data.X), "records loaded; skipped:", {Path(k).name: v for k, v in data.skipped.items()})

# %%
# Embedding them with a pretrained encoder works like any other array, e.g.
# ``encoder.transform(data.X)``. Pass ``cache_dir=`` to keep the parsed array on disk: the next
# load memory-maps it instead of parsing every record again.
import shutil

shutil.rmtree(folder)
