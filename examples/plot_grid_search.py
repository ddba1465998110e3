"""
Choosing a pretraining parameter with GridSearchCV
==================================================

Because the encoder is an ordinary estimator inside a pipeline, scikit-learn's
:class:`~sklearn.model_selection.GridSearchCV` can tune a *pretraining* parameter against the
downstream score. Here it compares SimCLR's temperature, selecting on PTB-XL's validation fold 9
(the paper's model selection) through :func:`skecg.datasets.predefined_split`, and scoring with
the record-level macro AUC (:data:`skecg.metrics.macro_auc_scorer`).
"""

# %%
import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skecg.datasets import load_ptbxl, make_synthetic_ecg, predefined_split, ptbxl_split
from skecg.metrics import macro_auc, macro_auc_scorer
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
# The search
# ----------
# Training records (folds 1-8) and validation records (fold 9) go in together; the predefined
# split tells the search which is which, so each candidate is pretrained and probed on folds
# 1-8 and scored on fold 9. ``refit=True`` then refits the best candidate on both. The records
# go in in mV, as the paper's SimCLR reads them; the encoder carries its own input scaling, so
# nothing goes in front of it.
development = np.concatenate([split.train, split.valid])
folds = np.asarray(data.meta["strat_fold"])[development]
pipeline = Pipeline([
    ("simclr", SimCLREncoder(backbone="xresnet1d18", width=16, batch_size=64, max_epochs=4,
                             random_state=0)),
    ("scale", StandardScaler()),
    ("probe", OneVsRestClassifier(LogisticRegression(C=0.1, max_iter=2000))),
])
search = GridSearchCV(pipeline, {"simclr__temperature": [0.1, 0.5]},
                      cv=predefined_split(folds), scoring=macro_auc_scorer, refit=True)
search.fit(data.X[development], data.y[development])

results = pd.DataFrame(search.cv_results_)
print(results[["param_simclr__temperature", "mean_test_score", "mean_fit_time"]])
print("best:", search.best_params_)

# %%
# The refitted best pipeline on the test fold:
test_auc = macro_auc(data.y[split.test], search.predict_proba(data.X[split.test]))
print(f"test macro AUC of the selected pipeline: {test_auc:.3f}")

# %%
# Tuning the probe only
# ---------------------
# Here every candidate is pretrained anew, because the searched parameter is a pretraining one.
# To tune only what comes after an encoder that is already pretrained, wrap it in
# :class:`sklearn.frozen.FrozenEstimator`: fitting the pipeline (and its clones) then leaves the
# encoder as it is and trains only the probe.
from sklearn.frozen import FrozenEstimator

encoder = search.best_estimator_.named_steps["simclr"]
probe_search = GridSearchCV(
    Pipeline([("simclr", FrozenEstimator(encoder)), ("scale", StandardScaler()),
              ("probe", OneVsRestClassifier(LogisticRegression(max_iter=2000)))]),
    {"probe__estimator__C": [0.1, 1.0]},
    cv=predefined_split(folds), scoring=macro_auc_scorer, refit=False)
probe_search.fit(data.X[development], data.y[development])
print("best probe:", probe_search.best_params_,
      f"validation macro AUC {probe_search.best_score_:.3f}")
