"""Non-deep baselines: MiniRocket (aeon) features with a ridge or logistic classifier.

MiniRocket (Dempster et al. 2021) convolves each record with about 10,000 fixed random kernels
and keeps the proportion of positive values of each output: no training of the features, one
linear classifier on top. It is a strong, fast reference on PTB-XL. It needs aeon, installed
with ``pip install "skecg[baselines]"``; aeon pins older pandas/numba/numpy releases than skecg's
core, so install it in an environment of its own (see the installation page). aeon is imported
only when a MiniRocket model is fitted, so this module imports without it.
"""

from __future__ import annotations

import time
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression, RidgeClassifierCV
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from ._validation import check_ecg_array, check_label_array

__all__ = ["MiniRocketClassifier", "aeon_available", "minirocket_evaluation"]

RIDGE_ALPHAS = tuple(np.logspace(-3, 3, 10))


def aeon_available() -> bool:
    """Whether aeon (the ``baselines`` extra) can be imported here."""
    try:
        import aeon  # noqa: F401
    except ImportError:
        return False
    return True


def _minirocket_class():
    try:
        from aeon.transformations.collection.convolution_based import MiniRocket
    except ImportError as exc:
        raise ImportError(
            "MiniRocketClassifier needs aeon: pip install 'skecg[baselines]' (aeon pins older "
            "pandas/numba/numpy releases: install it in a virtual environment of its own)."
        ) from exc
    return MiniRocket


