"""Record-level evaluation metrics: macro ROC AUC, its bootstrap interval and record aggregation.

The paper (Mehari & Strodthoff 2022) reports the macro average of per-label ROC AUCs computed
on record-level predictions, where window-level predictions are first averaged per record.
A label whose ground truth holds a single class in the evaluated set has no defined AUC; the
paper counts it as 0.5, which is the default here.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.metrics import make_scorer
from sklearn.utils import check_random_state

__all__ = [
    "BootstrapDifference",
    "BootstrapResult",
    "bootstrap_macro_auc",
    "bootstrap_macro_auc_difference",
    "macro_auc",
    "macro_auc_scorer",
]

_BOOTSTRAP_CHUNK_ELEMENTS = 2**22  # bootstrap replicates x records held at once per label


def _as_score_matrix(y_score, n_samples: int | None = None) -> np.ndarray:
    """Turn classifier scores into a float array.

    Parameters
    ----------
    y_score : array-like of shape (n_samples,) or (n_samples, n_columns), or list of arrays
        Scores. A list (as returned by ``predict_proba`` of sklearn's multi-output classifiers
        such as ``MultiOutputClassifier`` or ``RandomForestClassifier``) holds one array of
        shape (n_samples, 2) per label; its positive-class column ``[:, 1]`` is taken. An
        array of shape (n_samples, 1) in the list (a label seen with one class only during
        fitting) becomes a constant column, which scores an AUC of 0.5.
    n_samples : int, optional
        Expected number of rows, only used for error messages of list input.

    Returns
    -------
    scores : np.ndarray of shape (n_samples,) or (n_samples, n_columns), float64
    """
    if isinstance(y_score, (list, tuple)) and len(y_score) > 0 and all(
        np.ndim(p) == 2 for p in y_score
    ):
        columns = []
        for i, p in enumerate(y_score):
            p = np.asarray(p, dtype=np.float64)
            if p.shape[1] == 2:
                columns.append(p[:, 1])
            elif p.shape[1] == 1:
                columns.append(np.zeros(p.shape[0]))
            else:
                raise ValueError(
                    f"y_score is a list of per-label probability arrays, but element {i} has "
                    f"shape {p.shape}; expected (n_samples, 2) for a binary label."
                )
        lengths = {len(c) for c in columns}
        if len(lengths) != 1:
            raise ValueError(
                f"y_score is a list of per-label arrays with differing numbers of rows "
                f"{sorted(lengths)}" + (f" (expected {n_samples})." if n_samples else ".")
            )
        return np.stack(columns, axis=1)
    scores = np.asarray(y_score, dtype=np.float64)
    if scores.ndim not in (1, 2):
        raise ValueError(
            f"y_score must be 1-D or 2-D (n_samples, n_labels); got shape {scores.shape}."
        )
    return scores


def _binarize_targets(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    """Bring targets and scores to matching ``(n_samples, n_labels)`` binary/float matrices.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_labels) or (n_samples,)
        Multi-hot targets, or class labels for single-label data.
    y_score : array-like of shape (n_samples, n_labels) or (n_samples,), or list of arrays
        Scores, see :func:`_as_score_matrix`.

    Returns
    -------
    truth : np.ndarray of shape (n_samples, n_labels), bool
    scores : np.ndarray of shape (n_samples, n_labels), float64
    """
    y_true = np.asarray(y_true)
    scores = _as_score_matrix(y_score, n_samples=len(y_true) if y_true.ndim else None)
    if y_true.ndim not in (1, 2):
        raise ValueError(
            f"y_true must be 1-D class labels or a 2-D multi-hot matrix; got shape "
            f"{y_true.shape}."
        )
    if y_true.shape[0] != scores.shape[0]:
        raise ValueError(
            f"y_true and y_score have different numbers of records: y_true has shape "
            f"{y_true.shape}, y_score has shape {scores.shape}."
        )
    if y_true.shape[0] == 0:
        raise ValueError("y_true is empty; at least one record is required.")
    if not np.isfinite(scores).all():
        raise ValueError("y_score contains NaN or infinite values.")

    if y_true.ndim == 2:  # multi-label, multi-hot
        if scores.ndim == 1 and y_true.shape[1] == 1:
            scores = scores[:, None]
        if scores.shape != y_true.shape:
            hint = ""
            if scores.ndim == 1 and y_true.shape[1] == 2:
                hint = (" (sklearn scorers pass only predict_proba[:, 1] for multi-label "
                        "classifiers fitted on 2 labels; call macro_auc on predict_proba "
                        "directly instead)")
            raise ValueError(
                f"For multi-label input y_true and y_score must have the same shape "
                f"(n_samples, n_labels); got y_true {y_true.shape} and y_score "
                f"{scores.shape}{hint}."
            )
        if y_true.dtype.kind not in "biuf" or not np.isin(y_true, (0, 1)).all():
            raise ValueError(
                "Multi-label y_true must be a multi-hot matrix holding only 0 and 1 "
                f"(got dtype {y_true.dtype})."
            )
        return y_true.astype(bool), scores

    # Single-label: 1-D class labels.
    if scores.ndim == 1:  # binary with positive-class scores, as sklearn scorers pass them
        classes = np.unique(y_true)
        if len(classes) > 2:
            raise ValueError(
                f"y_score is 1-D (shape {scores.shape}) but y_true holds {len(classes)} "
                "classes; multi-class input needs y_score of shape (n_samples, n_classes)."
            )
        if y_true.dtype.kind in "biuf":
            if not np.isin(y_true, (0, 1)).all():
                raise ValueError(
                    "With 1-D y_score, numeric y_true must hold 0 (negative) and 1 (positive); "
                    f"got values {classes.tolist()}."
                )
            return (y_true == 1)[:, None], scores[:, None]
        return (y_true == classes[-1])[:, None], scores[:, None]

    n_classes = scores.shape[1]
    if y_true.dtype.kind in "biu" and y_true.min() >= 0 and y_true.max() < n_classes:
        indices = y_true.astype(np.intp)
    else:
        classes, indices = np.unique(y_true, return_inverse=True)
        if len(classes) != n_classes:
            raise ValueError(
                f"y_true holds class labels {classes.tolist()[:10]} that cannot be matched to "
                f"the {n_classes} columns of y_score (shape {scores.shape}); pass class "
                f"indices 0..{n_classes - 1} or a multi-hot matrix of shape "
                f"({len(y_true)}, {n_classes})."
            )
    truth = np.zeros(scores.shape, dtype=bool)
    truth[np.arange(len(indices)), indices] = True
    return truth, scores


def _weighted_label_aucs(truth: np.ndarray, scores: np.ndarray,
                         weights: np.ndarray | None = None) -> np.ndarray:
    """Per-label ROC AUC (Mann-Whitney statistic, ties count 1/2), optionally for many weightings.

    Each label's scores are sorted once; every weighting (e.g. bootstrap counts) then costs a
    few cumulative sums over the records. Integer weights ``w`` give exactly the AUC of the
    data set in which record ``i`` appears ``w[i]`` times.

    Parameters
    ----------
    truth : np.ndarray of shape (n_samples, n_labels), bool
    scores : np.ndarray of shape (n_samples, n_labels), float
    weights : np.ndarray of shape (n_weightings, n_samples), optional
        Non-negative record weights; ``None`` means one weighting of all ones.

    Returns
    -------
    aucs : np.ndarray of shape (n_weightings, n_labels), float64
        NaN where a label has no positive or no negative record of non-zero weight.
    """
    n_samples, n_labels = truth.shape
    if weights is None:
        weights = np.ones((1, n_samples))
    aucs = np.empty((weights.shape[0], n_labels))
    for label in range(n_labels):
        order = np.argsort(scores[:, label], kind="stable")
        sorted_scores = scores[order, label]
        positive = truth[order, label]
        # Start index of each run of tied scores (runs are contiguous after sorting).
        starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
        w = weights[:, order]
        pos_w = np.add.reduceat(np.where(positive, w, 0.0), starts, axis=1)
        neg_w = np.add.reduceat(np.where(positive, 0.0, w), starts, axis=1)
        neg_below = np.cumsum(neg_w, axis=1) - neg_w
        numerator = (pos_w * (neg_below + 0.5 * neg_w)).sum(axis=1)
        denominator = pos_w.sum(axis=1) * neg_w.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            aucs[:, label] = np.where(denominator > 0, numerator / denominator, np.nan)
    return aucs


def _check_single_class(single_class: str) -> None:
    if single_class not in ("half", "skip"):
        raise ValueError(f"single_class must be 'half' or 'skip'; got {single_class!r}.")


def _macro_average(aucs: np.ndarray, single_class: str) -> np.ndarray:
    """Average per-label AUCs of shape (n, n_labels) into shape (n,), applying the 0.5 rule."""
    if single_class == "half":
        return np.where(np.isnan(aucs), 0.5, aucs).mean(axis=1)
    valid = ~np.isnan(aucs)
    counts = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, np.where(valid, aucs, 0.0).sum(axis=1) / counts, np.nan)


def macro_auc(
    y_true,
    y_score,
    *,
    single_class: Literal["half", "skip"] = "half",
) -> float:
    """Macro-averaged ROC AUC over labels, as reported by Mehari & Strodthoff (2022).

    Parameters
    ----------
    y_true : array-like of shape (n_records, n_labels) or (n_records,)
        Multi-hot targets for multi-label data; or, for single-label data, class indices
        ``0..n_classes-1`` (or class labels whose sorted order matches the columns of
        ``y_score``). With 1-D ``y_score``, binary targets where 1 (or the larger label) is
        the positive class.
    y_score : array-like of shape (n_records, n_labels), (n_records, n_classes) or \
