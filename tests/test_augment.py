import copy
import math
import pickle

import numpy as np
import pytest
import torch

from skecg import augment as A

ALL = [cls() for cls in A.AUGMENTATIONS.values()]
RANDOM = [aug for aug in ALL if not isinstance(aug, A.GaussianBlur)]


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _ramp(batch, n, n_leads=2):
    return torch.arange(n, dtype=torch.float64).expand(batch, n_leads, n).clone()


@pytest.fixture
def x():
    return torch.randn(8, 12, 250, generator=_gen(123))


def test_registry_is_the_papers_ten():
    assert list(A.AUGMENTATIONS) == [
        "GaussianNoise", "GaussianBlur", "RandomResizedCrop", "TimeOut", "ChannelResize",
        "DynamicTimeWarp", "BaselineWander", "PowerlineNoise", "EMNoise", "BaselineShift"]


@pytest.mark.parametrize("aug", ALL, ids=repr)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_device_and_input_untouched(aug, dtype, x):
    x = x.to(dtype)
    before = x.clone()
    out = aug(x, generator=_gen())
    assert out.shape == x.shape and out.dtype == dtype and out.device == x.device
    assert torch.isfinite(out).all()
    torch.testing.assert_close(x, before, rtol=0, atol=0)


@pytest.mark.parametrize("aug", RANDOM, ids=repr)
def test_seeded_generator_is_deterministic_and_global_rng_untouched(aug, x):
    state = torch.get_rng_state()
    a = aug(x, generator=_gen(1))
    b = aug(x, generator=_gen(1))
    c = aug(x, generator=_gen(2))
    assert torch.equal(torch.get_rng_state(), state)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)
    torch.manual_seed(5)
    d = aug(x)
    torch.manual_seed(5)
    torch.testing.assert_close(aug(x), d, rtol=0, atol=0)


@pytest.mark.parametrize("aug", ALL, ids=repr)
def test_classes_repr_pickle_deepcopy(aug, x):
    name = type(aug).__name__
    assert repr(aug).startswith(name + "(")
    for other in (pickle.loads(pickle.dumps(aug)), copy.deepcopy(aug)):
        assert repr(other) == repr(aug)
        torch.testing.assert_close(other(x, generator=_gen()), aug(x, generator=_gen()))


def test_class_params_stored_untouched_and_forwarded(x):
    scale = [0.6, 0.7]  # stored as given, not converted
    aug = A.RandomResizedCrop(scale=scale)
    assert aug.scale is scale
    torch.testing.assert_close(aug(x, generator=_gen()),
                               A.random_resized_crop(x, scale=scale, generator=_gen()))
    assert repr(A.RandomResizedCrop()) == "RandomResizedCrop(scale=(0.5, 1.0), positions='random')"
    assert repr(A.BaselineWander(fs=500)) == (
        "BaselineWander(fs=500, c_max=0.1, fc=0.5, fdelta=0.01)")


@pytest.mark.parametrize("fn", [A.gaussian_noise, A.gaussian_blur, A.time_out])
def test_rejects_bad_input(fn):
    with pytest.raises(ValueError, match="3-D"):
        fn(torch.zeros(4, 10))
    with pytest.raises(ValueError, match="floating"):
        fn(torch.zeros(2, 3, 10, dtype=torch.long))
    with pytest.raises(TypeError):
        fn(np.zeros((2, 3, 10)))


def test_gaussian_noise_std():
    x = torch.zeros(16, 12, 1000)
    noise = A.gaussian_noise(x, scale=0.005, generator=_gen())
    assert noise.std().item() == pytest.approx(0.005, rel=0.02)
    assert abs(noise.mean().item()) < 1e-4


def test_gaussian_blur_matches_np_convolve(x):
    kernel = [0.1, 0.2, 0.4, 0.2, 0.1]
    expected = np.apply_along_axis(np.convolve, -1, x.double().numpy(), kernel, mode="same")
    np.testing.assert_allclose(A.gaussian_blur(x).numpy(), expected, atol=1e-5)


