"""Issue 13, data layer: cache integrity, odd records and unclear errors (numbered as in the issue).

Each ``test_caseN_*`` reproduces case N of the issue; ``test_unclear_*`` assert that a message
names the file or parameter at fault; ``test_hostile_*`` pin the behaviour on other odd records.
"""

import errno
import math
import os
import re
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.io
import wfdb

from skecg import LEAD_NAMES
from skecg.datasets import _cache as cache_module
from skecg.datasets import load_physionet_challenge, load_ptbxl, load_wfdb
from skecg.datasets._cache import CacheError


def _temporaries(folder):
    return sorted(p.name for p in folder.glob(".skecg-*.tmp")) if folder.exists() else []


def _records(folder, make_wfdb, n=3, fs=100, seconds=10):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        make_wfdb(folder, f"r{i}", fs, seconds, seed=i)
    return folder


def _write_header(path, record_line, signal_lines, comments=()):
    path.write_text("\n".join([record_line, *signal_lines, *comments]) + "\n")


# ---------------------------------------------------------------- case 2: full disk


def test_case2_full_disk_found_before_loading(tmp_path, make_wfdb, monkeypatch):
    data = _records(tmp_path / "data", make_wfdb)
    cache = tmp_path / "cache"
    monkeypatch.setattr(cache_module, "_free_bytes", lambda folder: 100_000)  # < 144 kB
    message = f"cache_dir {cache}: the cache file needs 144.1 kB but only 100.0 kB are free"
    with pytest.raises(CacheError, match=re.escape(message)) as caught:
        load_wfdb(data, cache_dir=cache)
    assert caught.value.errno == errno.ENOSPC and "cache_dir=None" in str(caught.value)
    assert _temporaries(cache) == [] and list(cache.iterdir()) == []
    assert load_wfdb(data).X.shape == (3, 12, 1000)  # the way out the message names


def test_case2_full_disk_during_write(tmp_path, make_wfdb, monkeypatch):
    data = _records(tmp_path / "data", make_wfdb, n=3)
    cache = tmp_path / "cache"
    calls = []
    real_write = cache_module._write

    def full_after_first_block(file, block):
        calls.append(len(block))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(file, block)

    monkeypatch.setattr(cache_module, "_write", full_after_first_block)
    with pytest.raises(OSError, match=re.escape(str(cache))) as caught:
        load_wfdb(data, cache_dir=cache)
    assert caught.value.errno == errno.ENOSPC and len(calls) == 2
    assert list(cache.iterdir()) == []
    monkeypatch.undo()
    np.testing.assert_array_equal(load_wfdb(data, cache_dir=cache).X, load_wfdb(data).X)


def test_case2_rows_are_written_through_a_file_not_a_memmap(tmp_path, make_wfdb, monkeypatch):
    """A writable memory map of the cache file is what dies by SIGBUS on a full disk."""
    data = _records(tmp_path / "data", make_wfdb)
    modes = []
    real_open_memmap = np.lib.format.open_memmap

    def recording_open_memmap(*args, mode="r+", **kwargs):
        modes.append(mode)
        return real_open_memmap(*args, mode=mode, **kwargs)

    monkeypatch.setattr(np.lib.format, "open_memmap", recording_open_memmap)
    assert load_wfdb(data, cache_dir=tmp_path / "cache").X.shape == (3, 12, 1000)
    assert modes == ["r"]  # only the finished entry is mapped, read-only


