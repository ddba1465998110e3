"""load_wfdb on records the tests write themselves: rates, lengths, units, bad input, cache."""

import os
import warnings

import numpy as np
import pytest
from scipy.signal import resample_poly

from skecg import LEAD_NAMES
from skecg.datasets import _cache as cache_module
from skecg.datasets import load_wfdb


@pytest.mark.parametrize("fs_src, seconds, up, down", [(257, 7, 100, 257), (1000, 60, 1, 10),
                                                        (500, 10, 1, 5), (100, 10, 1, 1)])
def test_resampled_length_and_values(tmp_path, make_wfdb, fs_src, seconds, up, down):
    stored = make_wfdb(tmp_path, "rec", fs_src, seconds)
    bunch = load_wfdb(tmp_path, fs=100, duration=10)
    assert bunch.X.shape == (1, 12, 1000) and bunch.X.dtype == np.float32
    assert bunch.fs == 100.0 and bunch.lead_names == LEAD_NAMES
    reference = resample_poly(stored.T, up, down, axis=-1) if up != down else stored.T
    n = min(1000, reference.shape[1])
    np.testing.assert_allclose(bunch.X[0, :, :n], reference[:, :n], rtol=1e-5, atol=1e-5)
    if reference.shape[1] < 1000:  # 7 s at 100 Hz: zero padded at the end
        assert n == 700 and np.all(bunch.X[0, :, n:] == 0)
    assert bunch.meta.loc[0, "fs_original"] == fs_src
    assert bunch.meta.loc[0, "n_samples_original"] == fs_src * seconds


def test_crop_and_pad_policies(tmp_path, make_wfdb):
    stored = make_wfdb(tmp_path, "long", 100, 30).T.astype(np.float32)
    center = load_wfdb(tmp_path, duration=10, crop="center").X[0]
    np.testing.assert_allclose(center, stored[:, 1000:2000], atol=1e-6)
    end = load_wfdb(tmp_path, duration=10, crop="end").X[0]
    np.testing.assert_allclose(end, stored[:, -1000:], atol=1e-6)
    edge = load_wfdb(tmp_path, duration=40, pad="edge").X[0]
    np.testing.assert_allclose(edge[:, 3000:], np.repeat(stored[:, -1:], 1000, axis=1), atol=1e-6)
    centered = load_wfdb(tmp_path, duration=40, crop="center").X[0]
    assert np.all(centered[:, :500] == 0) and np.all(centered[:, -500:] == 0)
    with pytest.raises(ValueError, match="pad='error'"):
        load_wfdb(tmp_path, duration=40, pad="error")
    with pytest.raises(ValueError, match="crop must be one of"):
        load_wfdb(tmp_path, duration=10, crop="middle")


def test_microvolts_and_lead_order_case_insensitive(tmp_path, make_wfdb):
    upper = [name.upper() for name in LEAD_NAMES][::-1]
    stored = make_wfdb(tmp_path, "uv", 100, 10, leads=upper, units="uV",
                       signal=np.tile(np.arange(12.0) * 100, (1000, 1)))
    X = load_wfdb(tmp_path).X[0]
    # stored[:, j] is lead upper[j] = LEAD_NAMES[11 - j], in uV.
    np.testing.assert_allclose(X[:, 0], stored[0, ::-1] / 1000, rtol=1e-6)
    only = load_wfdb(tmp_path, leads=("v6", "I"))
    assert only.X.shape == (1, 2, 1000) and only.lead_names == ("v6", "I")


def test_parallel_equals_serial(tmp_path, make_wfdb):
    for i in range(70):
        make_wfdb(tmp_path, f"r{i:03d}", 100, 10, seed=i)
    serial = load_wfdb(tmp_path)
    parallel = load_wfdb(tmp_path, n_jobs=2)
    np.testing.assert_array_equal(serial.X, parallel.X)
    assert list(parallel.meta["record"]) == [f"r{i:03d}" for i in range(70)]


# ---------------------------------------------------------------- bad input


def test_missing_and_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_wfdb(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=r"no WFDB records found.*\.hea"):
        load_wfdb(tmp_path)


