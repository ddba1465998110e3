"""load_physionet_challenge on the shared records and on hand-written quirky records."""

import math

import numpy as np
import pytest
import wfdb
from scipy.signal import resample_poly

from skecg import LEAD_NAMES
from skecg.datasets import load_physionet_challenge
from skecg.datasets.challenge import parse_challenge_comments


def test_shared_records(challenge_path):
    b = load_physionet_challenge(challenge_path)
    assert b.X.shape == (51, 12, 1000) and b.X.dtype == np.float32 and np.isfinite(b.X).all()
    assert b.fs == 100.0 and b.lead_names == LEAD_NAMES and b.excluded == []
    meta = b.meta.set_index("record")
    assert meta.loc["JS00001", "age"] == 85 and meta.loc["JS00001", "sex"] == 0
    assert meta.loc["HR06000", "sex"] == 1 and meta.loc["E07500", "source"] == "E"
    i = list(b.meta["record"]).index("JS00001")
    got = {b.label_names[j] for j in np.flatnonzero(b.y[i])}
    assert got == {"164889003", "59118001", "164934002"}
    signal, _ = wfdb.rdsamp(str(challenge_path / "HR06000"))  # 'mv' unit
    np.testing.assert_allclose(b.X[list(b.meta["record"]).index("HR06000")],
                               resample_poly(signal.T, 1, 5, axis=-1), rtol=1e-4, atol=1e-5)


def test_exclude_ptbxl_source(challenge_path):
    b = load_physionet_challenge(challenge_path, exclude_prefixes=("HR",))
    assert b.X.shape == (41, 12, 1000)
    assert b.excluded == [f"HR0600{i}" for i in range(10)]
    assert not b.meta["record"].str.startswith("HR").any()


def test_label_mapping(challenge_path):
    mapping = {"426783006": "SNR", "164889003": "AF", "59118001": "RBBB", "713427006": "RBBB"}
    b = load_physionet_challenge(challenge_path, label_mapping=mapping)
    assert b.label_names == ["SNR", "AF", "RBBB"]
    assert b.y.sum(axis=1).min() == 1 and b.dropped_no_label == 51 - len(b.y)


def test_quirky_headers_and_rates(tmp_path, make_challenge):
    sub = tmp_path / "g1" / "deeper"
    sub.mkdir(parents=True)
    v1 = make_challenge(tmp_path, "A1", fmt="16+24", gain="1000/mV",
                        comments=["#Age: 85", "#Sex: Male", "#Dx: 1,2"])
    v2 = make_challenge(sub, "B1", fs=257, n_samples=257 * 30, gain="1000.0(0)/mv",
                        leads=[n.upper() for n in LEAD_NAMES],
                        comments=["# Age: NaN", "# Sex: Unknown", "# Dx: 2", "# Sx: Unknown"])
    v3 = make_challenge(tmp_path, "C1", fs=1000, n_samples=1000 * 60, fmt="16", gain="2000/mV",
                        mat_format="5", comments=["# Age: 40", "# Dx: 3"])
    b = load_physionet_challenge(tmp_path)
    assert b.X.shape == (3, 12, 1000) and list(b.meta["record"]) == ["A1", "C1", "B1"]
    assert b.label_names == ["1", "2", "3"]
    np.testing.assert_array_equal(b.y, [[1, 1, 0], [0, 0, 1], [0, 1, 0]])
    np.testing.assert_allclose(b.X[0], resample_poly(v1 / 1000, 1, 5, axis=-1), atol=1e-5)
    np.testing.assert_allclose(b.X[1], resample_poly(v3 / 2000, 1, 10, axis=-1)[:, :1000],
                               atol=1e-5)
    np.testing.assert_allclose(b.X[2], resample_poly(v2 / 1000, 100, 257, axis=-1)[:, :1000],
                               atol=1e-5)
    assert b.meta["age"].tolist()[0] == 85 and math.isnan(b.meta["age"].tolist()[2])
    assert math.isnan(b.meta["sex"].tolist()[2]) and b.meta["fs_original"].tolist()[2] == 257


def test_parse_comments():
    parsed = parse_challenge_comments(["#Age: 85", "# Sex: F", "# Dx: 1, 2"])
    assert parsed == {"age": 85.0, "sex": 1.0, "dx": ["1", "2"]}
    parsed = parse_challenge_comments(["# Age: Unknown", "# Sex: "])
    assert math.isnan(parsed["age"]) and math.isnan(parsed["sex"]) and parsed["dx"] == []


def test_bad_folders_and_records(tmp_path, make_challenge):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_physionet_challenge(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=r"no challenge records found under .*\.hea"):
        load_physionet_challenge(tmp_path)
    make_challenge(tmp_path, "A1")
    make_challenge(tmp_path, "A2", leads=LEAD_NAMES[:6])
    make_challenge(tmp_path, "A3")
    (tmp_path / "A3.mat").write_bytes((tmp_path / "A3.mat").read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"A2\.hea: lead\(s\) \['V1'"):
        load_physionet_challenge(tmp_path)
    with pytest.warns(UserWarning, match=r"2 record\(s\) could not be loaded") as caught:
        b = load_physionet_challenge(tmp_path, on_error="skip")
    assert len(caught) == 1 and "A3.mat holds 40 samples" in str(caught[0].message)
    assert list(b.meta["record"]) == ["A1"] and b.y.shape == (1, 1)
    with pytest.raises(ValueError, match="nothing left to load"):
        load_physionet_challenge(tmp_path, exclude_prefixes="A")
