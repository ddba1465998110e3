"""Windowing, cropping, resampling, filtering and standardisation of ECG arrays.

Arrays follow the skecg layout ``(n_records, n_leads, n_samples)`` with samples in millivolts.
The functions work on numpy arrays and torch tensors; the transformers are scikit-learn
estimators that validate their input with :func:`skecg._validation.check_ecg_array`.
"""

from __future__ import annotations

import numbers
from fractions import Fraction

import numpy as np
import torch
from scipy import signal
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ._lazy import LazyECGArray, is_lazy_ecg_array
from ._validation import check_ecg_array
from .models.transformer import STANDARD_LEADS

__all__ = [
    "BandpassFilter",
    "FillLeads",
    "LeadStandardizer",
    "RandomCrop",
    "StandardizedECG",
    "Resample",
    "SlidingWindows",
    "aggregate_windows",
    "fill_leads",
    "lead_positions",
    "random_crops",
    "sliding_windows",
    "window_starts",
]

_CHUNK = 256  # records per chunk: bounds memory for large (memmapped) inputs
_CHUNK_VALUES = 256 * 12 * 1000  # and values per chunk (24 MB in float64) for long records


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


# --------------------------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------------------------


def window_starts(n_samples: int, window: int, stride: int) -> np.ndarray:
    """Start offsets of sliding windows that cover a signal to its end.

    Windows start at ``0, stride, 2 * stride, ...`` as long as they fit. If the last of these
    does not reach the end of the signal, one more window ending exactly at the last sample is
    added, so every sample is covered.

    Parameters
    ----------
    n_samples : int
        Length of the signal in samples.
    window : int
        Window length in samples.
    stride : int
        Distance between consecutive window starts in samples.

    Returns
    -------
    starts : np.ndarray of shape (n_windows,), int64
        Start offsets in samples, strictly increasing.

    Raises
    ------
    ValueError
        If ``n_samples < window`` or any argument is not a positive integer.

    Examples
    --------
    >>> window_starts(1000, 250, 125)
    array([  0, 125, 250, 375, 500, 625, 750])
    >>> window_starts(1000, 300, 300)
    array([  0, 300, 600, 700])
    """
    n_samples = _check_positive_int(n_samples, "n_samples")
    window = _check_positive_int(window, "window")
    stride = _check_positive_int(stride, "stride")
    if n_samples < window:
        raise ValueError(f"Signals of {n_samples} samples are shorter than the window of "
                         f"{window} samples.")
    last = n_samples - window
    starts = np.arange(0, last + 1, stride, dtype=np.int64)
    if starts[-1] != last:
        starts = np.append(starts, np.int64(last))
    return starts


def sliding_windows(X, window: int, stride: int):
    """Cut every record into overlapping windows.

    Parameters
    ----------
    X : np.ndarray or torch.Tensor of shape (n_records, n_leads, n_samples)
        ECG records. A torch tensor stays on its device.
    window : int
        Window length in samples.
    stride : int
        Distance between window starts in samples (see :func:`window_starts`).

    Returns
    -------
    windows : np.ndarray or torch.Tensor of shape (n_records * n_windows, n_leads, window)
        Same kind, dtype and device as ``X``; record-major order: all windows of record 0,
        then those of record 1, and so on.
    record_index : np.ndarray of shape (n_records * n_windows,), int64
        The record each window comes from.
    """
    is_tensor = isinstance(X, torch.Tensor)
    if not is_tensor:
        X = np.asarray(X)
    if X.ndim != 3:
        raise ValueError("X must be 3-D (n_records, n_leads, n_samples); "
                         f"got shape {tuple(X.shape)}.")
    n_records, n_leads, n_samples = X.shape
    starts = window_starts(n_samples, window, stride)
    n_windows = len(starts)
    positions = starts[:, None] + np.arange(window, dtype=np.int64)  # (n_windows, window)
    if is_tensor:
        positions_t = torch.as_tensor(positions, device=X.device)
        windows = X[:, :, positions_t]  # (n_records, n_leads, n_windows, window)
        windows = windows.permute(0, 2, 1, 3).reshape(n_records * n_windows, n_leads, window)
    else:
        windows = X[:, :, positions]
        windows = windows.transpose(0, 2, 1, 3).reshape(n_records * n_windows, n_leads, window)
    record_index = np.repeat(np.arange(n_records, dtype=np.int64), n_windows)
    return windows, record_index


