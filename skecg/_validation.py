"""Input checks shared by every skecg estimator and function."""

from __future__ import annotations

import numbers

import numpy as np

from ._lazy import is_lazy_ecg_array

_FINITE_CHECK_CHUNK = 256  # records per chunk: bounds memory when X is a large np.memmap


def check_ecg_array(
    X,
    *,
    name: str = "X",
    allow_2d: bool = True,
    min_samples: int = 1,
    ensure_finite: bool = True,
) -> np.ndarray:
    """Validate an ECG array and return it as float32 of shape ``(n_records, n_leads, n_samples)``.

    Parameters
    ----------
    X : array-like of shape (n_records, n_leads, n_samples) or (n_records, n_samples)
        ECG signals in millivolts. A 2-D array is read as single-lead records.
        A float32 ``np.ndarray`` or ``np.memmap`` is returned without copying, and so is an
        out-of-core array (``__skecg_lazy_ecg__``, see :mod:`skecg._lazy`), which is float32,
        3-D and finite by construction.
    name : str
        Name used in error messages.
    allow_2d : bool
        Whether a 2-D array is accepted as single-lead input.
    min_samples : int
        Smallest accepted number of samples per lead.
    ensure_finite : bool
        Raise if any value is NaN or infinite (checked chunk by chunk, so a memmap is never
        loaded whole).

    Returns
    -------
    X : np.ndarray of shape (n_records, n_leads, n_samples), float32
    """
    if is_lazy_ecg_array(X):  # out of core (ECGStore.X, LeadStandardizer on it): never copied
        if X.shape[0] == 0 or X.shape[1] == 0 or X.shape[2] < min_samples:
            raise ValueError(f"{name} has shape {tuple(X.shape)}; at least 1 record, 1 lead and "
                             f"{min_samples} samples per lead are required.")
        return X
    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(f"{name} is a sparse matrix; sparse input is not supported for ECG "
                        "signals. Pass a dense array of shape (n_records, n_leads, n_samples).")
    if isinstance(X, (list, tuple)) or (hasattr(X, "__array__") and not isinstance(X, np.ndarray)
                                        and not hasattr(X, "detach")):
        X = np.asarray(X)
    if hasattr(X, "detach") and hasattr(X, "cpu"):  # torch tensor
        X = X.detach().cpu().numpy()
    if not isinstance(X, np.ndarray):
        raise TypeError(f"{name} must be an array of shape (n_records, n_leads, n_samples); "
                        f"got {type(X).__name__}.")
    if X.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} must hold real ECG samples in mV.")
    if X.dtype.kind == "O":
        X = X.astype(np.float32)
    if X.dtype.kind not in "fiub":
        raise ValueError(f"{name} must hold numbers (ECG samples in mV); got dtype {X.dtype}.")
    input_shape = X.shape
    if X.ndim == 2 and allow_2d:
        X = X[:, None, :]
    if X.ndim != 3:
        expected = "3-D (n_records, n_leads, n_samples)" + (" or 2-D" if allow_2d else "")
        hint = " Reshape your data: one row per record." if X.ndim < 2 else ""
        raise ValueError(f"{name} must be {expected}; got an array of shape {X.shape}.{hint}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} has 0 records (shape {X.shape}); at least 1 is required.")
    if X.shape[1] == 0 or X.shape[2] < min_samples:
        # the wording "0 feature(s) (shape=(n, 0)) while a minimum of" follows scikit-learn
        raise ValueError(f"Found array with {X.shape[1] * X.shape[2]} feature(s) (shape="
                         f"{input_shape}) while a minimum of {min_samples} is required: {name} "
                         f"needs at least 1 lead and {min_samples} samples per lead.")
    if X.dtype != np.float32:
        X = X.astype(np.float32)
    if ensure_finite:
        for start in range(0, X.shape[0], _FINITE_CHECK_CHUNK):
            chunk = np.asarray(X[start:start + _FINITE_CHECK_CHUNK])
            finite_records = np.isfinite(chunk).reshape(len(chunk), -1).all(axis=1)
            if not finite_records.all():
                bad = start + int(np.flatnonzero(~finite_records)[0])
                raise ValueError(f"{name} contains NaN or infinite values (first in record {bad}); "
                                 "ECG input must be finite.")
    return X


def check_random_state_seed(random_state) -> int:
    """Turn ``random_state`` (None, int or ``np.random.RandomState``) into an int seed for torch."""
    if random_state is None:
        return int(np.random.default_rng().integers(2**31 - 1))
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    raise ValueError("random_state must be None, an int or a np.random.RandomState; "
                     f"got {random_state!r}.")
