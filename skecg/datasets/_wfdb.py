"""Generic loader of WFDB records (``.hea`` + ``.dat`` or ``.mat``) into one float32 array."""

from __future__ import annotations

import math
import numbers
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.utils import Bunch

from .. import LEAD_NAMES
from . import _cache
from ._header import RecordError
from ._reader import CROP_POLICIES, PAD_POLICIES, ReadSpec, read_record, why_not_a_file

_CHUNK = 64  # records per parallel task
_N_NAMES_IN_MESSAGES = 5


def _as_header_path(item) -> Path:
    text = os.fspath(item)
    low = text.lower()
    if low.endswith((".dat", ".mat")):
        text = text[:-4]
    if not low.endswith(".hea"):
        text += ".hea"
    return Path(os.path.abspath(text))


def find_headers(folder: Path, stacklevel: int = 2) -> list[Path]:
    """Header files under ``folder``, recursively, following directory links; sorted by path.

    Each real folder is visited once (a link to a folder already seen, or a link cycle, is not
    followed again). Entries named ``*.hea`` that are not files (a folder, a FIFO) are left out;
    a dangling link is kept, so that it is reported as a missing record. Folders that cannot be
    listed, and record names found in more than one folder, are reported in a warning
    (``stacklevel`` as in :func:`warnings.warn`, counted from the caller).
    """
    headers, seen, unlisted = [], set(), []

    def on_error(exc: OSError) -> None:
        unlisted.append(f"{exc.filename}: {exc.strerror}")

    for dirpath, dirnames, filenames in os.walk(folder, onerror=on_error, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError as exc:
            on_error(exc)
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames.sort()
        for name in filenames:
            if name.endswith(".hea"):
                path = os.path.join(dirpath, name)
                if os.path.isfile(path) or os.path.islink(path) and not os.path.exists(path):
                    headers.append(Path(os.path.abspath(path)))
    if unlisted:
        warnings.warn(f"could not list {len(unlisted)} folder(s) under {folder}; their records "
                      f"are not loaded: {_names(unlisted, 3)}", UserWarning,
                      stacklevel=stacklevel + 1)
    headers.sort()
    by_name: dict[str, list[Path]] = {}
    for path in headers:
        by_name.setdefault(path.name, []).append(path)
    repeated = {name: paths for name, paths in by_name.items() if len(paths) > 1}
    if repeated:
        examples = [f"{name[:-4]} in {_names([p.parent for p in paths], 2)}"
                    for name, paths in repeated.items()]
        warnings.warn(f"{len(repeated)} record name(s) occur in more than one folder under "
                      f"{folder} ({_names(examples, 2)}); all are loaded and meta['path'] tells "
                      "them apart (a folder unpacked twice?)", UserWarning,
                      stacklevel=stacklevel + 1)
    return headers


def resolve_records(records_or_folder) -> list[Path]:
    """Header paths of a folder (recursive, sorted) or of a list of record paths."""
    if isinstance(records_or_folder, (str, os.PathLike)):
        if not os.fspath(records_or_folder):
            raise ValueError("records_or_folder is an empty path: expected a folder of WFDB "
                             "records or a record path")
        path = Path(records_or_folder)
        if path.is_dir():
            headers = find_headers(path, stacklevel=3)
            if not headers:
                raise FileNotFoundError(f"no WFDB records found under {path}: expected "
                                        "'<record>.hea' header files (searched recursively)")
            return headers
        if not path.exists() and not Path(str(path) + ".hea").exists():
            raise FileNotFoundError(f"{path} does not exist: expected a folder of WFDB records "
                                    "or a record path")
        return [_as_header_path(path)]
    if not isinstance(records_or_folder, Iterable):
        raise TypeError("records_or_folder must be a folder, a record path or a list of record "
                        f"paths; got {type(records_or_folder).__name__}")
    headers = [_as_header_path(p) for p in records_or_folder]
    if not headers:
        raise ValueError("records_or_folder is an empty list: expected at least one record path")
    return headers


def _names(items, n=_N_NAMES_IN_MESSAGES) -> str:
    items = list(items)
    shown = ", ".join(str(i) for i in items[:n])
    return shown + (f", ... ({len(items) - n} more)" if len(items) > n else "")


def check_common_params(*, on_error, n_jobs) -> None:
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip'; got {on_error!r}")
    if n_jobs is not None and (isinstance(n_jobs, bool)
                               or not isinstance(n_jobs, numbers.Integral)):
        raise TypeError(f"n_jobs must be an int or None; got {n_jobs!r}")
    if n_jobs == 0:
        raise ValueError("n_jobs must be a non-zero int (-1: all cores) or None; got 0")


def _check_positive(name: str, value, unit: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite positive number of {unit} or None; "
                         f"got {value!r}")


def check_params(fs, duration, leads, crop, pad):
    """Validate the signal parameters; return ``leads`` as a tuple (or None)."""
    _check_positive("fs", fs, "Hz")
    _check_positive("duration", duration, "seconds")
    if fs is not None and duration is not None and round(fs * duration) < 1:
        raise ValueError(f"duration x fs must give at least 1 sample; got duration={duration!r} "
                         f"s and fs={fs!r} Hz")
    if crop not in CROP_POLICIES:
        raise ValueError(f"crop must be one of {CROP_POLICIES}; got {crop!r}")
    if pad not in PAD_POLICIES:
        raise ValueError(f"pad must be one of {PAD_POLICIES}; got {pad!r}")
    if leads is None:
        return None
    if isinstance(leads, str):
        leads = (leads,)
    if not isinstance(leads, Iterable):
        raise TypeError(f"leads must be None or a sequence of lead names; got {leads!r}")
    leads = tuple(leads)
    if not leads or not all(isinstance(lead, str) and lead.strip() for lead in leads):
        raise ValueError(f"leads must be None or a non-empty sequence of lead names; got {leads!r}")
    groups: dict[str, list[str]] = {}
    for lead in leads:
        groups.setdefault(lead.strip().lower(), []).append(lead)
    repeated = [names for names in groups.values() if len(names) > 1]
    if repeated:
        raise ValueError(f"leads has duplicates (case-insensitive): {repeated}; each lead may "
                         f"be named once; got leads={list(leads)}")
    return leads


def _read_chunk(paths: Sequence[Path], spec: ReadSpec, skip: bool):
    """Read ``paths``; returns (array of the good ones, their infos, {path: reason})."""
    shape = (len(paths), spec.n_leads, spec.n_out)
    out = np.empty(shape, dtype=np.float32)
    infos, errors, k = [], {}, 0
    for path in paths:
        try:
            signal, info = read_record(path, spec)
            if signal.shape != shape[1:]:
                raise RecordError(f"record {path} has {signal.shape[0]} leads x "
                                  f"{signal.shape[1]} samples; expected {shape[1]} x "
                                  f"{shape[2]} like the first record")
        except Exception as exc:
            if not isinstance(exc, RecordError):
                exc = RecordError(f"record {path}: {type(exc).__name__}: {exc}")
            if not skip:
                raise exc from None
            errors[str(path)] = str(exc)
            continue
        out[k] = signal
        infos.append(info)
        k += 1
    return out[:k], infos, errors


def _meta_row(path: Path, info: dict) -> dict:
    return {"record": path.name[:-4], "path": str(path)[:-4], "fs_original": info["fs_original"],
            "n_samples_original": info["n_samples_original"],
            "comments": "\n".join(info["comments"])}


def _warn_skipped(missing, skipped, stacklevel=3) -> None:
    parts = []
    if missing:
        shown = [f"{m} {why_not_a_file(Path(m))}" if os.path.lexists(m) else m for m in missing]
        parts.append(f"{len(missing)} record(s) absent on disk or not files ({_names(shown)})")
    if skipped:
        reasons = [f"{name}: {why}" for name, why in skipped.items()]
        parts.append(f"{len(skipped)} record(s) could not be loaded ({_names(reasons, 3)})")
    if parts:
        warnings.warn("skipped " + "; ".join(parts), UserWarning, stacklevel=stacklevel)


def _progress(total, verbose, desc):
    if not verbose:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="rec")


