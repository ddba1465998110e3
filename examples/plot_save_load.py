"""
Saving and loading models
=========================

A fitted encoder is saved with ``save(path)`` and read back with the class's ``load(path)``:
a versioned file read with ``torch.load(weights_only=True)``, so loading a file from someone else
cannot execute code. The loaded encoder gives the same embeddings. An
:class:`~skecg.classifier.ECGClassifier` has the same kind of file (its input scaling
included); whole pipelines pickle like any scikit-learn estimator (with :mod:`joblib` or
:mod:`pickle`; only unpickle files you trust).
"""

# %%
import os
import tempfile
from pathlib import Path

import numpy as np

from skecg.classifier import ECGClassifier
from skecg.datasets import load_ptbxl, make_synthetic_ecg, ptbxl_split
from skecg.ssl import BaseSSLEncoder, CPCEncoder

ptbxl = Path(os.environ.get("SKECG_DATA", "../shared/data/ptb-xl"))
if (ptbxl / "ptbxl_database.csv").is_file():
    data = load_ptbxl(ptbxl, sampling_rate=100, task="superdiagnostic")
    print(f"PTB-XL: {len(data.X)} records")
else:
    data = make_synthetic_ecg(n_records=400, random_state=0)
    print(f"SYNTHETIC ECG (no PTB-XL folder found): {len(data.X)} records")
split = ptbxl_split(data.meta)
X = data.X  # records in mV: every skecg model carries its own input scaling
folder = Path(tempfile.mkdtemp(prefix="skecg-models-"))

# %%
# An encoder
# ----------
# CPC standardises each lead with statistics fitted in ``fit``; they are saved with the weights,
# so the loaded encoder takes records in mV as well.
encoder = CPCEncoder(encoder_width=32, context_width=32, crop_length=250, max_epochs=2,
                     random_state=0).fit(X[split.train])
encoder.save(folder / "cpc.skecg")
print(f"cpc.skecg: {(folder / 'cpc.skecg').stat().st_size / 1e3:.0f} kB")

loaded = CPCEncoder.load(folder / "cpc.skecg")
# BaseSSLEncoder.load reads any skecg encoder file and returns the right class
print(type(BaseSSLEncoder.load(folder / "cpc.skecg")).__name__, loaded.get_params()["max_epochs"])
same = np.array_equal(encoder.transform(X[split.test]), loaded.transform(X[split.test]))
print("identical embeddings after loading:", same)
print("input scaling kept:", np.array_equal(encoder.input_scale_, loaded.input_scale_))

# %%
# A finetuned classifier
# ----------------------
# The classifier's ``input_scaling`` is its own parameter (fitted on its training records);
# CPC's backbone was pretrained on standardised input, so it gets standardised input here too.
clf = ECGClassifier(loaded, head="linear", input_scaling="standardize", max_epochs=2,
                    batch_size=64, random_state=0)
clf.fit(X[split.train], data.y[split.train])
clf.save(folder / "classifier.skecg")
restored = ECGClassifier.load(folder / "classifier.skecg")
print("identical probabilities after loading:",
      np.allclose(clf.predict_proba(X[split.test]), restored.predict_proba(X[split.test])))

# %%
# A file that is not a skecg model is refused with a message naming it:
(folder / "notes.txt").write_text("not a model")
try:
    CPCEncoder.load(folder / "notes.txt")
except Exception as error:  # noqa: BLE001 - show whatever the loader raises
    print(type(error).__name__, ":", str(error).replace(str(folder), "<folder>"))

# %%
import shutil

shutil.rmtree(folder)
