"""ptbxl_split, first_k_folds and predefined_split."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from skecg.datasets import first_k_folds, predefined_split, ptbxl_split

FOLDS = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10] * 3)


def test_ptbxl_split_default():
    split = ptbxl_split(pd.DataFrame({"strat_fold": FOLDS}))
    assert len(split.train) == 24 and len(split.valid) == 3 and len(split.test) == 3
    assert set(FOLDS[split.valid]) == {9} and set(FOLDS[split.test]) == {10}
    assert set(FOLDS[split.train]) == set(range(1, 9))
    assert split.train.dtype == np.int64
    custom = ptbxl_split(FOLDS, train_folds=[1, 2], valid_folds=None, test_folds=3)
    assert len(custom.valid) == 0 and set(FOLDS[custom.test]) == {3}


def test_ptbxl_split_errors():
    with pytest.raises(ValueError, match=r"train_folds and test_folds overlap in folds \[8\]"):
        ptbxl_split(FOLDS, test_folds=(8,))
    with pytest.raises(ValueError, match="no 'strat_fold' column"):
        ptbxl_split(pd.DataFrame({"fold": FOLDS}))
    with pytest.raises(ValueError, match="must be integers"):
        ptbxl_split(FOLDS + 0.5)


def test_first_k_folds():
    assert set(FOLDS[first_k_folds(FOLDS, 2)]) == {1, 2}
    assert len(first_k_folds(FOLDS, 8)) == 24
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        first_k_folds(FOLDS, 0)


def test_predefined_split_with_grid_search():
    cv = predefined_split(FOLDS, test_folds=(9, 10))
    assert cv.get_n_splits() == 2
    train, test = next(cv.split())
    assert set(FOLDS[test]) == {9} and set(FOLDS[train]) == set(range(1, 9)) | {10}
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = (X[:, 0] > 0).astype(int)
    search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]},
                          cv=predefined_split(FOLDS, test_folds=9)).fit(X, y)
    assert len(search.cv_results_["split0_test_score"]) == 2
    with pytest.raises(ValueError, match="no record is in test fold 11"):
        predefined_split(FOLDS, test_folds=11)
