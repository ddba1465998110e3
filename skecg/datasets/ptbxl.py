"""PTB-XL loader with the label tasks of the PTB-XL benchmark (Strodthoff et al. 2021)."""

from __future__ import annotations

import ast
import numbers
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from .. import LEAD_NAMES
from ._reader import why_not_a_file
from ._wfdb import _load, _names, _warn_skipped, check_common_params, check_params

TASKS = ("all", "diagnostic", "subdiagnostic", "superdiagnostic", "form", "rhythm")
_FILENAME_COLUMN = {100: "filename_lr", 500: "filename_hr"}
_META_COLUMNS = ["ecg_id", "patient_id", "strat_fold", "age", "sex"]


def _read_csv(path: Path, **kwargs) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, **kwargs)
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"{path} cannot be read as a CSV table ({type(exc).__name__}: {exc}); "
                         "expected the published PTB-XL file") from exc
    if table.empty:
        raise ValueError(f"{path} has no rows; expected the published PTB-XL file")
    return table


def _read_csvs(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not path.is_dir():
        raise FileNotFoundError(f"PTB-XL folder {path} does not exist: expected the published "
                                "layout with ptbxl_database.csv, scp_statements.csv and "
                                "records100/ / records500/")
    db_path, scp_path = path / "ptbxl_database.csv", path / "scp_statements.csv"
    for csv, what in ((db_path, "the record table (scp_codes, strat_fold, filename_lr, ...)"),
                      (scp_path, "the 71 SCP statements with diagnostic/form/rhythm flags")):
        if not csv.is_file():
            raise FileNotFoundError(f"{csv} not found: expected {what} in the PTB-XL folder")
    db = _read_csv(db_path)
    needed = {"ecg_id", "scp_codes", "strat_fold", "filename_lr", "filename_hr"}
    if not needed <= set(db.columns):
        raise ValueError(f"{db_path} lacks column(s) {sorted(needed - set(db.columns))}; "
                         "expected the published PTB-XL record table")
    scp = _read_csv(scp_path, index_col=0)
    needed = {"diagnostic", "form", "rhythm", "diagnostic_class", "diagnostic_subclass"}
    if not needed <= set(scp.columns):
        raise ValueError(f"{scp_path} lacks column(s) {sorted(needed - set(scp.columns))}; "
                         "expected the published PTB-XL statement table")
    return db, scp


def _task_mapping(scp: pd.DataFrame, task: str) -> dict[str, str]:
    """SCP code -> label name for ``task``."""
    if task == "all":
        return {code: code for code in scp.index}
    if task in ("form", "rhythm"):
        return {code: code for code in scp.index[scp[task] == 1]}
    diag = scp[scp["diagnostic"] == 1]
    if task == "diagnostic":
        return {code: code for code in diag.index}
    column = "diagnostic_subclass" if task == "subdiagnostic" else "diagnostic_class"
    return {code: name for code, name in diag[column].items() if isinstance(name, str)}


def _check_folds(folds) -> list[int]:
    if isinstance(folds, numbers.Integral) and not isinstance(folds, bool):
        folds = [folds]
    if isinstance(folds, (str, bytes)) or not isinstance(folds, Iterable):
        raise TypeError(f"folds must be None or an iterable of fold numbers (1-10); got "
                        f"{folds!r}")
    folds = list(folds)
    if not folds or not all(isinstance(f, numbers.Integral) and not isinstance(f, bool)
                            for f in folds):
        raise ValueError(f"folds must hold fold numbers (int, 1-10); got {folds!r}")
    return [int(f) for f in folds]


def _check_strat_fold(db: pd.DataFrame, csv: Path) -> pd.Series:
    """``strat_fold`` as int64; one line naming the first cell that is not a fold number."""
    column = db["strat_fold"]
    numbers_ = pd.to_numeric(column, errors="coerce")
    bad = numbers_.isna() | (numbers_ != numbers_.round())
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        cell = column.iloc[i]
        shown = "empty" if pd.isna(cell) else repr(cell) if isinstance(cell, str) else cell
        raise ValueError(f"{csv}: strat_fold of ecg_id {db['ecg_id'].iloc[i]} is "
                         f"{shown}; expected a fold number (1-10) in every row "
                         f"({int(bad.sum())} row(s) have none)")
    return numbers_.astype(np.int64)


def _parse_codes(text, row_id) -> dict:
    try:
        codes = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ValueError(f"ptbxl_database.csv: scp_codes of ecg_id {row_id} is {text!r}; "
                         "expected a Python dict string like \"{'NORM': 100.0}\"") from None
    if not isinstance(codes, dict):
        raise ValueError(f"ptbxl_database.csv: scp_codes of ecg_id {row_id} is not a dict")
    return codes


def load_ptbxl(
    path: str | os.PathLike,
    sampling_rate: int = 100,
    task: str = "all",
    *,
    label_names: None | str | Sequence[str] = None,
    folds: Iterable[int] | None = None,
    leads: Sequence[str] | None = LEAD_NAMES,
    n_jobs: int | None = 1,
    cache_dir: str | os.PathLike | None = None,
    on_error: str = "raise",
    verbose: bool | int = False,
) -> Bunch:
    """Load PTB-XL (Wagner et al. 2020) with multi-hot labels of a PTB-XL benchmark task.

    Parameters
    ----------
    path : path
        The PTB-XL folder as published: ``ptbxl_database.csv``, ``scp_statements.csv``,
        ``records100/``, ``records500/``.
    sampling_rate : {100, 500}
        Which published version to read (``filename_lr`` or ``filename_hr``); records are 10 s,
        so ``X`` has 1000 or 5000 samples per lead.
    task : {'all', 'diagnostic', 'subdiagnostic', 'superdiagnostic', 'form', 'rhythm'}
        Label set as in the PTB-XL benchmark: all 71 statements; the 44 diagnostic ones; their
        23 ``diagnostic_subclass``; their 5 ``diagnostic_class`` (NORM, MI, STTC, CD, HYP); the
        19 form or 12 rhythm statements. A statement counts whenever it appears in
        ``scp_codes``, whatever its likelihood (as in the benchmark code).
    label_names : None, 'task' or list of str
        Label columns. None: the task's labels that occur in the loaded records (sorted).
        ``'task'``: all labels of the task (sorted). A list: these labels, in this order (each
        must belong to the task).
    folds : int, iterable of int or None
        Keep only records whose ``strat_fold`` is in ``folds`` (1-10). None: all.
    leads : sequence of str or None
        Leads to return, in this order, as in :func:`load_wfdb` (names matched
        case-insensitively). Default: the 12 standard leads (``skecg.LEAD_NAMES``). None: all
        leads in the files' order.
    n_jobs, cache_dir, on_error, verbose
        As in :func:`load_wfdb`. With ``on_error='skip'`` unreadable records are left out and
        reported in one warning.

    Returns
    -------
    Bunch with
        X : np.ndarray or np.memmap of shape (n_records, n_leads, 10 * sampling_rate), float32,
            mV, leads in ``leads`` order (12, ``skecg.LEAD_NAMES``, by default)
        y : np.ndarray of shape (n_records, n_labels), float32 multi-hot (0.0 / 1.0)
        label_names : list of str
        meta : DataFrame with ``ecg_id``, ``patient_id``, ``strat_fold``, ``age``, ``sex``
            (0 male, 1 female, as in PTB-XL) and ``filename``, one row per row of ``X``
        fs : float, Hz
        lead_names : tuple of str
        missing : list of str, files listed in the CSV but absent on disk (one warning says how
            many)
        dropped_no_label : int, records without any label of ``task`` (not loaded)
        skipped : dict, record -> reason (``on_error='skip'`` only)
        task : str

    Raises
    ------
    FileNotFoundError
        The folder or one of the CSV files is missing; no listed record exists on disk.
    ValueError
        Unknown task / sampling rate / label name; an unreadable record (``on_error='raise'``).
    """
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ValueError(f"path must be the PTB-XL folder; got {path!r}")
    path = Path(path)
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}; got {task!r}")
    if sampling_rate not in _FILENAME_COLUMN:
        raise ValueError(f"sampling_rate must be 100 or 500 (the published PTB-XL versions); "
                         f"got {sampling_rate!r}")
    check_common_params(on_error=on_error, n_jobs=n_jobs)
    leads = check_params(None, None, leads, "start", "zeros")
    db, scp = _read_csvs(path)
    db["strat_fold"] = _check_strat_fold(db, path / "ptbxl_database.csv")
    if folds is not None:
        folds = _check_folds(folds)
        db = db[db["strat_fold"].isin(folds)]
        if db.empty:
            raise ValueError(f"no PTB-XL record has strat_fold in {folds}")

    mapping = _task_mapping(scp, task)
    task_labels = sorted(set(mapping.values()))
    record_labels = [
        {mapping[c] for c in _parse_codes(text, rid) if c in mapping}
        for text, rid in zip(db["scp_codes"], db["ecg_id"], strict=True)
    ]
    has_label = np.array([bool(labels) for labels in record_labels], dtype=bool)
    dropped_no_label = int((~has_label).sum())
    db = db[has_label]
    record_labels = [labels for labels, keep in zip(record_labels, has_label, strict=True)
                     if keep]

    filenames = db[_FILENAME_COLUMN[sampling_rate]].astype(str).tolist()
    headers = [Path(os.path.abspath(path / (f + ".hea"))) for f in filenames]
    on_disk = np.array([h.is_file() for h in headers], dtype=bool)
    missing = [f for f, ok in zip(filenames, on_disk, strict=True) if not ok]
    odd = [h for h, ok in zip(headers, on_disk, strict=True) if not ok and os.path.lexists(h)]
    if odd and on_error == "raise":  # there but not a file: not "absent"
        raise FileNotFoundError(f"PTB-XL record header {odd[0]} {why_not_a_file(odd[0])}; "
                                "expected the published .hea file (pass on_error='skip' to "
                                "load the others)")
    if missing:
        if not on_disk.any():
            raise FileNotFoundError(f"none of the {len(filenames)} PTB-XL records at "
                                    f"{sampling_rate} Hz exist under {path} (e.g. "
                                    f"{_names(missing, 3)}.hea)")
        warnings.warn(f"{len(missing)} of {len(filenames)} PTB-XL records listed in "
                      f"ptbxl_database.csv are absent under {path} and were not loaded: "
                      f"{_names(missing)}", UserWarning, stacklevel=2)
        db = db[on_disk]
        headers = [h for h, ok in zip(headers, on_disk, strict=True) if ok]
        record_labels = [lab for lab, ok in zip(record_labels, on_disk, strict=True) if ok]

    loaded = _load(headers, fs=sampling_rate, duration=None, leads=leads, crop="start",
                   pad="zeros", n_jobs=n_jobs, cache_dir=cache_dir, on_error=on_error,
                   verbose=verbose, warn=False,
                   length_hint="PTB-XL records are 10 s; is the file damaged? pass "
                               "on_error='skip' to leave such records out")
    if loaded.skipped:
        _warn_skipped([], loaded.skipped, stacklevel=3)
        keep = ~pd.Series([str(h) for h in headers]).isin(list(loaded.skipped)).to_numpy()
        db = db[keep]
        record_labels = [lab for lab, ok in zip(record_labels, keep, strict=True) if ok]

    names = _resolve_label_names(label_names, task, task_labels, record_labels)
    column = {name: j for j, name in enumerate(names)}
    y = np.zeros((len(record_labels), len(names)), dtype=np.float32)
    for i, labels in enumerate(record_labels):
        for label in labels:
            j = column.get(label)
            if j is not None:
                y[i, j] = 1.0

    meta = db[[c for c in _META_COLUMNS if c in db.columns]].copy()
    meta["filename"] = db[_FILENAME_COLUMN[sampling_rate]].to_numpy()
    meta = meta.reset_index(drop=True)
    return Bunch(X=loaded.X, y=y, label_names=names, meta=meta, fs=loaded.fs,
                 lead_names=loaded.lead_names, missing=missing, skipped=loaded.skipped,
                 dropped_no_label=dropped_no_label, task=task)


def _resolve_label_names(label_names, task, task_labels, record_labels) -> list[str]:
    if label_names is None:
        present = set().union(*record_labels) if record_labels else set()
        return [name for name in task_labels if name in present]
    if isinstance(label_names, str):
        if label_names != "task":
            raise ValueError(f"label_names must be None, 'task' or a list of labels; got "
                             f"{label_names!r}")
        return list(task_labels)
    names = [str(n) for n in label_names]
    unknown = [n for n in names if n not in set(task_labels)]
    if unknown:
        raise ValueError(f"label_names {unknown} are not labels of task {task!r}; expected "
                         f"some of {task_labels}")
    if len(set(names)) != len(names):
        raise ValueError(f"label_names has duplicates: {names}")
    return names
