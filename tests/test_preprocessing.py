import pickle

import numpy as np
import pytest
import torch
from scipy import signal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from skecg.preprocessing import (
    BandpassFilter,
    LeadStandardizer,
    RandomCrop,
    Resample,
    SlidingWindows,
    aggregate_windows,
    random_crops,
    sliding_windows,
    window_starts,
)

TRANSFORMERS = [
    Resample(500, 100),
    LeadStandardizer(),
    BandpassFilter(),
    SlidingWindows(),
    RandomCrop(random_state=0),
]


def _loop_window_starts(n_samples, window, stride):
    starts, start = [], 0
    while start + window <= n_samples:
        starts.append(start)
        start += stride
    if starts[-1] + window < n_samples:
        starts.append(n_samples - window)
    return starts


@pytest.fixture
def ecg():
    return np.random.default_rng(0).normal(size=(5, 3, 1000)).astype(np.float32)


@pytest.mark.parametrize("n_samples,window,stride",
                         [(1000, 250, 125), (1000, 300, 300), (250, 250, 125), (999, 250, 125),
                          (17, 5, 3), (10, 1, 1)])
def test_window_starts_matches_loop(n_samples, window, stride):
    starts = window_starts(n_samples, window, stride)
    assert starts.dtype == np.int64
    assert starts.tolist() == _loop_window_starts(n_samples, window, stride)
    assert starts[-1] + window == n_samples


def test_window_starts_paper_setting():
    assert window_starts(1000, 250, 125).tolist() == [0, 125, 250, 375, 500, 625, 750]


def test_window_starts_too_short():
    with pytest.raises(ValueError, match="100 samples.*250"):
        window_starts(100, 250, 125)
    with pytest.raises(ValueError, match="stride"):
        window_starts(1000, 250, 0)


@pytest.mark.parametrize("as_tensor", [False, True])
def test_sliding_windows_matches_loop(ecg, as_tensor):
    X = torch.from_numpy(ecg) if as_tensor else ecg
    windows, record_index = sliding_windows(X, 300, 200)
    assert isinstance(windows, torch.Tensor) == as_tensor
    assert isinstance(record_index, np.ndarray) and record_index.dtype == np.int64
    expected, expected_index = [], []
    for r in range(ecg.shape[0]):
        for s in _loop_window_starts(ecg.shape[2], 300, 200):
            expected.append(ecg[r, :, s:s + 300])
            expected_index.append(r)
    got = windows.numpy() if as_tensor else windows
    assert got.shape == (len(expected), 3, 300)
    np.testing.assert_array_equal(got, np.stack(expected))
    np.testing.assert_array_equal(record_index, expected_index)


def test_sliding_windows_rejects_2d():
    with pytest.raises(ValueError, match="3-D"):
        sliding_windows(np.zeros((3, 100)), 50, 25)


def test_aggregate_windows():
    values = np.array([[1.0, 0.0], [3.0, 4.0], [5.0, 1.0]])
    index = np.array([0, 0, 1])
    np.testing.assert_allclose(aggregate_windows(values, index), [[2, 2], [5, 1]])
    np.testing.assert_allclose(aggregate_windows(values, index, reduce="max"), [[3, 4], [5, 1]])
    np.testing.assert_allclose(aggregate_windows(values[:, 0], index), [2, 5])
    with pytest.raises(ValueError, match="reduce"):
        aggregate_windows(values, index, reduce="median")


