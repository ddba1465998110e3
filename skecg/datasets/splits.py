"""PTB-XL style splits by stratified fold (``strat_fold`` 1-10)."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np
import pandas as pd
from sklearn.model_selection import PredefinedSplit
from sklearn.utils import Bunch


def _folds_array(meta_or_folds) -> np.ndarray:
    if isinstance(meta_or_folds, pd.DataFrame):
        if "strat_fold" not in meta_or_folds.columns:
            raise ValueError("meta DataFrame has no 'strat_fold' column; pass the folds "
                             f"directly or a meta with it (columns: {list(meta_or_folds.columns)})")
        meta_or_folds = meta_or_folds["strat_fold"]
    folds = np.asarray(meta_or_folds)
    if folds.ndim != 1:
        raise ValueError(f"folds must be 1-D (one fold per record); got shape {folds.shape}")
    if folds.dtype.kind not in "iu":
        numeric = pd.to_numeric(pd.Series(folds), errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(numeric) | (numeric != np.round(numeric))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            shown = (repr(folds[i]) if isinstance(folds[i], str)
                     else "empty" if pd.isna(folds[i]) else folds[i])
            raise ValueError(f"folds must be integers (strat_fold): record {i} has "
                             f"{shown} ({int(bad.sum())} of {len(folds)} are not fold "
                             "numbers)")
        folds = numeric.astype(np.int64)
    return folds


def _fold_set(name: str, folds) -> set[int]:
    if folds is None:
        return set()
    if isinstance(folds, numbers.Integral):
        folds = (folds,)
    if not isinstance(folds, Iterable):
        raise TypeError(f"{name} must be an iterable of fold numbers; got {folds!r}")
    return {int(f) for f in folds}


def ptbxl_split(meta_or_folds, train_folds=range(1, 9), valid_folds=(9,),
                test_folds=(10,)) -> Bunch:
    """Indices of the train / validation / test records of the PTB-XL recommended split.

    Parameters
    ----------
    meta_or_folds : DataFrame with ``strat_fold`` or array-like of shape (n_records,) of int
    train_folds, valid_folds, test_folds : iterable of int
        Folds of each part (default: 1-8 / 9 / 10, as recommended for PTB-XL). They must not
        overlap; ``valid_folds`` may be empty or None.

    Returns
    -------
    Bunch with ``train``, ``valid``, ``test``: np.ndarray of int64 row indices (sorted).
    """
    folds = _folds_array(meta_or_folds)
    parts = {name: _fold_set(name, f) for name, f in (("train_folds", train_folds),
                                                       ("valid_folds", valid_folds),
                                                       ("test_folds", test_folds))}
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if parts[a] & parts[b]:
                raise ValueError(f"{a} and {b} overlap in folds {sorted(parts[a] & parts[b])}")
    idx = {name: np.flatnonzero(np.isin(folds, sorted(s))).astype(np.int64)
           for name, s in parts.items()}
    return Bunch(train=idx["train_folds"], valid=idx["valid_folds"], test=idx["test_folds"])


def first_k_folds(folds, k: int) -> np.ndarray:
    """Indices of records in folds 1..k, for label-efficiency experiments.

    Parameters
    ----------
    folds : DataFrame with ``strat_fold`` or array-like of shape (n_records,) of int
    k : int, >= 1
        Number of training folds kept (e.g. 1 of the 8 PTB-XL training folds = 1/8 of the
        labels).

    Returns
    -------
    np.ndarray of int64 row indices (sorted).
    """
    if not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k must be an int >= 1; got {k!r}")
    folds = _folds_array(folds)
    return np.flatnonzero((folds >= 1) & (folds <= k)).astype(np.int64)


def predefined_split(folds, test_folds=(9,)) -> PredefinedSplit:
    """A :class:`~sklearn.model_selection.PredefinedSplit` with one split per test fold.

    Records in ``test_folds[i]`` form the test part of split ``i``; all others have
    ``test_fold=-1`` and are always in the training part. Pass only the records meant for model
    selection (e.g. folds 1-9, keeping fold 10 out) and use the result as ``cv=`` of
    ``GridSearchCV``.

    Parameters
    ----------
    folds : DataFrame with ``strat_fold`` or array-like of shape (n_records,) of int
    test_folds : int or iterable of int

    Returns
    -------
    PredefinedSplit
    """
    folds = _folds_array(folds)
    if isinstance(test_folds, numbers.Integral):
        test_folds = (test_folds,)
    test_folds = [int(f) for f in test_folds]
    if not test_folds or len(set(test_folds)) != len(test_folds):
        raise ValueError(f"test_folds must be non-empty without duplicates; got {test_folds}")
    test_fold = np.full(folds.shape, -1, dtype=np.int64)
    for i, fold in enumerate(test_folds):
        hit = folds == fold
        if not hit.any():
            raise ValueError(f"no record is in test fold {fold}; folds present: "
                             f"{sorted(set(folds.tolist()))}")
        test_fold[hit] = i
    return PredefinedSplit(test_fold)


def patient_split(groups, valid_size: float = 0.1, test_size: float = 0.1,
                  random_state=0) -> Bunch:
    """Train / validation / test record indices with every patient in one part only.

    Patients (not records) are shuffled with :class:`sklearn.model_selection.GroupShuffleSplit`:
    the same ``groups`` and ``random_state`` give the same split on every machine.

    Parameters
    ----------
    groups : DataFrame with ``patient_id`` or array-like of shape (n_records,)
        Patient of each record (e.g. ``load_code15(...).meta``).
    valid_size, test_size : float
        Fractions of the patients in the validation and test parts (0 <= each, sum < 1).
    random_state : int or np.random.RandomState

    Returns
    -------
    Bunch with ``train``, ``valid``, ``test``: np.ndarray of int64 row indices (sorted).
    """
    from sklearn.model_selection import GroupShuffleSplit

    if isinstance(groups, pd.DataFrame):
        if "patient_id" not in groups.columns:
            raise ValueError("meta DataFrame has no 'patient_id' column; pass the patient ids "
                             f"directly (columns: {list(groups.columns)})")
        groups = groups["patient_id"]
    groups = np.asarray(groups)
    if groups.ndim != 1 or len(groups) == 0:
        raise ValueError(f"groups must be 1-D with one patient per record; got shape "
                         f"{groups.shape}")
    if pd.isna(groups).any():
        raise ValueError(f"groups has {int(pd.isna(groups).sum())} missing patient id(s)")
    for name, size in (("valid_size", valid_size), ("test_size", test_size)):
        if not isinstance(size, numbers.Real) or not 0 <= size < 1:
            raise ValueError(f"{name} must be a fraction in [0, 1); got {size!r}")
    if valid_size + test_size >= 1:
        raise ValueError(f"valid_size + test_size must be < 1; got {valid_size + test_size}")
    index = np.arange(len(groups))
    parts = {"valid": np.array([], dtype=np.int64), "test": np.array([], dtype=np.int64)}
    rest = index
    for name, size, share in (("test", test_size, 1.0), ("valid", valid_size, 1 - test_size)):
        if size == 0:
            continue
        splitter = GroupShuffleSplit(n_splits=1, test_size=size / share,
                                     random_state=random_state)
        keep, held = next(splitter.split(rest, groups=groups[rest]))
        parts[name], rest = np.sort(rest[held]), rest[keep]
    return Bunch(train=np.sort(rest).astype(np.int64), valid=parts["valid"].astype(np.int64),
                 test=parts["test"].astype(np.int64))


def fold_rotation(meta_or_folds, n_splits: int = 10) -> list[Bunch]:
    """Rotate PTB-XL's stratified folds so that every labelled record is tested exactly once.

    The ten folds are cut into ``n_splits`` consecutive groups (as equal as possible). Split
    ``r`` tests on group ``r``, selects models on the next group (``r + 1``, cyclically) and
    trains on the rest, so every record with a fold in 1..10 lands in exactly one test part.

    Parameters
    ----------
    meta_or_folds : DataFrame with ``strat_fold`` or array-like of shape (n_records,) of int
    n_splits : int, default=10
        Number of rotations, from 3 (test, validation and training groups) to 10 (one fold
        each: test on one fold, validate on the next, train on eight).

    Returns
    -------
    splits : list of Bunch
        One Bunch per rotation with ``train``, ``valid``, ``test`` (np.ndarray of int64 row
        indices, sorted), ``train_folds``, ``valid_folds``, ``test_folds`` (tuples of fold
        numbers) and ``rotation`` (int). A list, so it can be iterated more than once (pass it
        as ``cv=`` to the :mod:`skecg.evaluation` protocols).
    """
    if not isinstance(n_splits, numbers.Integral) or isinstance(n_splits, bool) \
            or not 3 <= n_splits <= 10:
        raise ValueError(f"n_splits must be an int from 3 to 10 (groups of PTB-XL's 10 folds); "
                         f"got {n_splits!r}.")
    folds = _folds_array(meta_or_folds)
    groups = [tuple(int(f) for f in g) for g in np.array_split(np.arange(1, 11), n_splits)]
    splits = []
    for rotation in range(n_splits):
        test_folds, valid_folds = groups[rotation], groups[(rotation + 1) % n_splits]
        train_folds = tuple(f for f in range(1, 11) if f not in test_folds + valid_folds)
        split = ptbxl_split(folds, train_folds=train_folds, valid_folds=valid_folds,
                            test_folds=test_folds)
        split.update(train_folds=train_folds, valid_folds=valid_folds, test_folds=test_folds,
                     rotation=rotation)
        splits.append(split)
    return splits