def test_random_resized_crop_even_slope_is_the_fraction():
    batch, n = 512, 250
    out = A.random_resized_crop(_ramp(batch, n), scale=(0.5, 1.0), positions="even",
                                generator=_gen())
    t = torch.arange(n, dtype=torch.float64)
    slope = (out[:, 0, -1] - out[:, 0, 0]) / (n - 1)
    # a crop of a ramp is still a straight line: its slope is the kept fraction
    torch.testing.assert_close(out[:, 0], out[:, 0, :1] + slope[:, None] * t)
    torch.testing.assert_close(out[:, 1], out[:, 0])
    assert slope.min() >= 0.5 - 1e-9 and slope.max() <= 1 + 1e-9
    assert slope.min() < 0.55 and slope.max() > 0.95
    assert out.min() >= 0 and out.max() <= n - 1
    assert out[:, 0, 0].max() > 50  # crops start at varied positions


def test_random_resized_crop_random_positions_match_loop_reference():
    """The reference's algorithm, sample by sample: place the crop's L samples at 0, n - 1 and
    L - 2 sorted random positions in between, interpolate the rest (np.interp per lead)."""
    batch, n = 64, 250
    x = torch.randn(batch, 3, n, dtype=torch.float64, generator=_gen(3))
    out = A.random_resized_crop(x, scale=(0.5, 1.0), generator=_gen(8))
    ramp = A.random_resized_crop(_ramp(batch, n, 3), scale=(0.5, 1.0), generator=_gen(8))
    lengths = []
    for b in range(batch):
        # same draws on a ramp: placed samples are the integral values, start + 0 .. L - 1
        r = ramp[b, 0].numpy()
        placed = np.flatnonzero(np.isclose(r, np.round(r), atol=1e-9))
        start, length = int(round(r[0])), len(placed)
        assert placed[0] == 0 and placed[-1] == n - 1
        np.testing.assert_allclose(r[placed], start + np.arange(length), atol=1e-9)
        assert 0 <= start and start + length <= n and length == int(round(r[-1])) - start + 1
        crop = x[b, :, start:start + length].numpy()
        expected = np.stack([np.interp(np.arange(n), placed, lead) for lead in crop])
        np.testing.assert_allclose(out[b].numpy(), expected, atol=1e-12)
        lengths.append(length)
    assert min(lengths) < 0.55 * n and max(lengths) > 0.95 * n
    assert (ramp[..., 1:] >= ramp[..., :-1]).all()  # time never runs backwards
    # a random time warp on top of the stretch: the gaps between placed samples vary
    even = A.random_resized_crop(_ramp(batch, n, 3), positions="even", generator=_gen(8))
    assert (ramp - even).abs().amax(dim=-1).mean() > 1


@pytest.mark.parametrize("positions", ["random", "even"])
def test_random_resized_crop_full_scale_is_identity(x, positions):
    torch.testing.assert_close(A.random_resized_crop(x, scale=(1.0, 1.0), positions=positions,
                                                     generator=_gen()), x)
    with pytest.raises(ValueError, match="scale"):
        A.random_resized_crop(x, scale=(0.0, 0.5))
    with pytest.raises(ValueError, match="positions"):
        A.random_resized_crop(x, positions="uniform")


def test_time_out_zeroes_one_contiguous_block():
    batch, n = 256, 250
    x = torch.ones(batch, 3, n)
    out = A.time_out(x, fraction=(0.2, 0.4), generator=_gen())
    zero = out == 0
    assert torch.equal(zero[:, 0], zero[:, 1]) and torch.equal(zero[:, 0], zero[:, 2])
    zero = zero[:, 0].numpy()
    fractions = zero.mean(axis=1)
    assert fractions.min() >= 0.2 and fractions.max() <= 0.4
    assert fractions.min() < 0.22 and fractions.max() > 0.38
    for row in zero:  # contiguity check on the result, not part of the method
        idx = np.flatnonzero(row)
        assert idx[-1] - idx[0] + 1 == len(idx)
    starts = zero.argmax(axis=1)
    assert starts.min() < 20 and starts.max() > n * 0.55


def test_channel_resize_log_uniform_factor_per_lead():
    x = torch.ones(400, 12, 50) + torch.rand(400, 12, 50, generator=_gen(9))
    out = A.channel_resize(x, magnitude=(0.5, 2.0), generator=_gen())
    factor = out / x
    torch.testing.assert_close(factor, factor[..., :1].expand_as(factor))
    log_factor = torch.log(factor[..., 0])
    assert log_factor.min() >= math.log(0.5) - 1e-6 and log_factor.max() <= math.log(2) + 1e-6
    assert abs(log_factor.mean().item()) < 0.02
    assert log_factor.std().item() == pytest.approx(2 * math.log(2) / math.sqrt(12), rel=0.05)
    assert (factor[0, :, 0] - factor[0, 0, 0]).abs().max() > 0.01  # leads differ