def test_listed_but_absent_record(tmp_path, make_wfdb):
    make_wfdb(tmp_path, "here", 100, 10)
    records = [tmp_path / "here", tmp_path / "gone"]
    with pytest.raises(FileNotFoundError, match="gone.hea"):
        load_wfdb(records)
    with pytest.warns(UserWarning, match=r"1 record\(s\) absent.*gone") as record:
        bunch = load_wfdb(records, on_error="skip")
    assert len(record) == 1
    assert bunch.X.shape[0] == 1 and bunch.missing == [str(tmp_path / "gone.hea")]


def _corrupt_cases(folder, make_wfdb):
    make_wfdb(folder, "good", 100, 10)
    make_wfdb(folder, "trunc_signal", 100, 10)
    path = folder / "trunc_signal.dat"
    path.write_bytes(path.read_bytes()[:5000])
    (folder / "garbage.hea").write_text("this is not a header\n")
    make_wfdb(folder, "trunc_header", 100, 10)
    head = (folder / "trunc_header.hea").read_text().splitlines()
    (folder / "trunc_header.hea").write_text("\n".join(head[:5]) + "\n")
    signal = np.ones((1000, 12))
    signal[10, 3] = np.nan
    make_wfdb(folder, "nan", 100, 10, signal=signal)
    make_wfdb(folder, "three_leads", 100, 10, leads=("I", "II", "III"))


@pytest.mark.parametrize("record, message", [
    ("trunc_signal", r"trunc_signal\.dat holds 208 samples per lead; the header declares 1000"),
    ("garbage", r"garbage\.hea.*must give '<name> <n_signals>"),
    ("trunc_header", r"trunc_header\.hea declares 12 signals but has 4 signal lines"),
    ("nan", r"nan\.hea: 1 NaN .*\['aVR'\]"),
    ("three_leads", r"three_leads\.hea: lead\(s\) \['aVR'.*not found"),
])
def test_bad_record_raises_naming_file(tmp_path, make_wfdb, record, message):
    _corrupt_cases(tmp_path, make_wfdb)
    with pytest.raises(ValueError, match=message):
        load_wfdb([tmp_path / "good", tmp_path / record])


def test_skip_gives_one_warning(tmp_path, make_wfdb):
    _corrupt_cases(tmp_path, make_wfdb)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bunch = load_wfdb(tmp_path, on_error="skip")
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "5 record(s) could not be loaded" in message and "garbage.hea" in message
    assert list(bunch.meta["record"]) == ["good"] and bunch.X.shape == (1, 12, 1000)
    assert len(bunch.skipped) == 5
    assert any("three_leads" in name for name in bunch.skipped)


def test_unexpected_rate_and_length(tmp_path, make_wfdb):
    make_wfdb(tmp_path, "a", 500, 10)
    make_wfdb(tmp_path, "b", 257, 10)
    with pytest.raises(ValueError, match=r"b\.hea is sampled at 257 Hz; expected 500 Hz"):
        load_wfdb(tmp_path)
    assert load_wfdb(tmp_path, fs=100).X.shape == (2, 12, 1000)
    make_wfdb(tmp_path, "c", 500, 8)
    with pytest.raises(ValueError, match=r"c\.hea has 4000 samples.*expected 5000"):
        load_wfdb([tmp_path / "a", tmp_path / "c"])


def test_bad_parameters(tmp_path, make_wfdb):
    make_wfdb(tmp_path, "a", 100, 10)
    with pytest.raises(ValueError, match="fs must be"):
        load_wfdb(tmp_path, fs=-1)
    with pytest.raises(ValueError, match="on_error must be"):
        load_wfdb(tmp_path, on_error="ignore")
    with pytest.raises(ValueError, match="duplicates"):
        load_wfdb(tmp_path, leads=("I", "i"))


# ---------------------------------------------------------------- cache


def _cache_files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_cache_hit_is_memmap_and_equal(tmp_path, make_wfdb):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        make_wfdb(data, f"r{i}", 257, 10, seed=i)
    cache = tmp_path / "cache"
    plain = load_wfdb(data, fs=100, duration=10)
    first = load_wfdb(data, fs=100, duration=10, cache_dir=cache)
    files = _cache_files(cache)
    assert len(files) == 2 and files[0].endswith(".json") and files[1].endswith(".npy")
    second = load_wfdb(data, fs=100, duration=10, cache_dir=cache)
    assert isinstance(second.X, np.memmap) and not second.X.flags.writeable
    np.testing.assert_array_equal(second.X, plain.X)
    np.testing.assert_array_equal(first.X, plain.X)
    assert second.meta.equals(plain.meta) and second.fs == 100.0
    # Another parameter or a changed file is another entry.
    load_wfdb(data, fs=50, duration=10, cache_dir=cache)
    assert len(_cache_files(cache)) == 4
    make_wfdb(data, "r0", 257, 10, seed=99)
    os.utime(data / "r0.dat", ns=(1, 1))
    changed = load_wfdb(data, fs=100, duration=10, cache_dir=cache)
    assert not np.array_equal(changed.X[0], plain.X[0])
    np.testing.assert_array_equal(changed.X[1:], plain.X[1:])


