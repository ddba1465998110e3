"""CODE (Brazil, Telehealth Network of Minas Gerais) ECG: CODE-15% and the CODE test set.

Both are published as HDF5 (``h5py``: ``pip install skecg[code]``). ``tracings`` has shape
(n, 4096, 12), float32 at 400 Hz, leads DI, DII, DIII, aVR, aVL, aVF, V1-V6 (skecg's
``LEAD_NAMES`` order). 10 s (4000 samples) and 7 s (2800 samples) exams are zero-padded on both
sides to 4096 samples; the loaders strip that padding (leading and trailing samples that are 0 on
all 12 leads), resample what is left to ``fs`` and crop/pad it to ``duration`` like
:func:`load_physionet_challenge`. Files are read part by part and chunk by chunk.

Amplitude units. The data READMEs state that the tracings are "at the scale 1e-4V: so it should
be multiplied by 1000 in order to obtain the signals in V", which contradicts itself; the group's
conversion script (github.com/antonior92/ecg-preprocessing, README: CODE-15% was made with
``generate_h5.py --scale 2 --use_all_leads --new_freq 400 --new_len 4096``) multiplies the WFDB
physical signal by 2; the PhysioNet Challenge 2025 organisers' ``prepare_code15_data.py`` writes
the CODE-15% tracings to WFDB unchanged with ``units='mV'`` (gain 1000/mV). The default here
follows the Challenge: ``units="mV"``, values taken as millivolts. ``units="1e-4V"`` (0.1 mV per
unit) and ``scale`` (e.g. 0.5 to undo the documented factor 2) are there for users who read the
evidence otherwise.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import resample_poly
from sklearn.utils import Bunch

from .. import LEAD_NAMES
from ._header import RecordError
from ._reader import CROP_POLICIES, PAD_POLICIES, fit_length, resample_ratio

CODE_LABELS = ("1dAVb", "RBBB", "LBBB", "SB", "AF", "ST")
CODE_FS = 400.0
CODE_N_SAMPLES = 4096
# file order; skecg names match case-insensitively with "DI" -> "I" etc.
CODE_LEADS = ("DI", "DII", "DIII", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")
UNITS = {"mV": 1.0, "1e-4V": 0.1, "0.1mV": 0.1, "uV": 1e-3, "V": 1e3}  # mV per stored unit
_CHUNK = 512  # records read from HDF5 at a time (512 x 4096 x 12 float32 = 100 MB)
_PART_RE = re.compile(r"exams_part(\d+)\.hdf5$")


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("reading CODE HDF5 files needs h5py: pip install 'skecg[code]' "
                          "(or pip install h5py)") from None
    return h5py


@dataclass
class _Spec:
    fs: float
    n_out: int
    channels: list[int]
    factor: float
    crop: str
    pad: str
    up: int = 1
    down: int = 1


def _make_spec(fs, duration, leads, units, scale, crop, pad) -> _Spec:
    if not (isinstance(fs, (int, float)) and not isinstance(fs, bool) and fs > 0):
        raise ValueError(f"fs must be a positive number of Hz; got {fs!r}")
    if not (isinstance(duration, (int, float)) and not isinstance(duration, bool)
            and duration > 0):
        raise ValueError(f"duration must be a positive number of seconds; got {duration!r}")
    if crop not in CROP_POLICIES:
        raise ValueError(f"crop must be one of {CROP_POLICIES}; got {crop!r}")
    if pad not in PAD_POLICIES:
        raise ValueError(f"pad must be one of {PAD_POLICIES}; got {pad!r}")
    if units not in UNITS:
        raise ValueError(f"units must be one of {sorted(UNITS)} (what one stored unit is); "
                         f"got {units!r}")
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive finite number; got {scale!r}")
    if isinstance(leads, str):
        leads = (leads,)
    aliases = {name.lower(): i for i, name in enumerate(LEAD_NAMES)}
    aliases.update({name.lower(): i for i, name in enumerate(CODE_LEADS)})
    unknown = [lead for lead in leads if str(lead).lower() not in aliases]
    if unknown:
        raise ValueError(f"lead {unknown[0]!r} is not a CODE lead; expected names from "
                         f"{list(LEAD_NAMES)}")
    channels = [aliases[str(lead).lower()] for lead in leads]
    if not channels or len(set(channels)) != len(channels):
        raise ValueError(f"leads must be a non-empty list without duplicates; got {leads!r}")
    up, down = resample_ratio(fs, CODE_FS)
    return _Spec(fs=float(fs), n_out=int(round(fs * duration)), channels=channels,
                 factor=UNITS[units] * float(scale), crop=crop, pad=pad, up=up, down=down)


def _open_tracings(h5, file: Path):
    """Open ``file`` and return (h5py.File, its ``tracings`` dataset), checked."""
    try:
        handle = h5.File(file, "r")
    except OSError as exc:
        raise RecordError(f"{file}: cannot open as HDF5: {exc}") from exc
    if "tracings" not in handle:
        found = sorted(handle.keys())
        handle.close()
        raise RecordError(f"{file}: no 'tracings' dataset (found {found}); expected one of "
                          f"shape (n, {CODE_N_SAMPLES}, 12)")
    tracings = handle["tracings"]
    if tracings.ndim != 3 or tracings.shape[1:] != (CODE_N_SAMPLES, 12):
        shape = tracings.shape
        handle.close()
        raise RecordError(f"{file}: 'tracings' has shape {shape}; expected "
                          f"(n, {CODE_N_SAMPLES}, 12) (400 Hz samples x 12 leads)")
    return handle, tracings


def _process(raw: np.ndarray, names: list[str], spec: _Spec):
    """Turn raw tracings (k, 4096, 12) into (k, n_leads, n_out) mV; errors by record name.

    Returns (signals of the good records, their row positions, active samples, {name: reason}).
    """
    errors: dict[str, str] = {}
    finite = np.isfinite(raw).reshape(len(raw), -1).all(axis=1)
    active = (raw != 0).any(axis=2)  # (k, 4096): a sample is padding if 0 on every lead
    has_signal = active.any(axis=1)
    for i in np.flatnonzero(~finite):
        errors[names[i]] = "holds NaN or infinite values; expected finite samples"
    for i in np.flatnonzero(finite & ~has_signal):
        errors[names[i]] = "is all zeros (no signal after removing the zero padding)"
    good = np.flatnonzero(finite & has_signal)
    first = active[good].argmax(axis=1)
    stop = CODE_N_SAMPLES - active[good, ::-1].argmax(axis=1)
    lengths = stop - first
    out = np.empty((len(good), len(spec.channels), spec.n_out), dtype=np.float32)
    keep = np.ones(len(good), dtype=bool)
    for n in np.unique(lengths):
        group = np.flatnonzero(lengths == n)
        index = first[group, None] + np.arange(n)  # (g, n)
        rows = raw[good[group]][:, :, spec.channels]  # (g, 4096, n_leads)
        signal = np.take_along_axis(rows, index[:, :, None], axis=1).transpose(0, 2, 1)
        signal = signal.astype(np.float32) * np.float32(spec.factor)
        if spec.up != spec.down:
            signal = resample_poly(signal, spec.up, spec.down, axis=-1).astype(np.float32)
        if signal.shape[-1] < spec.n_out and spec.pad == "error":
            for g in group:
                errors[names[good[g]]] = (f"has {signal.shape[-1]} samples after removing the "
                                          f"padding and resampling; expected at least "
                                          f"{spec.n_out} (duration x fs) and pad='error'")
            keep[group] = False
            continue
        g, n_leads, n_res = signal.shape
        fitted = fit_length(signal.reshape(g * n_leads, n_res), spec.n_out, spec.crop, spec.pad,
                            names[good[group[0]]])
        out[group] = fitted.reshape(g, n_leads, spec.n_out)
    return out[keep], good[keep], lengths[keep], errors


def _finish_errors(errors: dict, on_error: str, what: str) -> None:
    if errors and on_error == "raise":
        name, reason = next(iter(errors.items()))
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ValueError(f"{what} {name} {reason}{more}; pass on_error='skip' to load the rest")


def _progress(total, verbose, desc):
    if not verbose:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="rec")


# --------------------------------------------------------------------------------------------
# CODE-15%
# --------------------------------------------------------------------------------------------


def _read_exams(path: Path, label_names: Sequence[str]) -> pd.DataFrame:
    csv = path / "exams.csv"
    if not csv.is_file():
        raise FileNotFoundError(f"CODE-15% folder {path} has no exams.csv: expected exams.csv "
                                "and exams_part0.hdf5 ... exams_part17.hdf5")
    exams = pd.read_csv(csv)
    required = ["exam_id", "patient_id", *label_names]
    absent = [c for c in required if c not in exams.columns]
    if absent:
        raise ValueError(f"{csv} lacks column(s) {absent}; it has {list(exams.columns)}")
    if exams["exam_id"].duplicated().any():
        dup = exams.loc[exams["exam_id"].duplicated(), "exam_id"].iloc[0]
        raise ValueError(f"{csv} lists exam_id {dup} more than once")
    for name in label_names:
        values = exams[name]
        if values.dtype != bool and not values.isin([0, 1, True, False]).all():
            raise ValueError(f"{csv}: label column {name!r} must hold True/False or 0/1; got "
                             f"{values[~values.isin([0, 1, True, False])].iloc[0]!r}")
    return exams.set_index("exam_id", drop=False)


def _part_files(path: Path, exams: pd.DataFrame, parts) -> list[str]:
    files = exams["trace_file"].dropna() if "trace_file" in exams.columns else []
    listed = sorted({str(f) for f in files},
                    key=lambda f: (int(m.group(1)) if (m := _PART_RE.search(f)) else 1 << 30, f))
    if parts is None:
        return listed or sorted((p.name for p in path.glob("exams_part*.hdf5")),
                                key=lambda f: int(_PART_RE.search(f).group(1)))
    if isinstance(parts, (int, np.integer, str)):
        parts = [parts]
    names = [f"exams_part{int(p)}.hdf5" if isinstance(p, (int, np.integer)) else str(p)
             for p in parts]
    if len(set(names)) != len(names):
        raise ValueError(f"parts has duplicates: {list(parts)}")
    return names


def load_code15(
    path: str | os.PathLike,
    fs: float = 100,
    duration: float = 10,
    *,
    parts=None,
    label_names: Sequence[str] = CODE_LABELS,
    leads: Sequence[str] = LEAD_NAMES,
    crop: str = "start",
    pad: str = "zeros",
    units: str = "mV",
    scale: float = 1.0,
    on_error: str = "raise",
    verbose: bool | int = False,
) -> Bunch:
    """Load CODE-15% (345,779 exams of 233,770 patients; Ribeiro et al., Zenodo 4916206).

    Reads ``exams.csv`` and the ``exams_partN.hdf5`` files (``tracings`` (n, 4096, 12) at
    400 Hz and ``exam_id`` (n,)), part by part and 512 exams at a time. A row whose
    ``exam_id`` is 0 (the parts' zero padding row) is dropped. The whole of CODE-15% at 100 Hz
    and 10 s is 16.6 GB: load it into an :class:`~skecg.datasets.ECGStore` part by part with
    :func:`code15_sources`.

    Parameters
    ----------
    path : path
        Folder with ``exams.csv`` and the part files.
    fs : float
        Output sampling rate in Hz (``scipy.signal.resample_poly`` from 400 Hz).
    duration : float
        Output length in seconds; see ``crop`` and ``pad``.
    parts : None, int, str or sequence of them
        Parts to load (``3`` or ``"exams_part3.hdf5"``); None: every part ``exams.csv`` names in
        ``trace_file``.
    label_names : sequence of str
        Boolean columns of ``exams.csv`` that make ``y`` (default the 6 abnormalities, in the
        CODE test set's order; add ``"normal_ecg"`` for that one).
    leads : sequence of str
        Leads in this order, by skecg name (``"I"``, ``"aVR"``) or CODE name (``"DI"``,
        ``"AVR"``).
    crop, pad : str
        As in :func:`load_physionet_challenge` (7 s exams are padded to ``duration``).
    units : {"mV", "1e-4V", "0.1mV", "uV", "V"}
        What one stored unit is; see the module docstring for the evidence behind "mV".
    scale : float
        Extra factor applied after ``units`` (e.g. 0.5 to undo the documented x2).
    on_error : {"raise", "skip"}
        ``"skip"`` leaves out unreadable part files, exams not in ``exams.csv``, exams with
        non-finite values or no signal, and reports them in ``missing`` / ``skipped``.
    verbose : bool or int
        tqdm progress bar over exams.

    Returns
    -------
    Bunch with
        X : np.ndarray of shape (n_records, n_leads, round(fs * duration)), float32, mV
        y : np.ndarray of shape (n_records, n_labels), float32 0/1
        label_names : list of str
        meta : DataFrame with ``record`` (the exam id as text), ``source`` ("CODE-15%"),
            ``sex`` (0 male, 1 female: PTB-XL coding), ``part``, ``row``, ``fs_original``,
            ``n_samples_original`` (samples without the padding, at 400 Hz) and the other
            columns of ``exams.csv`` (``exam_id``, ``patient_id``, ``age``, ``is_male``,
            ``normal_ecg``, ``death``, ``timey``, ``nn_predicted_age``, ``trace_file``)
        fs : float
        lead_names : tuple of str
        missing : list of str, part files absent and exams listed in ``exams.csv`` for a loaded
            part but absent from it (``"exams_part3.hdf5:12345"``)
        skipped : dict, part file or ``"part:exam_id"`` -> reason
        excluded : list, empty
        dropped_no_label : int, 0

    Raises
    ------
    FileNotFoundError
        No ``exams.csv``, or a part file is absent (``on_error="raise"``).
    ValueError
        A part file lacks ``tracings`` / ``exam_id`` or has the wrong shape, an exam is not in
        ``exams.csv``, holds non-finite values or is all zeros (``on_error="raise"``).
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip'; got {on_error!r}")
    h5 = _h5py()
    path = Path(path)
    spec = _make_spec(fs, duration, leads, units, scale, crop, pad)
    label_names = [label_names] if isinstance(label_names, str) else list(label_names)
    exams = _read_exams(path, label_names)
    files = _part_files(path, exams, parts)
    missing = [f for f in files if not (path / f).is_file()]
    if missing and on_error == "raise":
        raise FileNotFoundError(f"CODE-15% part file(s) absent from {path}: {missing}; pass "
                                "on_error='skip' or parts=[...] to load the others")
    skipped: dict[str, str] = {}
    # exam ids of each part first (small): sizes the output and finds bad ids before reading
    plans = []
    for name in files:
        if name in missing:
            continue
        try:
            handle, tracings = _open_tracings(h5, path / name)
        except RecordError as exc:
            if on_error == "raise":
                raise ValueError(str(exc)) from None
            skipped[name] = str(exc)
            continue
        with handle:
            if "exam_id" not in handle or handle["exam_id"].shape != (tracings.shape[0],):
                shape = handle["exam_id"].shape if "exam_id" in handle else None
                reason = (f"{path / name}: 'exam_id' has shape {shape}; expected "
                          f"({tracings.shape[0]},), one id per tracing")
                if on_error == "raise":
                    raise ValueError(reason)
                skipped[name] = reason
                continue
            ids = np.asarray(handle["exam_id"][:]).astype(np.int64)
        unknown = [int(e) for e in ids if e != 0 and e not in exams.index]
        for exam_id in unknown:
            skipped[f"{name}:{exam_id}"] = "exam_id is not in exams.csv"
        if unknown and on_error == "raise":
            raise ValueError(f"{path / name}: exam_id {unknown[0]} is not in exams.csv"
                             + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))
        listed = (exams.index[exams["trace_file"] == name].tolist()
                  if "trace_file" in exams.columns else [])
        absent = sorted(set(listed) - set(ids.tolist()))
        if absent and on_error == "raise":
            raise ValueError(f"exams.csv lists {len(absent)} exam(s) in {name} that the file "
                             f"does not hold (first: exam_id {absent[0]})")
        missing.extend(f"{name}:{e}" for e in absent)
        plans.append((name, ids))
    all_ids = np.concatenate([ids[ids != 0] for _, ids in plans]) if plans else np.array([])
    if len(np.unique(all_ids)) != len(all_ids):
        values, counts = np.unique(all_ids, return_counts=True)
        raise ValueError(f"exam_id {values[counts > 1][0]} occurs more than once in the parts")

    total = sum(int(np.isin(ids, exams.index).sum()) for _, ids in plans)
    X = np.empty((total, len(spec.channels), spec.n_out), dtype=np.float32)
    rows, n = [], 0
    bar = _progress(total, verbose, "loading CODE-15%")
    for name, ids in plans:
        handle, tracings = _open_tracings(h5, path / name)
        with handle:
            for start in range(0, len(ids), _CHUNK):
                chunk_ids = ids[start:start + _CHUNK]
                wanted = np.flatnonzero((chunk_ids != 0) & np.isin(chunk_ids, exams.index))
                if not len(wanted):
                    continue
                raw = tracings[start:start + _CHUNK][wanted]
                names = [f"{name}:{chunk_ids[i]}" for i in wanted]
                signals, good, lengths, errors = _process(raw, names, spec)
                _finish_errors(errors, on_error, "CODE-15% exam")
                skipped.update(errors)
                X[n:n + len(signals)] = signals
                n += len(signals)
                for g, length in zip(good, lengths, strict=True):
                    rows.append({"exam_id": int(chunk_ids[wanted[g]]), "part": name,
                                 "row": start + int(wanted[g]), "n_samples_original": int(length)})
                if bar is not None:
                    bar.update(len(wanted))
    if bar is not None:
        bar.close()
    if n == 0:
        raise ValueError(f"no CODE-15% exam could be loaded from {path}")
    if missing or skipped:
        warnings.warn(f"CODE-15%: {len(missing)} part(s)/exam(s) absent and {len(skipped)} "
                      "skipped; see the result's 'missing' and 'skipped'", UserWarning,
                      stacklevel=2)
    X = X[:n] if n == len(X) else X[:n].copy()
    found = pd.DataFrame(rows)
    table = exams.loc[found["exam_id"]].reset_index(drop=True)
    y = table[label_names].astype(np.float32).to_numpy()
    meta = table.drop(columns=label_names)
    meta.insert(0, "record", meta["exam_id"].astype(str))
    meta.insert(1, "source", "CODE-15%")
    if "is_male" in meta.columns:
        meta.insert(2, "sex", np.where(meta["is_male"].astype(bool), 0.0, 1.0))
    meta["part"] = found["part"].to_numpy()
    meta["row"] = found["row"].to_numpy()
    meta["fs_original"] = CODE_FS
    meta["n_samples_original"] = found["n_samples_original"].to_numpy()
    return Bunch(X=X, y=y, label_names=label_names, meta=meta, fs=spec.fs,
                 lead_names=tuple(LEAD_NAMES[c] for c in spec.channels), missing=missing,
                 skipped=skipped, excluded=[], dropped_no_label=0)


def code15_sources(path: str | os.PathLike, **kwargs) -> dict[str, Callable[[], Bunch]]:
    """One loader per CODE-15% part, for :func:`~skecg.datasets.build_ecg_store`.

    Parameters
    ----------
    path : path
        The CODE-15% folder.
    **kwargs
        Passed to :func:`load_code15` (``fs``, ``duration``, ``units``...), except ``parts``.

    Returns
    -------
    dict ``"code15/exams_partN.hdf5"`` -> callable returning that part's Bunch.
    """
    if "parts" in kwargs:
        raise TypeError("code15_sources makes one source per part; do not pass parts=")
    files = _part_files(Path(path), _read_exams(Path(path), kwargs.get("label_names",
                                                                       CODE_LABELS)), None)
    return {f"code15/{name}": _PartLoader(path, name, kwargs) for name in files}


@dataclass
class _PartLoader:
    path: str | os.PathLike
    part: str
    kwargs: dict

    def __call__(self) -> Bunch:
        return load_code15(self.path, parts=[self.part], **self.kwargs)


# --------------------------------------------------------------------------------------------
# CODE test set
# --------------------------------------------------------------------------------------------


def load_code_test(
    path: str | os.PathLike,
    fs: float = 100,
    duration: float = 10,
    *,
    annotations: str | os.PathLike | None = "gold_standard",
    leads: Sequence[str] = LEAD_NAMES,
    crop: str = "start",
    pad: str = "zeros",
    units: str = "mV",
    scale: float = 1.0,
    on_error: str = "raise",
    verbose: bool | int = False,
) -> Bunch:
    """Load the CODE test set (827 exams, 6 labels; Ribeiro et al. 2020, Zenodo 3765780).

    Parameters
    ----------
    path : path
        Folder with ``ecg_tracings.hdf5`` (``tracings`` (827, 4096, 12) at 400 Hz), optionally
        ``attributes.csv`` (``age``, ``sex`` M/F) and ``annotations/*.csv``.
    fs, duration, leads, crop, pad, units, scale, on_error, verbose
        As in :func:`load_code15`.
    annotations : str, path or None
        Name of a file in ``annotations/`` (``"gold_standard"``, ``"cardiologist1"``,
        ``"dnn"``...) or a CSV path, with columns 1dAVb, RBBB, LBBB, SB, AF, ST and one row per
        tracing. None: no labels (``y`` is None), e.g. for pretraining.

    Returns
    -------
    Bunch with ``X`` (float32, mV), ``y`` (n, 6) or None, ``label_names``, ``meta``
    (``record`` "codetest_000"..., ``source`` "CODE-test", ``row``, ``age``, ``sex`` 0 male /
    1 female when ``attributes.csv`` is there, ``fs_original``, ``n_samples_original``), ``fs``,
    ``lead_names``, ``missing``, ``skipped``, ``excluded``, ``dropped_no_label``.

    Raises
    ------
    FileNotFoundError
        No ``ecg_tracings.hdf5`` or no annotation file.
    ValueError
        The file lacks ``tracings`` or has the wrong shape; the annotations' rows or columns do
        not match; a tracing is non-finite or all zeros (``on_error="raise"``).
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip'; got {on_error!r}")
    h5 = _h5py()
    path = Path(path)
    spec = _make_spec(fs, duration, leads, units, scale, crop, pad)
    file = path / "ecg_tracings.hdf5"
    if not file.is_file():
        raise FileNotFoundError(f"CODE test folder {path} has no ecg_tracings.hdf5")
    try:
        handle, tracings = _open_tracings(h5, file)
    except RecordError as exc:
        raise ValueError(str(exc)) from None
    with handle:
        n_total = tracings.shape[0]
        labels = _code_test_labels(path, annotations, n_total)
        X = np.empty((n_total, len(spec.channels), spec.n_out), dtype=np.float32)
        kept, lengths, skipped, n = [], [], {}, 0
        bar = _progress(n_total, verbose, "loading CODE test")
        for start in range(0, n_total, _CHUNK):
            raw = tracings[start:start + _CHUNK]
            names = [f"codetest_{i:03d}" for i in range(start, start + len(raw))]
            signals, good, length, errors = _process(raw, names, spec)
            _finish_errors(errors, on_error, f"{file}: tracing")
            skipped.update(errors)
            X[n:n + len(signals)] = signals
            n += len(signals)
            kept.extend(start + good)
            lengths.extend(length)
            if bar is not None:
                bar.update(len(raw))
        if bar is not None:
            bar.close()
    if n == 0:
        raise ValueError(f"no tracing of {file} could be loaded")
    if skipped:
        warnings.warn(f"CODE test: {len(skipped)} tracing(s) skipped; see 'skipped'",
                      UserWarning, stacklevel=2)
    kept = np.asarray(kept, dtype=np.int64)
    X = X if n == n_total else X[:n].copy()
    meta = pd.DataFrame({"record": [f"codetest_{i:03d}" for i in kept], "source": "CODE-test",
                         "row": kept})
    attributes = path / "attributes.csv"
    if attributes.is_file():
        table = pd.read_csv(attributes)
        if len(table) == n_total:
            if "age" in table.columns:
                meta["age"] = table["age"].to_numpy()[kept]
            if "sex" in table.columns:
                sex = table["sex"].astype(str).str.strip().str.upper().map({"M": 0.0, "F": 1.0})
                meta["sex"] = sex.to_numpy()[kept]
    meta["fs_original"] = CODE_FS
    meta["n_samples_original"] = np.asarray(lengths, dtype=np.int64)
    y = None if labels is None else labels[kept]
    return Bunch(X=X, y=y, label_names=list(CODE_LABELS) if labels is not None else [],
                 meta=meta, fs=spec.fs, lead_names=tuple(LEAD_NAMES[c] for c in spec.channels),
                 missing=[], skipped=skipped, excluded=[], dropped_no_label=0)


def _code_test_labels(path: Path, annotations, n_total: int) -> np.ndarray | None:
    if annotations is None:
        return None
    csv = Path(annotations)
    if csv.suffix.lower() != ".csv":
        csv = path / "annotations" / f"{annotations}.csv"
    if not csv.is_file():
        raise FileNotFoundError(f"CODE test annotations {csv} not found; expected "
                                "annotations/gold_standard.csv (or pass annotations=None)")
    table = pd.read_csv(csv)
    absent = [c for c in CODE_LABELS if c not in table.columns]
    if absent:
        raise ValueError(f"{csv} lacks label column(s) {absent}; it has {list(table.columns)}")
    if len(table) != n_total:
        raise ValueError(f"{csv} has {len(table)} rows; ecg_tracings.hdf5 has {n_total} "
                         "tracings (one row per tracing, same order)")
    values = table[list(CODE_LABELS)]
    if not values.isin([0, 1]).all().all():
        raise ValueError(f"{csv}: labels must be 0 or 1")
    return values.to_numpy(dtype=np.float32)


# --------------------------------------------------------------------------------------------
# The paper's pretraining corpus
# --------------------------------------------------------------------------------------------


def paper_corpus_sources(
    cinc2020: str | os.PathLike | None = None,
    chapman: str | os.PathLike | None = None,
    code_test: str | os.PathLike | None = None,
    *,
    fs: float = 100,
    duration: float = 10,
    exclude_ptbxl: bool = True,
    n_jobs: int | None = 1,
    cache_dir: str | os.PathLike | None = None,
    on_error: str = "raise",
    verbose: bool | int = False,
) -> dict[str, Callable[[], Bunch]]:
    """Loaders of the paper's pretraining sources a user has (see :func:`load_paper_corpus`)."""
    from .challenge import load_physionet_challenge

    exclude = ("HR",) if exclude_ptbxl else ()
    common = {"fs": fs, "duration": duration, "on_error": on_error, "verbose": verbose}
    sources: dict[str, Callable[[], Bunch]] = {}
    for name, folder in (("cinc2020", cinc2020), ("chapman", chapman)):
        if folder is not None:
            sources[name] = _Call(load_physionet_challenge, (folder,), dict(
                common, exclude_prefixes=exclude, drop_unlabeled=False, n_jobs=n_jobs,
                cache_dir=cache_dir))
    if code_test is not None:
        sources["code_test"] = _Call(load_code_test, (code_test,),
                                     dict(common, annotations=None))
    if not sources:
        raise ValueError("pass at least one of cinc2020=, chapman=, code_test= (folders)")
    return sources


@dataclass
class _Call:
    func: Callable
    args: tuple
    kwargs: dict

    def __call__(self) -> Bunch:
        return self.func(*self.args, **self.kwargs)


def load_paper_corpus(
    cinc2020: str | os.PathLike | None = None,
    chapman: str | os.PathLike | None = None,
    code_test: str | os.PathLike | None = None,
    *,
    fs: float = 100,
    duration: float = 10,
    exclude_ptbxl: bool = True,
    exclude_overlap_with=None,
    store: str | os.PathLike | None = None,
    n_jobs: int | None = 1,
    cache_dir: str | os.PathLike | None = None,
    on_error: str = "raise",
    verbose: bool | int = False,
) -> Bunch:
    """Assemble Mehari & Strodthoff's pretraining corpus ("All") from the folders you have.

    The paper pretrains on the CinC 2020 training set (CPSC, CPSC-extra, INCART, PTB, PTB-XL,
    Georgia), Chapman-Shaoxing and the CODE test set, about 54.5k records. The CinC sets hold
    PTB-XL's records (``HR*``): pretraining evaluated on PTB-XL must leave them out.

    Parameters
    ----------
    cinc2020 : path or None
        Folder of CinC 2020 (or 2021) challenge records (``.hea`` + ``.mat``, any depth).
    chapman : path or None
        Folder of Chapman-Shaoxing in the challenge's WFDB form (``JS*.hea`` + ``.mat``, as in
        CinC 2021); the original CSV release is not read.
    code_test : path or None
        The CODE test set folder (see :func:`load_code_test`; labels are not loaded).
    fs, duration : float
        Rate (Hz) and length (s) of every record.
    exclude_ptbxl : bool
        Leave out records named ``HR*`` (PTB-XL's records in the challenge sets); they are
        reported in ``excluded``, which :func:`skecg.evaluation.describe_pretraining_data` and
        the evaluation tables print. This is the fast first pass, by file name.
    exclude_overlap_with : Bunch, array-like of shape (n_records, n_leads, n_samples) or None
        An evaluation set (e.g. PTB-XL as :func:`load_ptbxl` returns it; an array is taken at
        ``fs``): every record of each source whose signal occurs in it, whatever its name, rate,
        gain, shift or crop, is left out (:func:`~skecg.datasets.find_overlap` with its defaults,
        source by source) and reported in ``excluded`` and ``overlap``. Not available with
        ``store`` yet.
    store : path or None
        Build (or resume) an :class:`~skecg.datasets.ECGStore` there, source by source, and
        return it opened (``X`` read batch by batch) instead of concatenating in RAM (the full
        corpus at 100 Hz, 10 s is about 2.6 GB).
    n_jobs, cache_dir, on_error, verbose
        As in :func:`load_physionet_challenge`.

    Returns
    -------
    Bunch with ``X``, ``y`` (None: a pretraining corpus), ``label_names`` (empty), ``meta``
    (``dataset``: "cinc2020", "chapman" or "code_test", plus each loader's columns), ``fs``,
    ``lead_names``, ``excluded`` (record names left out), ``n_records`` (dataset -> count),
    ``missing``, ``skipped``, ``dropped_no_label`` and, with ``exclude_overlap_with``,
    ``overlap`` (DataFrame, one row per excluded pair: ``dataset``, ``record``, ``index_eval``
    (position in the evaluation set), ``record_eval`` when it has names, ``score``, ``lag_s``).

    Raises
    ------
    ValueError
        No folder given, a record name occurs in two sources (overlapping folders), or
        ``exclude_overlap_with`` is combined with ``store``.
    """
    if exclude_overlap_with is not None and store is not None:
        raise ValueError("exclude_overlap_with cannot be combined with store= yet: load the "
                         "corpus in memory, or check the built store with find_overlap(store.X, "
                         "evaluation) and leave those rows out")
    sources = paper_corpus_sources(cinc2020, chapman, code_test, fs=fs, duration=duration,
                                   exclude_ptbxl=exclude_ptbxl, n_jobs=n_jobs,
                                   cache_dir=cache_dir, on_error=on_error, verbose=verbose)
    if store is not None:
        from .store import build_ecg_store

        built = build_ecg_store(store, sources, verbose=verbose).to_bunch()
        built.meta.insert(1, "dataset", built.meta["source"])
        built.n_records = built.meta["dataset"].value_counts(sort=False).to_dict()
        built.y, built.label_names = None, []
        _check_overlap(built.meta)
        return built
    parts = {name: load() for name, load in sources.items()}
    overlaps = []
    if exclude_overlap_with is not None:
        for name in parts:
            parts[name], found = _drop_overlap(parts[name], exclude_overlap_with, fs, name)
            overlaps.append(found)
    metas = []
    for name, part in parts.items():
        meta = part.meta.copy()
        meta.insert(1, "dataset", name)
        metas.append(meta)
    meta = pd.concat(metas, ignore_index=True)
    _check_overlap(meta)
    X = np.concatenate([part.X for part in parts.values()])
    extra = {} if exclude_overlap_with is None else {
        "overlap": pd.concat(overlaps, ignore_index=True)}
    return Bunch(
        **extra,
        X=X, y=None, label_names=[], meta=meta, fs=float(fs),
        lead_names=next(iter(parts.values())).lead_names,
        excluded=[e for part in parts.values() for e in part.get("excluded", [])],
        n_records={name: len(part.X) for name, part in parts.items()},
        missing=[m for part in parts.values() for m in part.get("missing", [])],
        skipped={k: v for part in parts.values() for k, v in part.get("skipped", {}).items()},
        dropped_no_label=0)


def _drop_overlap(part: Bunch, evaluation, fs: float, name: str) -> tuple[Bunch, pd.DataFrame]:
    """Leave out the records of ``part`` whose signal occurs in ``evaluation`` (by content)."""
    from .overlap import find_overlap

    fs_eval = None if isinstance(evaluation, Mapping) else fs
    found = find_overlap(part, evaluation, fs_b=fs_eval)
    records = part.meta["record"].astype(str).to_numpy()
    table = pd.DataFrame({"dataset": name, "record": records[found["index_a"].to_numpy()],
                          "index_eval": found["index_b"].to_numpy()})
    if "record_b" in found:
        table["record_eval"] = found["record_b"].to_numpy()
    table["score"] = found["score"].to_numpy()
    table["lag_s"] = found["lag_s"].to_numpy()
    drop = np.unique(found["index_a"].to_numpy())
    if len(drop):
        keep = np.ones(len(part.X), dtype=bool)
        keep[drop] = False
        part = Bunch(**part)
        part.X = part.X[keep]
        part.meta = part.meta.loc[keep].reset_index(drop=True)
        if part.get("y") is not None:
            part.y = part.y[keep]
        part.excluded = list(part.get("excluded", [])) + list(records[drop])
    return part, table


def _check_overlap(meta: pd.DataFrame) -> None:
    duplicated = meta["record"].astype(str).duplicated(keep=False)
    if duplicated.any():
        first = meta.loc[duplicated, "record"].iloc[0]
        where = sorted(meta.loc[meta["record"] == first, "dataset"].unique())
        raise ValueError(f"record {first} occurs in {where}: the folders overlap (e.g. a CinC "
                         "2021 folder already holds Chapman's JS* records); pass each once")