@pytest.mark.slow
def test_case2_real_full_filesystem_raises_not_sigbus(tmp_path, make_wfdb):
    """A 64 KiB tmpfs in a private mount namespace: the old sparse memmap died with SIGBUS.

    Once with the free-space check, once without it (the write itself must then fail cleanly).
    """
    if shutil.which("unshare") is None:
        pytest.skip("unshare not available")
    mount = tmp_path / "small"
    mount.mkdir()
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs "
                            f"'{mount}'"], capture_output=True)
    if probe.returncode:
        pytest.skip("cannot mount a small tmpfs here (needs user namespaces)")
    data = _records(tmp_path / "data", make_wfdb, n=4)  # 192 kB of cache
    code = (
        "import os, sys\n"
        "from skecg.datasets import _cache, load_wfdb\n"
        "for check_first in (True, False):\n"
        "    if not check_first:\n"
        "        _cache._free_bytes = lambda folder: 1 << 60\n"
        "    try:\n"
        "        load_wfdb(sys.argv[1], cache_dir=sys.argv[2])\n"
        "    except OSError as exc:\n"
        "        print('ERRNO', exc.errno, sys.argv[2] in str(exc))\n"
        "    print('LEFT', os.listdir(sys.argv[2]))\n"
    )
    run = subprocess.run(["unshare", "-rm", "sh", "-c",
                          'mount -t tmpfs -o size=64k tmpfs "$1" && exec "$2" -c "$3" "$4" "$1"',
                          "sh", str(mount), sys.executable, code, str(data)],
                         capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])  # -7 would be SIGBUS
    assert run.stdout.splitlines() == [f"ERRNO {errno.ENOSPC} True", "LEFT []"] * 2, run.stdout


def test_case2_stale_temporaries_of_every_key_are_removed(tmp_path, make_wfdb):
    data = _records(tmp_path / "data", make_wfdb, n=1)
    cache = tmp_path / "cache"
    cache.mkdir()
    host = cache_module._HOST
    dead = [f".skecg-{'ab' * 16}.999999999.0badc0de.tmp",  # layout of skecg <= 0.1
            f".skecg-{'cd' * 16}.{host}-999999999.12345678.tmp"]
    old_foreign = f".skecg-{'ef' * 16}.otherhost-1.12345678.tmp"
    kept = [f".skecg-{'ef' * 16}.otherhost-1.87654321.tmp",  # another host's writer, fresh
            f".skecg-{'12' * 16}.{host}-{os.getpid()}.aaaaaaaa.tmp",  # this process, fresh
            "notes.txt"]
    for name in dead + kept + [old_foreign]:
        (cache / name).write_bytes(b"x" * 1000)
    two_days_ago = (cache / old_foreign).stat().st_mtime - 2 * 86400
    os.utime(cache / old_foreign, (two_days_ago, two_days_ago))
    load_wfdb(data, cache_dir=cache)
    left = {p.name for p in cache.iterdir()}
    assert set(kept) <= left and not (set(dead) | {old_foreign}) & left
    assert len(left) == len(kept) + 2  # plus the new entry's .npy and .json
    (cache / dead[0]).write_bytes(b"x")
    load_wfdb(data, cache_dir=cache)  # a cache hit cleans too
    assert not (cache / dead[0]).exists()


# ---------------------------------------------------------------- case 3 / 8: fingerprint


def _replace_keeping_stat(path, content, *, new_inode):
    """Replace ``path``'s bytes by ``content`` (same size) and restore its mtime."""
    st = path.stat()
    assert len(content) == st.st_size
    if new_inode:  # rsync -a, unzip: write aside, rename over
        aside = path.with_name(path.name + ".new")
        aside.write_bytes(content)
        os.replace(aside, path)
    else:  # cp -p: rewrite in place
        path.write_bytes(content)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_mtime_ns == st.st_mtime_ns and path.stat().st_size == st.st_size


@pytest.mark.parametrize("new_inode", [False, True])
def test_case3_same_size_same_mtime_replacement(tmp_path, make_wfdb, new_inode):
    data = _records(tmp_path / "data", make_wfdb, n=2)
    other = _records(tmp_path / "other", make_wfdb, n=1)
    make_wfdb(other, "x", 100, 10, seed=42)
    cache = tmp_path / "cache"
    before = load_wfdb(data, cache_dir=cache).X.copy()
    _replace_keeping_stat(data / "r1.dat", (other / "x.dat").read_bytes(), new_inode=new_inode)
    after = load_wfdb(data, cache_dir=cache)
    expected = load_wfdb(data).X
    assert not np.array_equal(expected[1], before[1])
    np.testing.assert_array_equal(after.X, expected)


