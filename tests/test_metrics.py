"""Tests for skecg.metrics: macro AUC, its scorer, bootstrap intervals and record aggregation."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.multioutput import MultiOutputClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.tree import DecisionTreeClassifier

from skecg.metrics import (
    BootstrapDifference,
    BootstrapResult,
    _as_score_matrix,
    bootstrap_macro_auc,
    bootstrap_macro_auc_difference,
    macro_auc,
    macro_auc_scorer,
)


def _multilabel(n=120, n_labels=4, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, n_labels)) < 0.35).astype(int)
    y[:2] = [[0] * n_labels, [1] * n_labels]  # every label has both classes
    score = y * 0.8 + rng.normal(size=(n, n_labels))
    if ties:
        score = np.round(score, 1)
    return y, score


def _loop_macro_auc(y, score):
    return np.mean([roc_auc_score(y[:, j], score[:, j]) for j in range(y.shape[1])])


@pytest.mark.parametrize("ties", [False, True])
def test_macro_auc_matches_sklearn_loop(ties):
    y, score = _multilabel(ties=ties)
    assert macro_auc(y, score) == pytest.approx(_loop_macro_auc(y, score), abs=1e-12)
    assert macro_auc(y.astype(bool), score.astype(np.float32)) == pytest.approx(
        _loop_macro_auc(y, score.astype(np.float32)), abs=1e-7)


def test_macro_auc_single_label_one_vs_rest():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, size=200)
    proba = rng.dirichlet(np.ones(4), size=200)
    proba[np.arange(200), y] += 0.3
    expected = roc_auc_score(y, proba / proba.sum(1, keepdims=True), multi_class="ovr",
                             average="macro")
    assert macro_auc(y, proba / proba.sum(1, keepdims=True)) == pytest.approx(expected)
    # String labels whose sorted order matches the columns.
    names = np.array(["AFIB", "NORM", "MI", "STTC"])[y]
    order = np.argsort(["AFIB", "NORM", "MI", "STTC"])
    assert macro_auc(names, proba[:, order]) == pytest.approx(macro_auc(y, proba))


def test_macro_auc_binary_1d_scores():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, size=80)
    s = y + rng.normal(size=80)
    assert macro_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert macro_auc(y, np.c_[-s, s]) == pytest.approx(roc_auc_score(y, s))


def test_single_class_label_counts_half_or_is_skipped():
    y, score = _multilabel(n_labels=3)
    y[:, 1] = 0  # label 1 has only negatives
    aucs = [roc_auc_score(y[:, j], score[:, j]) for j in (0, 2)]
    assert macro_auc(y, score) == pytest.approx((aucs[0] + 0.5 + aucs[1]) / 3)
    assert macro_auc(y, score, single_class="skip") == pytest.approx(np.mean(aucs))
    y[:, [0, 2]] = 1
    assert macro_auc(y, score) == 0.5
    with pytest.raises(ValueError, match="all 3 label"):
        macro_auc(y, score, single_class="skip")
    with pytest.raises(ValueError, match="single_class"):
        macro_auc(y, score, single_class="nan")


def test_shape_mismatch_errors_name_shapes():
    y, score = _multilabel(n=50, n_labels=4)
    with pytest.raises(ValueError, match=r"\(50, 4\).*\(50, 3\)"):
        macro_auc(y, score[:, :3])
    with pytest.raises(ValueError, match=r"\(50, 4\).*\(49, 4\)"):
        macro_auc(y, score[:49])
    with pytest.raises(ValueError, match="multi-hot"):
        macro_auc(y * 2, score)
    with pytest.raises(ValueError, match="cannot be matched"):
        macro_auc(np.array([0, 1, 7, 8]), np.ones((4, 3)))


def test_as_score_matrix_list_of_binary_probas():
    rng = np.random.default_rng(3)
    cols = rng.random((10, 3))
    probas = [np.c_[1 - c, c] for c in cols.T]
    np.testing.assert_allclose(_as_score_matrix(probas), cols)
    with_single = _as_score_matrix(probas[:2] + [np.ones((10, 1))])
    assert with_single.shape == (10, 3) and np.all(with_single[:, 2] == with_single[0, 2])
    with pytest.raises(ValueError, match=r"element 0 has shape \(10, 3\)"):
        _as_score_matrix([np.ones((10, 3))])


def _multilabel_features(n=150, n_labels=3, seed=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    logits = X[:, :n_labels] * 2.0 + rng.normal(size=(n, n_labels))
    return X, (logits > 0).astype(int)


def test_scorer_in_grid_search_multilabel_mlp():
    X, y = _multilabel_features()
    grid = GridSearchCV(MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0),
                        {"alpha": [1e-4, 1.0]}, scoring=macro_auc_scorer, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X, y)
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.best_score_ > 0.7
    expected = macro_auc(y, grid.best_estimator_.predict_proba(X))
    assert macro_auc_scorer(grid.best_estimator_, X, y) == pytest.approx(expected)


def test_scorer_with_list_returning_multioutput_classifier():
    X, y = _multilabel_features()
    clf = MultiOutputClassifier(DecisionTreeClassifier(max_depth=3, random_state=0))
    scores = cross_val_score(clf, X, y, scoring=macro_auc_scorer, cv=KFold(3))
    assert scores.shape == (3,) and np.all((scores > 0.5) & (scores <= 1.0))
    clf.fit(X, y)
    assert macro_auc(y, clf.predict_proba(X)) == pytest.approx(macro_auc_scorer(clf, X, y))


def test_scorer_single_label_binary_and_multiclass():
    X, y = _multilabel_features(n_labels=1)
    y = y.ravel()
    scores = cross_val_score(LogisticRegression(), X, y, scoring=macro_auc_scorer, cv=3)
    ref = cross_val_score(LogisticRegression(), X, y, scoring="roc_auc", cv=3)
    np.testing.assert_allclose(scores, ref)
    y3 = np.digitize(X[:, 0], [-0.5, 0.5])
    scores = cross_val_score(LogisticRegression(), X, y3, scoring=macro_auc_scorer, cv=3)
    ref = cross_val_score(LogisticRegression(), X, y3, scoring="roc_auc_ovr", cv=3)
    np.testing.assert_allclose(scores, ref)


def _bootstrap_loop(y, score, n_bootstraps, seed):
    idx = np.random.RandomState(seed).randint(0, len(y), size=(n_bootstraps, len(y)))
    return np.array([macro_auc(y[i], score[i]) for i in idx])


@pytest.mark.parametrize("ties", [False, True])
def test_bootstrap_matches_resampling_loop(ties):
    y, score = _multilabel(n=40, ties=ties)
    res = bootstrap_macro_auc(y, score, n_bootstraps=50, random_state=7)
    assert isinstance(res, BootstrapResult)
    np.testing.assert_allclose(res.samples, _bootstrap_loop(y, score, 50, 7), atol=1e-12)


def test_bootstrap_interval_contains_point_and_narrows():
    y, score = _multilabel(n=100, seed=5)
    small = bootstrap_macro_auc(y, score, n_bootstraps=300, random_state=0)
    assert small.low <= small.point <= small.high
    assert small.point == pytest.approx(macro_auc(y, score))
    y_big, score_big = _multilabel(n=1600, seed=5)
    big = bootstrap_macro_auc(y_big, score_big, n_bootstraps=300, random_state=0)
    assert big.low <= big.point <= big.high
    assert (big.high - big.low) < 0.6 * (small.high - small.low)


def test_bootstrap_deterministic_and_handles_single_class_resamples():
    y, score = _multilabel(n=60)
    a = bootstrap_macro_auc(y, score, n_bootstraps=100, random_state=3)
    b = bootstrap_macro_auc(y, score, n_bootstraps=100, random_state=3)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert (a.low, a.high) == (b.low, b.high)
    g = bootstrap_macro_auc(y, score, n_bootstraps=20, random_state=np.random.default_rng(0))
    assert g.samples.shape == (20,)
    # A rare label: many resamples miss its single positive; they are skipped, as in the
    # paired difference, so an AUC interval and a delta interval use the same resamples
    y[:, 0] = 0
    y[5, 0] = 1
    res = bootstrap_macro_auc(y, score, n_bootstraps=200, random_state=0)
    assert np.all(np.isfinite(res.samples)) and 0 < len(res.samples) < 200
    diff = bootstrap_macro_auc_difference(y, score, score[::-1], n_bootstraps=200,
                                          random_state=0)
    assert len(res.samples) == diff.n_bootstraps
    idx = np.random.RandomState(0).randint(0, len(y), size=(200, len(y)))
    kept = [i for i in idx if all(len(np.unique(y[i, j])) == 2 for j in range(y.shape[1]))]
    np.testing.assert_allclose(res.samples[:10],
                               [_loop_macro_auc(y[i], score[i]) for i in kept[:10]])
    skip = bootstrap_macro_auc(y, score, n_bootstraps=200, random_state=0, single_class="skip")
    assert skip.samples.shape == (200,)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_macro_auc(y, score, confidence=1.5)


def _paired_difference_loop(y, score_a, score_b, n_bootstraps, seed):
    """Slow reference: resample records, skip resamples losing a class, difference of loops."""
    idx = np.random.RandomState(seed).randint(0, len(y), size=(n_bootstraps, len(y)))
    deltas = []
    for i in idx:
        if any(len(np.unique(y[i, j])) < 2 for j in range(y.shape[1])):
            continue
        deltas.append(_loop_macro_auc(y[i], score_a[i]) - _loop_macro_auc(y[i], score_b[i]))
    return np.array(deltas)


@pytest.mark.parametrize("ties", [False, True])
def test_paired_bootstrap_difference_matches_loop(ties):
    y, score_a = _multilabel(n=30, seed=8, ties=ties)
    y[:, 0] = 0
    y[[3, 7], 0] = 1  # rare label: some resamples lose it and are skipped
    score_b = score_a + np.random.default_rng(9).normal(size=score_a.shape)
    if ties:
        score_b = np.round(score_b, 1)
    res = bootstrap_macro_auc_difference(y, score_a, score_b, n_bootstraps=80, random_state=4)
    ref = _paired_difference_loop(y, score_a, score_b, 80, 4)
    assert isinstance(res, BootstrapDifference)
    assert 0 < res.n_bootstraps == len(ref) < 80
    np.testing.assert_allclose(res.samples, ref, atol=1e-12)
    assert res.delta == pytest.approx(
        _loop_macro_auc(y, score_a) - _loop_macro_auc(y, score_b), abs=1e-12)
    assert res.auc_a - res.auc_b == pytest.approx(res.delta)
    assert (res.low, res.high) == pytest.approx(tuple(np.quantile(ref, [0.025, 0.975])))


def test_paired_bootstrap_difference_is_paired():
    """Identical scores give exactly zero; a shared noise term cancels in the paired spread."""
    y, score = _multilabel(n=200, seed=10)
    same = bootstrap_macro_auc_difference(y, score, score.copy(), n_bootstraps=50)
    assert same.delta == 0 and same.low == 0 and same.high == 0
    better = score + 0.3 * y
    paired = bootstrap_macro_auc_difference(y, better, score, n_bootstraps=300, random_state=1)
    a = bootstrap_macro_auc(y, better, n_bootstraps=300, random_state=1)
    b = bootstrap_macro_auc(y, score, n_bootstraps=300, random_state=2)
    assert paired.low > 0
    assert paired.high - paired.low < 0.5 * min(a.high - a.low, b.high - b.low)
    # Single-label class indices are accepted like macro_auc's.
    y1 = np.argmax(score, axis=1)
    res = bootstrap_macro_auc_difference(y1, score, better, n_bootstraps=20)
    assert res.delta == pytest.approx(macro_auc(y1, score) - macro_auc(y1, better))


def test_paired_bootstrap_difference_errors():
    y, score = _multilabel(n=20)
    with pytest.raises(ValueError, match="same shape"):
        bootstrap_macro_auc_difference(y, score, score[:, :3])
    with pytest.raises(ValueError, match="n_bootstraps"):
        bootstrap_macro_auc_difference(y, score, score, n_bootstraps=0)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_macro_auc_difference(y, score, score, confidence=0)
    y[:, 0] = 0
    y[0, 0] = 1  # one positive among 20: find a seed whose 3 resamples all miss it
    seed = next(s for s in range(1000)
                if not (np.random.RandomState(s).randint(0, 20, size=(3, 20)) == 0).any())
    with pytest.raises(ValueError, match="None of the 3 bootstrap resamples"):
        bootstrap_macro_auc_difference(y, score, score, n_bootstraps=3, random_state=seed)