def aggregate_windows(values, record_index, reduce: str = "mean") -> np.ndarray:
    """Pool per-window values (e.g. predicted probabilities) into per-record values.

    Parameters
    ----------
    values : array-like or torch.Tensor of shape (n_windows_total,) or \
(n_windows_total, n_outputs)
        One row per window. A torch tensor is pooled on its device, in its dtype, and keeps
        its autograd graph.
    record_index : array-like of shape (n_windows_total,), int
        Record of each window, as returned by :func:`sliding_windows`; records are numbered
        ``0 .. n_records - 1``.
    reduce : {"mean", "max"}
        ``"mean"`` is the paper's evaluation; ``"max"`` the supervised benchmark's.

    Returns
    -------
    pooled : np.ndarray of shape (n_records,) or (n_records, n_outputs), float64
        A torch tensor of ``values``' dtype when ``values`` is one.
    """
    if isinstance(values, torch.Tensor):
        return _aggregate_window_tensor(values, record_index, reduce)
    values = np.asarray(values, dtype=np.float64)
    record_index = np.asarray(record_index, dtype=np.int64)
    if len(values) != len(record_index):
        raise ValueError(f"values has {len(values)} rows but record_index has "
                         f"{len(record_index)} entries.")
    n_records = int(record_index.max()) + 1 if len(record_index) else 0
    flat = values.reshape(len(values), -1)
    if reduce == "mean":
        pooled = np.zeros((n_records, flat.shape[1]))
        np.add.at(pooled, record_index, flat)
        counts = np.bincount(record_index, minlength=n_records)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            pooled = pooled / counts
    elif reduce == "max":
        pooled = np.full((n_records, flat.shape[1]), -np.inf)
        np.maximum.at(pooled, record_index, flat)
    else:
        raise ValueError(f"reduce must be 'mean' or 'max'; got {reduce!r}.")
    return pooled.reshape((n_records,) + values.shape[1:])


def _aggregate_window_tensor(values: torch.Tensor, record_index, reduce: str) -> torch.Tensor:
    index = torch.as_tensor(np.asarray(record_index), dtype=torch.int64, device=values.device)
    if len(values) != len(index):
        raise ValueError(f"values has {len(values)} rows but record_index has "
                         f"{len(index)} entries.")
    n_records = int(index.max()) + 1 if len(index) else 0
    flat = values.reshape(len(values), -1)
    if reduce == "mean":
        counts = torch.bincount(index, minlength=n_records).to(flat.dtype)[:, None]
        pooled = flat.new_zeros((n_records, flat.shape[1])).index_add(0, index, flat) / counts
    elif reduce == "max":
        pooled = flat.new_full((n_records, flat.shape[1]), -torch.inf).scatter_reduce(
            0, index[:, None].expand_as(flat), flat, reduce="amax")
    else:
        raise ValueError(f"reduce must be 'mean' or 'max'; got {reduce!r}.")
    return pooled.reshape((n_records, *values.shape[1:]))