def test_case3_change_beyond_the_sampled_bytes_is_seen_by_inode(tmp_path, make_wfdb):
    data = tmp_path / "data"
    data.mkdir()
    make_wfdb(data, "long", 500, 10)  # 120 kB: only a few kB of it are hashed
    cache = tmp_path / "cache"
    before = load_wfdb(data, cache_dir=cache).X.copy()
    content = bytearray((data / "long.dat").read_bytes())
    content[30_000:30_024] = bytes(24)  # 1 frame of 12 leads, away from the sampled blocks
    _replace_keeping_stat(data / "long.dat", bytes(content), new_inode=True)
    after = load_wfdb(data, cache_dir=cache).X
    assert not np.array_equal(after, before)
    np.testing.assert_array_equal(after, load_wfdb(data).X)


def test_case8_header_naming_a_signal_file_with_another_stem(tmp_path, make_wfdb):
    data = tmp_path / "data"
    data.mkdir()
    make_wfdb(data, "rec", 100, 10, seed=0)
    os.replace(data / "rec.dat", data / "signals_v1.dat")
    header = data / "rec.hea"
    header.write_text(header.read_text().replace("rec.dat", "signals_v1.dat"))
    make_wfdb(tmp_path, "x", 100, 10, seed=7)
    cache = tmp_path / "cache"
    before = load_wfdb(data, cache_dir=cache).X.copy()
    _replace_keeping_stat(data / "signals_v1.dat", (tmp_path / "x.dat").read_bytes(),
                          new_inode=False)
    after = load_wfdb(data, cache_dir=cache).X
    np.testing.assert_array_equal(after, load_wfdb(data).X)
    assert not np.array_equal(after, before)


def test_case8_signal_file_appearing_later_is_seen(tmp_path, make_wfdb):
    data = _records(tmp_path / "data", make_wfdb, n=2)
    os.replace(data / "r1.dat", tmp_path / "r1.dat")
    cache = tmp_path / "cache"
    with pytest.warns(UserWarning, match=r"r1\.dat named in the header is missing"):
        assert load_wfdb(data, cache_dir=cache, on_error="skip").X.shape[0] == 1
    os.replace(tmp_path / "r1.dat", data / "r1.dat")
    assert load_wfdb(data, cache_dir=cache, on_error="skip").X.shape[0] == 2


# ---------------------------------------------------------------- case 4: non-finite samples


def _float_mat_record(folder, name, val, *, fmt="16", seed=0):
    """A challenge-style record whose 'val' is float64 (MATLAB v4, as savemat writes it)."""
    scipy.io.savemat(folder / f"{name}.mat", {"val": val}, format="4")
    lines = [f"{name}.mat {fmt} 1000/mV 16 0 0 0 0 {lead}" for lead in LEAD_NAMES]
    _write_header(folder / f"{name}.hea", f"{name} 12 500 {val.shape[1]}", lines,
                  ["# Age: 50", "# Sex: Male", "# Dx: 426783006"])


