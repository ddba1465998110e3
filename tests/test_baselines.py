"""MiniRocket baseline (skecg.baselines).

aeon is an optional extra that cannot share the core's environment (it pins older pandas/numba/
numpy), so CI runs this file a second time in a virtual environment with ``.[baselines]``
installed. Without aeon only the import and error-message tests run.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import RidgeClassifierCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skecg.baselines import MiniRocketClassifier, aeon_available, minirocket_evaluation
from skecg.datasets import fold_rotation, make_synthetic_ecg, ptbxl_split
from skecg.evaluation import TABLE_COLUMNS
from skecg.metrics import bootstrap_macro_auc_difference, macro_auc
from skecg.preprocessing import LeadStandardizer

N_KERNELS = 840  # 10 x 84: aeon's smallest multiple-of-84 sizes keep the tests fast


@pytest.fixture(scope="module")
def data():
    return make_synthetic_ecg(n_records=160, n_classes=3, random_state=0)


def test_without_aeon_fit_says_how_to_install(monkeypatch, data):
    monkeypatch.setitem(sys.modules, "aeon", None)  # makes `import aeon` raise ImportError
    monkeypatch.setitem(sys.modules, "aeon.transformations.collection.convolution_based", None)
    assert aeon_available() is False
    with pytest.raises(ImportError, match=r"skecg\[baselines\]"):
        MiniRocketClassifier(n_kernels=N_KERNELS).fit(data.X[:10], data.y[:10])


def test_bad_parameters_are_named(data):
    with pytest.raises(ValueError, match="n_kernels"):
        MiniRocketClassifier(n_kernels=10).fit(data.X[:10], data.y[:10])
    with pytest.raises(ValueError, match="classifier"):
        MiniRocketClassifier(classifier="forest").fit(data.X[:10], data.y[:10])


requires_aeon = pytest.mark.skipif(not aeon_available(),
                                   reason="MiniRocket needs aeon (the baselines extra)")


@requires_aeon
def test_multilabel_matches_aeon_features_with_ridge(data):
    """Same numbers as aeon's MiniRocket + StandardScaler + RidgeClassifierCV assembled by hand."""
    from aeon.transformations.collection.convolution_based import MiniRocket

    train, test = np.arange(120), np.arange(120, 160)
    model = MiniRocketClassifier(n_kernels=N_KERNELS, random_state=0)
    model.fit(data.X[train], data.y[train])
    assert model.multilabel_ and list(model.classes_) == [0, 1, 2]

    features = MiniRocket(n_kernels=N_KERNELS, random_state=0).fit(data.X[train])
    scaler = StandardScaler().fit(features.transform(data.X[train]))
    ridge = RidgeClassifierCV(alphas=np.logspace(-3, 3, 10)).fit(
        scaler.transform(features.transform(data.X[train])), data.y[train])
    expected = ridge.decision_function(scaler.transform(features.transform(data.X[test])))
    np.testing.assert_allclose(model.decision_function(data.X[test]), expected, rtol=1e-5,
                               atol=1e-6)

    proba = model.predict_proba(data.X[test])
    assert proba.shape == (40, 3) and np.all((proba > 0) & (proba < 1))
    np.testing.assert_allclose(proba, 1 / (1 + np.exp(-expected)), rtol=1e-5)
    assert model.predict(data.X[test]).shape == (40, 3)
    # synthetic labels change the beats in learnable ways
    assert macro_auc(data.y[test], proba) > 0.75


@requires_aeon
def test_logistic_and_single_label(data):
    train, test = np.arange(120), np.arange(120, 160)
    logistic = MiniRocketClassifier(n_kernels=N_KERNELS, classifier="logistic", random_state=0)
    proba = logistic.fit(data.X[train], data.y[train]).predict_proba(data.X[test])
    assert proba.shape == (40, 3)

    labels = data.y.argmax(axis=1) + 10 * (data.y.sum(axis=1) == 0)  # classes 0, 1, 2, 10
    single = MiniRocketClassifier(n_kernels=N_KERNELS, random_state=0)
    single.fit(data.X[train], labels[train])
    assert not single.multilabel_
    assert set(single.predict(data.X[test])) <= set(labels[train])
    proba = single.predict_proba(data.X[test])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert proba.shape == (40, len(single.classes_))


@requires_aeon
def test_in_a_pipeline_and_cloned(data):
    pipeline = make_pipeline(LeadStandardizer(),
                             MiniRocketClassifier(n_kernels=N_KERNELS, random_state=0))
    first = pipeline.fit(data.X[:120], data.y[:120]).predict_proba(data.X[120:])
    second = clone(pipeline).fit(data.X[:120], data.y[:120]).predict_proba(data.X[120:])
    np.testing.assert_allclose(first, second)  # random_state makes fits repeatable