(n_records,), or list of arrays of shape (n_records, 2)
        Scores, e.g. record-level ``predict_proba`` output. Single-label data with a 2-D
        ``y_score`` is scored one-vs-rest per class. A list of per-label ``(n_records, 2)``
        probability arrays (sklearn multi-output classifiers) is accepted.
    single_class : {"half", "skip"}, default="half"
        What to do with a label whose column in ``y_true`` holds a single class (its AUC is
        undefined): ``"half"`` counts it as 0.5 as in the paper, ``"skip"`` leaves it out of
        the average.

    Returns
    -------
    score : float
        Mean of the per-label ROC AUCs, in [0, 1].

    Raises
    ------
    ValueError
        If the shapes of ``y_true`` and ``y_score`` do not match, or if
        ``single_class="skip"`` and every label holds a single class.

    Notes
    -----
    For multi-label ``MLPClassifier`` / ``OneVsRestClassifier`` fitted on exactly two labels,
    sklearn's scorers take ``predict_proba[:, 1]`` as if the task were binary (their
    ``classes_`` is ``[0, 1]``), so :data:`macro_auc_scorer` then reports a shape mismatch.
    Call :func:`macro_auc` on ``predict_proba`` directly in that case.
    """
    _check_single_class(single_class)
    truth, scores = _binarize_targets(y_true, y_score)
    aucs = _weighted_label_aucs(truth, scores)
    score = float(_macro_average(aucs, single_class)[0])
    if np.isnan(score):
        raise ValueError(
            f"macro_auc with single_class='skip': all {truth.shape[1]} label(s) hold a single "
            "class in y_true, so no ROC AUC is defined. Use single_class='half' or evaluate "
            "on more records."
        )
    return score


#: Scorer for ``scoring=`` in ``GridSearchCV`` / ``cross_val_score``: :func:`macro_auc` on
#: ``predict_proba`` (the default 0.5 rule for single-class labels).
macro_auc_scorer = make_scorer(macro_auc, response_method="predict_proba")


@dataclass(frozen=True)
class BootstrapResult:
    """Point estimate and percentile bootstrap interval of the macro AUC.

    Attributes
    ----------
    point : float
        Macro AUC on the full data.
    low, high : float
        Lower and upper ends of the percentile confidence interval.
    samples : np.ndarray of shape (n_valid_bootstraps,)
        Macro AUC of each bootstrap resample (with ``single_class="skip"``, resamples in which
        every label holds a single class are left out).
    confidence : float
        Confidence level of the interval.
    """

    point: float
    low: float
    high: float
    samples: np.ndarray
    confidence: float


def _bootstrap_indices(random_state, n_bootstraps: int, n_samples: int) -> np.ndarray:
    if isinstance(random_state, np.random.Generator):
        return random_state.integers(0, n_samples, size=(n_bootstraps, n_samples))
    return check_random_state(random_state).randint(0, n_samples, size=(n_bootstraps, n_samples))


def _both_classes(truth: np.ndarray) -> np.ndarray:
    """Labels holding both classes in the full data, shape (n_labels,), bool."""
    n_positive = truth.sum(axis=0)
    return (n_positive > 0) & (n_positive < truth.shape[0])


def _keeps_both_classes(counts: np.ndarray, truth: np.ndarray,
                        both_classes: np.ndarray) -> np.ndarray:
    """Resamples (rows of record counts) in which every two-class label keeps both classes."""
    positives = counts @ truth[:, both_classes]
    return ((positives > 0) & (positives < truth.shape[0])).all(axis=1)


def bootstrap_macro_auc(
    y_true,
    y_score,
    *,
    n_bootstraps: int = 1000,
    confidence: float = 0.95,
    single_class: Literal["half", "skip"] = "half",
    random_state=None,
) -> BootstrapResult:
    """Percentile bootstrap confidence interval of :func:`macro_auc` over records.

    Records are resampled with replacement. Each label's scores are sorted only once; every
    resample is then evaluated through its record counts with cumulative sums, so the cost is
    ``O(n_labels * n_records * (log n_records + n_bootstraps))``.

    Parameters
    ----------
    y_true : array-like of shape (n_records, n_labels) or (n_records,)
        Targets, as in :func:`macro_auc`.
    y_score : array-like of shape (n_records, n_labels), (n_records, n_classes) or \