class MiniRocketClassifier(ClassifierMixin, BaseEstimator):
    """MiniRocket features, standardised, and a linear classifier; multi-label or single-label.

    Works on ECG arrays of shape ``(n_records, n_leads, n_samples)`` (an ndarray or memmap)
    inside scikit-learn pipelines and searches. ``y`` of shape (n_records, n_labels) holding 0/1
    is a multi-label task (the PTB-XL case); 1-D ``y`` holds class labels.

    Parameters
    ----------
    n_kernels : int, default=10000
        Number of MiniRocket features (aeon rounds it to a multiple of 84).
    max_dilations_per_kernel : int, default=32
    classifier : {"ridge", "logistic"}, default="ridge"
        "ridge": :class:`~sklearn.linear_model.RidgeClassifierCV` (regularisation chosen by
        efficient leave-one-out cross-validation over ``alphas``, as in the MiniRocket paper);
        ``predict_proba`` is then the logistic sigmoid of the decision function, a monotone
        score for AUCs, not a calibrated probability. "logistic": one-vs-rest
        :class:`~sklearn.linear_model.LogisticRegression` with inverse regularisation ``C``.
    alphas : tuple of float, default=numpy.logspace(-3, 3, 10)
        Ridge regularisation grid.
    C : float, default=0.1
        Inverse regularisation of the logistic classifier.
    n_jobs : int, default=1
        Threads of aeon's feature transform.
    random_state : int or None, default=None
        Seeds the MiniRocket biases' sampling.

    Attributes
    ----------
    transformer_ : aeon MiniRocket
        The fitted feature transform.
    scaler_ : StandardScaler
        Feature standardisation fitted on the training features.
    classifier_ : estimator
        The fitted linear classifier.
    classes_ : np.ndarray
        Class labels; for multi-label ``y``, ``np.arange(n_labels)``.
    multilabel_ : bool
        Whether ``y`` was a multi-hot matrix.
    n_leads_in_ : int
        Number of leads seen in ``fit``.
    fit_time_ : float
        Seconds spent in ``fit``.
    """

    _parameter_constraints: dict = {
        "n_kernels": [Interval(Integral, 84, None, closed="left")],
        "max_dilations_per_kernel": [Interval(Integral, 1, None, closed="left")],
        "classifier": [StrOptions({"ridge", "logistic"})],
        "alphas": ["array-like"],
        "C": [Interval(Real, 0, None, closed="neither")],
        "n_jobs": [Integral],
        "random_state": ["random_state"],
    }

    def __init__(self, n_kernels: int = 10_000, max_dilations_per_kernel: int = 32,
                 classifier: str = "ridge", alphas=RIDGE_ALPHAS, C: float = 0.1,
                 n_jobs: int = 1, random_state=None) -> None:
        self.n_kernels = n_kernels
        self.max_dilations_per_kernel = max_dilations_per_kernel
        self.classifier = classifier
        self.alphas = alphas
        self.C = C
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _features(self, X) -> np.ndarray:
        # aeon's numba kernels want contiguous float32 (n_cases, n_channels, n_timepoints)
        X = np.ascontiguousarray(X, dtype=np.float32)
        return self.scaler_.transform(self.transformer_.transform(X))

    def fit(self, X, y) -> MiniRocketClassifier:
        """Fit MiniRocket on ``X`` and the linear classifier on its features and ``y``."""
        self._validate_params()
        start = time.perf_counter()
        X = check_ecg_array(X)
        y = check_label_array(y, n_records=len(X))  # one line for ragged lists of labels
        self.multilabel_ = type_of_target(y) == "multilabel-indicator"
        if y.ndim == 2 and not self.multilabel_:
            raise ValueError("2-D y must be a multi-hot 0/1 matrix (n_records, n_labels); got "
                             f"values {np.unique(y)[:5]}.")
        seed = self.random_state
        if seed is not None and not isinstance(seed, Integral):
            seed = int(np.random.RandomState(seed).randint(np.iinfo(np.int32).max))
        self.transformer_ = _minirocket_class()(
            n_kernels=self.n_kernels, max_dilations_per_kernel=self.max_dilations_per_kernel,
            n_jobs=self.n_jobs, random_state=seed)
        features = self.transformer_.fit_transform(np.ascontiguousarray(X, dtype=np.float32))
        self.scaler_ = StandardScaler().fit(features)
        features = self.scaler_.transform(features)
        if self.classifier == "ridge":
            self.classifier_ = RidgeClassifierCV(alphas=np.asarray(self.alphas, dtype=float))
        else:
            self.classifier_ = OneVsRestClassifier(
                LogisticRegression(C=self.C, max_iter=2000))
        self.classifier_.fit(features, y)
        self.classes_ = (np.arange(y.shape[1]) if self.multilabel_
                         else self.classifier_.classes_)
        self.n_leads_in_ = X.shape[1]
        self.fit_time_ = time.perf_counter() - start
        return self

    def _check_X(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = check_ecg_array(X)
        if X.shape[1] != self.n_leads_in_:
            raise ValueError(f"X has {X.shape[1]} leads; the model was fitted on "
                             f"{self.n_leads_in_}.")
        return X

    def decision_function(self, X) -> np.ndarray:
        """Classifier scores, (n_records, n_labels) (binary single-label: (n_records,))."""
        return self.classifier_.decision_function(self._features(self._check_X(X)))

    def predict_proba(self, X) -> np.ndarray:
        """Per-label probabilities (multi-label) or class probabilities (single-label).

        For the ridge classifier these are the sigmoid (multi-label) or softmax (single-label)
        of the decision function: monotone scores, not calibrated probabilities.
        """
        X = self._check_X(X)
        if self.classifier == "logistic":
            return self.classifier_.predict_proba(self._features(X))
        scores = self.classifier_.decision_function(self._features(X))
        if self.multilabel_:
            return 1.0 / (1.0 + np.exp(-scores))
        if scores.ndim == 1:  # binary
            positive = 1.0 / (1.0 + np.exp(-scores))
            return np.column_stack([1.0 - positive, positive])
        scores = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """Multi-hot labels (multi-label) or class labels (single-label)."""
        X = self._check_X(X)
        if self.multilabel_:
            return (self.predict_proba(X) >= 0.5).astype(int)
        return self.classifier_.predict(self._features(X))


def minirocket_evaluation(
    data: Bunch,
    *,
    splits: Bunch | None = None,
    cv=None,
    baseline=None,
    baseline_name: str = "supervised",
    classifier: str = "ridge",
    n_kernels: int = 10_000,
    n_jobs: int = 1,
    n_bootstraps: int = 1000,
    random_state=0,
) -> pd.DataFrame:
    """The MiniRocket row of the paper's table, on the same splits and with the same statistics.

    MiniRocket and its classifier are fitted on the training folds of each split (the ridge
    classifier picks its regularisation by leave-one-out on them, so the validation folds are
    only scored) and scored on its test folds. With ``cv``, the test scores of all splits are
    pooled into one macro AUC with a 95% bootstrap interval, as
    :mod:`skecg.evaluation`'s protocols do. With ``baseline``, the row also carries the paired
    bootstrap difference to it (``delta``, on the same resampled test records).

    Parameters
    ----------
    data : Bunch
        ``X`` in mV (n_records, n_leads, n_samples), multi-hot ``y``, ``meta`` with
        ``strat_fold`` (as from :func:`skecg.datasets.load_ptbxl`).
    splits : Bunch, optional
        ``train``, ``valid``, ``test`` index arrays (default: PTB-XL folds 1-8 / 9 / 10).
    cv : iterable of Bunch, optional
        Several such splits whose test parts do not overlap (e.g.
        :func:`skecg.datasets.fold_rotation`); not together with ``splits``.
    baseline : fitted estimator, array or list of them, optional
        The model to compare with: a fitted estimator whose ``predict_proba`` takes the test
        records, or its test scores (n_test, n_labels) directly; with several splits, a list
        holding one per split.
    baseline_name : str, default="supervised"
        What the baseline is, written in the ``protocol`` column beside ``delta``.
    classifier : {"ridge", "logistic"}, default="ridge"
    n_kernels : int, default=10000
    n_jobs : int, default=1
    n_bootstraps : int, default=1000
    random_state : int, default=0
        Seeds MiniRocket and the bootstrap.

    Returns
    -------
    pandas.DataFrame
        One row with the columns of :data:`skecg.evaluation.TABLE_COLUMNS` and ``fit_time``
        (seconds to fit MiniRocket and its classifier, summed over splits).
    """
    from .evaluation import TABLE_COLUMNS
    from .evaluation._core import _check_cv, _Runs
    from .metrics import macro_auc

    split_list = _check_cv(data, splits, cv)
    baselines = _baseline_per_split(baseline, split_list, data.y.shape[1])
    name = "ridge (RidgeClassifierCV)" if classifier == "ridge" else "logistic (C=0.1)"
    runs = _Runs(model="MiniRocket", pretraining="none (random kernels)", regime="supervised",
                 protocol=f"MiniRocket features + {classifier}"
                          + (f", delta vs {baseline_name}" if baseline is not None else ""))
    compared = _Runs() if baseline is not None else None
    fit_time, n_used = 0.0, None
    for i, split in enumerate(split_list):
        model = MiniRocketClassifier(n_kernels=n_kernels, classifier=classifier, n_jobs=n_jobs,
                                     random_state=random_state)
        model.fit(data.X[split.train], data.y[split.train])
        fit_time, n_used = fit_time + model.fit_time_, model.transformer_.n_kernels
        info = Bunch(n_train=len(split.train),
                     valid_auc=macro_auc(data.y[split.valid],
                                         model.predict_proba(data.X[split.valid])))
        runs.add(0, split.test, model.predict_proba(data.X[split.test]), info)
        if compared is not None:
            other = baselines[i]
            scores = (other.predict_proba(data.X[split.test])
                      if hasattr(other, "predict_proba") else other)
            compared.add(0, split.test, scores, info)
    row = runs.row(data.y, n_bootstraps, random_state, baseline=compared)
    row["recipe"] = f"{n_used} MiniRocket kernels (aeon), standardised features, {name}"
    table = pd.DataFrame([row], columns=TABLE_COLUMNS)
    table["fit_time"] = fit_time
    return table


def _baseline_per_split(baseline, split_list: list, n_labels: int) -> list:
    """``baseline`` as one entry per split, score arrays checked before anything is fitted."""
    n_splits = len(split_list)
    if baseline is None:
        return [None] * n_splits
    if isinstance(baseline, (list, tuple)):
        if len(baseline) != n_splits:
            raise ValueError(f"baseline holds {len(baseline)} entries for {n_splits} splits; "
                             "expected one fitted model or score array per split.")
        entries = list(baseline)
    elif n_splits != 1:
        raise ValueError(f"with {n_splits} splits, baseline must be a list of one fitted model "
                         "or score array per split.")
    else:
        entries = [baseline]
    for i, (entry, split) in enumerate(zip(entries, split_list, strict=True)):
        if hasattr(entry, "predict_proba"):
            continue
        entries[i] = np.asarray(entry)
        if entries[i].shape != (len(split.test), n_labels):
            raise ValueError(f"baseline scores of split {i} have shape {entries[i].shape}; "
                             f"expected ({len(split.test)}, {n_labels}): one row per test "
                             "record, one column per label.")
    return entries