def load_wfdb(
    records_or_folder,
    *,
    fs: float | None = None,
    duration: float | None = None,
    leads: Sequence[str] | None = LEAD_NAMES,
    crop: str = "start",
    pad: str = "zeros",
    n_jobs: int | None = 1,
    cache_dir: str | os.PathLike | None = None,
    on_error: str = "raise",
    verbose: bool | int = False,
) -> Bunch:
    """Load WFDB records into one float32 array of shape (n_records, n_leads, n_samples) in mV.

    Reads ``.hea`` + ``.dat`` (PTB-XL) and ``.hea`` + ``.mat`` (PhysioNet/CinC challenges)
    records. Format-16 signals are read directly with ``np.fromfile`` (fast path); any other WFDB
    format goes through ``wfdb.rdrecord``.

    Parameters
    ----------
    records_or_folder : path or list of paths
        A folder (searched recursively for ``*.hea`` files, following links to folders, sorted
        by path), one record path, or a list of record paths (with or without the ``.hea`` /
        ``.dat`` / ``.mat`` extension). Record names found in more than one sub-folder are all
        loaded, with a warning (``meta['path']`` tells them apart).
    fs : float or None
        Output sampling rate in Hz. Records at another rate are resampled with
        ``scipy.signal.resample_poly`` (up/down from a rational approximation of
        ``fs / fs_record``, denominator <= 1000). None keeps the source rate, which must then be
        the same for all records.
    duration : float or None
        Output length in seconds (``round(duration * fs)`` samples); longer records are cropped
        and shorter ones padded, see ``crop`` and ``pad``. None keeps the length, which must
        then be the same for all records (after resampling).
    leads : sequence of str or None
        Leads to return, in this order, matched to the header's signal names case-insensitively
        (``'AVR'`` matches ``'aVR'``). Default: ``skecg.LEAD_NAMES``. None: all leads in the
        first record's order.
    crop : {'start', 'center', 'end'}
        Which part of a longer record to keep; also where a shorter record sits when padded
        (``'start'``: padding at the end, ``'center'``: both sides, ``'end'``: at the start).
    pad : {'zeros', 'edge', 'error'}
        How to fill a record shorter than ``duration``: zeros (0 mV), repeating the edge value,
        or raising.
    n_jobs : int or None
        Parallel workers (joblib, threads preferred; change with ``joblib.parallel_config``).
    cache_dir : path or None
        If given, the result is cached there as ``.npy`` + ``.json`` (the folder is created if
        missing), keyed by all parameters that change the result and by every file the records
        use: each header's content and each signal file it names (inode, ctime, mtime, size and
        a sample of its bytes), so replaced files are seen. The result's ``X`` is then a
        read-only ``np.memmap`` of the cache file. Writes are atomic; a cache folder that
        cannot be written (read only, not a folder, full disk) raises
        ``skecg.datasets._cache.CacheError`` (an ``OSError``) naming it, and leaves no
        temporary file behind. A read-only folder still serves the entries it holds.
    on_error : {'raise', 'skip'}
        ``'raise'``: any unreadable record (missing, corrupt or truncated file, a header that
        disagrees with itself or its signal file, NaN or infinite samples, missing lead, other
        rate or length) raises with the record's path and what was expected.
        ``'skip'``: such records are left out and reported in ONE warning and in the result.
    verbose : bool or int
        Show a tqdm progress bar.

    Returns
    -------
    Bunch with
        X : np.ndarray or np.memmap of shape (n_records, n_leads, n_samples), float32, mV
        y : None (generic records carry no labels; see ``load_ptbxl``,
            ``load_physionet_challenge``)
        label_names : list, empty
        meta : DataFrame, one row per record in ``X``: ``record`` (name), ``path`` (without
            extension), ``fs_original`` (Hz), ``n_samples_original``, ``comments`` (header
            comment lines joined by newlines)
        fs : float, Hz
        lead_names : tuple of str
        missing : list of str, header paths absent on disk (only with ``on_error='skip'``)
        skipped : dict, header path -> reason, for records that could not be loaded
        dropped_no_label : int, always 0 here

    Raises
    ------
    FileNotFoundError
        The folder does not exist or holds no ``.hea`` file; a record is absent (``'raise'``).
    ValueError
        A parameter is out of range; a record cannot be read or does not match the request
        (``'raise'``), or none could be loaded (``'skip'``).
    OSError
        ``cache_dir`` cannot be written (``CacheError``).
    """
    check_common_params(on_error=on_error, n_jobs=n_jobs)
    leads = check_params(fs, duration, leads, crop, pad)
    headers = resolve_records(records_or_folder)
    return _load(headers, fs=fs, duration=duration, leads=leads, crop=crop, pad=pad,
                 n_jobs=n_jobs, cache_dir=cache_dir, on_error=on_error, verbose=verbose)