(n_records,), or list of arrays
        Scores, as in :func:`macro_auc`.
    n_bootstraps : int, default=1000
        Number of resamples.
    confidence : float, default=0.95
        Confidence level of the interval, in (0, 1).
    single_class : {"half", "skip"}, default="half"
        Rule for labels holding a single class (see :func:`macro_auc`). "half": such labels of
        the full data count 0.5, and a resample in which a label of both classes holds a
        single class is skipped, as :func:`bootstrap_macro_auc_difference` (and the PTB-XL
        benchmark) do, so an AUC interval and a paired difference use the same resamples.
        "skip": applied to the full data and to each resample alike.
    random_state : int, np.random.RandomState, np.random.Generator or None
        Seed of the resampling.

    Returns
    -------
    result : BootstrapResult
        ``point``, ``low``, ``high``, ``samples`` of shape (n_valid_bootstraps,) and
        ``confidence``.
    """
    _check_single_class(single_class)
    if not isinstance(n_bootstraps, numbers.Integral) or n_bootstraps < 1:
        raise ValueError(f"n_bootstraps must be a positive integer; got {n_bootstraps!r}.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}.")
    point = macro_auc(y_true, y_score, single_class=single_class)
    truth, scores = _binarize_targets(y_true, y_score)
    n_samples = truth.shape[0]

    indices = _bootstrap_indices(random_state, int(n_bootstraps), n_samples)
    samples = np.full(n_bootstraps, np.nan)
    both_classes = _both_classes(truth)
    chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // n_samples)
    for start in range(0, n_bootstraps, chunk):
        idx = indices[start:start + chunk]
        b = len(idx)
        # Record counts of each resample: one bincount over all resamples at once.
        offsets = (idx + n_samples * np.arange(b)[:, None]).ravel()
        counts = np.bincount(offsets, minlength=b * n_samples).reshape(b, n_samples)
        keep = np.ones(b, dtype=bool)
        if single_class == "half":  # as the paired difference: same resamples, same labels
            keep = _keeps_both_classes(counts, truth, both_classes)
        aucs = _weighted_label_aucs(truth, scores, counts[keep].astype(np.float64))
        samples[start:start + b][keep] = _macro_average(aucs, single_class)
    samples = samples[~np.isnan(samples)]
    if samples.size == 0:
        raise ValueError(
            f"None of the {n_bootstraps} bootstrap resamples of the {n_samples} records keeps "
            "both classes of the labels it needs, so no interval can be computed; evaluate on "
            "more records or drop the rarest labels."
        )
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(samples, [alpha, 1.0 - alpha])
    return BootstrapResult(point=point, low=float(low), high=float(high), samples=samples,
                           confidence=float(confidence))


@dataclass(frozen=True)
class BootstrapDifference:
    """Paired bootstrap estimate of a difference of macro AUCs, ``auc_a - auc_b``.

    Attributes
    ----------
    delta : float
        ``macro_auc(y_true, scores_a) - macro_auc(y_true, scores_b)`` on the full data.
    low, high : float
        Lower and upper ends of the percentile confidence interval of the difference.
    n_bootstraps : int
        Number of resamples used (drawn resamples in which a label present with both classes
        in the full data holds a single class are skipped).
    auc_a, auc_b : float
        Macro AUC of each set of scores on the full data.
    samples : np.ndarray of shape (n_bootstraps,)
        Difference on each resample used.
    confidence : float
        Confidence level of the interval.
    """

    delta: float
    low: float
    high: float
    n_bootstraps: int
    auc_a: float
    auc_b: float
    samples: np.ndarray
    confidence: float


def bootstrap_macro_auc_difference(
    y_true,
    scores_a,
    scores_b,
    n_bootstraps: int = 1000,
    confidence: float = 0.95,
    random_state=0,
) -> BootstrapDifference:
    """Paired percentile bootstrap interval of ``macro_auc(scores_a) - macro_auc(scores_b)``.

    Both sets of scores are evaluated on the *same* resampled records, so the interval
    reflects the spread of the difference (the two models' errors are correlated through the
    shared test records) rather than of each AUC alone.

    Parameters
    ----------
    y_true : array-like of shape (n_records, n_labels) or (n_records,)
        Targets, as in :func:`macro_auc`.
    scores_a, scores_b : array-like of shape (n_records, n_labels), (n_records, n_classes) \
