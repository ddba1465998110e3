"""Batched ECG augmentations and physiological noise (Mehari & Strodthoff 2022, table of defaults).

Every function takes a batch ``x`` of shape ``(batch, n_leads, n_samples)`` in mV and returns a
new tensor of the same shape, dtype and device; the input is never modified. All work is done
with tensor operations on the whole batch. Random draws come from ``generator`` when one is
given (on its own device, then moved to ``x``'s device) and from torch's global RNG otherwise,
so a seeded generator makes a call reproducible.

Each function has a thin class with the same parameters whose ``__call__(x, generator=None)``
applies it; :func:`make_augmentation` builds a :class:`Compose` of them from names, e.g. the
paper's best pair ``["RandomResizedCrop", "TimeOut"]``.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "AUGMENTATIONS",
    "NOISE_LEVELS",
    "BaselineShift",
    "BaselineWander",
    "ChannelResize",
    "Compose",
    "DynamicTimeWarp",
    "EMNoise",
    "GaussianBlur",
    "GaussianNoise",
    "PowerlineNoise",
    "RandomResizedCrop",
    "TimeOut",
    "add_physiological_noise",
    "add_physiological_noise_windows",
    "baseline_shift",
    "baseline_wander",
    "channel_resize",
    "dynamic_time_warp",
    "em_noise",
    "gaussian_blur",
    "gaussian_noise",
    "make_augmentation",
    "powerline_noise",
    "random_resized_crop",
    "time_out",
]

_BLUR_KERNEL = (0.1, 0.2, 0.4, 0.2, 0.1)

# Cmax of each noise at the paper's robustness levels 1-6.
NOISE_LEVELS: dict[int, dict[str, float]] = {
    level: dict(zip(("BaselineWander", "EMNoise", "PowerlineNoise", "BaselineShift"), c_max,
                    strict=True))
    for level, c_max in enumerate(
        [(0.05, 0.25, 0.1, 0.5), (0.1, 0.5, 0.2, 1.0), (0.1, 1.0, 0.2, 2.0),
         (0.2, 1.0, 0.4, 2.0), (0.2, 1.5, 0.4, 2.5), (0.3, 2.0, 0.5, 3.0)], start=1)
}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _check_batch(x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (batch, n_leads, n_samples); "
                        f"got {type(x).__name__}.")
    if x.ndim != 3:
        raise ValueError(f"x must be 3-D (batch, n_leads, n_samples); got shape {tuple(x.shape)}.")
    if not x.is_floating_point():
        raise ValueError(f"x must hold floating-point samples in mV; got dtype {x.dtype}.")
    return x


def _draw_dtype(x: torch.Tensor) -> torch.dtype:
    return x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32


def _rand(shape, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Uniform [0, 1) draws of ``shape`` from ``generator``, on ``x``'s device."""
    device = generator.device if generator is not None else x.device
    u = torch.rand(shape, generator=generator, device=device, dtype=_draw_dtype(x))
    return u.to(x.device)


