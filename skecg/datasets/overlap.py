"""Recordings that two ECG corpora share, found by signal content rather than by file name.

A recording can reach two corpora under different names, at another sampling rate, in other
units or gains, shifted, cropped or zero-padded (PTB-XL's records sit in the PhysioNet/CinC
challenge sets as ``HR*`` at 500 Hz). :func:`find_overlap` compares the signals themselves in
three vectorised steps:

1. **Reduce.** Every record is resampled to ``fs_common`` (50 Hz), the leading and trailing
   zero padding (samples that are 0 on every lead) is masked out, a moving average of
   ``detrend_s`` seconds (the baseline) is subtracted and every lead is z-normalised over its
   unpadded span: gain, units and offset no longer matter.
2. **Candidates.** Each record gets a shift-invariant fingerprint (the correlations between its
   leads and every lead's autocorrelation up to 1.5 s), whitened with the statistics of the
   smaller corpus and of up to 2048 records spread over the larger, and compared by cosine
   similarity with one matrix product per batch; each record of the larger corpus keeps its
   ``n_candidates`` most similar records of the smaller.
3. **Verification.** Each candidate pair gets the normalised cross-correlation of the reduced
   signals, summed over leads, at every lag at once (FFT), restricted to lags where the records
   overlap by at least ``min_overlap`` seconds and normalised by the signal energy inside that
   overlap; the best lag is refined to an eighth of a sample (exact band-limited evaluation).
   Pairs scoring at least ``threshold`` are reported.

Memory: the smaller corpus's reduced signals are held (float16, ``n_records x n_leads x
duration x fs_common x 2`` bytes: 262 MB for PTB-XL's 21,837 records at 50 Hz), the larger one
is read ``batch_size`` records at a time, so it can be an ``np.memmap`` or an on-disk store.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.fft as sfft
from scipy.ndimage import uniform_filter1d
from scipy.signal import resample_poly

from .._lazy import is_lazy_ecg_array
from ._reader import resample_ratio

_EDGE = 2  # samples at fs_common trimmed at both ends of a record's span (resampling edges)
_ACF_MAX_S = 1.5  # autocorrelation lags of the fingerprint, seconds
_N_COMPONENTS = 128  # whitened fingerprint dimensions kept
_SHRINK = 0.05  # covariance shrinkage of the whitening (fraction of the mean variance)
_N_FRAC = 8  # sub-sample steps of the lag refinement
_WHITEN_SAMPLE = 2048  # records of the streamed corpus added to the whitening statistics
_PAIR_BATCH = 1024  # candidate pairs verified at a time (bounds the spectra held)


@dataclass
class _Reduced:
    """A corpus (or batch) reduced to ``fs_common``: see :func:`_reduce`."""

    z: np.ndarray  # (n, n_leads, n_samples), z-normalised, 0 outside the span
    start: np.ndarray  # (n,) first sample of the span
    stop: np.ndarray  # (n,) one past the last sample of the span
    scale: np.ndarray  # (n, n_leads) standard deviation of each lead before normalising
    valid: np.ndarray  # (n,) bool: the record has a span and at least one non-flat lead


def _check_fs(fs, name: str) -> float:
    if (isinstance(fs, bool) or not isinstance(fs, numbers.Real) or not math.isfinite(fs)
            or fs <= 0):
        raise ValueError(f"{name} must be a positive sampling rate in Hz; got {fs!r}")
    return float(fs)


def _as_corpus(x, fs, name: str):
    """Return (X, fs, record names or None) of an array or a loader Bunch."""
    names = None
    if isinstance(x, Mapping):
        if "X" not in x:
            raise TypeError(f"{name} is a mapping without 'X'; pass an array of shape "
                            "(n_records, n_leads, n_samples) or a loader's Bunch")
        meta = x.get("meta")
        if isinstance(meta, pd.DataFrame) and len(meta) == len(x["X"]):
            for column in ("record", "filename"):
                if column in meta.columns:
                    names = meta[column].astype(str).to_numpy()
                    break
        bunch_fs = x.get("fs")
        if fs is None:
            fs = bunch_fs
        elif bunch_fs is not None and not math.isclose(float(fs), float(bunch_fs)):
            raise ValueError(f"fs_{name}={fs!r} disagrees with {name}.fs={bunch_fs!r}; leave "
                             f"fs_{name} out to use the Bunch's rate")
        x = x["X"]
    if fs is None:
        raise ValueError(f"fs_{name} is required: {name} is an array, which carries no sampling "
                         "rate (pass e.g. fs_{name}=100 for 100 Hz)".replace("{name}", name))
    fs = _check_fs(fs, f"fs_{name}")
    if not (is_lazy_ecg_array(x) or isinstance(x, np.ndarray)):
        if not hasattr(x, "shape") or not hasattr(x, "__getitem__"):
            x = np.asarray(x)
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) != 3:
        raise ValueError(f"{name} must be 3-D (n_records, n_leads, n_samples); got shape {shape}"
                         + (" (one record? use X[None])" if len(shape) == 2 else ""))
    if shape[0] == 0 or shape[1] == 0 or shape[2] == 0:
        raise ValueError(f"{name} has shape {shape}; at least 1 record, 1 lead and 1 sample "
                         "are needed")
    dtype = np.dtype(getattr(x, "dtype", np.float64))
    if dtype.kind not in "fiu":
        raise ValueError(f"{name} must hold real numbers (ECG samples); got dtype {dtype}")
    return x, fs, names


def _reduce(X: np.ndarray, fs: float, fs_common: float, detrend_s: float, name: str,
            offset: int) -> _Reduced:
    """Resample a batch (n, n_leads, n_samples) to ``fs_common``, mask padding, normalise."""
    X = np.asarray(X, dtype=np.float32)
    finite = np.isfinite(X).reshape(len(X), -1).all(axis=1)
    if not finite.all():
        bad = offset + int(np.flatnonzero(~finite)[0])
        raise ValueError(f"{name} record {bad} holds NaN or infinite values; ECG input must "
                         "be finite")
    n, n_leads, n_samples = X.shape
    active = (X != 0).any(axis=1)  # (n, n_samples): padding is 0 on every lead
    first = active.argmax(axis=1)
    last = n_samples - 1 - active[:, ::-1].argmax(axis=1)
    has = active.any(axis=1)
    up, down = resample_ratio(fs_common, fs)
    z = X if up == down else resample_poly(X, up, down, axis=-1).astype(np.float32)
    length = z.shape[-1]
    start = np.ceil(first * up / down).astype(np.int64) + _EDGE
    stop = np.floor(last * up / down).astype(np.int64) + 1 - _EDGE
    stop = np.minimum(stop, length)
    stop = np.where(has & (stop > start), stop, start)
    t = np.arange(length)
    mask = ((t >= start[:, None]) & (t < stop[:, None])).astype(np.float32)  # (n, length)
    width = max(1, int(round(detrend_s * fs_common)))
    weight = uniform_filter1d(mask, width, axis=-1, mode="constant")
    baseline = uniform_filter1d(z * mask[:, None], width, axis=-1, mode="constant")
    z = (z - baseline / np.maximum(weight, 1e-6)[:, None]) * mask[:, None]
    count = np.maximum(mask.sum(axis=1), 1.0)[:, None, None]
    z -= (z.sum(axis=-1, keepdims=True) / count) * mask[:, None]
    scale = np.sqrt((z * z).sum(axis=-1, keepdims=True) / count)
    flat = scale <= 1e-6 * np.maximum(scale.max(axis=1, keepdims=True), 1e-30)
    z = np.where(flat, 0.0, z / np.where(flat, 1.0, scale)).astype(np.float32)
    scale = np.where(flat, 0.0, scale)[..., 0]
    valid = (stop - start >= 2) & (scale > 0).any(axis=1)
    return _Reduced(z=z, start=start, stop=stop, scale=scale.astype(np.float32), valid=valid)


def _fingerprint(red: _Reduced, fs_common: float, workers: int) -> np.ndarray:
    """Shift-invariant fingerprint (n, n_features): lead correlations and autocorrelations."""
    z = red.z
    n, n_leads, length = z.shape
    count = np.maximum(red.stop - red.start, 1).astype(np.float32)
    upper = np.triu_indices(n_leads, 1)
    corr = np.einsum("kln,kmn->klm", z, z, optimize=True)[:, upper[0], upper[1]]
    corr /= count[:, None]
    n_lags = max(1, min(int(round(_ACF_MAX_S * fs_common)), length - 1))
    nfft = sfft.next_fast_len(length + n_lags, real=True)
    power = np.abs(sfft.rfft(z, nfft, axis=-1, workers=workers)) ** 2
    acf = sfft.irfft(power, nfft, axis=-1, workers=workers)[..., 1:n_lags + 1:2]
    acf /= count[:, None, None]
    features = np.concatenate([corr, acf.reshape(n, -1)], axis=1).astype(np.float32)
    features[~red.valid] = 0.0
    return features


@dataclass
class _Whitener:
    mean: np.ndarray
    components: np.ndarray  # (n_features, n_components), scaled by 1 / sqrt(variance)

    @classmethod
    def fit(cls, features: np.ndarray) -> _Whitener:
        mean = features.mean(axis=0)
        centred = (features - mean).astype(np.float64)
        cov = centred.T @ centred / max(len(features) - 1, 1)
        # more shrinkage (towards plain scaling) when there are few records per dimension
        shrink = max(_SHRINK, len(cov) / (len(features) + len(cov)))
        ridge = shrink * max(np.trace(cov) / len(cov), 1e-12)
        values, vectors = np.linalg.eigh(cov + ridge * np.eye(len(cov)))
        keep = np.argsort(values)[::-1][:_N_COMPONENTS]
        return cls(mean=mean.astype(np.float32),
                   components=(vectors[:, keep] / np.sqrt(values[keep])).astype(np.float32))

    def transform(self, features: np.ndarray) -> np.ndarray:
        out = (features - self.mean) @ self.components
        norm = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norm, 1e-12)


def _candidates(embedded_q: np.ndarray, embedded_r: np.ndarray, n_candidates: int,
                min_similarity: float, valid_q: np.ndarray, valid_r: np.ndarray):
    """Candidate pairs (query row, reference row) of one batch: top ``n_candidates`` per row."""
    n_q, n_r = len(embedded_q), len(embedded_r)
    if n_r <= n_candidates:
        rows, cols = np.divmod(np.arange(n_q * n_r), n_r)
    else:
        sim = embedded_q @ embedded_r.T  # (n_q, n_r)
        cols = np.argpartition(-sim, n_candidates - 1, axis=1)[:, :n_candidates]
        rows = np.repeat(np.arange(n_q), n_candidates)
        cols = cols.ravel()
        keep = sim[rows, cols] >= min_similarity
        rows, cols = rows[keep], cols[keep]
    keep = valid_q[rows] & valid_r[cols]
    return rows[keep], cols[keep]


def _score_pairs(q: _Reduced, r: _Reduced, rows: np.ndarray, cols: np.ndarray,
                 fs_common: float, min_overlap: float, workers: int):
    """Best normalised cross-correlation over lags of each pair: (score, lag, overlap).

    ``lag`` (samples at ``fs_common``, fractional) is such that ``q`` at ``t + lag`` matches
    ``r`` at ``t``; ``overlap`` is in samples. Score is -inf where no lag overlaps enough.
    """
    n_q, n_r = q.z.shape[-1], r.z.shape[-1]
    nfft = sfft.next_fast_len(n_q + n_r - 1, real=True)
    n_freq = nfft // 2 + 1
    t = np.arange(nfft)
    lags = np.where(t < n_q, t, t - nfft)
    in_range = (lags > -n_r) & (lags < n_q)
    weights = np.full(n_freq, 2.0)
    weights[0] = 1.0
    if nfft % 2 == 0:
        weights[-1] = 1.0
    freqs = np.arange(n_freq)
    steps = np.array([d for d in np.linspace(-0.5, 0.5, _N_FRAC + 1) if d != 0] if _N_FRAC else [])
    angle = 2 * np.pi * np.outer(freqs, steps) / nfft  # (n_freq, n_steps)
    cos_steps, sin_steps = np.cos(angle), np.sin(angle)
    table = np.exp(2j * np.pi * t / nfft).astype(np.complex64)
    out_score = np.full(len(rows), -np.inf)
    out_lag = np.zeros(len(rows))
    out_overlap = np.zeros(len(rows))
    uq = np.unique(rows)
    fq = sfft.rfft(q.z[uq].astype(np.float32), nfft, axis=-1, workers=workers)
    eq = sfft.rfft((q.z[uq].astype(np.float32) ** 2).sum(axis=1), nfft, axis=-1,
                   workers=workers)
    mq = sfft.rfft(((t >= q.start[uq, None]) & (t < q.stop[uq, None])).astype(np.float32),
                   axis=-1, workers=workers)
    where_q = np.searchsorted(uq, rows)
    for at in range(0, len(rows), _PAIR_BATCH):
        sl = slice(at, at + _PAIR_BATCH)
        pq, pr = where_q[sl], cols[sl]
        ur, where_r = np.unique(pr, return_inverse=True)
        zr = r.z[ur].astype(np.float32)
        fr = sfft.rfft(zr, nfft, axis=-1, workers=workers)
        er = sfft.rfft((zr ** 2).sum(axis=1), nfft, axis=-1, workers=workers)
        mr = sfft.rfft(((t >= r.start[ur, None]) & (t < r.stop[ur, None])).astype(np.float32),
                       axis=-1, workers=workers)
        cross = np.zeros((len(pq), n_freq), dtype=np.complex64)
        for lead in range(fq.shape[1]):
            cross += fq[pq, lead] * fr[where_r, lead].conj()
        num = sfft.irfft(cross, nfft, axis=-1, workers=workers)
        energy_q = np.maximum(sfft.irfft(eq[pq] * mr[where_r].conj(), nfft, axis=-1,
                                         workers=workers), 0)
        energy_r = np.maximum(sfft.irfft(mq[pq] * er[where_r].conj(), nfft, axis=-1,
                                         workers=workers), 0)
        sq, eq_, sr, er_ = (q.start[rows[sl]], q.stop[rows[sl]], r.start[pr], r.stop[pr])
        overlap = (np.minimum(eq_[:, None], er_[:, None] + lags)
                   - np.maximum(sq[:, None], sr[:, None] + lags))
        need = np.minimum(min_overlap * fs_common, np.minimum(eq_ - sq, er_ - sr)) - 1
        denom = np.sqrt(energy_q * energy_r)
        ok = in_range & (overlap >= need[:, None]) & (denom > 1e-6)
        score = np.where(ok, num / np.where(ok, denom, 1.0), -np.inf)
        best_at = score.argmax(axis=1)
        index = np.arange(len(pq))
        best = score[index, best_at]
        lag = lags[best_at].astype(np.float64)
        # refine: exact band-limited numerator at best_at + d, energies interpolated linearly
        shifted = cross * table[(freqs[None, :] * best_at[:, None]) % nfft]
        num_steps = (weights * shifted.real) @ cos_steps - (weights * shifted.imag) @ sin_steps
        num_steps /= nfft
        for s, d in enumerate(steps):
            nb = (best_at + (1 if d > 0 else -1)) % nfft
            w = abs(d)
            e_q = (1 - w) * energy_q[index, best_at] + w * energy_q[index, nb]
            e_r = (1 - w) * energy_r[index, best_at] + w * energy_r[index, nb]
            usable = np.isfinite(best) & np.isfinite(score[index, nb])
            value = np.where(usable, num_steps[:, s] / np.sqrt(np.maximum(e_q * e_r, 1e-12)),
                             -np.inf)
            better = value > best
            best = np.where(better, value, best)
            lag = np.where(better, lags[best_at] + d, lag)
        out_score[sl] = np.minimum(best, 1.0)
        out_lag[sl] = lag
        out_overlap[sl] = overlap[index, best_at]
    return out_score, out_lag, out_overlap


def _batches(n: int, size: int):
    for start in range(0, n, size):
        yield start, min(n, start + size)


def find_overlap(
    a,
    b,
    *,
    fs_a: float | None = None,
    fs_b: float | None = None,
    threshold: float = 0.9,
    min_overlap: float = 5.0,
    fs_common: float = 50.0,
    detrend_s: float = 0.6,
    n_candidates: int = 16,
    min_similarity: float = 0.3,
    batch_size: int = 512,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Find the recordings of corpus ``a`` that also occur in corpus ``b``, by signal content.

    Robust to another sampling rate, gain or units (any positive scale per lead, e.g. mV
    against µV), an offset, a time shift, a crop and zero padding. See the module
    :mod:`skecg.datasets.overlap` for the method; the smaller corpus is held in memory (reduced
    to ``fs_common``, float16) and the larger one is read ``batch_size`` records at a time.

    Parameters
    ----------
    a, b : array-like of shape (n_records, n_leads, n_samples) or Bunch
        The corpora: an ndarray, an ``np.memmap``, an on-disk store's ``X``, or a loader's Bunch
        (its ``X`` and ``fs``; its ``meta["record"]`` or ``meta["filename"]`` name the rows of
        the result). Both need the same leads in the same order; units do not matter.
        Leading and trailing samples that are 0 on every lead count as padding.
    fs_a, fs_b : float or None
        Sampling rates in Hz; default the Bunch's ``fs``, required for an array.
    threshold : float
        Smallest reported ``score`` (a correlation, at most 1). Copies of one recording score
        about 0.93-1.0 (PTB-XL's 100 Hz against its 500 Hz version: 0.93 at worst); two
        recordings of one patient a few days apart up to about 0.87 on the shared PTB-XL
        records; unrelated records below 0.85.
    min_overlap : float
        Seconds two records must share at the scored lag (or the whole of the shorter one, if
        it is shorter). Short overlaps give chance correlations.
    fs_common : float
        Rate in Hz both corpora are reduced to before comparing.
    detrend_s : float
        Width in seconds of the moving average removed as baseline.
    n_candidates : int
        Records of the smaller corpus verified per record of the larger one (those with the
        most similar fingerprints). All pairs are verified when the smaller corpus has at most
        this many records.
    min_similarity : float
        Candidates whose fingerprint cosine similarity is below this are not verified (copies
        score above about 0.65 even when cropped to 6 s; unrelated records about 0).
    batch_size : int
        Records of the larger corpus reduced and compared at a time (bounds memory).
    n_jobs : int
        Workers of ``scipy.fft``; matrix products use the BLAS threads as configured.

    Returns
    -------
    pandas.DataFrame
        One row per pair found, sorted by ``index_a`` then ``index_b``, with columns
        ``index_a``, ``index_b`` (int, positions in ``a`` and ``b``), ``score`` (float, the
        normalised cross-correlation summed over leads at the best lag, at most 1), ``lag_s``
        (float, seconds: the content at time ``t`` of ``b`` is at time ``t + lag_s`` of ``a``,
        both counted from the record's first sample, padding included), ``overlap_s`` (float,
        seconds shared at that lag), ``gain`` (float, median over leads of the amplitude of
        ``b`` over that of ``a``: about 1000 for µV against mV), and ``record_a`` /
        ``record_b`` when the inputs are Bunches with record names.

    Raises
    ------
    ValueError
        An input is not 3-D, is empty or non-finite, the lead counts differ, a rate is missing
        or not positive, or a parameter is out of range (each message names the parameter).

    Examples
    --------
    >>> from skecg.datasets import find_overlap, load_ptbxl
    >>> low = load_ptbxl("ptb-xl", sampling_rate=100)                    # doctest: +SKIP
    >>> high = load_ptbxl("ptb-xl", sampling_rate=500, on_error="skip")  # doctest: +SKIP
    >>> find_overlap(low, high)[["index_a", "index_b", "score"]].head(2)  # doctest: +SKIP
       index_a  index_b     score
    0        0        0  0.995...
    1        1        1  0.998...
    """
    xa, fs_a, names_a = _as_corpus(a, fs_a, "a")
    xb, fs_b, names_b = _as_corpus(b, fs_b, "b")
    if xa.shape[1] != xb.shape[1]:
        raise ValueError(f"a has {xa.shape[1]} leads and b has {xb.shape[1]}; both corpora "
                         "need the same leads in the same order")
    if not (isinstance(threshold, numbers.Real) and -1 <= threshold <= 1):
        raise ValueError(f"threshold must be a correlation in [-1, 1]; got {threshold!r}")
    for value, name in ((min_overlap, "min_overlap"), (detrend_s, "detrend_s")):
        if not (isinstance(value, numbers.Real) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number of seconds; got {value!r}")
    fs_common = _check_fs(fs_common, "fs_common")
    for value, name in ((n_candidates, "n_candidates"), (batch_size, "batch_size"),
                        (n_jobs, "n_jobs")):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")
    if not isinstance(min_similarity, numbers.Real):
        raise ValueError(f"min_similarity must be a number in [-1, 1]; got {min_similarity!r}")

    swap = len(xa) < len(xb)  # hold the smaller corpus, stream the larger
    (xq, fq, nq), (xr, fr, nr) = (((xb, fs_b, "b"), (xa, fs_a, "a")) if swap
                                  else ((xa, fs_a, "a"), (xb, fs_b, "b")))
    parts = [_reduce(xr[s:e], fr, fs_common, detrend_s, nr, s)
             for s, e in _batches(len(xr), batch_size)]
    ref = _Reduced(z=np.concatenate([p.z.astype(np.float16) for p in parts]),
                   start=np.concatenate([p.start for p in parts]),
                   stop=np.concatenate([p.stop for p in parts]),
                   scale=np.concatenate([p.scale for p in parts]),
                   valid=np.concatenate([p.valid for p in parts]))
    use_fingerprints = len(xr) > n_candidates
    if use_fingerprints:
        features = np.concatenate([_fingerprint(p, fs_common, n_jobs) for p in parts])
        # whitening statistics: the held corpus and records spread over the streamed one
        sample = np.unique(np.linspace(0, len(xq) - 1, min(len(xq), _WHITEN_SAMPLE)).astype(
            np.int64))
        fitted = [features[ref.valid]]
        for s, e in _batches(len(sample), batch_size):
            red = _reduce(xq[sample[s:e]], fq, fs_common, detrend_s, nq, int(sample[s]))
            fitted.append(_fingerprint(red, fs_common, n_jobs)[red.valid])
        fitted = np.concatenate(fitted)
        whitener = _Whitener.fit(fitted if len(fitted) > 1 else features)
        embedded_r = whitener.transform(features)
    del parts
    found = []
    for s, e in _batches(len(xq), batch_size):
        query = _reduce(xq[s:e], fq, fs_common, detrend_s, nq, s)
        if use_fingerprints:
            embedded_q = whitener.transform(_fingerprint(query, fs_common, n_jobs))
        else:
            embedded_q = np.zeros((e - s, 1), dtype=np.float32)
            embedded_r = np.zeros((len(xr), 1), dtype=np.float32)
        rows, cols = _candidates(embedded_q, embedded_r, n_candidates, min_similarity,
                                 query.valid, ref.valid)
        if not len(rows):
            continue
        score, lag, overlap = _score_pairs(query, ref, rows, cols, fs_common, min_overlap,
                                           n_jobs)
        hit = score >= threshold
        rows, cols = rows[hit], cols[hit]
        both = (query.scale[rows] > 0) & (ref.scale[cols] > 0)
        ratio = np.where(both, ref.scale[cols] / np.where(both, query.scale[rows], 1), np.nan)
        gain = np.nanmedian(ratio, axis=1) if len(rows) else np.zeros(0)
        found.append(pd.DataFrame({"q": rows + s, "r": cols, "score": score[hit],
                                   "lag": lag[hit] / fs_common,
                                   "overlap_s": overlap[hit] / fs_common, "gain": gain}))
    columns = ["index_a", "index_b", "score", "lag_s", "overlap_s", "gain"]
    if not found:
        result = pd.DataFrame({c: pd.Series(dtype=np.int64 if c.startswith("index") else float)
                               for c in columns})
    else:
        table = pd.concat(found, ignore_index=True)
        if swap:  # query is b: b(t + lag) ~ a(t), so a's content is b's shifted by -lag
            result = pd.DataFrame({"index_a": table["r"], "index_b": table["q"],
                                   "score": table["score"], "lag_s": -table["lag"],
                                   "overlap_s": table["overlap_s"], "gain": 1 / table["gain"]})
        else:
            result = pd.DataFrame({"index_a": table["q"], "index_b": table["r"],
                                   "score": table["score"], "lag_s": table["lag"],
                                   "overlap_s": table["overlap_s"], "gain": table["gain"]})
        result = result.astype({"index_a": np.int64, "index_b": np.int64})
        result = result.sort_values(["index_a", "index_b"], ignore_index=True)
    if names_a is not None:
        result["record_a"] = names_a[result["index_a"].to_numpy()]
    if names_b is not None:
        result["record_b"] = names_b[result["index_b"].to_numpy()]
    return result
