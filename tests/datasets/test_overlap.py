"""find_overlap: shared recordings by signal content; load_paper_corpus(exclude_overlap_with=)."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.io
from scipy.signal import resample_poly

from skecg import LEAD_NAMES
from skecg.datasets import (
    find_overlap,
    load_paper_corpus,
    load_physionet_challenge,
    load_ptbxl,
    make_synthetic_ecg,
)
from skecg.datasets import overlap as overlap_module

COLUMNS = ["index_a", "index_b", "score", "lag_s", "overlap_s", "gain"]


@pytest.fixture(scope="module")
def ptbxl_100(ptbxl_path):
    return load_ptbxl(ptbxl_path, sampling_rate=100)


@pytest.fixture(scope="module")
def ptbxl_500(ptbxl_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 400 listed records are absent at 500 Hz
        return load_ptbxl(ptbxl_path, sampling_rate=500, on_error="skip")


@pytest.fixture(scope="module")
def synthetic():
    return make_synthetic_ecg(40, fs=100, random_state=3)


def transformed_copy(signal, fs, *, fs_out=257, gains=1000.0, start_s=1.3, keep_s=7.0,
                     pad_before_s=0.5, pad_after_s=1.0):
    """Resample (n_leads, n_samples) to fs_out, scale each lead, crop, zero-pad."""
    out = resample_poly(signal.astype(np.float64), fs_out, int(fs), axis=-1)
    out = out * np.broadcast_to(np.asarray(gains, dtype=float), (len(signal),))[:, None]
    start = int(round(start_s * fs_out))
    out = out[:, start:start + int(round(keep_s * fs_out))]
    before, after = int(round(pad_before_s * fs_out)), int(round(pad_after_s * fs_out))
    return np.pad(out, ((0, 0), (before, after))).astype(np.float32)


# --------------------------------------------------------------------------------------------
# the shared real records
# --------------------------------------------------------------------------------------------


def test_ptbxl_100hz_pairs_with_its_500hz_version_and_nothing_else(ptbxl_100, ptbxl_500):
    found = find_overlap(ptbxl_100, ptbxl_500)
    assert list(found.columns[:6]) == COLUMNS
    ids_a = ptbxl_100.meta["ecg_id"].to_numpy()[found["index_a"]]
    ids_b = ptbxl_500.meta["ecg_id"].to_numpy()[found["index_b"]]
    expected = set(ptbxl_500.meta["ecg_id"])
    assert len(expected) == 100
    assert set(zip(ids_a, ids_b, strict=True)) == {(i, i) for i in expected}
    assert len(found) == 100
    assert found["score"].min() >= 0.9 and found["score"].max() <= 1.0
    np.testing.assert_allclose(found["lag_s"], 0, atol=0.01)
    np.testing.assert_allclose(found["gain"], 1, atol=0.1)
    assert found["record_a"].str.endswith("_lr").all() and found["record_b"].str.endswith(
        "_hr").all()
    # either order: the same pairs, lags negated
    back = find_overlap(ptbxl_500, ptbxl_100)
    assert set(zip(back["index_b"], back["index_a"], strict=True)) == set(
        zip(found["index_a"], found["index_b"], strict=True))


def test_ptbxl_against_the_challenge_records_gives_no_pair(ptbxl_100, challenge_path):
    challenge = load_physionet_challenge(challenge_path, fs=500, drop_unlabeled=False)
    found = find_overlap(ptbxl_100, challenge)
    assert len(found) == 0 and list(found.columns[:6]) == COLUMNS
    assert found["index_a"].dtype == np.int64


def test_resampled_rescaled_shifted_cropped_padded_copy_is_found(ptbxl_100, challenge_path):
    record = 7
    gains = np.linspace(500, 2000, 12)  # per-lead gains, in µV-like units
    copy = transformed_copy(ptbxl_100.X[record], 100, gains=gains)
    unrelated = load_physionet_challenge(challenge_path, fs=257, duration=8.5,
                                         drop_unlabeled=False).X[-1]  # JS20019
    a = np.stack([copy, unrelated])
    found = find_overlap(a, ptbxl_100, fs_a=257)
    assert list(zip(found["index_a"], found["index_b"], strict=True)) == [(0, record)]
    row = found.iloc[0]
    assert row["score"] > 0.97
    # b's content at 1.3 s sits at 0.5 s in the copy
    assert row["lag_s"] == pytest.approx(0.5 - 1.3, abs=0.02)
    assert row["overlap_s"] == pytest.approx(7.0, abs=0.2)
    assert row["gain"] == pytest.approx(1 / np.median(gains), rel=0.05)


# --------------------------------------------------------------------------------------------
# synthetic (always run)
# --------------------------------------------------------------------------------------------


def test_synthetic_copies_found_and_unrelated_records_not(synthetic):
    X = synthetic.X
    copies = np.stack([transformed_copy(X[i], 100, fs_out=500, gains=g, start_s=s)
                       for i, g, s in ((4, 1.0, 0.0), (17, 1000.0, 2.2), (30, 0.37, 0.9))])
    others = make_synthetic_ecg(5, fs=500, duration=8.5, random_state=99).X
    a = np.concatenate([copies, others])
    found = find_overlap(a, synthetic, fs_a=500)
    assert list(zip(found["index_a"], found["index_b"], strict=True)) == [(0, 4), (1, 17),
                                                                          (2, 30)]
    np.testing.assert_allclose(found["lag_s"], [0.5, 0.5 - 2.2, 0.5 - 0.9], atol=0.02)
    np.testing.assert_allclose(found["gain"], [1, 1e-3, 1 / 0.37], rtol=0.05)
    # batch size and which corpus is held do not change the answer
    small = find_overlap(a, synthetic, fs_a=500, batch_size=2, n_candidates=3)
    pd.testing.assert_frame_equal(small[COLUMNS[:2]], found[COLUMNS[:2]])
    swapped = find_overlap(synthetic, a, fs_b=500)
    np.testing.assert_array_equal(swapped["index_b"], found["index_a"])
    np.testing.assert_allclose(swapped["lag_s"], -found["lag_s"], atol=1e-6)


def test_memmap_input_and_silent_records(synthetic, tmp_path):
    X = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32,
                                  shape=synthetic.X.shape)
    X[:] = synthetic.X
    X[5] = 0.0  # a silent (all-padding) record matches nothing
    X[6, 3] = 0.0  # a flat lead is ignored
    found = find_overlap(X, synthetic, fs_a=100, batch_size=7)
    pairs = set(zip(found["index_a"], found["index_b"], strict=True))
    # the synthetic generator makes a few near-identical records: compare with the plain run
    plain = find_overlap(synthetic, synthetic)
    expected = set(zip(plain["index_a"], plain["index_b"], strict=True))
    assert {(i, i) for i in range(len(X))} <= expected
    assert pairs == {p for p in expected if 5 not in p and 6 not in p} | (pairs & {(6, 6)})
    # a lead flat in one copy only: the pair scores sqrt(11 / 12) when verified
    direct = find_overlap(X[6:7], synthetic, fs_a=100)
    assert (0, 6) in set(zip(direct["index_a"], direct["index_b"], strict=True))
    assert direct.set_index("index_b").loc[6, "score"] == pytest.approx(np.sqrt(11 / 12),
                                                                          abs=0.01)


def _reference_scores(q, r, rows, cols, fs_common, min_overlap):
    """Per pair and integer lag, with numpy.correlate: the slow, obvious definition."""
    scores, lags = [], []
    for i, j in zip(rows, cols, strict=True):
        za = q.z[i].astype(np.float64)
        zb = r.z[j].astype(np.float64)
        n_a, n_b = za.shape[-1], zb.shape[-1]
        ma = np.zeros(n_a)
        ma[q.start[i]:q.stop[i]] = 1
        mb = np.zeros(n_b)
        mb[r.start[j]:r.stop[j]] = 1
        num = sum(np.correlate(za[lead], zb[lead], "full") for lead in range(len(za)))
        energy_a = np.correlate((za ** 2).sum(axis=0), mb, "full")
        energy_b = np.correlate(ma, (zb ** 2).sum(axis=0), "full")
        shared = np.correlate(ma, mb, "full")
        need = min(min_overlap * fs_common, min(q.stop[i] - q.start[i],
                                                r.stop[j] - r.start[j])) - 1
        best, best_lag = -np.inf, 0
        for k in range(len(num)):
            if shared[k] >= need - 1e-9 and energy_a[k] * energy_b[k] > 1e-12:
                value = num[k] / np.sqrt(energy_a[k] * energy_b[k])
                if value > best:
                    best, best_lag = value, k - (n_b - 1)
        scores.append(best)
        lags.append(best_lag)
    return np.array(scores), np.array(lags)


def test_scoring_matches_a_per_pair_numpy_correlate_loop(synthetic, monkeypatch):
    rng = np.random.default_rng(0)
    a = np.stack([transformed_copy(synthetic.X[i], 100, fs_out=100, start_s=s, keep_s=6,
                                   pad_before_s=0.3, pad_after_s=0.2)
                  for i, s in ((0, 0.0), (1, 1.0), (2, 3.1))])
    a = np.concatenate([a, rng.standard_normal((2, 12, 650)).astype(np.float32)])
    q = overlap_module._reduce(a, 100.0, 50.0, 0.6, "a", 0)
    r = overlap_module._reduce(synthetic.X[:6], 100.0, 50.0, 0.6, "b", 0)
    rows, cols = np.divmod(np.arange(len(a) * 6), 6)
    expected, expected_lag = _reference_scores(q, r, rows, cols, 50.0, 5.0)
    monkeypatch.setattr(overlap_module, "_N_FRAC", 0)  # integer lags only
    score, lag, _ = overlap_module._score_pairs(q, r, rows, cols, 50.0, 5.0, 1)
    np.testing.assert_allclose(score, np.minimum(expected, 1.0), atol=2e-4)
    np.testing.assert_array_equal(lag, expected_lag)
    monkeypatch.undo()  # the sub-sample refinement only raises a score, by little
    refined, refined_lag, _ = overlap_module._score_pairs(q, r, rows, cols, 50.0, 5.0, 1)
    assert (refined >= score - 1e-6).all() and (refined <= score + 0.05).all()
    assert np.abs(refined_lag - lag).max() <= 0.5


# --------------------------------------------------------------------------------------------
# errors: one line naming the parameter
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, match", [
    ({"a": np.zeros((12, 1000))}, r"a must be 3-D .*one record\? use X\[None\]"),
    ({"b": np.zeros((3, 12, 1000, 1))}, "b must be 3-D"),
    ({"b": np.zeros((3, 8, 1000))}, "a has 12 leads and b has 8"),
    ({"fs_b": None}, "fs_b is required"),
    ({"fs_a": 0}, "fs_a must be a positive sampling rate"),
    ({"threshold": 2}, "threshold must be"),
    ({"min_overlap": -1}, "min_overlap must be"),
    ({"n_candidates": 0}, "n_candidates must be a positive integer"),
    ({"a": np.full((2, 12, 100), np.nan)}, "a record 0 holds NaN"),
    ({"b": np.zeros((0, 12, 100))}, "b has shape"),
])
def test_bad_input_one_line_error_naming_the_parameter(kwargs, match):
    args = {"a": np.ones((2, 12, 100)), "b": np.ones((3, 12, 100)), "fs_a": 100, "fs_b": 100}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match) as info:
        find_overlap(args.pop("a"), args.pop("b"), **args)
    assert "\n" not in str(info.value)


def test_bunch_rate_is_the_default_and_a_contradicting_rate_is_refused(synthetic):
    found = find_overlap(synthetic, synthetic.X[:2], fs_b=100)
    assert {(0, 0), (1, 1)} <= set(zip(found["index_a"], found["index_b"], strict=True))
    assert found["record_a"].iloc[0] == "synthetic_00000" and "record_b" not in found
    with pytest.raises(ValueError, match="fs_a=500 disagrees with a.fs=100"):
        find_overlap(synthetic, synthetic, fs_a=500)


# --------------------------------------------------------------------------------------------
# load_paper_corpus(exclude_overlap_with=)
# --------------------------------------------------------------------------------------------


def _write_challenge_record(folder, name, signal_mv, fs):
    """A challenge-style record (.mat 'val' int16 at 1000/mV + header) of a signal in mV."""
    val = np.round(signal_mv * 1000).astype(np.int16)
    scipy.io.savemat(folder / f"{name}.mat", {"val": val}, format="4")
    lines = [f"{name} {len(val)} {fs} {val.shape[1]}"]
    lines += [f"{name}.mat 16 1000/mV 16 0 {int(v[0])} 0 0 {lead}"
              for v, lead in zip(val, LEAD_NAMES, strict=True)]
    lines += ["# Age: 50", "# Sex: Female", "# Dx: 426783006"]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")


def test_paper_corpus_excludes_content_overlaps_with_the_evaluation_set(synthetic, tmp_path):
    folder = tmp_path / "cinc"
    folder.mkdir()
    evaluation = synthetic  # 100 Hz; the corpus holds two of its records renamed, at 500 Hz
    for name, index in (("Q0001", 12), ("Q0003", 25)):
        _write_challenge_record(folder, name, resample_poly(evaluation.X[index], 5, 1,
                                                            axis=-1), 500)
    others = make_synthetic_ecg(3, fs=500, random_state=7).X
    for k, signal in enumerate(others):
        _write_challenge_record(folder, f"Q1{k:03d}", signal, 500)
    plain = load_paper_corpus(cinc2020=folder)
    assert len(plain.X) == 5 and "overlap" not in plain
    corpus = load_paper_corpus(cinc2020=folder, exclude_overlap_with=evaluation)
    assert list(corpus.meta["record"]) == ["Q1000", "Q1001", "Q1002"]
    assert len(corpus.X) == 3 and corpus.n_records == {"cinc2020": 3}
    assert corpus.excluded == ["Q0001", "Q0003"]
    table = corpus.overlap
    assert list(table["record"]) == ["Q0001", "Q0003"]
    assert list(table["index_eval"]) == [12, 25] and (table["dataset"] == "cinc2020").all()
    assert (table["score"] > 0.95).all()
    # an array is taken at the corpus's rate
    same = load_paper_corpus(cinc2020=folder, exclude_overlap_with=evaluation.X)
    assert same.excluded == ["Q0001", "Q0003"]
    with pytest.raises(ValueError, match="exclude_overlap_with cannot be combined with store"):
        load_paper_corpus(cinc2020=folder, exclude_overlap_with=evaluation,
                          store=tmp_path / "store")