@pytest.mark.parametrize("n", [250, 1000, 40])
def test_dynamic_time_warp_is_monotone_and_bounded(n):
    ramp = _ramp(128, n)
    out = A.dynamic_time_warp(ramp, n_warps=3, radius=10, step=2, generator=_gen())
    diffs = out[..., 1:] - out[..., :-1]
    assert (diffs > 0).all()
    torch.testing.assert_close(out[..., 0], ramp[..., 0])
    torch.testing.assert_close(out[..., -1], ramp[..., -1])
    assert (out - ramp).abs().max() <= 10 + 1e-9
    torch.testing.assert_close(out[:, 1], out[:, 0])
    assert ((out - ramp).abs().amax(dim=(1, 2)) > 0.5).float().mean() > 0.8


def test_dynamic_time_warp_knots_are_step_multiples():
    n = 401  # knots at 100, 200, 300
    out = A.dynamic_time_warp(_ramp(64, n), n_warps=3, radius=10, step=2, generator=_gen())
    at_knots = out[:, 0, [100, 200, 300]] - torch.tensor([100.0, 200.0, 300.0],
                                                         dtype=torch.float64)
    torch.testing.assert_close(at_knots, 2 * torch.round(at_knots / 2))
    assert set(at_knots.unique().tolist()) <= set(range(-10, 11, 2))


def _draws(shape, gen, low=0.0, high=1.0):
    return low + (high - low) * torch.rand(shape, generator=gen, dtype=torch.float64)


def test_baseline_wander_matches_formula_loop():
    """C * sum_{k=0}^{K-1} a_k cos(2 pi k fdelta t + phi_k), K = round(fc / fdelta), the same
    on all leads; written as a loop over records and components with the same draws."""
    batch, n_leads, n, fs = 6, 3, 250, 100
    noise = A.baseline_wander(torch.zeros(batch, n_leads, n, dtype=torch.float64), fs=fs,
                              c_max=0.1, fc=0.5, fdelta=0.01, generator=_gen(2))
    gen = _gen(2)
    a, phi, c = _draws((batch, 50), gen), _draws((batch, 50), gen, 0, 2 * math.pi), _draws(
        (batch,), gen, 0, 0.1)
    t = np.arange(n) / fs
    for b in range(batch):
        wave = sum(a[b, k].item() * np.cos(2 * math.pi * k * 0.01 * t + phi[b, k].item())
                   for k in range(50))
        for lead in range(n_leads):
            np.testing.assert_allclose(noise[b, lead].numpy(), c[b].item() * wave, atol=1e-10)


def test_baseline_wander_low_frequency_with_dc():
    fs, n = 100, 10_000  # 100 s: every k * 0.01 Hz tone fits a whole number of periods
    noise = A.baseline_wander(torch.zeros(64, 2, n), fs=fs, c_max=0.1, generator=_gen())
    spectrum = np.abs(np.fft.rfft(noise.double().numpy(), axis=-1)) ** 2
    freqs = np.fft.rfftfreq(n, 1 / fs)
    assert spectrum[..., freqs > 0.49 + 1e-9].sum() < 1e-6 * spectrum.sum()
    assert spectrum[..., 0].sum() > 0.005 * spectrum.sum()  # the DC term
    torch.testing.assert_close(noise[:, 0], noise[:, 1])  # shared across leads
    rms = noise.pow(2).mean().sqrt().item()  # c_max * sqrt(K / 18)
    assert rms == pytest.approx(0.1 * math.sqrt(50 / 18), rel=0.15)