class _ArraySink:
    """In-memory counterpart of :class:`_cache.EntryWriter` (no cache)."""

    def __init__(self, shape):
        self.array = np.empty(shape, dtype=np.float32)
        self.n_rows = 0

    def append(self, block: np.ndarray) -> None:
        self.array[self.n_rows:self.n_rows + len(block)] = block
        self.n_rows += len(block)

    def commit(self, meta, info) -> np.ndarray:
        n = self.n_rows
        return self.array if n == len(self.array) else self.array[:n].copy()

    def close(self) -> None:
        self.array = None


def _load(headers, *, fs, duration, leads, crop, pad, n_jobs, cache_dir, on_error, verbose,
          warn=True, length_hint="pass duration= to crop/pad") -> Bunch:
    skip = on_error == "skip"
    present = [h for h in headers if h.is_file()]
    missing = [str(h) for h in headers if not h.is_file()] if len(present) < len(headers) else []
    if missing and not skip:
        odd = [h for h in map(Path, missing) if os.path.lexists(h)]  # a folder, FIFO, link
        if odd:
            raise FileNotFoundError(f"record header {odd[0]} {why_not_a_file(odd[0])}"
                                    + (f" ({len(missing) - 1} more header(s) unreadable or "
                                       "absent)" if len(missing) > 1 else "")
                                    + "; pass on_error='skip' to load the others")
        raise FileNotFoundError(f"{len(missing)} record header(s) not found: {_names(missing)}; "
                                "pass on_error='skip' to load the others")
    if not present:
        raise FileNotFoundError(f"none of the {len(headers)} records exist on disk "
                                f"({_names(missing)})")
    params = {"fs": fs, "duration": duration, "leads": leads, "crop": crop, "pad": pad,
              "on_error": on_error}
    key = None
    if cache_dir is not None:
        cache_dir = _cache.check_cache_dir(cache_dir)
        _cache.remove_stale_temporaries(cache_dir)
        key = _cache.cache_key(present, params)
        hit = _cache.load_entry(cache_dir, key)
        if hit is not None:
            X, meta, info = hit
            if warn:
                _warn_skipped(missing, info["skipped"], stacklevel=4)
            return Bunch(X=X, y=None, label_names=[], meta=meta, fs=info["fs"],
                         lead_names=tuple(info["lead_names"]), missing=missing,
                         skipped=info["skipped"], dropped_no_label=0)

    spec = ReadSpec(leads=leads, fs=fs, duration=duration, crop=crop, pad=pad,
                    length_hint=length_hint)
    skipped: dict[str, str] = {}
    # The first loadable record fixes the shape (and the rate when fs is None).
    first = None
    for i, path in enumerate(present):
        signal, infos, errors = _read_first(path, spec, skip)
        skipped.update(errors)
        if signal is not None:
            first = i
            break
    if first is None:
        raise ValueError(f"none of the {len(present)} records could be loaded: "
                         f"{_names([f'{k}: {v}' for k, v in skipped.items()], 3)}")
    spec.fs_required = infos["fs_original"] if fs is None else None
    spec.n_out = signal.shape[1]
    spec.n_leads = signal.shape[0]
    out_fs = float(fs if fs is not None else infos["fs_original"])
    lead_names = tuple(leads) if leads is not None else tuple(infos["lead_names"])
    rest = present[first + 1:]
    shape = (1 + len(rest), signal.shape[0], signal.shape[1])

    sink = _cache.EntryWriter(cache_dir, key, shape) if key is not None else _ArraySink(shape)
    try:
        sink.append(signal[None])
        rows = [_meta_row(present[first], infos)]
        chunks = [rest[i:i + _CHUNK] for i in range(0, len(rest), _CHUNK)]
        if n_jobs == 1 or len(chunks) <= 1:
            results = (_read_chunk(chunk, spec, skip) for chunk in chunks)
        else:
            results = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(
                delayed(_read_chunk)(chunk, spec, skip) for chunk in chunks)
        bar = _progress(len(present), verbose, "loading ECG records")
        if bar is not None:
            bar.update(first + 1)
        for chunk, (block, block_infos, errors) in zip(chunks, results, strict=True):
            sink.append(block)
            good = [p for p in chunk if str(p) not in errors]
            rows.extend(_meta_row(p, info) for p, info in zip(good, block_infos, strict=True))
            skipped.update(errors)
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
        meta = pd.DataFrame(rows)
        info = {"fs": out_fs, "lead_names": list(lead_names), "skipped": skipped,
                "params": params}
        X = sink.commit(meta, info)
    finally:
        sink.close()
    if warn:
        _warn_skipped(missing, skipped, stacklevel=4)
    return Bunch(X=X, y=None, label_names=[], meta=meta, fs=out_fs, lead_names=lead_names,
                 missing=missing, skipped=skipped, dropped_no_label=0)


def _read_first(path, spec, skip):
    spec_one = ReadSpec(leads=spec.leads, fs=spec.fs, duration=spec.duration, crop=spec.crop,
                        pad=spec.pad, length_hint=spec.length_hint)
    try:
        signal, info = read_record(path, spec_one)
    except Exception as exc:
        if not isinstance(exc, RecordError):
            exc = RecordError(f"record {path}: {type(exc).__name__}: {exc}")
        if not skip:
            raise exc from None
        return None, None, {str(path): str(exc)}
    return signal, info, {}