def test_random_crops_are_slices_with_independent_offsets():
    batch, n = 64, 100
    ramp = torch.arange(n, dtype=torch.float32).repeat(batch, 2, 1)
    ramp[:, 1] += 1000  # leads must share the offset
    gen = torch.Generator().manual_seed(0)
    crops = random_crops(ramp, 30, generator=gen)
    assert crops.shape == (batch, 2, 30)
    offsets = crops[:, 0, 0]
    expected = offsets[:, None, None] + torch.arange(30.0) + torch.tensor([0.0, 1000.0])[:, None]
    torch.testing.assert_close(crops, expected)
    assert offsets.min() >= 0 and offsets.max() <= n - 30
    assert len(offsets.unique()) > 20
    again = random_crops(ramp, 30, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(crops, again)


def test_random_crops_full_length_and_errors():
    x = torch.randn(2, 3, 50)
    assert random_crops(x, 50) is x
    with pytest.raises(ValueError, match="exceeds"):
        random_crops(x, 51)


@pytest.mark.parametrize("transformer", TRANSFORMERS, ids=lambda t: type(t).__name__)
def test_transformer_contract(transformer, ecg):
    cloned = clone(transformer)
    assert cloned.get_params() == transformer.get_params()
    with pytest.raises(NotFittedError):
        cloned.transform(ecg)
    out = cloned.fit_transform(ecg)
    assert out.dtype == np.float32 and out.ndim == 3
    assert cloned.n_leads_in_ == 3
    with pytest.raises(ValueError, match="leads"):
        cloned.transform(ecg[:, :2])
    restored = pickle.loads(pickle.dumps(cloned))
    if type(transformer) is not RandomCrop or transformer.random_state is not None:
        np.testing.assert_array_equal(restored.transform(ecg), out)
    assert transformer.__sklearn_tags__().input_tags.three_d_array


def test_set_params_equals_constructor(ecg):
    a = SlidingWindows().set_params(window=200, stride=100).fit_transform(ecg)
    b = SlidingWindows(window=200, stride=100).fit_transform(ecg)
    np.testing.assert_array_equal(a, b)


def test_pipeline(ecg):
    pipe = make_pipeline(BandpassFilter(fs=100), LeadStandardizer(), SlidingWindows(250, 125))
    out = pipe.fit_transform(ecg)
    assert out.shape == (5 * 7, 3, 250)
    assert clone(pipe).get_params()["slidingwindows__stride"] == 125


def test_resample_matches_scipy_and_rates(ecg):
    out = Resample(500, 100).fit_transform(ecg)
    assert out.shape == (5, 3, 200)
    np.testing.assert_allclose(out, signal.resample_poly(ecg, 1, 5, axis=-1), atol=1e-5)
    res = Resample(257, 100).fit(ecg)
    assert res.up_ / res.down_ == pytest.approx(100 / 257)
    assert Resample(100, 100).fit_transform(ecg).shape == ecg.shape
    t = np.arange(1000) / 500
    sine = np.sin(2 * np.pi * 5 * t)[None, None]
    up = Resample(500, 1000).fit_transform(sine)
    t_up = np.arange(2000) / 1000
    np.testing.assert_allclose(up[0, 0, 100:-100], np.sin(2 * np.pi * 5 * t_up)[100:-100],
                               atol=1e-3)
    with pytest.raises(ValueError, match="fs_in"):
        Resample(0, 100).fit(ecg)


def test_lead_standardizer_matches_numpy(ecg):
    X = ecg * np.array([1.0, 3.0, 0.5])[:, None] + np.array([0, 2, -1])[:, None]
    X = X.astype(np.float32)  # statistics are computed from the validated float32 input
    std = LeadStandardizer().fit(X)
    np.testing.assert_allclose(std.mean_, X.astype(np.float64).mean(axis=(0, 2)), rtol=1e-10)
    np.testing.assert_allclose(std.scale_, X.astype(np.float64).std(axis=(0, 2)), rtol=1e-10)
    out = std.transform(X)
    np.testing.assert_allclose(out.mean(axis=(0, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 2)), 1, atol=1e-5)
    np.testing.assert_allclose(std.inverse_transform(out), X, atol=1e-5)


def test_lead_standardizer_chunked_memmap(tmp_path, monkeypatch):
    import skecg.preprocessing as pre

    monkeypatch.setattr(pre, "_CHUNK", 3)  # several uneven chunks
    rng = np.random.default_rng(1)
    data = (rng.normal(size=(10, 2, 50)) * [[5.0], [0.1]] + [[100.0], [-3.0]]).astype(np.float32)
    path = tmp_path / "x.dat"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=data.shape)
    mm[:] = data
    mm.flush()
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=data.shape)
    std = LeadStandardizer().fit(mm)
    np.testing.assert_allclose(std.mean_, data.astype(np.float64).mean(axis=(0, 2)), rtol=1e-10)
    np.testing.assert_allclose(std.scale_, data.astype(np.float64).std(axis=(0, 2)), rtol=1e-8)
    np.testing.assert_allclose(std.transform(mm), LeadStandardizer().fit_transform(data),
                               atol=1e-5)


def test_lead_standardizer_out_of_core_matches_numpy_and_stays_lazy(tmp_path, monkeypatch):
    import skecg.preprocessing as pre
    from skecg.datasets import build_ecg_store
    from skecg.preprocessing import StandardizedECG

    monkeypatch.setattr(pre, "_CHUNK", 7)  # many uneven chunks, across the store's shards
    rng = np.random.default_rng(4)
    # a large offset and a small spread: a one-pass sum of squares would lose the variance
    parts = [(rng.normal(size=(n, 3, 40)) * [[0.01], [2.0], [1.0]]
              + [[1e4], [-5.0], [0.0]]).astype(np.float32) for n in (11, 5, 9)]
    full = np.concatenate(parts)
    X = build_ecg_store(tmp_path / "s", {f"p{i}": {"X": p, "fs": 100.0}
                                          for i, p in enumerate(parts)}, verbose=False).X
    std = LeadStandardizer().fit(X)
    np.testing.assert_allclose(std.mean_, np.mean(full.astype(np.float64), axis=(0, 2)),
                               rtol=1e-12)
    np.testing.assert_allclose(std.scale_, np.std(full.astype(np.float64), axis=(0, 2)),
                               rtol=1e-9)
    out = std.transform(X)
    assert isinstance(out, StandardizedECG) and out.shape == full.shape
    eager = std.transform(full)
    for key in (0, -1, slice(3, 20), [24, 2, 2], (slice(None), 1, slice(5, 9))):
        np.testing.assert_allclose(out[key], eager[key], atol=1e-4, err_msg=str(key))
    np.testing.assert_allclose(np.asarray(out), eager, atol=1e-4)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(out))[5:8], eager[5:8], atol=1e-4)