or (n_records,), or list of arrays
        Scores of the two models on the same records, as in :func:`macro_auc`.
    n_bootstraps : int, default=1000
        Number of resamples drawn.
    confidence : float, default=0.95
        Confidence level of the interval, in (0, 1).
    random_state : int, np.random.RandomState, np.random.Generator or None, default=0
        Seed of the resampling.

    Returns
    -------
    result : BootstrapDifference
        ``delta``, ``low``, ``high``, ``n_bootstraps`` (resamples used), ``auc_a``, ``auc_b``,
        ``samples`` and ``confidence``.

    Raises
    ------
    ValueError
        If the inputs do not match, or if no drawn resample keeps both classes of every label.

    Notes
    -----
    A drawn resample in which a label that has both classes in the full data holds a single
    class is skipped (as the PTB-XL benchmark's bootstrap does), so every resample scores the
    same labels as the full data; ``n_bootstraps`` of the result counts the resamples used.
    A label with a single class in the full data counts 0.5 for both models (see
    :func:`macro_auc`) and so adds nothing to the difference.
    """
    if not isinstance(n_bootstraps, numbers.Integral) or n_bootstraps < 1:
        raise ValueError(f"n_bootstraps must be a positive integer; got {n_bootstraps!r}.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}.")
    truth, scores_a = _binarize_targets(y_true, scores_a)
    _, scores_b = _binarize_targets(y_true, scores_b)
    if scores_a.shape != scores_b.shape:
        raise ValueError(
            f"scores_a and scores_b must have the same shape; got {scores_a.shape} and "
            f"{scores_b.shape}."
        )
    auc_a = float(_macro_average(_weighted_label_aucs(truth, scores_a), "half")[0])
    auc_b = float(_macro_average(_weighted_label_aucs(truth, scores_b), "half")[0])
    n_samples = truth.shape[0]
    both_classes = _both_classes(truth)

    indices = _bootstrap_indices(random_state, int(n_bootstraps), n_samples)
    samples = np.full(n_bootstraps, np.nan)
    chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // n_samples)
    for start in range(0, n_bootstraps, chunk):
        idx = indices[start:start + chunk]
        b = len(idx)
        offsets = (idx + n_samples * np.arange(b)[:, None]).ravel()
        counts = np.bincount(offsets, minlength=b * n_samples).reshape(b, n_samples)
        keep = _keeps_both_classes(counts, truth, both_classes)
        weights = counts[keep].astype(np.float64)
        if not len(weights):
            continue
        delta = (_macro_average(_weighted_label_aucs(truth, scores_a, weights), "half")
                 - _macro_average(_weighted_label_aucs(truth, scores_b, weights), "half"))
        samples[start:start + b][keep] = delta
    samples = samples[~np.isnan(samples)]
    if samples.size == 0:
        raise ValueError(
            f"None of the {n_bootstraps} bootstrap resamples of the {n_samples} records keeps "
            "both classes of every label; evaluate on more records or drop the rarest labels."
        )
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(samples, [alpha, 1.0 - alpha])
    return BootstrapDifference(delta=auc_a - auc_b, low=float(low), high=float(high),
                               n_bootstraps=int(samples.size), auc_a=auc_a, auc_b=auc_b,
                               samples=samples, confidence=float(confidence))
