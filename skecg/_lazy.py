"""Read-only ECG arrays that live out of core and are read record by record, batch by batch.

An out-of-core array has ``shape`` ``(n_records, n_leads, n_samples)``, float32 ``dtype``,
``len`` and numpy-style indexing whose first index selects records (an int, a slice, an int array
or a boolean mask) and returns an ``np.ndarray``. ``np.asarray`` materialises it whole, so code
that fits batch by batch must only index it. Such arrays set ``__skecg_lazy_ecg__ = True``:
:func:`skecg._validation.check_ecg_array` passes them through without copying, and they are
float32, 3-D and finite by construction (checked when they are written or built).
"""

from __future__ import annotations

import numbers

import numpy as np

_MATERIALISE_CHUNK = 1024  # records per read when a lazy array is turned into an ndarray


def is_lazy_ecg_array(X) -> bool:
    """Whether ``X`` is an out-of-core ECG array (see the module docstring)."""
    return bool(getattr(X, "__skecg_lazy_ecg__", False))


def split_record_key(key, n_records: int):
    """Split an index into a record selection and the index of the remaining axes.

    Returns
    -------
    records : int or np.ndarray of int64
        An int (the record axis is dropped) or the selected record numbers, in order.
    rest : tuple
        Index applied to the (leads, samples) axes of what the records give.
    """
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        at = next(i for i, k in enumerate(key) if k is Ellipsis)
        fill = (slice(None),) * (3 - (len(key) - 1))
        key = key[:at] + fill + key[at + 1:]
    if len(key) > 3:
        raise IndexError(f"too many indices for a 3-D ECG array: {len(key)}")
    first, rest = key[0], key[1:]
    if isinstance(first, numbers.Integral) and not isinstance(first, bool):
        index = int(first)
        if not -n_records <= index < n_records:
            raise IndexError(f"record {index} is out of range for {n_records} records")
        return index % n_records, rest
    if isinstance(first, slice):
        return np.arange(n_records, dtype=np.int64)[first], rest
    rows = np.asarray(first)
    if rows.dtype == bool:
        if rows.shape != (n_records,):
            raise IndexError(f"boolean record mask has shape {rows.shape}; expected "
                             f"({n_records},)")
        return np.flatnonzero(rows).astype(np.int64), rest
    if rows.dtype.kind not in "iu" or rows.ndim != 1:
        raise IndexError("records must be selected by an int, a slice, a 1-D int array or a "
                         f"boolean mask; got {first!r}")
    if rows.size and (rows.min() < -n_records or rows.max() >= n_records):
        raise IndexError(f"record index out of range for {n_records} records")
    return np.where(rows < 0, rows + n_records, rows).astype(np.int64), rest


def _first(key):
    first = key[0] if isinstance(key, tuple) and key else key
    return slice(None) if first is Ellipsis else first


class LazyECGArray:
    """Base of the out-of-core ECG arrays: indexing and materialisation on top of ``_take``.

    Subclasses set ``shape`` and implement ``_take(rows) -> (len(rows), n_leads, n_samples)``
    float32 for a sorted or unsorted int64 array of record numbers.
    """

    __skecg_lazy_ecg__ = True
    dtype = np.dtype(np.float32)
    ndim = 3
    shape: tuple[int, int, int]

    def _take(self, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def _take_one(self, row: int) -> np.ndarray:
        """One record (n_leads, n_samples); subclasses override it for per-record speed."""
        return self._take(np.array([row], dtype=np.int64))[0]

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, numbers.Integral) and not isinstance(key, bool):
            # the DataLoader's per-record path: kept to a few microseconds
            n = self.shape[0]
            if not -n <= key < n:
                raise IndexError(f"record {key} is out of range for {n} records")
            return self._take_one(int(key) % n)
        records, rest = split_record_key(key, len(self))
        if isinstance(records, int):  # keep numpy's rules for mixed int / array indices
            return self._take(np.array([records], dtype=np.int64))[(0,) + rest]
        if not isinstance(_first(key), slice):  # int array or mask: read each record once
            unique, inverse = np.unique(records, return_inverse=True)
            return self._take(unique)[(inverse.reshape(records.shape),) + rest]
        return self._take(records)[(slice(None),) + rest]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = np.empty(self.shape, dtype=np.float32)
        for start in range(0, len(self), _MATERIALISE_CHUNK):
            out[start:start + _MATERIALISE_CHUNK] = self[start:start + _MATERIALISE_CHUNK]
        return out if dtype is None else out.astype(dtype, copy=False)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        n, leads, samples = self.shape
        return (f"{type(self).__name__}({n} records x {leads} leads x {samples} samples, "
                "float32, read batch by batch)")
