"""Faulty data files, each class of fault: one line naming the record, cell or file at fault."""

import os
import shutil

import numpy as np
import pandas as pd
import pytest

from skecg import LEAD_NAMES
from skecg.datasets import (
    first_k_folds,
    load_physionet_challenge,
    load_ptbxl,
    load_wfdb,
    ptbxl_split,
)


def _ptbxl_copy(ptbxl_path, tmp_path, n=20):
    """A PTB-XL folder of the first ``n`` records: CSVs copied, record files linked."""
    folder = tmp_path / "ptbxl"
    (folder / "records100" / "00000").mkdir(parents=True)
    db = pd.read_csv(ptbxl_path / "ptbxl_database.csv").head(n)
    db.to_csv(folder / "ptbxl_database.csv", index=False)
    shutil.copy(ptbxl_path / "scp_statements.csv", folder)
    for name in db["filename_lr"]:
        for ext in (".hea", ".dat"):
            os.symlink(ptbxl_path / (name + ext), folder / (name + ext))
    return folder, db


# ------------------------------------------------------------------------------ strat_fold
@pytest.mark.parametrize("cell, shown", [("x", "'x'"), ("", "empty"), ("3.5", "3.5"),
                                         ("fold 2", "'fold 2'")])
@pytest.mark.parametrize("folds", [None, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]])
def test_non_numeric_strat_fold_names_the_cell(ptbxl_path, tmp_path, cell, shown, folds):
    folder, db = _ptbxl_copy(ptbxl_path, tmp_path)
    db["strat_fold"] = db["strat_fold"].astype(object)
    db.loc[4, "strat_fold"] = cell
    db.to_csv(folder / "ptbxl_database.csv", index=False)
    with pytest.raises(ValueError) as info:
        load_ptbxl(folder, folds=folds)
    message = str(info.value)
    assert "\n" not in message and "no PTB-XL record has strat_fold" not in message
    assert f"strat_fold of ecg_id {db.loc[4, 'ecg_id']} is {shown}" in message
    assert "expected a fold number (1-10)" in message and "ptbxl_database.csv" in message


def test_numeric_strat_fold_still_loads(ptbxl_path, tmp_path):
    folder, db = _ptbxl_copy(ptbxl_path, tmp_path)
    data = load_ptbxl(folder, folds=[db.loc[0, "strat_fold"]])
    assert data.meta["strat_fold"].dtype == np.int64 and len(data.X) >= 1


@pytest.mark.parametrize("folds, position, shown", [
    (np.array([1, 2, "x", 4], dtype=object), 2, "'x'"),
    (np.array([1.0, np.nan, 3.0]), 1, "empty"),
    (pd.DataFrame({"strat_fold": [1, 2, None, "9b"]}), 2, "empty"),
])
def test_split_helpers_name_the_record_whose_fold_is_not_a_number(folds, position, shown):
    for split in (lambda f: ptbxl_split(f), lambda f: first_k_folds(f, 1)):
        with pytest.raises(ValueError, match=f"record {position} has {shown}"):
            split(folds)
    assert list(ptbxl_split(np.array(["1", "9", "10"], dtype=object)).test) == [2]


# --------------------------------------------------------------- paths that are not files
def _one_record(src_header, folder):
    folder.mkdir(exist_ok=True)
    shutil.copy(src_header, folder)
    return folder / src_header.name


@pytest.mark.parametrize("source", ["ptbxl", "challenge"])
@pytest.mark.parametrize("kind", ["folder", "broken link"])
def test_signal_path_that_is_not_a_file_is_not_called_missing(ptbxl_path, challenge_path,
                                                               tmp_path, source, kind):
    src = (ptbxl_path / "records100/00000/00001_lr.hea" if source == "ptbxl"
           else challenge_path / "E07500.hea")
    header = _one_record(src, tmp_path / "records")
    signal = header.with_suffix(".dat" if source == "ptbxl" else ".mat")
    if kind == "folder":
        signal.mkdir()
    else:
        os.symlink(tmp_path / "nowhere", signal)
    expected = "is a folder, not a file" if kind == "folder" else "is a broken link"
    loaders = [lambda: load_wfdb(header), lambda: load_wfdb(tmp_path / "records")]
    if source == "challenge":
        loaders.append(lambda: load_physionet_challenge(tmp_path / "records"))
    for load in loaders:
        with pytest.raises(ValueError) as info:
            load()
        message = str(info.value)
        assert f"signal file {signal} named in the header {expected}" in message, message
        assert "missing" not in message and "\n" not in message


def test_header_path_that_is_a_folder_is_named(ptbxl_path, tmp_path):
    header = _one_record(ptbxl_path / "records100/00000/00001_lr.hea", tmp_path / "r")
    os.symlink(ptbxl_path / "records100/00000/00001_lr.dat", tmp_path / "r" / "00001_lr.dat")
    (tmp_path / "r" / "odd.hea").mkdir()
    for records in ([tmp_path / "r" / "odd.hea"], [header, tmp_path / "r" / "odd"]):
        with pytest.raises(FileNotFoundError, match=r"odd.hea is a folder, not a file"):
            load_wfdb(records)
    with pytest.warns(UserWarning, match="odd.hea is a folder, not a file"):
        assert len(load_wfdb([header, tmp_path / "r" / "odd"], on_error="skip").X) == 1


def test_ptbxl_record_header_that_is_a_folder_is_named(ptbxl_path, tmp_path):
    folder, db = _ptbxl_copy(ptbxl_path, tmp_path, n=5)
    odd = folder / (db.loc[2, "filename_lr"] + ".hea")
    odd.unlink()
    odd.mkdir()
    with pytest.raises(FileNotFoundError, match=f"header {odd} is a folder, not a file"):
        load_ptbxl(folder)


# ------------------------------------------------------------------ leads= on every loader
@pytest.mark.parametrize("leads", [("V1", "II"), ("ii", "avr", "V6"), None])
def test_load_ptbxl_takes_leads_like_the_other_loaders(ptbxl_path, leads):
    data = load_ptbxl(ptbxl_path, folds=[10], leads=leads)
    wfdb = load_wfdb([ptbxl_path / f for f in data.meta["filename"]], leads=leads)
    np.testing.assert_array_equal(data.X, wfdb.X)
    assert data.lead_names == wfdb.lead_names
    assert data.X.shape[1] == (12 if leads is None else len(leads))
    full = load_ptbxl(ptbxl_path, folds=[10])
    assert full.lead_names == tuple(LEAD_NAMES)
    if leads is not None:
        index = [[n.lower() for n in LEAD_NAMES].index(n.lower()) for n in leads]
        np.testing.assert_array_equal(data.X, full.X[:, index])


@pytest.mark.parametrize("leads, error", [(["V7"], "lead\\(s\\) \\['V7'\\] not found"),
                                          (["V1", "v1"], "duplicates"), ([], "non-empty")])
def test_load_ptbxl_bad_leads_are_named(ptbxl_path, leads, error):
    with pytest.raises(ValueError, match=error):
        load_ptbxl(ptbxl_path, folds=[10], leads=leads)