def test_cache_skip_shrinks_entry(tmp_path, make_wfdb):
    _corrupt_cases(tmp_path, make_wfdb)
    with pytest.warns(UserWarning):
        first = load_wfdb(tmp_path, on_error="skip", cache_dir=tmp_path / "c")
    with pytest.warns(UserWarning, match="5 record"):
        again = load_wfdb(tmp_path, on_error="skip", cache_dir=tmp_path / "c")
    assert again.X.shape == first.X.shape == (1, 12, 1000) and again.skipped == first.skipped
    assert len(_cache_files(tmp_path / "c")) == 2


def test_cache_write_is_atomic(tmp_path, make_wfdb, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        make_wfdb(data, f"r{i}", 100, 10, seed=i)
    (data / "r2.dat").write_bytes(b"\0" * 100)  # fails mid-load, after r0 and r1 are written
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="r2.dat holds"):
        load_wfdb(data, cache_dir=cache)
    assert _cache_files(cache) == []

    make_wfdb(data, "r2", 100, 10, seed=2)

    def failing_replace(src, dst):  # killed while publishing the entry
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_module.os, "replace", failing_replace)
    with pytest.raises(KeyboardInterrupt):
        load_wfdb(data, cache_dir=cache)
    assert _cache_files(cache) == []
    monkeypatch.undo()

    reference = load_wfdb(data)
    cached = load_wfdb(data, cache_dir=cache)
    np.testing.assert_array_equal(cached.X, reference.X)
    assert isinstance(load_wfdb(data, cache_dir=cache).X, np.memmap)


def test_stale_temporary_of_dead_process_is_removed(tmp_path, make_wfdb):
    make_wfdb(tmp_path, "r", 100, 10)
    cache = tmp_path / "cache"
    load_wfdb(tmp_path / "r", cache_dir=cache)
    key = next(cache.glob("*.npy")).name[len("skecg-"):-len(".npy")]
    for path in cache.iterdir():
        path.unlink()
    stale = cache / f".skecg-{key}.999999999.dead.tmp"
    stale.write_bytes(b"half written")
    load_wfdb(tmp_path / "r", cache_dir=cache)
    assert not stale.exists() and len(_cache_files(cache)) == 2


def test_other_wfdb_format_goes_through_wfdb(tmp_path):
    import wfdb

    signal = np.tile(np.linspace(-1, 1, 1000)[:, None], (1, 12))
    wfdb.wrsamp("f212", fs=100, units=["mV"] * 12, sig_name=list(LEAD_NAMES), p_signal=signal,
                fmt=["212"] * 12, write_dir=str(tmp_path))
    expected = wfdb.rdsamp(str(tmp_path / "f212"))[0].T
    np.testing.assert_allclose(load_wfdb(tmp_path).X[0], expected, rtol=1e-6)


def test_parallel_error_and_progress_bar(tmp_path, make_wfdb, capsys):
    for i in range(140):
        make_wfdb(tmp_path, f"r{i:03d}", 100, 10, seed=i)
    (tmp_path / "r100.dat").write_bytes(b"")
    with pytest.raises(ValueError, match=r"r100\.dat holds 0 samples"):
        load_wfdb(tmp_path, n_jobs=2)
    with pytest.warns(UserWarning, match="r100"):
        bunch = load_wfdb(tmp_path, n_jobs=2, on_error="skip", verbose=True)
    assert bunch.X.shape == (139, 12, 1000) and "r100" not in set(bunch.meta["record"])
    assert "140/140" in capsys.readouterr().err


def test_non_voltage_unit_is_an_error(tmp_path, make_wfdb):
    make_wfdb(tmp_path, "nu", 100, 10, units="NU")
    with pytest.raises(ValueError, match=r"nu\.hea: lead 'I' is in unit 'NU'; expected a voltage"):
        load_wfdb(tmp_path)