@pytest.mark.parametrize("fmt", ["16", "16x1+24"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 1e300])
def test_case4_float_mat_with_non_finite_samples(tmp_path, make_challenge, fmt, bad):
    make_challenge(tmp_path, "A1")
    val = np.random.default_rng(0).standard_normal((12, 5000)) * 300
    val[3, 100] = bad
    _float_mat_record(tmp_path, "A2", val, fmt=fmt)
    with pytest.raises(ValueError, match=r"A2\.hea: 1 NaN or infinite samples in lead\(s\) "
                                         r"\['aVR'\]"):
        load_physionet_challenge(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        b = load_physionet_challenge(tmp_path, on_error="skip")
    assert len(caught) == 1 and "A2.hea" in str(caught[0].message)
    assert list(b.meta["record"]) == ["A1"] and list(b.skipped) == [str(tmp_path / "A2.hea")]


def test_case4_finite_float_mat_loads_like_int16(tmp_path):
    val = np.round(np.random.default_rng(0).standard_normal((12, 5000)) * 300)
    _float_mat_record(tmp_path, "F", val, fmt="16x1+24")  # header claims raw int16 at +24
    X = load_wfdb(tmp_path, fs=500).X[0]
    np.testing.assert_allclose(X, val / 1000, rtol=1e-6)


def test_case4_wfdb_fallback_path_rejects_nan(tmp_path):
    signal = np.tile(np.linspace(-1, 1, 1000)[:, None], (1, 12))
    signal[5, 7] = np.nan
    wfdb.wrsamp("f212", fs=100, units=["mV"] * 12, sig_name=list(LEAD_NAMES), p_signal=signal,
                fmt=["212"] * 12, write_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"f212\.hea: 1 NaN or infinite samples.*\['V2'\]"):
        load_wfdb(tmp_path)


# ---------------------------------------------------------------- case 7: linked folders


def test_case7_symlinked_sub_folders_are_followed_once(tmp_path, make_challenge):
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere" / "georgia"
    root.mkdir()
    elsewhere.mkdir(parents=True)
    make_challenge(root, "A1")
    make_challenge(elsewhere, "E1", seed=1)
    (root / "georgia").symlink_to(elsewhere, target_is_directory=True)
    (root / "also_georgia").symlink_to(elsewhere, target_is_directory=True)  # visited once
    (root / "loop").symlink_to(root, target_is_directory=True)  # a cycle
    b = load_physionet_challenge(root)
    assert sorted(b.meta["record"]) == ["A1", "E1"]
    assert sorted(load_wfdb(root, fs=100, duration=10).meta["record"]) == ["A1", "E1"]


def test_hostile_same_record_name_in_two_folders_warns_and_loads_both(tmp_path, make_challenge):
    for folder, seed in (("a", 0), ("b", 1)):
        (tmp_path / folder).mkdir()
        make_challenge(tmp_path / folder, "E1", seed=seed)
    with pytest.warns(UserWarning, match=r"1 record name\(s\) occur in more than one folder.*E1"):
        b = load_physionet_challenge(tmp_path)
    assert list(b.meta["record"]) == ["E1", "E1"] and b.meta["path"].nunique() == 2
    assert not np.array_equal(b.X[0], b.X[1])


# ---------------------------------------------------------------- case 10: signal counts


def test_case10_record_line_disagrees_with_signal_lines(tmp_path, make_wfdb):
    make_wfdb(tmp_path, "r", 100, 10)
    header = tmp_path / "r.hea"
    lines = header.read_text().splitlines()
    header.write_text("\n".join([lines[0].replace(" 12 ", " 8 ", 1)] + lines[1:]) + "\n")
    for leads in (None, LEAD_NAMES, ("I",)):
        with pytest.raises(ValueError, match=r"r\.hea declares 8 signals but has 12 signal "
                                             r"lines .*line 1"):
            load_wfdb(tmp_path, leads=leads)


def test_case10_signal_file_holds_more_signals_than_the_header(tmp_path, make_wfdb):
    make_wfdb(tmp_path, "r", 100, 10)
    header = tmp_path / "r.hea"
    lines = header.read_text().splitlines()
    header.write_text("\n".join([lines[0].replace(" 12 ", " 8 ", 1)] + lines[1:9]) + "\n")
    with pytest.raises(ValueError, match=r"r\.hea: signal file .*r\.dat holds 12000 samples, "
                                         r"i\.e\. 12 signals x 1000; the header declares 8"):
        load_wfdb(tmp_path, leads=None)


# ---------------------------------------------------------------- unclear errors


def test_unclear_cache_dir_that_is_a_file_or_under_a_file(tmp_path, make_wfdb):
    data = _records(tmp_path / "data", make_wfdb, n=1)
    a_file = tmp_path / "file"
    a_file.write_text("not a folder")
    with pytest.raises(CacheError, match=re.escape(f"cache_dir {a_file} exists and is not a")):
        load_wfdb(data, cache_dir=a_file)
    with pytest.raises(CacheError, match=re.escape(f"cache_dir {a_file / 'sub'}: cannot create")):
        load_wfdb(data, cache_dir=a_file / "sub")
    for bad in ("", 5):
        with pytest.raises(TypeError, match="cache_dir must be a folder path or None"):
            load_wfdb(data, cache_dir=bad)


def test_unclear_missing_cache_dir_is_created(tmp_path, make_wfdb):
    data = _records(tmp_path / "data", make_wfdb, n=1)
    cache = tmp_path / "a" / "b" / "cache"
    load_wfdb(data, cache_dir=cache)
    assert len(list(cache.glob("skecg-*.npy"))) == 1


def test_unclear_read_only_cache_dir(tmp_path, make_wfdb, monkeypatch):
    data = _records(tmp_path / "data", make_wfdb, n=2)
    cache = tmp_path / "cache"
    served = load_wfdb(data, cache_dir=cache).X.copy()

    def read_only(*args, **kwargs):
        raise PermissionError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(cache_module, "open", read_only, raising=False)
    np.testing.assert_array_equal(load_wfdb(data, cache_dir=cache).X, served)  # hits still work
    with pytest.raises(CacheError, match=re.escape(f"cache_dir {cache}: cannot write") +
                       ".*Read-only file system.*cache_dir=None"):
        load_wfdb(data, fs=50, cache_dir=cache)
    assert _temporaries(cache) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_unclear_read_only_cache_dir_on_disk(tmp_path, make_wfdb):
    data = _records(tmp_path / "data", make_wfdb, n=1)
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o555)
    try:
        with pytest.raises(CacheError, match=re.escape(f"cache_dir {cache}")):
            load_wfdb(data, cache_dir=cache)
    finally:
        cache.chmod(0o755)


