"""load_ptbxl on the shared 500-record PTB-XL extract, and on broken folders."""

import ast
import shutil
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import wfdb

from skecg import LEAD_NAMES
from skecg.datasets import load_ptbxl

SUPER = ["CD", "HYP", "MI", "NORM", "STTC"]


@pytest.fixture(scope="module")
def ptbxl_all(ptbxl_path):
    return load_ptbxl(ptbxl_path, task="all")


@pytest.fixture(scope="module")
def tables(ptbxl_path):
    db = pd.read_csv(ptbxl_path / "ptbxl_database.csv")
    scp = pd.read_csv(ptbxl_path / "scp_statements.csv", index_col=0)
    return db, scp


def test_all_task_shapes(ptbxl_all):
    b = ptbxl_all
    assert b.X.shape == (500, 12, 1000) and b.X.dtype == np.float32
    assert b.y.shape == (500, 57) and b.y.dtype == np.float32 and len(b.label_names) == 57
    assert set(np.unique(b.y)) == {0.0, 1.0} and b.y.sum(axis=1).min() >= 1
    assert b.fs == 100.0 and b.lead_names == LEAD_NAMES and b.dropped_no_label == 0
    assert b.missing == [] and b.skipped == {}
    assert {"ecg_id", "patient_id", "strat_fold", "age", "sex", "filename"} <= set(b.meta)
    assert list(b.meta["ecg_id"]) == list(range(1, 501))
    assert np.isfinite(b.X).all()


def test_labels_of_20_records_match_csv(ptbxl_all, tables):
    db, _ = tables
    rng = np.random.default_rng(0)
    for i in rng.choice(500, 20, replace=False):
        row = db[db["ecg_id"] == ptbxl_all.meta.loc[i, "ecg_id"]].iloc[0]
        expected = set(ast.literal_eval(row["scp_codes"]))  # any likelihood counts
        got = {ptbxl_all.label_names[j] for j in np.flatnonzero(ptbxl_all.y[i])}
        assert got == expected, f"ecg_id {row['ecg_id']}"


def test_samples_match_rdsamp(ptbxl_path, ptbxl_all):
    for i in (0, 137, 499):
        signal, fields = wfdb.rdsamp(str(ptbxl_path / ptbxl_all.meta.loc[i, "filename"]))
        assert [n.lower() for n in fields["sig_name"]] == [n.lower() for n in LEAD_NAMES]
        np.testing.assert_allclose(ptbxl_all.X[i], signal.T, rtol=1e-6, atol=1e-7)


def test_superdiagnostic_counts(ptbxl_path, tables):
    b = load_ptbxl(ptbxl_path, task="superdiagnostic")
    assert b.label_names == SUPER
    # Records per class (multi-hot): each record counts once per class.
    records = dict(zip(b.label_names, b.y.sum(axis=0).astype(int).tolist(), strict=True))
    assert records == {"NORM": 297, "STTC": 96, "MI": 73, "CD": 78, "HYP": 40}
    # The data README's counts (NORM 297, STTC 109, MI 88, CD 88, HYP 45) count statements:
    # a record with two MI statements (e.g. IMI + ILMI) counts twice there.
    db, scp = tables
    occurrences = Counter()
    for text in db.set_index("ecg_id").loc[b.meta["ecg_id"], "scp_codes"]:
        occurrences.update(scp.loc[c, "diagnostic_class"] for c in ast.literal_eval(text)
                           if scp.loc[c, "diagnostic"] == 1)
    assert occurrences == {"NORM": 297, "STTC": 109, "MI": 88, "CD": 88, "HYP": 45}
    assert b.dropped_no_label == 12 and b.X.shape == (488, 12, 1000)


@pytest.mark.parametrize("task, n_labels, n_task", [("diagnostic", 36, 44),
                                                     ("subdiagnostic", 22, 23),
                                                     ("form", 17, 19), ("rhythm", 8, 12)])