def _randn(shape, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    device = generator.device if generator is not None else x.device
    z = torch.randn(shape, generator=generator, device=device, dtype=_draw_dtype(x))
    return z.to(x.device)


def _uniform(shape, low: float, high: float, x, generator) -> torch.Tensor:
    return low + (high - low) * _rand(shape, x, generator)


def _check_interval(value, name: str, lower: float, upper: float = math.inf,
                    open_lower: bool = False) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (low, high) pair; got {value!r}.") from None
    low_ok = low > lower if open_lower else low >= lower
    if not (low_ok and low <= high <= upper):
        bracket = "(" if open_lower else "["
        raise ValueError(f"{name} must satisfy low <= high within {bracket}{lower}, {upper}]; "
                         f"got {value!r}.")
    return low, high


def _check_nonnegative(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{name} must be a non-negative number; got {value!r}.")
    return float(value)


def _check_positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name} must be a positive number; got {value!r}.")
    return float(value)


def _interpolate(x: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of ``x`` (batch, leads, n) at ``coords`` (batch, m), in samples.

    All leads of a record share the coordinates, which are clamped to ``[0, n - 1]``.
    """
    batch, n_leads, n = x.shape
    if n < 2:
        return x.clone()
    coords = coords.clamp(0, n - 1)
    left = coords.floor().long().clamp(max=n - 2)
    weight = (coords - left).to(x.dtype)[:, None, :]
    index = left[:, None, :].expand(batch, n_leads, coords.shape[1])
    x_left = x.gather(2, index)
    x_right = x.gather(2, index + 1)
    return x_left + weight * (x_right - x_left)


def _cosine_basis(freqs: np.ndarray, n: int, fs: float, x: torch.Tensor):
    """cos and sin of ``2 pi f t`` for each frequency, shape (n_freqs, n), on ``x``'s device.

    Built in float64 on the host: phases of a 150 Hz tone over minutes lose precision in float32.
    """
    phase = 2 * np.pi * np.mod(np.outer(freqs, np.arange(n) / fs), 1.0)
    dtype = _draw_dtype(x)
    return (torch.as_tensor(np.cos(phase), dtype=dtype, device=x.device),
            torch.as_tensor(np.sin(phase), dtype=dtype, device=x.device))


def _random_tones(weights: torch.Tensor, phases: torch.Tensor, cos_basis, sin_basis):
    """Sum over k of ``weights[..., k] * cos(2 pi f_k t + phases[..., k])`` -> (..., n)."""
    return ((weights * torch.cos(phases)) @ cos_basis) - ((weights * torch.sin(phases)) @ sin_basis)


# --------------------------------------------------------------------------------------------
# Augmentations
# --------------------------------------------------------------------------------------------


def gaussian_noise(x: torch.Tensor, scale: float = 0.005, *,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Add white Gaussian noise.

    Parameters
    ----------
    x : torch.Tensor of shape (batch, n_leads, n_samples)
        Signals in mV.
    scale : float
        Standard deviation of the noise in mV.
    generator : torch.Generator, optional
        Source of randomness.

    Returns
    -------
    torch.Tensor of shape (batch, n_leads, n_samples)
    """
    x = _check_batch(x)
    scale = _check_nonnegative(scale, "scale")
    return x + (scale * _randn(x.shape, x, generator)).to(x.dtype)


def gaussian_blur(x: torch.Tensor) -> torch.Tensor:
    """Smooth every lead with the fixed kernel ``[.1, .2, .4, .2, .1]``.

    The output has the input's length; samples beyond the edges count as zero (like
    ``np.convolve(..., mode="same")``).

    Parameters
    ----------
    x : torch.Tensor of shape (batch, n_leads, n_samples)
        Signals in mV.

    Returns
    -------
    torch.Tensor of shape (batch, n_leads, n_samples)
    """
    x = _check_batch(x)
    n_leads = x.shape[1]
    kernel = torch.tensor(_BLUR_KERNEL, dtype=x.dtype, device=x.device)
    kernel = kernel.view(1, 1, -1).expand(n_leads, 1, -1)
    return F.conv1d(x, kernel, padding=len(_BLUR_KERNEL) // 2, groups=n_leads)


def random_resized_crop(x: torch.Tensor, scale: tuple[float, float] = (0.5, 1.0), *,
                        positions: str = "random",
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """Crop a random fraction of each signal and stretch it back to full length.

    Each record gets a fraction ``f ~ U(scale)``, shared by its leads, and the crop is resampled
    to ``n_samples`` points by linear interpolation, in one of two ways:

    * ``positions="random"`` (the paper's reference code): the crop holds ``L = floor(f *
      n_samples)`` whole samples from a uniform start; its first and last samples go to the
      first and last output positions, the other ``L - 2`` to distinct random positions in
      between, in order, and the output is interpolated linearly between them. This is a
      stretch by ``1 / f`` with a random time warp on top (the gaps between placed samples
      vary).
    * ``positions="even"``: a crop spanning ``f * (n_samples - 1)`` samples (not restricted to
      whole samples) at a uniform position, read at evenly spaced points: a pure stretch.

    Parameters
    ----------
    x : torch.Tensor of shape (batch, n_leads, n_samples)
        Signals in mV.
    scale : (float, float)
        Range of the kept fraction, within (0, 1].
    positions : {"random", "even"}, default="random"
        Where the crop's samples land in the output, see above.
    generator : torch.Generator, optional
        Source of randomness.

    Returns
    -------
    torch.Tensor of shape (batch, n_leads, n_samples)
    """
    x = _check_batch(x)
    low, high = _check_interval(scale, "scale", 0.0, 1.0, open_lower=True)
    if positions not in ("random", "even"):
        raise ValueError(f"positions must be 'random' or 'even'; got {positions!r}.")
    batch, _, n = x.shape
    fraction = _uniform((batch, 1), low, high, x, generator)
    if positions == "even":
        start = _rand((batch, 1), x, generator) * (1 - fraction) * (n - 1)
        t = torch.arange(n, device=x.device, dtype=fraction.dtype)
        return _interpolate(x, start + fraction * t)
    if n < 3:
        return x.clone()
    length = (fraction * n).floor().clamp(2, n)  # (batch, 1), whole samples
    start = (_rand((batch, 1), x, generator) * (n - length + 1)).floor().clamp_max(n - length)
    # L - 2 distinct interior output positions: the first L - 2 of a random permutation
    order = _rand((batch, n - 2), x, generator).argsort(dim=1)
    interior = torch.arange(n - 2, device=x.device) < (length - 2)
    placed = torch.zeros(batch, n - 2, dtype=torch.bool, device=x.device)
    placed = placed.scatter(1, order, interior)
    placed = F.pad(placed, (1, 1), value=True)  # first and last output positions
    t = torch.arange(n, device=x.device)
    sample = placed.cumsum(dim=1) - 1  # crop sample placed at or last before t
    before = torch.where(placed, t, 0).cummax(dim=1).values
    after = torch.where(placed, t, n - 1).flip(1).cummin(dim=1).values.flip(1)
    gap = (after - before).clamp_min(1).to(fraction.dtype)
    coords = start + sample.to(fraction.dtype) + (t - before).to(fraction.dtype) / gap
    return _interpolate(x, coords)


def time_out(x: torch.Tensor, fraction: tuple[float, float] = (0.2, 0.4), *,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Set a random contiguous block of each signal to zero.

    Each record gets a block of ``round(f * n_samples)`` samples, ``f ~ U(fraction)``, at a
    uniformly drawn position; all its leads are zeroed there.

    Parameters
    ----------
    x : torch.Tensor of shape (batch, n_leads, n_samples)
        Signals in mV.
    fraction : (float, float)
        Range of the zeroed fraction of the signal, within [0, 1].
    generator : torch.Generator, optional
        Source of randomness.

    Returns
    -------
    torch.Tensor of shape (batch, n_leads, n_samples)
    """
    x = _check_batch(x)
    low, high = _check_interval(fraction, "fraction", 0.0, 1.0)
    batch, _, n = x.shape
    length = (_uniform((batch, 1), low, high, x, generator) * n).round().long()
    start = (_rand((batch, 1), x, generator) * (n - length + 1)).floor().long()
    start = torch.minimum(start, n - length)
    t = torch.arange(n, device=x.device)
    mask = (t >= start) & (t < start + length)
    return x.masked_fill(mask[:, None, :], 0.0)


def channel_resize(x: torch.Tensor, magnitude: tuple[float, float] = (0.5, 2.0), *,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Scale each lead of each record by a log-uniform random factor.

    Parameters
    ----------
    x : torch.Tensor of shape (batch, n_leads, n_samples)
        Signals in mV.
    magnitude : (float, float)
        Range of the factor; ``log(factor)`` is uniform on ``[log(low), log(high)]``.
    generator : torch.Generator, optional
        Source of randomness.

    Returns
    -------
    torch.Tensor of shape (batch, n_leads, n_samples)
    """
    x = _check_batch(x)
    low, high = _check_interval(magnitude, "magnitude", 0.0, open_lower=True)
    batch, n_leads, _ = x.shape
    log_factor = _uniform((batch, n_leads, 1), math.log(low), math.log(high), x, generator)
    return x * torch.exp(log_factor).to(x.dtype)


def dynamic_time_warp(x: torch.Tensor, n_warps: int = 3, radius: float = 10, step: int = 2,
                      *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Warp the time axis of each signal smoothly and monotonically.

    ``n_warps`` knots are spaced evenly inside the signal; each is displaced by a random
    multiple of ``step`` samples in ``[-radius, radius]``, the end points stay fixed. The
    displacement is interpolated between knots with a smoothstep (zero slope at the knots) and
    the signal is read at ``t + displacement(t)`` by linear interpolation. All leads of a record
    share the warp. So that time never runs backwards, displacements are shrunk when
    ``radius`` exceeds a third of the knot spacing (only for short signals: 62 samples apart at
    250 samples and 3 warps).

    Parameters
    ----------
    x : torch.Tensor of shape (batch, n_leads, n_samples)
        Signals in mV.
    n_warps : int
        Number of displaced knots.
    radius : float
        Largest displacement of a knot in samples.
    step : int
        Displacement granularity in samples.
    generator : torch.Generator, optional
        Source of randomness.

    Returns
    -------
    torch.Tensor of shape (batch, n_leads, n_samples)
    """
    x = _check_batch(x)
    if isinstance(n_warps, bool) or not isinstance(n_warps, numbers.Integral) or n_warps < 0:
        raise ValueError(f"n_warps must be a non-negative integer; got {n_warps!r}.")
    radius = _check_nonnegative(radius, "radius")
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 1:
        raise ValueError(f"step must be a positive integer; got {step!r}.")
    batch, _, n = x.shape
    n_levels = int(radius // step)
    if n_warps == 0 or n_levels == 0 or n < 2:
        return x.clone()
    spacing = (n - 1) / (n_warps + 1)
    # smoothstep's steepest slope is 1.5 / spacing per unit of knot difference (at most 2r)
    shrink = min(1.0, 0.99 * spacing / (3 * n_levels * step))
    levels = torch.randint(-n_levels, n_levels + 1, (batch, n_warps), generator=generator,
                           device=generator.device if generator is not None else x.device)
    dtype = _draw_dtype(x)
    knots = (levels.to(x.device, dtype) * (step * shrink))
    knots = F.pad(knots, (1, 1))  # fixed end points
    t = torch.arange(n, device=x.device, dtype=dtype)
    segment = torch.div(t, spacing, rounding_mode="floor").long().clamp(max=n_warps)
    u = t / spacing - segment
    smooth = u * u * (3 - 2 * u)
    left, right = knots[:, segment], knots[:, segment + 1]
    return _interpolate(x, t + left + (right - left) * smooth)


# --------------------------------------------------------------------------------------------
# Physiological noise
# --------------------------------------------------------------------------------------------
# The four noises follow the formulas of the paper's reference code (its torch transformations,
# used in pretraining and in the noise-robustness evaluation) with two of its slips corrected:
# the power-line amplitude is scaled by C once (the reference multiplies by C twice), and the
# baseline-shift lead gain is the intended random sign times N(1, 1) (the reference's operator
# precedence gives 2 r - N(1, 1), r in {0, 1}: the same distribution, so nothing changes).
# None of them is normalised to a peak: C scales sums of random components, as there.


def _baseline_wander_noise(x, fs, c_max, fc, fdelta, generator) -> torch.Tensor:
    fs = _check_positive(fs, "fs")
    c_max = _check_nonnegative(c_max, "c_max")
    fc = _check_positive(fc, "fc")
    fdelta = _check_positive(fdelta, "fdelta")
    n_freqs = int(fc / fdelta + 0.5)
    if n_freqs < 1:
        raise ValueError(f"fc ({fc} Hz) must be at least half of fdelta ({fdelta} Hz).")
    batch, n_leads, n = x.shape
    cos_basis, sin_basis = _cosine_basis(fdelta * np.arange(n_freqs), n, fs, x)
    weights = _rand((batch, 1, n_freqs), x, generator)
    phases = _uniform((batch, 1, n_freqs), 0.0, 2 * math.pi, x, generator)
    gain = _uniform((batch, 1, 1), 0.0, c_max, x, generator)
    wander = gain * _random_tones(weights, phases, cos_basis, sin_basis)
    return wander.expand(batch, n_leads, n)


def baseline_wander(x: torch.Tensor, fs: float = 100, c_max: float = 0.1, fc: float = 0.5,
                    fdelta: float = 0.01, *,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Add baseline wander: a random mixture of slow cosines, the same on every lead.

    Each record gets ``C * sum_k a_k cos(2 pi k fdelta t + phi_k)`` for ``k = 0 .. K - 1``,
    ``K = round(fc / fdelta)`` (50 at the defaults, frequencies 0 to 0.49 Hz), with
    ``C ~ U(0, c_max)``, ``a_k ~ U(0, 1)`` and ``phi_k ~ U(0, 2 pi)``, added to all its leads
    alike, as in the paper's reference code. The ``k = 0`` term is a constant offset
    ``a_0 cos(phi_0)`` (the reference's DC term), and over a 2.5 s window the slowest tones look
    like offsets and trends too. The sum is not normalised: its RMS is about
    ``c_max * sqrt(K / 18)`` (0.17 mV at the defaults), its peak several times ``c_max``.

    Parameters
    ----------
    x : torch.Tensor of shape (batch, n_leads, n_samples)
        Signals in mV.
    fs : float
        Sampling rate in Hz.
    c_max : float
        Largest gain ``C`` in mV.
    fc : float
        Cut-off frequency in Hz: ``K = round(fc / fdelta)`` components.
    fdelta : float
        Frequency spacing in Hz.
    generator : torch.Generator, optional
        Source of randomness.

    Returns
    -------
    torch.Tensor of shape (batch, n_leads, n_samples)
    """
    x = _check_batch(x)
    return x + _baseline_wander_noise(x, fs, c_max, fc, fdelta, generator).to(x.dtype)


def _powerline_noise(x, fs, c_max, n_harmonics, freq, generator) -> torch.Tensor:
    fs = _check_positive(fs, "fs")
    c_max = _check_nonnegative(c_max, "c_max")
    freq = _check_positive(freq, "freq")
    if (isinstance(n_harmonics, bool) or not isinstance(n_harmonics, numbers.Integral)
            or n_harmonics < 1):
        raise ValueError(f"n_harmonics must be a positive integer; got {n_harmonics!r}.")
    batch, n_leads, n = x.shape
    cos_basis, sin_basis = _cosine_basis(freq * np.arange(1, n_harmonics + 1), n, fs, x)
    weights = _rand((batch, 1, n_harmonics), x, generator)
    phase = _uniform((batch, 1, 1), 0.0, 2 * math.pi, x, generator)  # one for all harmonics
    gain = _uniform((batch, 1, 1), 0.0, c_max, x, generator)
    lead_gain = _uniform((batch, n_leads, 1), -1.0, 1.0, x, generator)
    wave = _random_tones(weights, phase.expand(batch, 1, n_harmonics), cos_basis, sin_basis)
    return gain * lead_gain * wave


def powerline_noise(x: torch.Tensor, fs: float = 100, c_max: float = 0.2, n_harmonics: int = 3,
                    freq: float = 50.0, *,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Add power-line interference: a tone at ``freq`` and its harmonics.

    Each record gets one waveform ``C * sum_k a_k cos(2 pi k freq t + phi)``, ``k = 1 ..
    n_harmonics``, with ``C ~ U(0, c_max)``, weights ``a_k ~ U(0, 1)`` and one phase
    ``phi ~ U(0, 2 pi)``; each lead receives it times its own gain ``g ~ U(-1, 1)``
    (interference is common-mode up to the lead's coupling), as in the paper's reference code,
    which however multiplies by ``C`` twice; here ``C`` scales the noise once, so ``c_max`` is
    an amplitude in mV and ``|noise| <= n_harmonics * c_max``.

    Components at or above the Nyquist frequency ``fs / 2`` are sampled as they would be by a
    recorder without anti-aliasing filter, so they alias: at the paper's ``fs = 100`` Hz the 50 Hz
    fundamental becomes an alternating ``(-1)^n cos(phi)`` pattern, 100 Hz a constant offset
    and 150 Hz again an alternating pattern (RMS about ``c_max / sqrt(12)``). Use ``fs = 500``
    data to get genuine 50/100/150 Hz tones.

    Parameters
    ----------
    x : torch.Tensor of shape (batch, n_leads, n_samples)
        Signals in mV.
    fs : float
        Sampling rate in Hz.
    c_max : float
        Largest gain ``C`` in mV.
    n_harmonics : int
        Number of components (1 = the fundamental only).
    freq : float
        Mains frequency in Hz (50 or 60).
    generator : torch.Generator, optional
        Source of randomness.

    Returns
    -------
    torch.Tensor of shape (batch, n_leads, n_samples)
    """
    x = _check_batch(x)
    return x + _powerline_noise(x, fs, c_max, n_harmonics, freq, generator).to(x.dtype)


def _em_noise(x, fs, c_max, generator) -> torch.Tensor:
    _check_positive(fs, "fs")
    c_max = _check_nonnegative(c_max, "c_max")
    gain = _uniform((x.shape[0], 1, 1), 0.0, c_max, x, generator)
    return gain * _randn(x.shape, x, generator)


def em_noise(x: torch.Tensor, fs: float = 100, c_max: float = 0.5, *,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Add electrode-motion-like noise: white Gaussian noise of random strength per record.

    Each record gets independent noise on every sample and lead with standard deviation
    ``C ~ U(0, c_max)``, one ``C`` per record as in the paper's reference code (RMS
    ``c_max / sqrt(3)``).

    Parameters
    ----------
    x : torch.Tensor of shape (batch, n_leads, n_samples)
        Signals in mV.
    fs : float
        Sampling rate in Hz; white noise does not depend on it, it is accepted so that all
        physiological noises share one signature.
    c_max : float
        Largest standard deviation in mV.
    generator : torch.Generator, optional
        Source of randomness.

    Returns
    -------
    torch.Tensor of shape (batch, n_leads, n_samples)
    """
    x = _check_batch(x)
    return x + _em_noise(x, fs, c_max, generator).to(x.dtype)


def _baseline_shift_noise(x, fs, c_max, mean_segment_length, max_segments_per_second,
                          generator) -> torch.Tensor:
    fs = _check_positive(fs, "fs")
    c_max = _check_nonnegative(c_max, "c_max")
    mean_length = _check_positive(mean_segment_length, "mean_segment_length")
    rate = _check_positive(max_segments_per_second, "max_segments_per_second")
    batch, n_leads, n = x.shape
    max_segments = int(rate * n / fs + 0.5)
    if max_segments == 0:
        return x.new_zeros(x.shape)
    count = (_rand((batch, 1), x, generator) * (max_segments + 1)).floor()
    active = torch.arange(max_segments, device=x.device) < count  # (batch, max_segments)
    middle = (_rand((batch, max_segments), x, generator) * n).floor()
    half = 0.5 * fs * (mean_length + 0.2 * mean_length * _randn((batch, max_segments), x,
                                                                  generator))
    left = torch.trunc(middle - half).clamp_min(0)
    right = torch.trunc(middle + half).clamp_max(n - 1)
    level = _uniform((batch, max_segments), -1.0, 1.0, x, generator)
    t = torch.arange(n, device=x.device, dtype=middle.dtype)
    inside = (t >= left[..., None]) & (t <= right[..., None]) & active[..., None]
    # a later segment overwrites an earlier one where they overlap: keep the last covering one
    number = torch.arange(1, max_segments + 1, device=x.device).view(1, -1, 1)
    last = (inside * number).amax(dim=1)  # (batch, n), 0 where no segment
    shift = F.pad(level, (1, 0)).gather(1, last)
    gain = _uniform((batch, 1, 1), 0.0, c_max, x, generator)
    sign = 2.0 * (_rand((batch, n_leads, 1), x, generator) < 0.5).to(gain.dtype) - 1.0
    lead_gain = sign * (1.0 + _randn((batch, n_leads, 1), x, generator))
    return gain * lead_gain * shift[:, None, :]


def baseline_shift(x: torch.Tensor, fs: float = 100, c_max: float = 1.0,
                   mean_segment_length: float = 3.0, max_segments_per_second: float = 0.3, *,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Add step-like baseline shifts over random segments.

    As in the paper's reference code: a record of ``T = n_samples / fs`` seconds gets between 0
    and ``M = round(max_segments_per_second * T)`` segments (uniformly; ``M = 1``, so 0 or 1
    segment, for 2.5 s windows), each centred on a uniform sample with a length
    ``~ N(mean_segment_length, (0.2 mean_segment_length)^2)`` seconds (cut at the record's
    ends) and a level ``a ~ U(-1, 1)``; a later segment overwrites an earlier one. The shift
    is ``C * g * a`` with ``C ~ U(0, c_max)`` per record and a gain ``g`` per lead, a random sign
    times ``N(1, 1)``.

    Parameters
    ----------
    x : torch.Tensor of shape (batch, n_leads, n_samples)
        Signals in mV.
    fs : float
        Sampling rate in Hz.
    c_max : float
        Largest gain ``C`` in mV.
    mean_segment_length : float
        Mean segment length in seconds.
    max_segments_per_second : float
        Caps the number of segments per record.
    generator : torch.Generator, optional
        Source of randomness.

    Returns
    -------
    torch.Tensor of shape (batch, n_leads, n_samples)
    """
    x = _check_batch(x)
    shift = _baseline_shift_noise(x, fs, c_max, mean_segment_length, max_segments_per_second,
                                  generator)
    return x + shift.to(x.dtype)


def add_physiological_noise(x: torch.Tensor, level: int, fs: float = 100,
                            generator: torch.Generator | None = None) -> torch.Tensor:
    """Add the paper's noise-robustness mixture at one of its levels 1-6.

    Baseline wander, electrode motion, power-line noise and baseline shifts are drawn
    independently with the ``c_max`` values of ``NOISE_LEVELS[level]`` and the other defaults
    of :func:`baseline_wander`, :func:`em_noise`, :func:`powerline_noise` and
    :func:`baseline_shift`, and added to ``x``. Every row of ``x`` gets its own draws: the
    paper's reference adds noise to each evaluation window independently, which
    :func:`add_physiological_noise_windows` does.

    Parameters
    ----------
    x : torch.Tensor of shape (batch, n_leads, n_samples)
        Signals in mV.
    level : int
        Noise level, 1 (mild) to 6 (strong).
    fs : float
        Sampling rate in Hz.
    generator : torch.Generator, optional
        Source of randomness.

    Returns
    -------
    torch.Tensor of shape (batch, n_leads, n_samples)
    """
    x = _check_batch(x)
    if isinstance(level, bool) or level not in NOISE_LEVELS:
        raise ValueError(f"level must be one of {sorted(NOISE_LEVELS)}; got {level!r}.")
    c_max = NOISE_LEVELS[level]
    noise = _baseline_wander_noise(x, fs, c_max["BaselineWander"], 0.5, 0.01, generator)
    noise = noise + _em_noise(x, fs, c_max["EMNoise"], generator)
    noise = noise + _powerline_noise(x, fs, c_max["PowerlineNoise"], 3, 50.0, generator)
    noise = noise + _baseline_shift_noise(x, fs, c_max["BaselineShift"], 3.0, 0.3, generator)
    return x + noise.to(x.dtype)


def add_physiological_noise_windows(
    x: torch.Tensor, level: int, window: int = 250, stride: int = 125, fs: float = 100,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, np.ndarray]:
    """Cut records into sliding windows and add the noise of ``level`` to each window.

    The paper's reference evaluates noise robustness on windows of 2.5 s (stride 1.25 s), each
    with its own noise draw (its gains ``C``, segments, phases), not on whole records. Predict
    on the returned windows and average the predictions per record with ``record_index``
    (:func:`skecg.preprocessing.aggregate_windows`).

    Parameters
    ----------
    x : torch.Tensor of shape (n_records, n_leads, n_samples)
        Records in mV.
    level : int
        Noise level, 1 (mild) to 6 (strong).
    window, stride : int
        Window length and distance between window starts in samples, as in
        :func:`skecg.preprocessing.sliding_windows` (the last window ends at the last sample).
    fs : float
        Sampling rate in Hz.
    generator : torch.Generator, optional
        Source of randomness.

    Returns
    -------
    windows : torch.Tensor of shape (n_records * n_windows, n_leads, window)
        Noisy windows, record-major.
    record_index : np.ndarray of shape (n_records * n_windows,), int64
        The record each window comes from.
    """
    from .preprocessing import sliding_windows

    x = _check_batch(x)
    windows, record_index = sliding_windows(x, window, stride)
    return add_physiological_noise(windows, level, fs, generator), record_index


# --------------------------------------------------------------------------------------------
# Classes
# --------------------------------------------------------------------------------------------


class _Augmentation:
    """Base of the augmentation classes: parameters stored as given, applied on call."""

    _function: Callable[..., torch.Tensor]

    def _params(self) -> dict:
        names = list(inspect.signature(type(self).__init__).parameters)[1:]
        return {name: getattr(self, name) for name in names}

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Apply the augmentation to a batch.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_leads, n_samples)
            Signals in mV.
        generator : torch.Generator, optional
            Source of randomness.

        Returns
        -------
        torch.Tensor of shape (batch, n_leads, n_samples)
        """
        return type(self)._function(x, **self._params(), generator=generator)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"


class GaussianNoise(_Augmentation):
    """Add white Gaussian noise; see :func:`gaussian_noise`."""

    _function = staticmethod(gaussian_noise)

    def __init__(self, scale: float = 0.005):
        self.scale = scale


class GaussianBlur(_Augmentation):
    """Smooth with the kernel ``[.1, .2, .4, .2, .1]``; see :func:`gaussian_blur`."""

    def __init__(self):
        pass

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Blur a batch (deterministic; ``generator`` is accepted and unused)."""
        return gaussian_blur(x)


class RandomResizedCrop(_Augmentation):
    """Crop a random fraction and stretch it back; see :func:`random_resized_crop`."""

    _function = staticmethod(random_resized_crop)

    def __init__(self, scale: tuple[float, float] = (0.5, 1.0), positions: str = "random"):
        self.scale = scale
        self.positions = positions


class TimeOut(_Augmentation):
    """Zero a random contiguous block; see :func:`time_out`."""

    _function = staticmethod(time_out)

    def __init__(self, fraction: tuple[float, float] = (0.2, 0.4)):
        self.fraction = fraction


class ChannelResize(_Augmentation):
    """Scale each lead by a log-uniform factor; see :func:`channel_resize`."""

    _function = staticmethod(channel_resize)

    def __init__(self, magnitude: tuple[float, float] = (0.5, 2.0)):
        self.magnitude = magnitude


class DynamicTimeWarp(_Augmentation):
    """Smooth monotone random time warp; see :func:`dynamic_time_warp`."""

    _function = staticmethod(dynamic_time_warp)

    def __init__(self, n_warps: int = 3, radius: float = 10, step: int = 2):
        self.n_warps = n_warps
        self.radius = radius
        self.step = step


class BaselineWander(_Augmentation):
    """Add slow cosine baseline wander; see :func:`baseline_wander`."""

    _function = staticmethod(baseline_wander)

    def __init__(self, fs: float = 100, c_max: float = 0.1, fc: float = 0.5,
                 fdelta: float = 0.01):
        self.fs = fs
        self.c_max = c_max
        self.fc = fc
        self.fdelta = fdelta


class PowerlineNoise(_Augmentation):
    """Add mains interference and harmonics; see :func:`powerline_noise`."""

    _function = staticmethod(powerline_noise)

    def __init__(self, fs: float = 100, c_max: float = 0.2, n_harmonics: int = 3,
                 freq: float = 50.0):
        self.fs = fs
        self.c_max = c_max
        self.n_harmonics = n_harmonics
        self.freq = freq


class EMNoise(_Augmentation):
    """Add electrode-motion-like Gaussian noise; see :func:`em_noise`."""

    _function = staticmethod(em_noise)

    def __init__(self, fs: float = 100, c_max: float = 0.5):
        self.fs = fs
        self.c_max = c_max


class BaselineShift(_Augmentation):
    """Add step-like baseline offsets; see :func:`baseline_shift`."""

    _function = staticmethod(baseline_shift)

    def __init__(self, fs: float = 100, c_max: float = 1.0, mean_segment_length: float = 3.0,
                 max_segments_per_second: float = 0.3):
        self.fs = fs
        self.c_max = c_max
        self.mean_segment_length = mean_segment_length
        self.max_segments_per_second = max_segments_per_second


class Compose:
    """Apply augmentations one after the other, all drawing from the same generator.

    Parameters
    ----------
    transforms : list of callables
        Each is called as ``t(x, generator=generator)`` and returns a tensor like ``x``.
        An empty list is the identity.
    """

    def __init__(self, transforms: list):
        self.transforms = transforms

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Apply all transforms in order.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_leads, n_samples)
            Signals in mV.
        generator : torch.Generator, optional
            Source of randomness for every transform.

        Returns
        -------
        torch.Tensor of shape (batch, n_leads, n_samples)
        """
        for transform in self.transforms:
            x = transform(x, generator=generator)
        return x

    def __len__(self) -> int:
        return len(self.transforms)

    def __iter__(self):
        return iter(self.transforms)

    def __getitem__(self, index):
        return self.transforms[index]

    def __repr__(self) -> str:
        return f"Compose({list(self.transforms)!r})"


AUGMENTATIONS: dict[str, type] = {
    cls.__name__: cls
    for cls in (GaussianNoise, GaussianBlur, RandomResizedCrop, TimeOut, ChannelResize,
                DynamicTimeWarp, BaselineWander, PowerlineNoise, EMNoise, BaselineShift)
}


def _build_one(item, fs: float):
    if isinstance(item, str):
        matches = [cls for name, cls in AUGMENTATIONS.items() if name.lower() == item.lower()]
        if not matches:
            raise ValueError(f"Unknown augmentation {item!r}; valid names are "
                             f"{', '.join(AUGMENTATIONS)}.")
        item = matches[0]
    if isinstance(item, type):
        takes_fs = "fs" in inspect.signature(item.__init__).parameters
        return item(fs=fs) if takes_fs else item()
    if callable(item):
        return item
    raise TypeError(f"Augmentations must be names, classes or callables; got {item!r}.")


def make_augmentation(spec=None, fs: float = 100) -> Compose:
    """Build a :class:`Compose` from a flexible specification.

    Parameters
    ----------
    spec : None, str, callable, Compose or iterable of these
        None gives the identity; names are keys of ``AUGMENTATIONS`` (case-insensitive) and get
        their default parameters; classes are instantiated with defaults; instances and other
        callables ``f(x, generator=None)`` are used as they are. A ``Compose`` is returned
        unchanged. The paper's choice is ``["RandomResizedCrop", "TimeOut"]``.
    fs : float
        Sampling rate in Hz passed to the named noises that need one.

    Returns
    -------
    Compose

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid ones.
    """
    if spec is None:
        return Compose([])
    if isinstance(spec, Compose):
        return spec
    if isinstance(spec, (str, type)) or callable(spec):
        spec = [spec]
    if not isinstance(spec, Iterable):
        raise TypeError(f"spec must be None, a name, a callable or a list of these; got {spec!r}.")
    return Compose([_build_one(item, fs) for item in spec])