def test_lead_standardizer_lazy_on_memmap_leaves_the_file_alone(tmp_path):
    from skecg.preprocessing import StandardizedECG

    data = np.random.default_rng(2).normal(3.0, 2.0, size=(6, 2, 30)).astype(np.float32)
    mm = np.memmap(tmp_path / "x.dat", dtype=np.float32, mode="w+", shape=data.shape)
    mm[:] = data
    out = LeadStandardizer().fit(mm).transform(mm)
    assert isinstance(out, StandardizedECG)
    np.testing.assert_allclose(out[2], LeadStandardizer().fit_transform(data)[2], atol=1e-5)
    np.testing.assert_array_equal(mm, data)  # per-record reads never standardise in place


def test_lead_standardizer_constant_lead():
    X = np.ones((2, 2, 10), dtype=np.float32)
    X[:, 1] = np.arange(10)
    std = LeadStandardizer().fit(X)
    assert std.scale_[0] == 1.0
    assert np.isfinite(std.transform(X)).all()


def test_bandpass_filter_passes_band_and_removes_out_of_band():
    fs = 100
    t = np.arange(2000) / fs
    in_band = np.sin(2 * np.pi * 5 * t)
    drift = 2 * np.sin(2 * np.pi * 0.1 * t)
    hum = np.sin(2 * np.pi * 45 * t)
    X = (in_band + drift + hum)[None, None].astype(np.float32)
    out = BandpassFilter(low=0.5, high=40.0, fs=fs).fit_transform(X)[0, 0]
    sl = slice(300, -300)
    np.testing.assert_allclose(out[sl], in_band[sl], atol=0.05)
    sos = signal.butter(4, [0.5, 40.0], btype="bandpass", fs=fs, output="sos")
    np.testing.assert_allclose(out, signal.sosfiltfilt(sos, X[0, 0].astype(np.float64)),
                               atol=1e-5)


def test_bandpass_filter_variants_and_errors(ecg):
    assert BandpassFilter(low=None, high=20).fit(ecg).sos_.shape == (2, 6)
    assert BandpassFilter(low=1, high=None).fit(ecg).sos_.shape == (2, 6)
    with pytest.raises(ValueError, match="high"):
        BandpassFilter(high=50, fs=100).fit(ecg)
    with pytest.raises(ValueError, match="below"):
        BandpassFilter(low=30, high=20).fit(ecg)
    with pytest.raises(ValueError, match="too short"):
        BandpassFilter().fit(ecg).transform(ecg[:, :, :20])


def test_sliding_windows_transformer_with_index(ecg):
    sw = SlidingWindows(250, 125).fit(ecg)
    windows, index = sw.transform_with_index(ecg)
    ref_windows, ref_index = sliding_windows(ecg, 250, 125)
    np.testing.assert_array_equal(windows, ref_windows)
    np.testing.assert_array_equal(index, ref_index)
    np.testing.assert_array_equal(sw.transform(ecg), windows)
    assert not hasattr(sw, "record_index_")


def test_random_crop_transformer(ecg):
    ramp = np.broadcast_to(np.arange(1000, dtype=np.float32), (50, 3, 1000)).copy()
    crop = RandomCrop(100, random_state=0).fit(ramp)
    out = crop.transform(ramp)
    assert out.shape == (50, 3, 100)
    np.testing.assert_array_equal(out - out[:, :, :1], np.broadcast_to(np.arange(100.0),
                                                                        out.shape))
    assert len(np.unique(out[:, 0, 0])) > 10
    np.testing.assert_array_equal(crop.transform(ramp), out)
    other = RandomCrop(100, random_state=1).fit_transform(ramp)
    assert not np.array_equal(other, out)
    assert RandomCrop().__sklearn_tags__().non_deterministic
    with pytest.raises(ValueError, match="exceeds"):
        RandomCrop(2000).fit_transform(ecg)