def test_other_tasks(ptbxl_path, task, n_labels, n_task):
    b = load_ptbxl(ptbxl_path, task=task)
    assert len(b.label_names) == n_labels and b.y.sum(axis=1).min() >= 1
    assert len(load_ptbxl(ptbxl_path, task=task, label_names="task").label_names) == n_task


def test_label_names_and_folds(ptbxl_path):
    b = load_ptbxl(ptbxl_path, task="superdiagnostic", label_names=["NORM", "MI"], folds=[9, 10])
    assert b.label_names == ["NORM", "MI"] and set(b.meta["strat_fold"]) == {9, 10}
    assert len(load_ptbxl(ptbxl_path, label_names="task").label_names) == 71
    with pytest.raises(ValueError, match=r"\['SR'\] are not labels of task 'superdiagnostic'"):
        load_ptbxl(ptbxl_path, task="superdiagnostic", label_names=["SR"])
    with pytest.raises(ValueError, match="task must be one of"):
        load_ptbxl(ptbxl_path, task="super")
    with pytest.raises(ValueError, match="sampling_rate must be 100 or 500"):
        load_ptbxl(ptbxl_path, sampling_rate=250)


def test_500hz_loads_present_and_warns_once(ptbxl_path):
    with pytest.warns(UserWarning, match=r"400 of 500 PTB-XL records .* absent") as caught:
        b = load_ptbxl(ptbxl_path, sampling_rate=500)
    assert len(caught) == 1 and "records500/00000/00101_hr" in str(caught[0].message)
    assert b.X.shape == (100, 12, 5000) and b.fs == 500.0 and len(b.missing) == 400
    assert list(b.meta["ecg_id"]) == list(range(1, 101))
    signal, _ = wfdb.rdsamp(str(ptbxl_path / b.meta.loc[42, "filename"]))
    np.testing.assert_allclose(b.X[42], signal.T, rtol=1e-6, atol=1e-7)


def test_cached_load_is_memmap_and_equal(ptbxl_path, ptbxl_all, tmp_path):
    load_ptbxl(ptbxl_path, n_jobs=2, cache_dir=tmp_path)
    cached = load_ptbxl(ptbxl_path, cache_dir=tmp_path)
    assert isinstance(cached.X, np.memmap)
    np.testing.assert_array_equal(cached.X, ptbxl_all.X)
    np.testing.assert_array_equal(cached.y, ptbxl_all.y)


def test_missing_folder_and_csv(tmp_path, ptbxl_path):
    with pytest.raises(FileNotFoundError, match="PTB-XL folder .*nope does not exist"):
        load_ptbxl(tmp_path / "nope")
    shutil.copy(ptbxl_path / "ptbxl_database.csv", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"scp_statements\.csv not found"):
        load_ptbxl(tmp_path)
    shutil.copy(ptbxl_path / "scp_statements.csv", tmp_path)
    with pytest.raises(FileNotFoundError, match="none of the 500 PTB-XL records at 100 Hz"):
        load_ptbxl(tmp_path)


def test_corrupt_record_raises_or_skips(tmp_path, ptbxl_path):
    for name in ("ptbxl_database.csv", "scp_statements.csv"):
        shutil.copy(ptbxl_path / name, tmp_path)
    folder = tmp_path / "records100" / "00000"
    folder.mkdir(parents=True)
    for i in (1, 2, 3):
        for ext in (".hea", ".dat"):
            shutil.copy(ptbxl_path / "records100" / "00000" / f"{i:05d}_lr{ext}", folder)
    (folder / "00002_lr.dat").write_bytes(b"\1\2\3")
    with pytest.warns(UserWarning, match="497 of 500"):
        with pytest.raises(ValueError, match=r"00002_lr\.dat holds 0 samples"):
            load_ptbxl(tmp_path)
    with pytest.warns(UserWarning) as caught:
        b = load_ptbxl(tmp_path, on_error="skip")
    assert len(caught) == 2  # the 497 absent records, then the one unreadable record
    assert "00002_lr" in str(caught[1].message)
    assert list(b.meta["ecg_id"]) == [1, 3] and b.X.shape == (2, 12, 1000) and len(b.y) == 2
