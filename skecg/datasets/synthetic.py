"""Synthetic labelled 12-lead ECG for tests and offline demos (NOT real patient data)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state

from .. import LEAD_NAMES

# Label names and what each does to the generated beats.
SYNTHETIC_LABELS = ("TACHY", "WIDEQRS", "STSHIFT", "IRREG", "TINV", "LOWVOLT")

# Lead axes (x: patient's left, y: inferior, z: anterior). Limb leads lie in the frontal plane
# at the hexaxial angles, chest leads in the horizontal plane from V1 (right of sternum) to V6.
_LIMB_DEG = {"I": 0, "II": 60, "III": 120, "aVR": -150, "aVL": -30, "aVF": 90}
_CHEST_DEG = {"V1": 120, "V2": 95, "V3": 75, "V4": 55, "V5": 30, "V6": 0}


def _lead_axes() -> np.ndarray:
    axes = []
    for name in LEAD_NAMES:
        if name in _LIMB_DEG:
            a = math.radians(_LIMB_DEG[name])
            axes.append((math.cos(a), math.sin(a), 0.0))
        else:
            a = math.radians(_CHEST_DEG[name])
            axes.append((math.cos(a), 0.15, math.sin(a)))
    return np.array(axes)


# Waves P, Q, R, S, T, ST: offset from the R peak (s), width (s), amplitude (mV), dipole axis.
_WAVE_OFFSET = np.array([-0.17, -0.025, 0.0, 0.025, 0.28, 0.13])
_WAVE_WIDTH = np.array([0.022, 0.008, 0.010, 0.009, 0.05, 0.06])
_WAVE_AMP = np.array([0.15, 0.12, 1.3, 0.45, 0.32, 0.0])
_WAVE_AXIS = np.array([[0.6, 0.8, 0.0],     # P: left-inferior
                       [-0.5, -0.3, 0.8],   # Q: septal, rightward-anterior
                       [0.6, 0.7, -0.4],    # R: left-inferior-posterior
                       [-0.3, -0.2, 0.9],   # S: rightward-anterior (deep S in V1-V2)
                       [0.6, 0.7, 0.2],     # T: concordant with R
                       [0.5, 0.6, 0.6]])    # ST shift
_WAVE_AXIS /= np.linalg.norm(_WAVE_AXIS, axis=1, keepdims=True)


def make_synthetic_ecg(
    n_records: int = 100,
    n_leads: int = 12,
    fs: float = 100,
    duration: float = 10,
    n_classes: int = 5,
    random_state=None,
) -> Bunch:
    """Generate SYNTHETIC multi-label 12-lead ECG (not real patient data).

    Each beat is a sum of Gaussian bumps (P, Q, R, S, T waves) whose amplitudes come from a
    cardiac dipole projected on each lead's axis, with per-record variation of the electrical
    axis and amplitudes, baseline wander and noise. Labels (independently present with
    probability 0.3 each) change the signal in learnable ways:

    - ``TACHY``: heart rate 105-150 bpm instead of 50-95 bpm
    - ``WIDEQRS``: QRS complex 2.5x wider
    - ``STSHIFT``: elevated ST segment (0.15-0.3 mV along the dipole axis)
    - ``IRREG``: irregular RR intervals (+-20 %), no P wave, fibrillatory waves
    - ``TINV``: inverted T wave
    - ``LOWVOLT``: all waves at 30-40 % amplitude

    Parameters
    ----------
    n_records : int
    n_leads : int, 1-12
        The first ``n_leads`` of ``skecg.LEAD_NAMES``.
    fs : float
        Sampling rate, Hz.
    duration : float
        Seconds per record.
    n_classes : int, 1-6
        The first ``n_classes`` labels above.
    random_state : None, int or np.random.RandomState
        Seed; the same seed gives identical data.

    Returns
    -------
    Bunch with
        X : np.ndarray of shape (n_records, n_leads, round(fs * duration)), float32, mV
        y : np.ndarray of shape (n_records, n_classes), float32 multi-hot
        label_names : list of str
        meta : DataFrame with ``record``, ``strat_fold`` (1-10, balanced), ``age``, ``sex``
            (0 male, 1 female), ``heart_rate`` (bpm)
        fs : float, Hz
        lead_names : tuple of str
        missing : [], skipped : {}, dropped_no_label : 0
    """
    if not (isinstance(n_records, int | np.integer) and n_records >= 1):
        raise ValueError(f"n_records must be an int >= 1; got {n_records!r}")
    if not (isinstance(n_leads, int | np.integer) and 1 <= n_leads <= len(LEAD_NAMES)):
        raise ValueError(f"n_leads must be an int in 1..{len(LEAD_NAMES)}; got {n_leads!r}")
    if not (isinstance(n_classes, int | np.integer) and 1 <= n_classes <= len(SYNTHETIC_LABELS)):
        raise ValueError(f"n_classes must be an int in 1..{len(SYNTHETIC_LABELS)}; "
                         f"got {n_classes!r}")
    if not (fs > 0 and duration > 0):
        raise ValueError(f"fs and duration must be > 0; got fs={fs!r}, duration={duration!r}")
    rng = check_random_state(random_state)
    n_samples = int(round(fs * duration))
    labels = rng.random_sample((n_records, len(SYNTHETIC_LABELS))) < 0.3
    labels[:, n_classes:] = False
    tachy, wide, st, irreg, tinv, lowvolt = labels.T

    heart_rate = np.where(tachy, rng.uniform(105, 150, n_records), rng.uniform(50, 95, n_records))
    rr_mean = 60.0 / heart_rate
    n_beats = int(math.ceil(duration / (60.0 / 150 * 0.75))) + 2
    jitter = np.where(irreg, 0.2, 0.03)[:, None]
    rr = rr_mean[:, None] * np.clip(1 + jitter * rng.standard_normal((n_records, n_beats)),
                                    0.6, 1.6)
    beats = np.cumsum(rr, axis=1) - rr * rng.uniform(0.2, 1.0, (n_records, 1))

    # Per-record wave parameters, shape (n_records, n_waves).
    n_waves = len(_WAVE_AMP)
    width = np.tile(_WAVE_WIDTH, (n_records, 1)) * rng.uniform(0.9, 1.1, (n_records, 1))
    width[:, 1:4] *= np.where(wide, 2.5, 1.0)[:, None]
    offset = np.tile(_WAVE_OFFSET, (n_records, 1))
    offset[:, 4] *= np.sqrt(rr_mean / 0.8)  # QT shortens with rate
    offset[:, 1:4] *= np.where(wide, 2.5, 1.0)[:, None]
    amp = np.tile(_WAVE_AMP, (n_records, 1)) * rng.uniform(0.8, 1.2, (n_records, n_waves))
    amp[:, 0] *= ~irreg
    amp[:, 4] *= np.where(tinv, -1.0, 1.0)
    amp[:, 5] = np.where(st, rng.uniform(0.15, 0.3, n_records), 0.0)
    amp *= np.where(lowvolt, rng.uniform(0.3, 0.4, n_records), 1.0)[:, None]

    # Dipole axes rotated by a random per-record angle in the frontal plane.
    angle = rng.uniform(-0.35, 0.35, n_records)
    cos, sin = np.cos(angle), np.sin(angle)
    rot = np.zeros((n_records, 3, 3))
    rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = cos, -sin, sin, cos
    rot[:, 2, 2] = 1.0
    axes = np.einsum("nij,wj->nwi", rot, _WAVE_AXIS)  # (n_records, n_waves, 3)
    lead_axes = _lead_axes()[:n_leads]
    gains = np.einsum("li,nwi->nlw", lead_axes, axes) * amp[:, None, :]  # (n, leads, waves)

    t = np.arange(n_samples) / fs
    X = np.empty((n_records, n_leads, n_samples), dtype=np.float32)
    chunk = max(1, int(4e6 // (n_beats * n_samples * n_waves)))
    for start in range(0, n_records, chunk):
        sl = slice(start, start + chunk)
        centers = beats[sl, :, None] + offset[sl, None, :]  # (c, beats, waves)
        z = (t[None, None, None, :] - centers[..., None]) / width[sl, None, :, None]
        waves = np.exp(-0.5 * z * z, dtype=np.float32).sum(axis=1)  # (c, waves, samples)
        X[sl] = np.einsum("clw,cws->cls", gains[sl], waves)

    # Baseline wander, fibrillatory waves (IRREG) and white noise.
    lead_mix = rng.uniform(0.5, 1.0, (n_records, n_leads, 1))
    wander = 0.08 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4, (n_records, 1, 1)) * t
                           + rng.uniform(0, 2 * np.pi, (n_records, 1, 1)))
    fib = 0.05 * irreg[:, None, None] * np.sin(
        2 * np.pi * rng.uniform(5, 7, (n_records, 1, 1)) * t
        + rng.uniform(0, 2 * np.pi, (n_records, 1, 1)))
    X += (lead_mix * (wander + fib)).astype(np.float32)
    X += rng.normal(0, 0.015, X.shape).astype(np.float32)

    folds = rng.permutation(np.arange(n_records) % 10 + 1)
    meta = pd.DataFrame({
        "record": [f"synthetic_{i:05d}" for i in range(n_records)],
        "strat_fold": folds,
        "age": rng.randint(18, 90, n_records).astype(float),
        "sex": rng.randint(0, 2, n_records),
        "heart_rate": heart_rate,
    })
    return Bunch(X=X, y=labels[:, :n_classes].astype(np.float32),
                 label_names=list(SYNTHETIC_LABELS[:n_classes]), meta=meta, fs=float(fs),
                 lead_names=tuple(LEAD_NAMES[:n_leads]), missing=[], skipped={},
                 dropped_no_label=0)