def test_powerline_noise_matches_formula_loop():
    """C * g_lead * sum_k a_k cos(2 pi k 50 t + phi), one phase, C once, g ~ U(-1, 1)."""
    batch, n_leads, n, fs = 5, 4, 200, 500
    noise = A.powerline_noise(torch.zeros(batch, n_leads, n, dtype=torch.float64), fs=fs,
                              c_max=0.2, generator=_gen(6))
    gen = _gen(6)
    a, phi = _draws((batch, 3), gen), _draws((batch,), gen, 0, 2 * math.pi)
    c, g = _draws((batch,), gen, 0, 0.2), _draws((batch, n_leads), gen, -1, 1)
    t = np.arange(n) / fs
    for b in range(batch):
        wave = sum(a[b, k - 1].item() * np.cos(2 * math.pi * k * 50 * t + phi[b].item())
                   for k in (1, 2, 3))
        for lead in range(n_leads):
            np.testing.assert_allclose(noise[b, lead].numpy(), c[b].item() * g[b, lead].item()
                                       * wave, atol=1e-10)


def test_powerline_noise_harmonics_at_500_hz():
    fs, n = 500, 500
    noise = A.powerline_noise(torch.zeros(8, 12, n), fs=fs, c_max=0.2, n_harmonics=3,
                              generator=_gen())
    assert noise.abs().max() <= 3 * 0.2 + 1e-6
    spectrum = np.abs(np.fft.rfft(noise.double().numpy(), axis=-1)) ** 2
    freqs = np.fft.rfftfreq(n, 1 / fs)
    harmonic = np.isin(freqs, [50, 100, 150])
    assert spectrum[..., harmonic].sum() > 0.9999 * spectrum.sum()
    assert (spectrum[..., harmonic].sum(axis=(0, 1)) > 0).all()
    # one waveform per record, a gain per lead
    ratio = noise[:, 1:] / noise[:, :1]
    mask = noise[:, :1].abs() > 1e-3
    assert (ratio - ratio.nanmedian(dim=-1, keepdim=True).values)[mask.expand_as(ratio)].abs(
    ).max() < 1e-3


def test_powerline_noise_aliases_at_100_hz():
    noise = A.powerline_noise(torch.zeros(4, 2, 100), fs=100, n_harmonics=1, generator=_gen())
    torch.testing.assert_close(noise[..., 1:], -noise[..., :-1])  # 50 Hz = Nyquist alternates
    assert noise.abs().max() <= 0.2 + 1e-6
    rms = A.powerline_noise(torch.zeros(4000, 12, 250), generator=_gen()).pow(2).mean().sqrt()
    assert rms.item() == pytest.approx(0.2 / math.sqrt(12), rel=0.05)  # C once, not twice


def test_em_noise_std_per_record():
    noise = A.em_noise(torch.zeros(64, 12, 2000), c_max=0.5, generator=_gen())
    std = noise.std(dim=-1)
    assert std.max() <= 0.5 * 1.1 and std.max() > 0.45
    assert std.min() < 0.05  # gains spread over [0, c_max]
    torch.testing.assert_close(std, std[:, :1].expand_as(std), rtol=0.1, atol=0.005)


def test_baseline_shift_matches_formula_loop():
    """The reference's loop: 0..M segments, centre ~ U{0..n-1}, length ~ N(3 s, 0.6 s), level
    U(-1, 1), later segments overwrite; times C ~ U(0, c_max) and a lead gain +-N(1, 1)."""
    batch, n_leads, n, fs = 40, 3, 1000, 100  # M = round(0.3 * 10) = 3 segments at most
    shift = A.baseline_shift(torch.zeros(batch, n_leads, n, dtype=torch.float64), fs=fs,
                             c_max=1.0, generator=_gen(4))
    gen = _gen(4)
    count = (_draws((batch, 1), gen) * 4).floor()
    middle = (_draws((batch, 3), gen) * n).floor()
    length = 3.0 + 0.6 * torch.randn((batch, 3), generator=gen, dtype=torch.float64)
    level = _draws((batch, 3), gen, -1, 1)
    c = _draws((batch,), gen, 0, 1.0)
    sign = torch.where(_draws((batch, n_leads), gen) < 0.5, 1.0, -1.0)
    gain = sign * (1 + torch.randn((batch, n_leads), generator=gen, dtype=torch.float64))
    for b in range(batch):
        signal = np.zeros(n)
        for i in range(int(count[b, 0])):
            mid, seglen = middle[b, i].item(), length[b, i].item()
            left, right = max(0, int(mid - 0.5 * fs * seglen)), min(n - 1,
                                                                  int(mid + 0.5 * fs * seglen))
            signal[left:right + 1] = level[b, i].item()
        for lead in range(n_leads):
            np.testing.assert_allclose(shift[b, lead].numpy(),
                                       c[b].item() * gain[b, lead].item() * signal, atol=1e-12)
    assert {int(v) for v in count[:, 0]} == {0, 1, 2, 3}