@pytest.mark.parametrize("name, value", [("fs", math.inf), ("fs", math.nan), ("fs", 0),
                                         ("fs", -100), ("fs", True), ("fs", "100"),
                                         ("duration", math.inf), ("duration", -1)])
def test_unclear_fs_and_duration(tmp_path, make_challenge, name, value):
    make_challenge(tmp_path, "A1")
    message = f"{name} must be a finite positive number"
    with pytest.raises(ValueError, match=message):
        load_wfdb(tmp_path, **{name: value})
    with pytest.raises(ValueError, match=message):
        load_physionet_challenge(tmp_path, **{name: value})
    with pytest.raises(ValueError, match=r"duration x fs must give at least 1 sample"):
        load_wfdb(tmp_path, fs=0.01, duration=10)


def test_unclear_ptbxl_hint_names_only_its_own_parameters(tmp_path, ptbxl_path):
    for name in ("ptbxl_database.csv", "scp_statements.csv"):
        shutil.copy(ptbxl_path / name, tmp_path)
    folder = tmp_path / "records100" / "00000"
    folder.mkdir(parents=True)
    for i in (1, 2):
        for ext in (".hea", ".dat"):
            shutil.copy(ptbxl_path / "records100" / "00000" / f"{i:05d}_lr{ext}", folder)
    signal, fields = wfdb.rdsamp(str(folder / "00002_lr"))
    wfdb.wrsamp("00002_lr", fs=100, units=fields["units"], sig_name=fields["sig_name"],
                p_signal=signal[:900], fmt=["16"] * 12, write_dir=str(folder))
    with pytest.warns(UserWarning, match="498 of 500"):
        with pytest.raises(ValueError, match=r"00002_lr\.hea has 900 samples") as caught:
            load_ptbxl(tmp_path)
    assert "duration=" not in str(caught.value) and "on_error='skip'" in str(caught.value)


@pytest.mark.parametrize("which", ["ptbxl_database.csv", "scp_statements.csv"])
@pytest.mark.parametrize("content", ["", "ecg_id,scp_codes,strat_fold,filename_lr,filename_hr\n"])
def test_unclear_empty_csv_names_its_path(tmp_path, ptbxl_path, which, content):
    for name in ("ptbxl_database.csv", "scp_statements.csv"):
        shutil.copy(ptbxl_path / name, tmp_path)
    (tmp_path / which).write_text(content)
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / which))):
        load_ptbxl(tmp_path)


def test_unclear_stray_non_files_named_hea_do_not_abort_a_folder(tmp_path, make_challenge):
    make_challenge(tmp_path, "A1")
    (tmp_path / "stray.hea").mkdir()
    (tmp_path / "stray.hea" / "B1.hea").mkdir(parents=True)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.hea")  # opening it would block forever
    assert list(load_physionet_challenge(tmp_path).meta["record"]) == ["A1"]
    assert load_wfdb(tmp_path, fs=100, duration=10).X.shape == (1, 12, 1000)