@requires_aeon
def test_wrong_leads_and_bad_targets_are_refused(data):
    model = MiniRocketClassifier(n_kernels=N_KERNELS, random_state=0).fit(data.X[:40],
                                                                           data.y[:40])
    with pytest.raises(ValueError, match="leads"):
        model.predict_proba(data.X[:5, :6])
    with pytest.raises(ValueError, match="multi-hot"):
        MiniRocketClassifier(n_kernels=N_KERNELS).fit(data.X[:40], data.y[:40] * 3.5)
    with pytest.raises(ValueError, match="records"):
        MiniRocketClassifier(n_kernels=N_KERNELS).fit(data.X[:40], data.y[:30])


@requires_aeon
def test_evaluation_row_with_paired_delta(data):
    split = ptbxl_split(data.meta)
    rng = np.random.default_rng(0)
    baseline_scores = rng.random((len(split.test), data.y.shape[1]))
    table = minirocket_evaluation(data, splits=split, baseline=baseline_scores,
                                  n_kernels=N_KERNELS, n_bootstraps=200)
    assert list(table.columns) == [*TABLE_COLUMNS, "fit_time"] and len(table) == 1
    row = table.iloc[0]
    assert row["model"] == "MiniRocket" and row["n_train"] == len(split.train)
    assert row["test_auc_low"] <= row["test_auc"] <= row["test_auc_high"]

    model = MiniRocketClassifier(n_kernels=N_KERNELS, random_state=0)
    scores = model.fit(data.X[split.train], data.y[split.train]).predict_proba(
        data.X[split.test])
    expected = bootstrap_macro_auc_difference(data.y[split.test], scores, baseline_scores,
                                              n_bootstraps=200, random_state=0)
    assert row["delta"] == pytest.approx(expected.delta)
    assert (row["delta_low"], row["delta_high"]) == pytest.approx((expected.low, expected.high))
    assert row["baseline"] == pytest.approx(expected.auc_b)
    assert row["fit_time"] > 0


@requires_aeon
def test_cross_validated_row_pools_the_test_scores_of_every_split(data):
    cv = fold_rotation(data.meta, n_splits=5)
    rng = np.random.default_rng(1)
    baselines = [rng.random((len(s.test), data.y.shape[1])) for s in cv]
    table = minirocket_evaluation(data, cv=cv, baseline=baselines, n_kernels=N_KERNELS,
                                  n_bootstraps=200)
    row = table.iloc[0]
    tested = np.concatenate([s.test for s in cv])
    assert row["n_splits"] == 5 and row["n_test"] == len(tested) == len(np.unique(tested))

    # the pooled AUC by hand: one MiniRocket per split, test scores put in record order
    scores = np.zeros_like(data.y, dtype=float)
    reference = np.zeros_like(scores)
    for split, base in zip(cv, baselines, strict=True):
        model = MiniRocketClassifier(n_kernels=N_KERNELS, random_state=0)
        model.fit(data.X[split.train], data.y[split.train])
        scores[split.test] = model.predict_proba(data.X[split.test])
        reference[split.test] = base
    order = np.sort(tested)
    assert row["test_auc"] == pytest.approx(macro_auc(data.y[order], scores[order]))
    expected = bootstrap_macro_auc_difference(data.y[order], scores[order], reference[order],
                                              n_bootstraps=200, random_state=0)
    assert row["delta"] == pytest.approx(expected.delta)
    assert row["test_auc_low"] <= row["test_auc"] <= row["test_auc_high"]


def test_cross_validated_baseline_needs_one_entry_per_split(data):
    cv = fold_rotation(data.meta, n_splits=5)
    with pytest.raises(ValueError, match="5 splits"):
        minirocket_evaluation(data, cv=cv, baseline=np.zeros((10, 3)), n_kernels=N_KERNELS)
    with pytest.raises(ValueError, match="2 entries for 5 splits"):
        minirocket_evaluation(data, cv=cv, baseline=[None, None], n_kernels=N_KERNELS)


def test_wrong_baseline_scores_are_refused_before_any_fit(data, monkeypatch):
    fits = []
    monkeypatch.setattr(MiniRocketClassifier, "fit", lambda self, *a: fits.append(1))
    split = ptbxl_split(data.meta)
    with pytest.raises(ValueError, match=r"baseline scores of split 0 have shape \(3, 3\)"):
        minirocket_evaluation(data, splits=split, baseline=np.zeros((3, 3)), n_kernels=N_KERNELS)
    assert fits == []
