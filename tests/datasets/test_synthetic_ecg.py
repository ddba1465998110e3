"""make_synthetic_ecg: shapes, determinism, learnable labels."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skecg import LEAD_NAMES
from skecg._validation import check_ecg_array
from skecg.datasets import make_synthetic_ecg


def test_shapes_and_fields():
    b = make_synthetic_ecg(n_records=30, fs=250, duration=5, n_classes=3, random_state=0)
    assert b.X.shape == (30, 12, 1250) and b.X.dtype == np.float32
    assert b.y.shape == (30, 3) and b.y.dtype == np.float32
    assert b.label_names == ["TACHY", "WIDEQRS", "STSHIFT"] and b.lead_names == LEAD_NAMES
    assert sorted(b.meta["strat_fold"].unique()) == list(range(1, 11)) and b.fs == 250.0
    check_ecg_array(b.X)
    assert 0.05 < b.X.std() < 1.0  # mV scale
    assert make_synthetic_ecg(5, n_leads=3, random_state=0).X.shape == (5, 3, 1000)


def test_determinism():
    a = make_synthetic_ecg(20, random_state=42)
    b = make_synthetic_ecg(20, random_state=42)
    c = make_synthetic_ecg(20, random_state=43)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)


def test_bad_parameters():
    with pytest.raises(ValueError, match="n_classes must be"):
        make_synthetic_ecg(n_classes=7)
    with pytest.raises(ValueError, match="n_leads must be"):
        make_synthetic_ecg(n_leads=13)


def _features(X):
    spectrum = np.abs(np.fft.rfft(X, axis=-1))[..., 1:201]  # 0.1-20 Hz at 100 Hz / 10 s
    bands = spectrum.reshape(len(X), X.shape[1], 20, -1).mean(axis=-1)
    diff = np.abs(np.diff(X, axis=-1))
    return np.concatenate([bands.reshape(len(X), -1), X.std(axis=-1), diff.mean(axis=-1),
                           np.percentile(X, 90, axis=-1) - np.median(X, axis=-1)], axis=1)


def test_labels_are_learnable():
    train = make_synthetic_ecg(300, n_classes=6, random_state=0)
    test = make_synthetic_ecg(200, n_classes=6, random_state=1)
    Xtr, Xte = _features(train.X), _features(test.X)
    aucs = {}
    for j, name in enumerate(train.label_names):
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
        clf.fit(Xtr, train.y[:, j])
        aucs[name] = roc_auc_score(test.y[:, j], clf.predict_proba(Xte)[:, 1])
    assert min(aucs.values()) > 0.8, aucs
