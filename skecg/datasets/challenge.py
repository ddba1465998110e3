"""PhysioNet/Computing in Cardiology Challenge 2020/2021 loader (``.hea`` + ``.mat`` records)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from .. import LEAD_NAMES
from ._wfdb import _load, _names, _warn_skipped, check_common_params, check_params, find_headers

_COMMENT_RE = re.compile(r"^\s*#?\s*([A-Za-z]+)\s*:\s*(.*?)\s*$")
_SEX_CODE = {"male": 0.0, "m": 0.0, "female": 1.0, "f": 1.0}  # PTB-XL coding: 0 male, 1 female


def parse_challenge_comments(lines: Sequence[str]) -> dict:
    """Read ``Age``, ``Sex`` and ``Dx`` from header comment lines.

    Accepts ``# Age: 78``, ``#Age: 85``, ``Age: NaN``, ``Sex: Unknown`` and the like.

    Returns
    -------
    dict with ``age`` (float years, NaN if unknown), ``sex`` (0.0 male, 1.0 female, NaN if
    unknown) and ``dx`` (list of SNOMED-CT code strings, in file order).
    """
    fields: dict[str, str] = {}
    for line in lines:
        match = _COMMENT_RE.match(line)
        if match:
            fields.setdefault(match.group(1).lower(), match.group(2))
    try:
        age = float(fields.get("age", "nan"))
    except ValueError:
        age = math.nan
    if not (age >= 0):  # NaN or negative
        age = math.nan
    sex = _SEX_CODE.get(fields.get("sex", "").strip().lower(), math.nan)
    dx = [code.strip() for code in re.split(r"[,;\s]+", fields.get("dx", "")) if code.strip()]
    return {"age": age, "sex": sex, "dx": dx}


def _read_comments(header: Path) -> list[str]:
    try:
        text = header.read_text(encoding="latin-1")
    except OSError as exc:
        raise FileNotFoundError(f"cannot read header {header}: {exc.strerror or exc}") from exc
    return [line for line in text.splitlines() if line.lstrip().startswith("#")]


def _mapping_from(label_mapping) -> dict[str, str]:
    if isinstance(label_mapping, pd.DataFrame):
        lower = {str(c).lower().replace(" ", "").replace("_", ""): c
                 for c in label_mapping.columns}
        code_col = next((lower[c] for c in lower if "snomed" in c or c == "code"), None)
        name_col = next((lower[c] for c in ("abbreviation", "abbr", "name", "dx", "class")
                         if c in lower), None)
        if code_col is None or name_col is None:
            raise ValueError("label_mapping DataFrame must have a SNOMED code column (e.g. "
                             "'SNOMEDCTCode') and a class column ('Abbreviation', 'Dx', "
                             f"'name' or 'class'); got columns {list(label_mapping.columns)}")
        pairs = zip(label_mapping[code_col], label_mapping[name_col], strict=True)
    elif isinstance(label_mapping, pd.Series):
        pairs = label_mapping.items()
    elif isinstance(label_mapping, Mapping):
        pairs = label_mapping.items()
    else:
        raise TypeError("label_mapping must be None, a dict {SNOMED code: class}, a Series or a "
                        f"DataFrame; got {type(label_mapping).__name__}")
    return {str(code).strip(): str(name) for code, name in pairs}


def _check_prefixes(exclude_prefixes) -> tuple[str, ...]:
    """``exclude_prefixes`` as a tuple of lower-case prefixes (matching is case-insensitive)."""
    if isinstance(exclude_prefixes, str):
        exclude_prefixes = (exclude_prefixes,)
    if exclude_prefixes is None:
        return ()
    try:
        prefixes = tuple(exclude_prefixes)
    except TypeError:
        raise TypeError("exclude_prefixes must be a string or a sequence of strings; got "
                        f"{exclude_prefixes!r}") from None
    if not all(isinstance(p, str) and p for p in prefixes):
        raise ValueError("exclude_prefixes must hold non-empty strings (record name prefixes "
                         f"such as 'HR'); got {exclude_prefixes!r}")
    return tuple(p.lower() for p in prefixes)


def load_physionet_challenge(
    path: str | os.PathLike,
    fs: float = 100,
    duration: float = 10,
    *,
    label_mapping=None,
    exclude_prefixes: Sequence[str] = (),
    leads: Sequence[str] = LEAD_NAMES,
    crop: str = "start",
    pad: str = "zeros",
    drop_unlabeled: bool = True,
    n_jobs: int | None = 1,
    cache_dir: str | os.PathLike | None = None,
    on_error: str = "raise",
    verbose: bool | int = False,
) -> Bunch:
    """Load PhysioNet/CinC Challenge 2020/2021 records with SNOMED-CT multi-hot labels.

    Finds ``*.hea`` recursively under ``path`` (sorted by path); reads the ``.mat`` signals
    (format 16 with the header's byte offset, or ``scipy.io.loadmat`` ``'val'``), scales them by
    the header's gain/baseline and unit (``mV``, ``mv``, ``uV``), resamples from any source rate
    (500, 257, 1000 Hz, ...) to ``fs`` and crops/pads to ``duration``.

    Parameters
    ----------
    path : path
        Folder of challenge records (any depth of sub-folders; links to folders are followed,
        each real folder once).
    fs : float
        Output sampling rate, Hz.
    duration : float
        Output length, seconds (``round(fs * duration)`` samples); see ``crop`` and ``pad``.
    label_mapping : None, dict, Series or DataFrame
        None: one label per SNOMED-CT code found in ``# Dx:`` (columns are the code strings,
        sorted). Otherwise a map from code to class (e.g. the challenge's scored classes; map
        equivalent codes to the same class); a DataFrame needs a SNOMED code column and an
        ``Abbreviation`` / ``Dx`` column, like ``dx_mapping_scored.csv``. Unmapped codes are
        ignored; label columns are the classes in order of first appearance in the mapping.
    exclude_prefixes : str or sequence of str
        Drop records whose name starts with one of these, compared case-insensitively, e.g.
        ``("HR",)`` to leave out the PTB-XL-derived records when evaluating on PTB-XL (leakage
        control). Reported in ``excluded``.
    leads, crop, pad, n_jobs, cache_dir, on_error, verbose
        As in :func:`load_wfdb`.
    drop_unlabeled : bool
        Drop records with no label (no ``Dx``, or none mapped); counted in ``dropped_no_label``.

    Returns
    -------
    Bunch with
        X : np.ndarray or np.memmap of shape (n_records, n_leads, round(fs * duration)),
            float32, mV
        y : np.ndarray of shape (n_records, n_labels), float32 multi-hot
        label_names : list of str
        meta : DataFrame with ``record``, ``path`` (without extension), ``source`` (the name's
            letter prefix, e.g. 'E', 'HR', 'JS'), ``age`` (years, NaN if unknown), ``sex``
            (0 male, 1 female, NaN unknown; PTB-XL coding), ``dx`` (codes, comma-separated),
            ``fs_original``, ``n_samples_original``
        fs : float, Hz
        lead_names : tuple of str
        excluded : list of str, record names dropped by ``exclude_prefixes``
        dropped_no_label : int
        missing : list, always empty (records are found on disk)
        skipped : dict, header path -> reason (``on_error='skip'`` only)

    Raises
    ------
    FileNotFoundError
        ``path`` is not a folder or holds no ``.hea`` file.
    ValueError
        A record cannot be read (``on_error='raise'``), or nothing is left to load.
    """
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ValueError(f"path must be the folder of challenge records; got {path!r}")
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"challenge folder {path} does not exist: expected a folder of "
                                "'<record>.hea' + '<record>.mat' files")
    check_common_params(on_error=on_error, n_jobs=n_jobs)
    leads = check_params(fs, duration, leads, crop, pad)
    prefixes = _check_prefixes(exclude_prefixes)
    headers = find_headers(path)
    if not headers:
        raise FileNotFoundError(f"no challenge records found under {path}: expected "
                                "'<record>.hea' + '<record>.mat' files (searched recursively)")
    is_excluded = [bool(prefixes) and h.stem.lower().startswith(prefixes) for h in headers]
    excluded = [h.stem for h, out in zip(headers, is_excluded, strict=True) if out]
    headers = [h for h, out in zip(headers, is_excluded, strict=True) if not out]
    if not headers:
        raise ValueError(f"all {len(excluded)} records under {path} start with "
                         f"{exclude_prefixes}; nothing left to load")

    mapping = _mapping_from(label_mapping) if label_mapping is not None else None
    unreadable: dict[str, str] = {}
    comments = {}
    for h in headers:
        try:
            comments[h] = _read_comments(h)
        except FileNotFoundError as exc:
            if on_error == "raise":
                raise
            unreadable[str(h)] = str(exc)
    headers = [h for h in headers if h in comments]
    if not headers:
        raise ValueError(f"none of the records under {path} could be read: "
                         f"{_names(list(unreadable.values()), 3)}")
    parsed = [parse_challenge_comments(comments[h]) for h in headers]
    labels = [[mapping[c] for c in p["dx"] if c in mapping] if mapping is not None else p["dx"]
              for p in parsed]
    dropped_no_label = 0
    if drop_unlabeled:
        keep = [bool(lab) for lab in labels]
        dropped_no_label = keep.count(False)
        headers, parsed, labels = ([x for x, k in zip(seq, keep, strict=True) if k]
                                   for seq in (headers, parsed, labels))
        if not headers:
            raise ValueError(f"no record under {path} has a label"
                             + (" in label_mapping" if mapping is not None else " (# Dx:)"))

    loaded = _load(headers, fs=fs, duration=duration, leads=leads, crop=crop, pad=pad,
                   n_jobs=n_jobs, cache_dir=cache_dir, on_error=on_error, verbose=verbose,
                   warn=False)
    skipped = {**unreadable, **loaded.skipped}
    if skipped:
        _warn_skipped([], skipped, stacklevel=3)
        keep = [str(h) not in loaded.skipped for h in headers]
        parsed, labels = ([x for x, k in zip(seq, keep, strict=True) if k]
                          for seq in (parsed, labels))

    if mapping is not None:
        names = list(dict.fromkeys(mapping.values()))
    else:
        names = sorted(set().union(*map(set, labels)), key=lambda c: (len(c), c))
    column = {name: j for j, name in enumerate(names)}
    y = np.zeros((len(labels), len(names)), dtype=np.float32)
    for i, record_labels in enumerate(labels):
        y[i, [column[name] for name in record_labels]] = 1.0

    meta = loaded.meta
    meta.insert(2, "source", meta["record"].str.extract(r"^([A-Za-z]*)", expand=False))
    meta.insert(3, "age", [p["age"] for p in parsed])
    meta.insert(4, "sex", [p["sex"] for p in parsed])
    meta.insert(5, "dx", [",".join(p["dx"]) for p in parsed])
    meta = meta.drop(columns=["comments"])
    return Bunch(X=loaded.X, y=y, label_names=names, meta=meta, fs=loaded.fs,
                 lead_names=loaded.lead_names, excluded=excluded,
                 dropped_no_label=dropped_no_label, missing=[], skipped=skipped)