def test_unclear_exclude_prefixes_is_case_insensitive(tmp_path, make_challenge):
    for name in ("HR00001", "hr00002", "E00001"):
        make_challenge(tmp_path, name)
    b = load_physionet_challenge(tmp_path, exclude_prefixes=("hr",))
    assert list(b.meta["record"]) == ["E00001"] and b.excluded == ["HR00001", "hr00002"]
    assert load_physionet_challenge(tmp_path, exclude_prefixes="Hr").excluded == b.excluded
    for bad in ((5,), ("",), 5):
        with pytest.raises((TypeError, ValueError), match="exclude_prefixes must"):
            load_physionet_challenge(tmp_path, exclude_prefixes=bad)


def test_unclear_exclude_lower_case_on_shared_records(challenge_path):
    b = load_physionet_challenge(challenge_path, exclude_prefixes=("hr",))
    assert b.X.shape[0] == 41 and len(b.excluded) == 10


def test_unclear_duplicated_lead_names(tmp_path, make_challenge):
    make_challenge(tmp_path, "A1")
    message = re.escape("leads has duplicates (case-insensitive): [['II', 'ii']]")
    with pytest.raises(ValueError, match=message):
        load_wfdb(tmp_path, leads=("I", "II", "ii"))
    with pytest.raises(ValueError, match=message):
        load_physionet_challenge(tmp_path, leads=("I", "II", "ii"))


@pytest.mark.parametrize("line, replacement, message", [
    (1, "r 12 fast 1000", r"line 1: record line 'r 12 fast 1000': sampling frequency 'fast'"),
    (1, "r 12 100 -5", r"line 1: record line .*number of samples '-5' is not an integer >= 0"),
    (1, "r 0 100 1000", r"line 1: .*declares 0 signals; expected at least 1"),
    (3, "r.dat 16 x/mV 16 0 0 0 0 II", r"line 3: signal line .*gain 'x/mV' is not"),
    (4, "r.dat 999 200/mV 16 0 0 0 0 III", r"line 4: .*format '999' is not a WFDB signal format"),
    (5, "r.dat", r"line 5: signal line 'r\.dat' must give at least '<file> <format>'"),
    (6, "r.dat 16 200/mV 16 zero", r"line 6: .*ADC zero 'zero' is not an integer"),
])
def test_unclear_damaged_header_line(tmp_path, make_wfdb, line, replacement, message):
    make_wfdb(tmp_path, "r", 100, 10)
    header = tmp_path / "r.hea"
    lines = header.read_text().splitlines()
    lines[line - 1] = replacement
    header.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=re.escape(str(header)) + ".*" + message):
        load_wfdb(tmp_path)


def test_unclear_other_parameters(tmp_path, make_wfdb, ptbxl_path, monkeypatch):
    make_wfdb(tmp_path, "r", 100, 10)
    monkeypatch.chdir(tmp_path)  # "" must not mean the current folder
    with pytest.raises(ValueError, match="records_or_folder is an empty path"):
        load_wfdb("")
    with pytest.raises(ValueError, match="path must be the folder of challenge records"):
        load_physionet_challenge("")
    with pytest.raises(ValueError, match="path must be the PTB-XL folder"):
        load_ptbxl("")
    with pytest.raises(ValueError, match="n_jobs must be a non-zero int"):
        load_wfdb(tmp_path, n_jobs=0)
    with pytest.raises(TypeError, match="n_jobs must be an int or None"):
        load_wfdb(tmp_path, n_jobs=True)
    with pytest.raises(TypeError, match="folds must be None or an iterable"):
        load_ptbxl(ptbxl_path, folds="9")
    with pytest.raises(ValueError, match=r"folds must hold fold numbers"):
        load_ptbxl(ptbxl_path, folds=[9, "ten"])
    assert set(load_ptbxl(ptbxl_path, folds=10).meta["strat_fold"]) == {10}


# ---------------------------------------------------------------- other hostile records


def _edit_header(path, edit):
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")


def test_hostile_zero_length_signal(tmp_path, make_wfdb):
    make_wfdb(tmp_path, "r", 100, 10)
    _edit_header(tmp_path / "r.hea",
                 lambda lines: [lines[0].rsplit(" ", 1)[0] + " 0"] + lines[1:])
    (tmp_path / "r.dat").write_bytes(b"")
    with pytest.raises(ValueError, match=r"r\.hea has 0 samples; expected a non-empty signal"):
        load_wfdb(tmp_path)


