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
    if isinstance(X, (list, tuple)):
        _check_not_ragged(X, name)
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


def _check_not_ragged(X, name: str) -> None:
    """Raise in one line, naming the first odd record, if a list of records has mixed shapes."""
    shapes = []
    for i, record in enumerate(X):
        try:
            shapes.append(np.shape(record))
        except ValueError:  # numpy's "inhomogeneous shape": leads of different lengths
            lengths = sorted({len(lead) for lead in record if hasattr(lead, "__len__")})
            raise ValueError(f"{name}: record {i} has leads of different lengths {lengths}; "
                             "every lead of a record must have the same number of "
                             "samples.") from None
    odd = next((i for i, shape in enumerate(shapes) if shape != shapes[0]), None)
    if odd is None:
        return
    raise ValueError(f"{name} is a ragged list of records: record {odd} has "
                     f"{_describe_record(shapes[odd])} but record 0 has "
                     f"{_describe_record(shapes[0])}; every record must have the same "
                     "leads and number of samples (load with duration= to crop/pad to one "
                     "length, and leads= to pick the same leads).")


def _describe_record(shape: tuple) -> str:
    if len(shape) == 2:
        return f"shape {shape} ({shape[0]} leads x {shape[1]} samples)"
    return f"shape {shape}"


def check_label_array(y, *, n_records: int | None = None, name: str = "y") -> np.ndarray:
    """Validate targets: 1-D labels or a 2-D multi-hot matrix, one row per record.

    Parameters
    ----------
    y : array-like of shape (n_records,) or (n_records, n_labels)
        Class labels, or a 0/1 matrix for multi-label data.
    n_records : int or None
        The number of records ``y`` must describe (``len(X)``); None: not checked.
    name : str
        Name used in error messages.

    Returns
    -------
    y : np.ndarray
        ``y`` as an array (not converted otherwise).

    Raises
    ------
    ValueError
        In one line: ``y`` is a ragged list (e.g. a list of label lists, one per record, which
        must be binarized first), or its length differs from ``n_records``.
    """
    if isinstance(y, (list, tuple)):
        lengths = [len(v) if isinstance(v, (list, tuple, set, np.ndarray)) else None for v in y]
        odd = next((i for i, n in enumerate(lengths) if n != lengths[0]), None)
        if odd is not None:
            size = ["a single label" if k is None else f"{k} value(s)"
                    for k in (lengths[odd], lengths[0])]
            raise ValueError(
                f"{name} is a ragged list: entry {odd} has {size[0]} but entry 0 has "
                f"{size[1]}; expected one label per record (1-D) or a 0/1 matrix of "
                "shape (n_records, n_labels). Turn lists of labels into that matrix with "
                "sklearn.preprocessing.MultiLabelBinarizer.")
    y = np.asarray(y)
    if n_records is not None and (y.ndim == 0 or len(y) != n_records):
        got = "a scalar" if y.ndim == 0 else f"{len(y)} entries"
        raise ValueError(f"{name} has {got} for {n_records} records; expected one entry "
                         "per record.")
    return y


def check_n_leads(X: np.ndarray, n_leads: int, *, fitted_by: str, name: str = "X") -> None:
    """Raise in one line if ``X`` (from :func:`check_ecg_array`) has not ``n_leads`` leads.

    The message says what ``X`` looks like when the mismatch has a likely cause: one record
    passed alone (a 2-D ``X[0]``, read as single-lead records: pass ``X[None]``), or records
    with leads last (shape ``(n, n_samples, n_leads)``: pass ``X.transpose(0, 2, 1)``).

    Parameters
    ----------
    X : np.ndarray of shape (n_records, n_leads, n_samples)
        Already validated by :func:`check_ecg_array` (a 2-D input is then ``(n, 1, n_samples)``).
    n_leads : int
        The number of leads the estimator was fitted on.
    fitted_by : str
        The estimator's name, used in the message.
    name : str
        Name of ``X`` in the message.

    Raises
    ------
    ValueError
        If ``X.shape[1] != n_leads``.
    """
    n, leads, samples = X.shape
    if leads == n_leads:
        return
    message = f"{name} has {leads} leads, but {fitted_by} was fitted on {n_leads} leads."
    if leads == 1 and n == n_leads:
        message += (f" {name} of shape ({n}, {samples}) looks like ONE record of {n_leads} "
                    f"leads (e.g. X[0]); pass {name}[None] (shape (1, {n}, {samples})).")
    elif leads == 1 and samples == n_leads:
        message += (f" {name} of shape ({n}, {samples}) looks like ONE record with leads last; "
                    f"pass {name}.T[None] (shape (1, {samples}, {n})).")
    elif samples == n_leads:
        message += (f" {name} of shape {X.shape} looks leads-last (n_records, n_samples, "
                    f"n_leads); pass {name}.transpose(0, 2, 1) (shape ({n}, {samples}, "
                    f"{leads})).")
    raise ValueError(message)


def leads_last_hint(X: np.ndarray, name: str = "X") -> str:
    """A hint (or ``""``) for fit-time errors: ``X`` has more leads than samples per lead."""
    n, leads, samples = X.shape
    if leads > samples:
        return (f" {name} of shape {X.shape} has more leads than samples: if it is "
                f"(n_records, n_samples, n_leads), pass {name}.transpose(0, 2, 1).")
    return ""


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
