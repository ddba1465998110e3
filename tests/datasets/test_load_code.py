"""CODE-15% and CODE test loaders on small HDF5 files of the published layout."""

import numpy as np
import pandas as pd
import pytest
from scipy.signal import resample_poly

from skecg import LEAD_NAMES
from skecg.datasets import (
    build_ecg_store,
    code15_sources,
    load_code15,
    load_code_test,
    load_paper_corpus,
    patient_split,
)
from skecg.datasets.code import CODE_LABELS
from skecg.evaluation import describe_pretraining_data

h5py = pytest.importorskip("h5py")

LABEL_COLUMNS = ["1dAVb", "RBBB", "LBBB", "SB", "ST", "AF"]  # exams.csv order


def _signal(rng, n_samples, n_leads=12):
    """A distinct smooth signal per lead (lead j oscillates at j + 1 Hz around j + 1 mV)."""
    t = np.arange(n_samples) / 400
    leads = [(j + 1) + np.sin(2 * np.pi * (j + 1) * t + rng.uniform(0, 6)) for j in
             range(n_leads)]
    return np.stack(leads, axis=1).astype(np.float32)  # (n_samples, 12): file layout


def _padded(signal):
    out = np.zeros((4096, 12), dtype=np.float32)
    before = (4096 - len(signal)) // 2
    out[before:before + len(signal)] = signal
    return out


