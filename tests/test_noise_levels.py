"""skecg's physiological noise against an independent re-implementation of the reference formulas.

The functions below re-implement, window by window with numpy's generator and Python loops,
the noise formulas of the paper's reference code (its torch transformations ``TBaselineWander``,
``TPowerlineNoise``, ``TEMNoise`` and ``TBaselineShift``, applied to each 2.5 s window), with
its power-line slip (``C`` applied twice) available as an option and its baseline-shift gain
written as intended. ``benchmarks/noise_levels.py`` tabulates the same comparison at every
level into ``benchmarks/results/noise_levels.md``.
"""

import math

import numpy as np
import pytest
import torch

from skecg import augment as A

N_SAMPLES, N_LEADS, FS = 250, 12, 100


def reference_baseline_wander(rng, c_max, n=N_SAMPLES, n_leads=N_LEADS, fs=FS, fc=0.5,
                              fdelta=0.01):
    """C * sum_{k=0}^{K-1} a_k cos(2 pi k fdelta t + phi_k), identical on every lead."""
    n_components = int(fc / fdelta + 0.5)
    t = np.arange(n) / fs
    c = rng.uniform(0, c_max)
    k = np.arange(n_components)[:, None]  # k = 0 is the DC term
    phases, weights = rng.uniform(0, 2 * math.pi, (n_components, 1)), rng.uniform(0, 1, (
        n_components, 1))
    signal = c * (weights * np.cos(2 * math.pi * k * fdelta * t + phases)).sum(axis=0)
    return np.repeat(signal[:, None], n_leads, axis=1)


def reference_powerline(rng, c_max, n=N_SAMPLES, n_leads=N_LEADS, fs=FS, fn=50.0, n_harmonics=3,
                        c_twice=False):
    """C * sum_{k=1}^{K} a_k cos(2 pi k fn t + phi) times a lead gain U(-1, 1).

    ``c_twice=True`` reproduces the reference's slip of multiplying by C a second time.
    """
    t = np.arange(n) / fs
    c = rng.uniform(0, c_max)
    phase = rng.uniform(0, 2 * math.pi)
    signal = np.zeros(n)
    for k in range(1, n_harmonics + 1):
        signal += c * rng.uniform(0, 1) * np.cos(2 * math.pi * k * fn * t + phase)
    if c_twice:
        signal = c * signal
    gains = np.array([rng.uniform(-1, 1) for _ in range(n_leads)])
    return signal[:, None] * gains[None]


def reference_em(rng, c_max, n=N_SAMPLES, n_leads=N_LEADS):
    """White Gaussian noise with standard deviation C ~ U(0, c_max) on every lead."""
    return rng.normal(0.0, rng.uniform(0, c_max), size=(n, n_leads))


def reference_baseline_shift(rng, c_max, n=N_SAMPLES, n_leads=N_LEADS, fs=FS,
                             mean_segment_length=3.0, max_segments_per_second=0.3):
    """0..M segments of level U(-1, 1) (later ones overwrite), times C and a gain +-N(1, 1)."""
    c = rng.uniform(0, c_max)
    signal = np.zeros(n)
    max_segments = int(max_segments_per_second * n / fs + 0.5)
    for _ in range(rng.integers(0, max_segments + 1)):
        middle = rng.integers(0, n)
        length = rng.normal(mean_segment_length, 0.2 * mean_segment_length)
        left = max(0, int(middle - 0.5 * fs * length))
        right = min(n - 1, int(middle + 0.5 * fs * length))
        signal[left:right + 1] = rng.uniform(-1, 1)
    gains = np.array([(2 * rng.integers(0, 2) - 1) * rng.normal(1, 1) for _ in range(n_leads)])
    return c * signal[:, None] * gains[None]


