"""Helpers that write small WFDB / challenge-style records into a temporary folder."""

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import wfdb

from skecg import LEAD_NAMES


def synthetic_signal(n_samples: int, n_leads: int = 12, fs: float = 500, seed: int = 0):
    """Smooth test signal in mV, shape (n_samples, n_leads)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples)[:, None] / fs
    freqs = rng.uniform(0.5, 8.0, (1, n_leads))
    return 0.8 * np.sin(2 * np.pi * freqs * t) + 0.1 * rng.standard_normal((1, n_leads))


def write_wfdb(folder: Path, name: str, fs: float, seconds: float, *, leads=LEAD_NAMES,
               units="mV", signal=None, seed=0) -> np.ndarray:
    """Write a format-16 record with wfdb.wrsamp; return the physical signal as stored."""
    n = int(round(fs * seconds))
    if signal is None:
        signal = synthetic_signal(n, len(leads), fs, seed)
    wfdb.wrsamp(name, fs=fs, units=[units] * len(leads), sig_name=list(leads),
                p_signal=signal, fmt=["16"] * len(leads), write_dir=str(folder))
    return wfdb.rdsamp(str(folder / name))[0]


def write_challenge(folder: Path, name: str, *, fs=500, n_samples=5000, fmt="16x1+24",
                    gain="1000.0(0)/mV", leads=LEAD_NAMES, comments=None, seed=0,
                    mat_format="4") -> np.ndarray:
    """Write a challenge-style record (``.mat`` 'val' int16 + hand-written header).

    Returns the digital values, shape (n_leads, n_samples), int16.
    """
    rng = np.random.default_rng(seed)
    val = (rng.standard_normal((len(leads), n_samples)) * 300).astype(np.int16)
    scipy.io.savemat(folder / f"{name}.mat", {"val": val}, format=mat_format)
    lines = [f"{name} {len(leads)} {fs} {n_samples}"]
    lines += [f"{name}.mat {fmt} {gain} 16 0 {int(v[0])} 0 0 {lead}"
              for v, lead in zip(val, leads, strict=True)]
    if comments is None:
        comments = ["# Age: 50", "# Sex: Female", "# Dx: 426783006"]
    (folder / f"{name}.hea").write_text("\n".join(lines + list(comments)) + "\n")
    return val


@pytest.fixture
def make_wfdb():
    return write_wfdb


@pytest.fixture
def make_challenge():
    return write_challenge