def write_code15(folder, parts=((101, 102, 103), (201, 202)), seconds=None, pad_row=True,
                 seed=0):
    """Write exams.csv + exams_partN.hdf5 like CODE-15%; returns {exam_id: raw signal}."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    signals, rows = {}, []
    for p, ids in enumerate(parts):
        tracings, exam_ids = [], []
        for k, exam_id in enumerate(ids):
            length = 2800 if (seconds or {}).get(exam_id, 10) == 7 else 4000
            signals[exam_id] = _signal(rng, length)
            tracings.append(_padded(signals[exam_id]))
            exam_ids.append(exam_id)
            labels = {c: bool((exam_id + j) % 3 == 0) for j, c in enumerate(LABEL_COLUMNS)}
            rows.append({"exam_id": exam_id, "age": 40 + k, "is_male": bool(k % 2),
                         "nn_predicted_age": 41.5, **labels, "patient_id": exam_id // 2,
                         "death": "", "timey": "", "normal_ecg": k == 0,
                         "trace_file": f"exams_part{p}.hdf5"})
        if pad_row:
            tracings.append(np.zeros((4096, 12), dtype=np.float32))
            exam_ids.append(0)
        with h5py.File(folder / f"exams_part{p}.hdf5", "w") as f:
            f.create_dataset("tracings", data=np.stack(tracings))
            f.create_dataset("exam_id", data=np.array(exam_ids, dtype=np.int64))
    pd.DataFrame(rows).to_csv(folder / "exams.csv", index=False)
    return signals


def test_code15_labels_leads_padding_and_resampling(tmp_path):
    signals = write_code15(tmp_path, seconds={102: 7})
    data = load_code15(tmp_path)  # 100 Hz, 10 s
    assert data.X.shape == (5, 12, 1000) and data.X.dtype == np.float32
    assert data.meta["exam_id"].tolist() == [101, 102, 103, 201, 202]  # padding rows dropped
    assert data.lead_names == LEAD_NAMES and data.label_names == list(CODE_LABELS)
    exams = pd.read_csv(tmp_path / "exams.csv").set_index("exam_id")
    np.testing.assert_array_equal(data.y, exams.loc[data.meta["exam_id"],
                                                    list(CODE_LABELS)].to_numpy(float))
    for i, exam_id in enumerate(data.meta["exam_id"]):
        expected = resample_poly(signals[exam_id].T, 1, 4, axis=-1)  # padding stripped first
        n = expected.shape[1]
        np.testing.assert_allclose(data.X[i, :, :n], expected, atol=1e-5)
        assert np.all(data.X[i, :, n:] == 0)  # 7 s exam: zero-padded at the end (crop="start")
        assert data.meta["n_samples_original"].iloc[i] == len(signals[exam_id])
    assert data.meta.loc[1, "n_samples_original"] == 2800
    # lead j of the file is skecg's LEAD_NAMES[j]: lead means are j + 1 mV
    np.testing.assert_allclose(data.X[0].mean(axis=1), np.arange(1, 13), atol=0.05)
    assert data.meta["sex"].tolist() == [1.0, 0.0, 1.0, 1.0, 0.0]  # is_male -> PTB-XL coding
    assert set(data.meta["record"]) == {"101", "102", "103", "201", "202"}


def test_code15_native_rate_leads_units_parts(tmp_path):
    signals = write_code15(tmp_path)
    data = load_code15(tmp_path, fs=400, duration=10, leads=["aVR", "DI"], parts=[1],
                       units="1e-4V", scale=2.0)
    assert data.lead_names == ("aVR", "I")
    assert data.meta["exam_id"].tolist() == [201, 202]
    np.testing.assert_allclose(data.X[0], signals[201].T[[3, 0]] * 0.2, rtol=1e-6)
    centred = load_code15(tmp_path, fs=400, duration=5, crop="center", parts=0)
    np.testing.assert_array_equal(centred.X[0], signals[101].T[:, 1000:3000])


def test_code15_missing_part_and_bad_files_are_named(tmp_path):
    write_code15(tmp_path)
    (tmp_path / "exams_part1.hdf5").unlink()
    with pytest.raises(FileNotFoundError, match="exams_part1.hdf5"):
        load_code15(tmp_path)
    with pytest.warns(UserWarning, match="absent"):
        data = load_code15(tmp_path, on_error="skip")
    assert data.missing == ["exams_part1.hdf5"] and len(data.X) == 3

    with h5py.File(tmp_path / "exams_part1.hdf5", "w") as f:
        f.create_dataset("tracings", data=np.zeros((2, 4000, 12), dtype=np.float32))
        f.create_dataset("exam_id", data=np.array([201, 202]))
    with pytest.raises(ValueError, match=r"exams_part1.hdf5.*shape \(2, 4000, 12\)"):
        load_code15(tmp_path)
    with h5py.File(tmp_path / "exams_part1.hdf5", "w") as f:
        f.create_dataset("signals", data=np.zeros((2, 4096, 12), dtype=np.float32))
    with pytest.raises(ValueError, match="exams_part1.hdf5: no 'tracings'"):
        load_code15(tmp_path)
    with h5py.File(tmp_path / "exams_part1.hdf5", "w") as f:
        f.create_dataset("tracings", data=np.zeros((2, 4096, 12), dtype=np.float32))
    with pytest.raises(ValueError, match="exams_part1.hdf5: 'exam_id'"):
        load_code15(tmp_path)


def test_code15_unknown_exam_nonfinite_and_empty_tracings(tmp_path):
    write_code15(tmp_path)
    with h5py.File(tmp_path / "exams_part1.hdf5", "r+") as f:
        f["exam_id"][1] = 999
    with pytest.raises(ValueError, match="exam_id 999 is not in exams.csv"):
        load_code15(tmp_path)
    write_code15(tmp_path)
    with h5py.File(tmp_path / "exams_part0.hdf5", "r+") as f:
        f["tracings"][1, 2000, 5] = np.nan
        f["tracings"][2] = 0.0
    with pytest.raises(ValueError, match="exams_part0.hdf5:102 holds NaN"):
        load_code15(tmp_path)
    with pytest.warns(UserWarning, match="skipped"):
        data = load_code15(tmp_path, on_error="skip")
    assert data.meta["exam_id"].tolist() == [101, 201, 202]
    assert set(data.skipped) == {"exams_part0.hdf5:102", "exams_part0.hdf5:103"}
    assert "all zeros" in data.skipped["exams_part0.hdf5:103"]
    assert data.y.shape == (3, 6)


def test_code15_parameters_are_checked(tmp_path):
    write_code15(tmp_path)
    with pytest.raises(ValueError, match="units"):
        load_code15(tmp_path, units="mv?")
    with pytest.raises(ValueError, match="lead 'X1'"):
        load_code15(tmp_path, leads=["I", "X1"])
    with pytest.raises(ValueError, match="lacks column"):
        load_code15(tmp_path, label_names=["nope"])
    with pytest.raises(FileNotFoundError, match="exams.csv"):
        load_code15(tmp_path / "absent")


def write_code_test(folder, n=6, seed=1):
    rng = np.random.default_rng(seed)
    (folder / "annotations").mkdir(parents=True, exist_ok=True)
    signals = [_signal(rng, 4000 if i % 2 else 2800) for i in range(n)]
    with h5py.File(folder / "ecg_tracings.hdf5", "w") as f:
        f.create_dataset("tracings", data=np.stack([_padded(s) for s in signals]))
    labels = pd.DataFrame(rng.integers(0, 2, size=(n, 6)), columns=list(CODE_LABELS))
    labels.to_csv(folder / "annotations" / "gold_standard.csv", index=False)
    pd.DataFrame({"age": np.arange(n) + 30, "sex": ["M", "F"] * (n // 2)}).to_csv(
        folder / "attributes.csv", index=False)
    return signals, labels


def test_code_test_loader(tmp_path):
    signals, labels = write_code_test(tmp_path)
    data = load_code_test(tmp_path)
    assert data.X.shape == (6, 12, 1000)
    np.testing.assert_array_equal(data.y, labels.to_numpy(np.float32))
    expected = resample_poly(signals[0].T, 1, 4, axis=-1)
    np.testing.assert_allclose(data.X[0, :, :700], expected, atol=1e-5)
    assert data.meta["sex"].tolist() == [0.0, 1.0] * 3
    assert data.meta["n_samples_original"].tolist() == [2800, 4000] * 3
    assert load_code_test(tmp_path, annotations=None).y is None
    labels.iloc[:5].to_csv(tmp_path / "annotations" / "gold_standard.csv", index=False)
    with pytest.raises(ValueError, match="5 rows; ecg_tracings.hdf5 has 6"):
        load_code_test(tmp_path)


def test_patient_split_keeps_patients_apart_and_is_deterministic(tmp_path):
    groups = np.repeat(np.arange(50), 3)
    split = patient_split(groups, valid_size=0.2, test_size=0.2, random_state=3)
    parts = [set(groups[split[k]]) for k in ("train", "valid", "test")]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert len(parts[1]) == 10 and len(parts[2]) == 10
    assert sum(len(split[k]) for k in split) == len(groups)
    again = patient_split(pd.DataFrame({"patient_id": groups}), 0.2, 0.2, random_state=3)
    np.testing.assert_array_equal(split.test, again.test)
    with pytest.raises(ValueError, match="valid_size"):
        patient_split(groups, valid_size=1.5)


def test_paper_corpus_excludes_ptbxl_and_builds_a_store(tmp_path, challenge_path):
    write_code_test(tmp_path / "code")
    corpus = load_paper_corpus(cinc2020=challenge_path, code_test=tmp_path / "code")
    assert corpus.n_records == {"cinc2020": 41, "code_test": 6}
    assert len(corpus.excluded) == 10 and all(r.startswith("HR") for r in corpus.excluded)
    assert not corpus.meta["record"].str.startswith("HR").any()
    assert corpus.X.shape == (47, 12, 1000)
    assert "10 excluded (HR06000" in describe_pretraining_data(corpus)
    stored = load_paper_corpus(cinc2020=challenge_path, code_test=tmp_path / "code",
                               store=tmp_path / "store")
    np.testing.assert_array_equal(np.asarray(stored.X), corpus.X)
    assert stored.excluded == corpus.excluded and stored.n_records == corpus.n_records
    with pytest.raises(ValueError, match="overlap"):
        load_paper_corpus(cinc2020=challenge_path, chapman=challenge_path)


def test_code15_parts_build_a_store(tmp_path):
    write_code15(tmp_path / "code15")
    sources = code15_sources(tmp_path / "code15")
    assert list(sources) == ["code15/exams_part0.hdf5", "code15/exams_part1.hdf5"]
    store = build_ecg_store(tmp_path / "store", sources, verbose=False)
    whole = load_code15(tmp_path / "code15")
    np.testing.assert_array_equal(np.asarray(store.X), whole.X)
    y, names = store.labels(list(CODE_LABELS))
    np.testing.assert_array_equal(y, whole.y)


def test_code15_chunked_reads_match_whole_part_reads(tmp_path, monkeypatch):
    import skecg.datasets.code as code

    write_code15(tmp_path, parts=((11, 12, 13, 14, 15), (21, 22, 23)), seconds={13: 7, 22: 7})
    whole = load_code15(tmp_path)
    monkeypatch.setattr(code, "_CHUNK", 2)  # several chunks per part, a padding row alone
    chunked = load_code15(tmp_path)
    np.testing.assert_array_equal(chunked.X, whole.X)
    assert chunked.meta["row"].tolist() == [0, 1, 2, 3, 4, 0, 1, 2]
    pd.testing.assert_frame_equal(chunked.meta, whole.meta)
