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
from sklearn.utils.validation import check_is_fitted

from ._validation import check_ecg_array

__all__ = [
    "BandpassFilter",
    "LeadStandardizer",
    "RandomCrop",
    "Resample",
    "SlidingWindows",
    "aggregate_windows",
    "random_crops",
    "sliding_windows",
    "window_starts",
]

_CHUNK = 256  # records per chunk: bounds memory for large (memmapped) inputs


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
    values : array-like of shape (n_windows_total,) or (n_windows_total, n_outputs)
        One row per window.
    record_index : array-like of shape (n_windows_total,), int
        Record of each window, as returned by :func:`sliding_windows`; records are numbered
        ``0 .. n_records - 1``.
    reduce : {"mean", "max"}
        ``"mean"`` is the paper's evaluation; ``"max"`` the supervised benchmark's.

    Returns
    -------
    pooled : np.ndarray of shape (n_records,) or (n_records, n_outputs), float64
    """
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


# --------------------------------------------------------------------------------------------
# Transformers
# --------------------------------------------------------------------------------------------


class _ECGTransformer(TransformerMixin, BaseEstimator):
    """Shared fit/validation logic for transformers of 3-D ECG arrays."""

    def _fit_validate(self, X) -> np.ndarray:
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
        X_out : np.ndarray of shape (n_records, n_leads, ceil(n_samples * up_ / down_)), float32
            Records sampled at ``fs_out`` Hz.
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
    in float64, so a large ``np.memmap`` is never loaded whole.

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
        for start in range(0, len(X), _CHUNK):
            chunk = np.asarray(X[start:start + _CHUNK], dtype=np.float64)
            chunk_count = chunk.shape[0] * chunk.shape[2]
            chunk_mean = chunk.mean(axis=(0, 2))
            chunk_m2 = ((chunk - chunk_mean[None, :, None]) ** 2).sum(axis=(0, 2))
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
        X_out : np.ndarray of shape (n_records, n_leads, n_samples), float32
            Unitless standardised signals.
        """
        X = self._transform_validate(X)
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