def test_baseline_shift_windows_get_zero_or_one_segment():
    shift = A.baseline_shift(torch.zeros(512, 3, 250), fs=100, c_max=1.0, generator=_gen())
    changes = (shift[:, 0, 1:] != shift[:, 0, :-1]).sum(dim=-1)
    assert changes.max() <= 2
    shifted = (shift != 0).any(dim=-1)[:, 0].float().mean().item()
    assert shifted == pytest.approx(0.5, abs=0.08)  # 0 or 1 segment, equally likely
    assert A.baseline_shift(torch.zeros(4, 2, 100), generator=_gen()).abs().max() == 0  # M = 0


def test_noise_levels_table():
    assert A.NOISE_LEVELS[1] == {"BaselineWander": 0.05, "EMNoise": 0.25,
                                 "PowerlineNoise": 0.1, "BaselineShift": 0.5}
    assert A.NOISE_LEVELS[6] == {"BaselineWander": 0.3, "EMNoise": 2.0,
                                 "PowerlineNoise": 0.5, "BaselineShift": 3.0}
    assert sorted(A.NOISE_LEVELS) == [1, 2, 3, 4, 5, 6]
    assert set(A.NOISE_LEVELS[3]) <= set(A.AUGMENTATIONS)


def test_add_physiological_noise_grows_with_level(x):
    stds = [(A.add_physiological_noise(x, level, generator=_gen()) - x).std().item()
            for level in range(1, 7)]
    assert stds[0] < stds[2] < stds[5]
    torch.testing.assert_close(A.add_physiological_noise(x, 3, fs=100, generator=_gen(4)),
                               A.add_physiological_noise(x, 3, fs=100, generator=_gen(4)))
    for level in (0, 7, True):
        with pytest.raises(ValueError, match="level"):
            A.add_physiological_noise(x, level)


def test_add_physiological_noise_windows_draws_per_window():
    records = torch.randn(3, 12, 1000, generator=_gen(1))
    windows, record_index = A.add_physiological_noise_windows(records, 4, generator=_gen(2))
    assert windows.shape == (21, 12, 250)
    np.testing.assert_array_equal(record_index, np.repeat(np.arange(3), 7))
    from skecg.preprocessing import sliding_windows

    clean, _ = sliding_windows(records, 250, 125)
    torch.testing.assert_close(windows, A.add_physiological_noise(clean, 4, generator=_gen(2)))
    noise = windows - clean
    # overlapping halves of neighbouring windows carry different noise
    assert not torch.allclose(noise[0, :, 125:], noise[1, :, :125])


def test_make_augmentation(x):
    pair = A.make_augmentation(["RandomResizedCrop", "TimeOut"])
    assert isinstance(pair, A.Compose)
    assert [type(t) for t in pair] == [A.RandomResizedCrop, A.TimeOut]
    g = _gen()
    expected = A.time_out(A.random_resized_crop(x, generator=g), generator=g)
    torch.testing.assert_close(pair(x, generator=_gen()), expected)

    identity = A.make_augmentation(None)
    assert len(identity) == 0 and identity(x) is x

    custom = A.TimeOut(fraction=(0.1, 0.1))
    mixed = A.make_augmentation(["gaussianblur", custom, A.BaselineWander], fs=500)
    assert mixed[1] is custom and mixed[2].fs == 500
    assert isinstance(mixed[0], A.GaussianBlur)
    assert A.make_augmentation("TimeOut")[0].fraction == (0.2, 0.4)
    assert A.make_augmentation(pair) is pair
    assert "TimeOut" in repr(pair)

    with pytest.raises(ValueError, match="DynamicTimeWarp"):
        A.make_augmentation(["Mixup"])
    with pytest.raises(TypeError):
        A.make_augmentation([3])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("aug", ALL, ids=repr)
def test_cuda_device_and_generator(aug):
    x = torch.randn(4, 12, 250, device="cuda")
    gen = torch.Generator(device="cuda").manual_seed(0)
    out = aug(x, generator=gen)
    assert out.device == x.device and out.shape == x.shape
    out_cpu_gen = aug(x, generator=_gen())
    assert out_cpu_gen.device == x.device