def random_crops(x: torch.Tensor, length: int,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Crop each signal of a batch at its own random offset.

    Parameters
    ----------
    x : torch.Tensor of shape (batch, n_leads, n_samples)
        Batch of signals; all leads of a signal share the crop.
    length : int
        Crop length in samples, at most ``n_samples``.
    generator : torch.Generator, optional
        Source of the offsets (the global torch RNG if None).

    Returns
    -------
    crops : torch.Tensor of shape (batch, n_leads, length)
        ``x`` itself when ``length == n_samples``.
    """
    if x.ndim != 3:
        raise ValueError(f"x must be 3-D (batch, n_leads, n_samples); got shape {tuple(x.shape)}.")
    length = _check_positive_int(length, "length")
    batch, n_leads, n_samples = x.shape
    if length > n_samples:
        raise ValueError(f"Crop length {length} exceeds the signal length {n_samples}.")
    if length == n_samples:
        return x
    gen_device = generator.device if generator is not None else x.device
    offsets = torch.randint(0, n_samples - length + 1, (batch, 1), generator=generator,
                            device=gen_device).to(x.device)
    index = offsets + torch.arange(length, device=x.device)  # (batch, length)
    return x.gather(2, index[:, None, :].expand(batch, n_leads, length))


def lead_positions(leads, all_leads=STANDARD_LEADS) -> list[int]:
    """Positions of named leads in a lead layout (case-insensitive names).

    Parameters
    ----------
    leads : str or sequence of str or int
        Lead names (e.g. ``["I", "II"]``; "avr" matches "aVR") or positions in ``all_leads``.
    all_leads : sequence of str, default=STANDARD_LEADS
        The layout: names of the channels of the full array, in order.

    Returns
    -------
    list of int
        ``all_leads`` position of each lead, in the order of ``leads``.

    Raises
    ------
    ValueError
        In one line for an unknown name, a repeated lead or a layout that repeats a name.
    """
    layout = [str(name) for name in all_leads]
    lookup = {name.lower(): i for i, name in enumerate(layout)}
    if len(lookup) != len(layout):
        raise ValueError(f"all_leads must not repeat a lead; got {layout}.")
    if isinstance(leads, str):
        leads = [leads]
    leads = list(leads)
    positions = []
    for lead in leads:
        if isinstance(lead, str):
            if lead.lower() not in lookup:
                raise ValueError(f"unknown lead {lead!r}; valid names are {layout}.")
            positions.append(lookup[lead.lower()])
        elif isinstance(lead, numbers.Integral) and not isinstance(lead, bool) \
                and 0 <= lead < len(layout):
            positions.append(int(lead))
        else:
            raise ValueError(f"lead {lead!r} is neither a name in {layout} nor a position "
                             f"0-{len(layout) - 1}.")
    if not positions:
        raise ValueError("leads names no lead.")
    if len(set(positions)) != len(positions):
        raise ValueError(f"leads must not repeat a lead; got {leads}.")
    return positions


def fill_leads(X, leads, all_leads=STANDARD_LEADS):
    """Place the named leads of ``X`` in the full lead layout; absent leads are zero.

    The zero-fill that lets a convolutional network, built for a fixed set of input channels,
    read records with fewer leads: lead I alone becomes a 12-lead array whose other 11 leads
    are 0 mV. The values of the given leads are copied unchanged (before any input scaling of
    the model that reads them).

    Parameters
    ----------
    X : array-like or Tensor of shape (..., n_leads, n_samples)
        Records (or one record) whose channels are named by ``leads``, in order.
    leads : str or sequence of str or int
        Names of ``X``'s channels (case-insensitive, from ``all_leads``), or their positions in
        ``all_leads``.
    all_leads : sequence of str, default=STANDARD_LEADS
        The layout of the output (default the 12 standard leads in PTB-XL order, that of
        ``skecg.LEAD_NAMES``).

    Returns
    -------
    np.ndarray or Tensor of shape (..., len(all_leads), n_samples)
        Same dtype (and device) as ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.ones((4, 2, 1000), dtype=np.float32)         # leads I and II
    >>> fill_leads(X, ["I", "II"]).shape
    (4, 12, 1000)
    """
    positions = lead_positions(leads, all_leads)
    tensor = isinstance(X, torch.Tensor)
    if not tensor:
        X = np.asarray(X)
    if X.ndim < 2 or X.shape[-2] != len(positions):
        shape = tuple(X.shape)
        raise ValueError(f"leads names {len(positions)} leads, but X of shape {shape} has "
                         f"{shape[-2] if len(shape) >= 2 else 'no'} (leads on the second-to-last "
                         "axis).")
    shape = (*X.shape[:-2], len(all_leads), X.shape[-1])
    out = (torch.zeros(shape, dtype=X.dtype, device=X.device) if tensor
           else np.zeros(shape, dtype=X.dtype))
    out[..., positions, :] = X
    return out


# --------------------------------------------------------------------------------------------
# Transformers
# --------------------------------------------------------------------------------------------


_POSITIVE = Interval(numbers.Real, 0, None, closed="neither")
_AT_LEAST_ONE = Interval(numbers.Integral, 1, None, closed="left")


class _ECGTransformer(TransformerMixin, BaseEstimator):
    """Shared fit/validation logic for transformers of 3-D ECG arrays."""

    # scikit-learn's declarative checks, run at fit; errors name the parameter and its range
    _parameter_constraints: dict = {}

    def _fit_validate(self, X) -> np.ndarray:
        self._validate_params()
        X = check_ecg_array(X)
        self.n_leads_in_ = X.shape[1]
        return X

    def _transform_validate(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = check_ecg_array(X)
        if X.shape[1] != self.n_leads_in_:
            raise ValueError(f"X has {X.shape[1]} leads, but {type(self).__name__} was fitted "
                             f"with {self.n_leads_in_}.")
        return X

    def fit(self, X, y=None):
        """Validate ``X`` and record its number of leads.

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples)
            ECG records in mV.
        y : ignored

        Returns
        -------
        self
        """
        self._fit_validate(X)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


class Resample(_ECGTransformer):
    """Change the sampling rate with a polyphase filter (:func:`scipy.signal.resample_poly`).

    Parameters
    ----------
    fs_in : float
        Sampling rate of the input in Hz.
    fs_out : float
        Sampling rate of the output in Hz (e.g. 100 Hz for the paper's models).

    Attributes
    ----------
    n_leads_in_ : int
        Number of leads seen in ``fit``.
    up_, down_ : int
        Integer resampling factors, ``fs_out / fs_in == up_ / down_``.

    Examples
    --------
    >>> import numpy as np
    >>> Resample(500, 100).fit_transform(np.zeros((2, 12, 5000))).shape
    (2, 12, 1000)
    """

    _parameter_constraints: dict = {"fs_in": [_POSITIVE], "fs_out": [_POSITIVE]}

    def __init__(self, fs_in: float = 500, fs_out: float = 100):
        self.fs_in = fs_in
        self.fs_out = fs_out

    def fit(self, X, y=None):
        """Validate ``X`` and compute the resampling factors.

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples)
            ECG records in mV sampled at ``fs_in`` Hz.
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        for name in ("fs_in", "fs_out"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or value <= 0:
                raise ValueError(f"{name} must be a positive number of Hz; got {value!r}.")
        ratio = (Fraction(str(float(self.fs_out))) / Fraction(str(float(self.fs_in))))
        ratio = ratio.limit_denominator(10_000)
        self.up_, self.down_ = ratio.numerator, ratio.denominator
        self._fit_validate(X)
        return self

    def transform(self, X) -> np.ndarray:
        """Resample every lead of every record.

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples)
            ECG records in mV sampled at ``fs_in`` Hz.

        Returns
        -------
        X_out : np.ndarray of shape (n_records, n_leads, n_out), float32
            Records sampled at ``fs_out`` Hz; ``n_out = ceil(n_samples * up_ / down_)``.
        """
        X = self._transform_validate(X)
        if self.up_ == self.down_:
            return np.array(X, dtype=np.float32)
        n_out = -(-X.shape[2] * self.up_ // self.down_)
        out = np.empty(X.shape[:2] + (n_out,), dtype=np.float32)
        for start in range(0, len(X), _CHUNK):
            chunk = np.asarray(X[start:start + _CHUNK])
            out[start:start + _CHUNK] = signal.resample_poly(chunk, self.up_, self.down_, axis=-1)
        return out


class LeadStandardizer(_ECGTransformer):
    """Standardise each lead with a mean and standard deviation fitted on training data.

    Statistics pool all records and time steps of a lead. They are accumulated chunk by chunk
    in float64 and merged with Chan et al.'s pairwise update, so a large ``np.memmap`` or an
    :class:`~skecg.datasets.ECGStore`'s ``X`` is never loaded whole. ``transform`` of such an
    out-of-core input returns a :class:`StandardizedECG` that standardises the records it is
    asked for, so ``Pipeline([LeadStandardizer(), CPCEncoder()])`` fits batch by batch.

    Attributes
    ----------
    n_leads_in_ : int
        Number of leads seen in ``fit``.
    mean_ : np.ndarray of shape (n_leads,), float64
        Mean of each lead in mV.
    scale_ : np.ndarray of shape (n_leads,), float64
        Standard deviation of each lead in mV (1.0 for a constant lead).
    """

    def fit(self, X, y=None):
        """Compute per-lead mean and standard deviation.

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples)
            Training ECG records in mV (an ``np.memmap`` is read in chunks).
        y : ignored

        Returns
        -------
        self
        """
        X = self._fit_validate(X)
        n_leads = X.shape[1]
        count = 0
        mean = np.zeros(n_leads)
        m2 = np.zeros(n_leads)
        step = max(1, min(_CHUNK, _CHUNK_VALUES // (n_leads * X.shape[2])))
        for start in range(0, len(X), step):
            chunk = np.array(X[start:start + step], dtype=np.float64)  # one float64 buffer
            chunk_count = chunk.shape[0] * chunk.shape[2]
            chunk_mean = chunk.mean(axis=(0, 2))
            chunk -= chunk_mean[None, :, None]
            chunk_m2 = np.square(chunk, out=chunk).sum(axis=(0, 2))
            # Chan et al.'s pairwise update: stable where a running sum of squares is not.
            total = count + chunk_count
            delta = chunk_mean - mean
            mean = mean + delta * chunk_count / total
            m2 = m2 + chunk_m2 + delta**2 * count * chunk_count / total
            count = total
        std = np.sqrt(m2 / count)
        self.mean_ = mean
        self.scale_ = np.where(std > np.finfo(np.float32).eps, std, 1.0)
        return self

    def transform(self, X) -> np.ndarray:
        """Standardise ``X`` with the fitted statistics.

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples)
            ECG records in mV.

        Returns
        -------
        X_out : np.ndarray or StandardizedECG of shape (n_records, n_leads, n_samples), float32
            Unitless standardised signals. For an ``np.memmap`` or out-of-core input, a
            :class:`StandardizedECG` that computes them for the records indexed, batch by batch
            (``np.asarray`` materialises it).
        """
        X = self._transform_validate(X)
        if isinstance(X, np.memmap) or is_lazy_ecg_array(X):
            return StandardizedECG(X, self.mean_, self.scale_)
        mean = self.mean_.astype(np.float32)[None, :, None]
        scale = self.scale_.astype(np.float32)[None, :, None]
        out = np.empty(X.shape, dtype=np.float32)
        for start in range(0, len(X), _CHUNK):
            out[start:start + _CHUNK] = (np.asarray(X[start:start + _CHUNK]) - mean) / scale
        return out

    def inverse_transform(self, X) -> np.ndarray:
        """Map standardised signals back to mV.

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples)
            Standardised signals.

        Returns
        -------
        X_out : np.ndarray of shape (n_records, n_leads, n_samples), float32
            Signals in mV.
        """
        X = self._transform_validate(X)
        mean = self.mean_.astype(np.float32)[None, :, None]
        scale = self.scale_.astype(np.float32)[None, :, None]
        return (np.asarray(X) * scale + mean).astype(np.float32, copy=False)


class StandardizedECG(LazyECGArray):
    """Lazy ``(X - mean) / scale`` per lead: what :class:`LeadStandardizer` gives out of core.

    Reads only the records it is indexed with, so a model fits on it batch by batch; picklable
    (DataLoader workers), and ``np.asarray`` materialises it.

    Parameters
    ----------
    source : np.memmap or out-of-core ECG array of shape (n_records, n_leads, n_samples)
        Signals in mV.
    mean, scale : array-like of shape (n_leads,)
        Per-lead mean and standard deviation in mV.
    """

    def __init__(self, source, mean, scale):
        self.source = source
        self.shape = tuple(int(n) for n in source.shape)
        self.mean = np.asarray(mean, dtype=np.float32)[:, None]
        self.scale = np.asarray(scale, dtype=np.float32)[:, None]

    def _take_one(self, row: int) -> np.ndarray:
        if not is_lazy_ecg_array(self.source):  # a memmap's row is a view of the file
            return (np.asarray(self.source[row], dtype=np.float32) - self.mean) / self.scale
        block = self.source[row]  # a fresh float32 array: standardised in place
        block -= self.mean
        block /= self.scale
        return block

    def _take(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) and np.all(np.diff(rows) == 1):  # a slice: one contiguous read
            block = self.source[int(rows[0]):int(rows[-1]) + 1]
        else:
            block = self.source[rows]
        block = np.asarray(block, dtype=np.float32)
        return (block - self.mean) / self.scale


class BandpassFilter(_ECGTransformer):
    """Zero-phase Butterworth band-pass filter (:func:`scipy.signal.sosfiltfilt`).

    Parameters
    ----------
    low : float or None
        Lower cut-off in Hz; None gives a low-pass filter.
    high : float or None
        Upper cut-off in Hz, below the Nyquist frequency ``fs / 2``; None gives a high-pass
        filter.
    fs : float
        Sampling rate in Hz.
    order : int
        Butterworth order of each pass (the zero-phase filter applies it forwards and
        backwards, doubling the effective order).

    Attributes
    ----------
    n_leads_in_ : int
        Number of leads seen in ``fit``.
    sos_ : np.ndarray of shape (n_sections, 6)
        Second-order sections of the filter.
    """

    _parameter_constraints: dict = {"low": [_POSITIVE, None], "high": [_POSITIVE, None],
                                    "fs": [_POSITIVE], "order": [_AT_LEAST_ONE]}

    def __init__(self, low: float | None = 0.5, high: float | None = 40.0, fs: float = 100,
                 order: int = 4):
        self.low = low
        self.high = high
        self.fs = fs
        self.order = order

    def fit(self, X, y=None):
        """Validate ``X`` and design the filter.

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples)
            ECG records in mV sampled at ``fs`` Hz.
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        order = _check_positive_int(self.order, "order")
        nyquist = self.fs / 2
        if self.low is None and self.high is None:
            raise ValueError("At least one of low and high must be set.")
        if self.low is not None and not 0 < self.low < nyquist:
            raise ValueError(f"low must lie in (0, fs / 2 = {nyquist}) Hz; got {self.low}.")
        if self.high is not None and not 0 < self.high < nyquist:
            raise ValueError(f"high must lie in (0, fs / 2 = {nyquist}) Hz; got {self.high}.")
        if self.low is not None and self.high is not None:
            if self.low >= self.high:
                raise ValueError(f"low ({self.low} Hz) must be below high ({self.high} Hz).")
            critical, btype = [self.low, self.high], "bandpass"
        elif self.low is not None:
            critical, btype = self.low, "highpass"
        else:
            critical, btype = self.high, "lowpass"
        self.sos_ = signal.butter(order, critical, btype=btype, fs=self.fs, output="sos")
        self._fit_validate(X)
        return self

    def transform(self, X) -> np.ndarray:
        """Filter every lead forwards and backwards.

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples)
            ECG records in mV sampled at ``fs`` Hz.

        Returns
        -------
        X_out : np.ndarray of shape (n_records, n_leads, n_samples), float32
        """
        X = self._transform_validate(X)
        padlen = 3 * (2 * len(self.sos_) + 1)
        if X.shape[2] <= padlen:
            raise ValueError(f"Signals of {X.shape[2]} samples are too short for this filter; "
                             f"more than {padlen} are needed.")
        out = np.empty(X.shape, dtype=np.float32)
        for start in range(0, len(X), _CHUNK):
            out[start:start + _CHUNK] = signal.sosfiltfilt(
                self.sos_, np.asarray(X[start:start + _CHUNK], dtype=np.float64), axis=-1)
        return out


class SlidingWindows(_ECGTransformer):
    """Cut records into overlapping windows (the paper's evaluation: 250 samples, stride 125).

    ``transform`` returns more rows than it receives, so in a ``Pipeline`` use it only in
    front of steps that need no targets (feature extraction, prediction); map window outputs
    back to records with :meth:`transform_with_index` and :func:`aggregate_windows`.

    Parameters
    ----------
    window : int
        Window length in samples (2.5 s at 100 Hz by default).
    stride : int
        Distance between window starts in samples.

    Attributes
    ----------
    n_leads_in_ : int
        Number of leads seen in ``fit``.
    """

    _parameter_constraints: dict = {"window": [_AT_LEAST_ONE], "stride": [_AT_LEAST_ONE]}

    def __init__(self, window: int = 250, stride: int = 125):
        self.window = window
        self.stride = stride

    def fit(self, X, y=None):
        """Validate ``X`` and the window parameters.

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples)
            ECG records.
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        _check_positive_int(self.window, "window")
        _check_positive_int(self.stride, "stride")
        self._fit_validate(X)
        return self

    def transform_with_index(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Cut records into windows and say which record each window comes from.

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples)
            ECG records, at least ``window`` samples long.

        Returns
        -------
        windows : np.ndarray of shape (n_records * n_windows, n_leads, window), float32
        record_index : np.ndarray of shape (n_records * n_windows,), int64
        """
        X = self._transform_validate(X)
        return sliding_windows(X, self.window, self.stride)

    def transform(self, X) -> np.ndarray:
        """Cut records into windows, record-major.

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples)
            ECG records, at least ``window`` samples long.

        Returns
        -------
        windows : np.ndarray of shape (n_records * n_windows, n_leads, window), float32
        """
        return self.transform_with_index(X)[0]


class RandomCrop(_ECGTransformer):
    """Crop each record to ``length`` samples at a random offset (the paper's training crop).

    Parameters
    ----------
    length : int
        Crop length in samples (2.5 s at 100 Hz by default).
    random_state : None, int or np.random.RandomState
        An int gives the same offsets on every ``transform`` call with the same input shape;
        None gives fresh offsets each call.

    Attributes
    ----------
    n_leads_in_ : int
        Number of leads seen in ``fit``.
    """

    _parameter_constraints: dict = {"length": [_AT_LEAST_ONE], "random_state": ["random_state"]}

    def __init__(self, length: int = 250, random_state=None):
        self.length = length
        self.random_state = random_state

    def fit(self, X, y=None):
        """Validate ``X`` and ``length``.

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples)
            ECG records.
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        _check_positive_int(self.length, "length")
        self._fit_validate(X)
        return self

    def transform(self, X) -> np.ndarray:
        """Crop every record independently.

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples)
            ECG records, at least ``length`` samples long.

        Returns
        -------
        X_out : np.ndarray of shape (n_records, n_leads, length), float32
        """
        X = self._transform_validate(X)
        n_records, n_leads, n_samples = X.shape
        if self.length > n_samples:
            raise ValueError(f"Crop length {self.length} exceeds the signal length {n_samples}.")
        rng = check_random_state(self.random_state)
        offsets = rng.randint(0, n_samples - self.length + 1, size=n_records)
        index = offsets[:, None] + np.arange(self.length)
        index = np.broadcast_to(index[:, None, :], (n_records, n_leads, self.length))
        return np.take_along_axis(np.asarray(X), index, axis=2)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True
        return tags


class FillLeads(TransformerMixin, BaseEstimator):
    """Zero-fill records with a named subset of leads to a model's full lead layout.

    The adapter of a convolutional model (SimCLR, BYOL, SwAV, CPC, CMSC with an xresnet, or an
    :class:`~skecg.classifier.ECGClassifier` built on one) to records with fewer leads: put it
    in front of the fitted model, ``make_pipeline(FillLeads(leads=["I", "II"]), encoder)``.
    Stateless (``fit`` only checks the parameters), so the pipeline needs no fit when the model
    is already fitted. Token models (ST-MEM, JEPA, transformer CMSC) read a subset natively
    with their own ``leads`` parameter and need no fill.

    Parameters
    ----------
    leads : str or sequence of str
        Names of the input's channels, in order (case-insensitive, from ``all_leads``).
    all_leads : sequence of str, default=STANDARD_LEADS
        The lead layout the model was fitted on (default the 12 standard leads in PTB-XL
        order).

    See Also
    --------
    fill_leads : the same as a function.
    """

    def __init__(self, leads=("I",), all_leads=STANDARD_LEADS):
        self.leads = leads
        self.all_leads = all_leads

    def fit(self, X=None, y=None):
        """Check ``leads`` against ``all_leads`` (and ``X``'s lead count when given).

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples), optional
        y : ignored

        Returns
        -------
        self
        """
        positions = lead_positions(self.leads, self.all_leads)
        if X is not None:
            X = check_ecg_array(X)
            if X.shape[1] != len(positions):
                raise ValueError(f"leads names {len(positions)} leads, but X has "
                                 f"{X.shape[1]}.")
        return self

    def transform(self, X):
        """Records of ``len(all_leads)`` leads: the named ones copied, the others zero.

        Parameters
        ----------
        X : array-like of shape (n_records, len(leads), n_samples)

        Returns
        -------
        np.ndarray of shape (n_records, len(all_leads), n_samples), float32
        """
        return fill_leads(check_ecg_array(X), self.leads, self.all_leads)

    def __sklearn_is_fitted__(self) -> bool:
        return True  # stateless

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.requires_fit = False
        return tags
