"""Encoders compose with scikit-learn: Pipeline + GridSearchCV on a real PTB-XL slice."""

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline

from skecg.datasets import load_ptbxl, predefined_split
from skecg.metrics import macro_auc_scorer
from skecg.preprocessing import LeadStandardizer
from skecg.ssl import CPCEncoder, read_checkpoint
from skecg.ssl._checkpoint import run_folders


def test_grid_search_over_encoder_param_with_fold_split(ptbxl_path, tmp_path):
    """With one fixed checkpoint_dir: each fit (candidate x split, and the refit) has its run."""
    data = load_ptbxl(ptbxl_path, task="superdiagnostic")
    folds = data.meta["strat_fold"].to_numpy()
    keep = np.flatnonzero(folds <= 9)[::3]  # a small slice: ~140 records of folds 1-9
    X, y = data.X[keep], data.y[keep]
    pipeline = Pipeline([
        ("standardize", LeadStandardizer()),
        ("ssl", CPCEncoder(encoder_width=16, context_width=16, crop_length=250, batch_size=32,
                           max_epochs=1, lr=1e-3, random_state=0,
                           checkpoint_dir=str(tmp_path))),
        ("clf", OneVsRestClassifier(LogisticRegression(max_iter=1000))),
    ])
    search = GridSearchCV(pipeline, {"ssl__context_width": [8, 16]}, scoring=macro_auc_scorer,
                          cv=predefined_split(folds[keep], test_folds=(9,)), error_score="raise")
    search.fit(X, y)
    assert search.best_params_["ssl__context_width"] in (8, 16)
    scores = search.cv_results_["mean_test_score"]
    assert np.all((scores > 0) & (scores <= 1))
    assert search.predict_proba(X[:5]).shape == (5, y.shape[1])
    metas = [read_checkpoint(run)["meta"] for run in run_folders(tmp_path)]
    assert len(metas) == 2 + 1 and all(m["epoch"] == 1 for m in metas)
    assert len({m["data"]["sha256"] for m in metas}) == 2  # the training split; all records