REFERENCE = {
    "BaselineWander": reference_baseline_wander,
    "PowerlineNoise": reference_powerline,
    "EMNoise": reference_em,
    "BaselineShift": reference_baseline_shift,
}
SKECG = {
    "BaselineWander": A.baseline_wander,
    "PowerlineNoise": A.powerline_noise,
    "EMNoise": A.em_noise,
    "BaselineShift": A.baseline_shift,
}
#: Cmax of the augmentations in pretraining (the paper's defaults).
PRETRAINING_C_MAX = {"BaselineWander": 0.1, "PowerlineNoise": 0.2, "EMNoise": 0.5,
                     "BaselineShift": 1.0}


def reference_rms(name: str, c_max: float, n_windows: int, seed: int = 0, **kwargs) -> float:
    """RMS in mV over ``n_windows`` windows of 12 x 250 samples, one draw per window."""
    rng = np.random.default_rng(seed)
    total = sum(np.square(REFERENCE[name](rng, c_max, **kwargs)).sum() for _ in range(n_windows))
    return float(np.sqrt(total / (n_windows * N_SAMPLES * N_LEADS)))


def skecg_rms(name: str, c_max: float, n_windows: int, seed: int = 0) -> float:
    """RMS in mV of skecg's noise over a batch of ``n_windows`` windows of 12 x 250 samples."""
    x = torch.zeros(n_windows, N_LEADS, N_SAMPLES, dtype=torch.float64)
    noise = SKECG[name](x, fs=FS, c_max=c_max, generator=torch.Generator().manual_seed(seed))
    return float(noise.pow(2).mean().sqrt())


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_rms_agrees_with_reference_formulas(name):
    c_max = PRETRAINING_C_MAX[name]
    ours, theirs = skecg_rms(name, c_max, 1500), reference_rms(name, c_max, 1500)
    assert ours == pytest.approx(theirs, rel=0.10)


def test_reference_powerline_slip_is_not_copied():
    ours = skecg_rms("PowerlineNoise", 0.2, 500)
    slip = reference_rms("PowerlineNoise", 0.2, 500, c_twice=True)
    assert slip < 0.25 * ours  # C twice shrinks the noise about sixfold at Cmax 0.2


def test_reference_waveforms_have_the_same_structure():
    rng = np.random.default_rng(1)
    wander = reference_baseline_wander(rng, 0.1)
    np.testing.assert_allclose(wander, wander[:, :1].repeat(N_LEADS, axis=1))
    ours = A.baseline_wander(torch.zeros(1, N_LEADS, N_SAMPLES), generator=torch.Generator())
    torch.testing.assert_close(ours, ours[:, :1].expand_as(ours))
    shift = reference_baseline_shift(np.random.default_rng(3), 1.0)
    assert len(np.unique(shift[:, 0])) <= 2  # 0 or 1 segment in a 2.5 s window


_MIXTURE_PARTS = {"BaselineWander": "_baseline_wander_noise", "EMNoise": "_em_noise",
                  "PowerlineNoise": "_powerline_noise", "BaselineShift": "_baseline_shift_noise"}


@pytest.mark.parametrize("name", sorted(_MIXTURE_PARTS))
@pytest.mark.parametrize("level", [2, 5])
def test_mixture_adds_each_noise_at_its_levels_amplitude(monkeypatch, name, level):
    """Each type in the noise-robustness mixture has the reference's RMS at the level's Cmax.

    The other three types are switched off, so a mixture that scaled one type (or read the
    wrong Cmax) is caught by the reference formulas.
    """
    for other, function in _MIXTURE_PARTS.items():
        if other != name:
            monkeypatch.setattr(A, function, lambda x, *args, **kwargs: torch.zeros_like(x))
    x = torch.zeros(1500, N_LEADS, N_SAMPLES, dtype=torch.float64)
    noise = A.add_physiological_noise(x, level, fs=FS, generator=torch.Generator().manual_seed(0))
    ours = float(noise.pow(2).mean().sqrt())
    theirs = reference_rms(name, A.NOISE_LEVELS[level][name], 1500)
    assert ours == pytest.approx(theirs, rel=0.12)