def test_hostile_gain_zero_means_the_wfdb_default(tmp_path, make_challenge):
    val = make_challenge(tmp_path, "A1", gain="0/mV")
    X = load_wfdb(tmp_path, fs=500).X[0]
    np.testing.assert_allclose(X, val / 200.0, rtol=1e-6)  # WFDB: gain 0 -> 200 adu/mV


def test_hostile_non_utf8_header_loads(tmp_path, make_challenge):
    make_challenge(tmp_path, "A1", comments=["# Age: 50", "# Sex: Male", "# Dx: 1",
                                             "# Note: caf\xe9 m\xfcller"])
    header = tmp_path / "A1.hea"
    header.write_bytes(header.read_text().encode("latin-1") + b"# raw \xff\xfe bytes\n")
    b = load_physionet_challenge(tmp_path)
    assert b.y.tolist() == [[1.0]] and b.meta.loc[0, "age"] == 50


def test_hostile_mat_val_that_is_not_numbers(tmp_path, make_challenge):
    make_challenge(tmp_path, "A1", fmt="16")
    scipy.io.savemat(tmp_path / "A1.mat", {"val": np.array(["text"])})
    with pytest.raises(ValueError, match=r"A1\.hea: 'val' in .*A1\.mat is not a numeric"):
        load_physionet_challenge(tmp_path)


def test_hostile_requested_lead_twice_in_the_record(tmp_path, make_challenge):
    make_challenge(tmp_path, "A1", leads=["I", "II", "I"] + list(LEAD_NAMES[3:]))
    with pytest.raises(ValueError, match=r"A1\.hea: lead\(s\) \['I'\] appear more than once"):
        load_wfdb(tmp_path, leads=("I", "aVR"))
    assert load_wfdb(tmp_path, leads=("II", "aVR")).X.shape == (1, 2, 5000)
    assert load_wfdb(tmp_path, leads=None).lead_names[:3] == ("I", "II", "I")


def test_hostile_dangling_header_link_is_reported_missing(tmp_path, make_wfdb):
    make_wfdb(tmp_path, "r", 100, 10)
    (tmp_path / "gone.hea").symlink_to(tmp_path / "nowhere.hea")
    with pytest.raises(FileNotFoundError, match=r"gone\.hea"):
        load_wfdb(tmp_path)
    with pytest.warns(UserWarning, match=r"1 record\(s\) absent.*gone\.hea"):
        assert load_wfdb(tmp_path, on_error="skip").X.shape == (1, 12, 1000)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_hostile_fifo_named_as_signal_file_does_not_block(tmp_path, make_wfdb):
    data = _records(tmp_path / "data", make_wfdb, n=2)
    (data / "r1.dat").unlink()
    os.mkfifo(data / "r1.dat")  # reading it would wait for a writer forever
    with pytest.warns(UserWarning,
                      match=r"r1\.dat named in the header is not a regular file \(a FIFO"):
        b = load_wfdb(data, cache_dir=tmp_path / "cache", on_error="skip")
    assert list(b.meta["record"]) == ["r0"]


def test_fingerprint_of_a_multi_segment_record_covers_its_segments(tmp_path):
    (tmp_path / "multi.hea").write_text("multi/2 2 100 2000\nseg1 1000\nseg2 1000\n")
    (tmp_path / "seg1.hea").write_text("seg1 2 100 1000\ns1.dat 16\ns1.dat 16\n")
    (tmp_path / "seg2.hea").write_text("seg2 2 100 1000\ns2.dat 16\ns2.dat 16\n")
    for name in ("s1.dat", "s2.dat"):
        (tmp_path / name).write_bytes(bytes(4000))
    headers = [tmp_path / "multi.hea"]
    key = cache_module.cache_key(headers, {})
    assert cache_module._named_files((tmp_path / "multi.hea").read_text(), str(tmp_path)) == [
        str(tmp_path / n) for n in ("seg1.hea", "s1.dat", "seg2.hea", "s2.dat")]
    (tmp_path / "s2.dat").write_bytes(b"\1" * 4000)
    assert cache_module.cache_key(headers, {}) != key
