"""Generic loader of WFDB records (``.hea`` + ``.dat`` or ``.mat``) into one float32 array."""

from __future__ import annotations

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
from ._reader import CROP_POLICIES, PAD_POLICIES, ReadSpec, read_record

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


def resolve_records(records_or_folder) -> list[Path]:
    """Header paths of a folder (recursive, sorted) or of a list of record paths."""
    if isinstance(records_or_folder, (str, os.PathLike)):
        path = Path(records_or_folder)
        if path.is_dir():
            headers = sorted(Path(os.path.abspath(p)) for p in path.rglob("*.hea"))
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
    if not isinstance(n_jobs, numbers.Integral) and n_jobs is not None:
        raise TypeError(f"n_jobs must be an int or None; got {n_jobs!r}")


def _check_params(fs, duration, leads, crop, pad):
    if fs is not None and not (isinstance(fs, numbers.Real) and fs > 0):
        raise ValueError(f"fs must be a positive number of Hz or None; got {fs!r}")
    if duration is not None and not (isinstance(duration, numbers.Real) and duration > 0):
        raise ValueError(f"duration must be a positive number of seconds or None; got "
                         f"{duration!r}")
    if crop not in CROP_POLICIES:
        raise ValueError(f"crop must be one of {CROP_POLICIES}; got {crop!r}")
    if pad not in PAD_POLICIES:
        raise ValueError(f"pad must be one of {PAD_POLICIES}; got {pad!r}")
    if leads is None:
        return None
    if isinstance(leads, str):
        leads = (leads,)
    leads = tuple(leads)
    if not leads or not all(isinstance(lead, str) for lead in leads):
        raise ValueError(f"leads must be None or a non-empty sequence of lead names; got {leads!r}")
    lower = [lead.lower() for lead in leads]
    if len(set(lower)) != len(lower):
        raise ValueError(f"leads contains duplicates (case-insensitive): {list(leads)}")
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
        parts.append(f"{len(missing)} record(s) absent on disk ({_names(missing)})")
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
        A folder (searched recursively for ``*.hea``, sorted by path), one record path, or a list
        of record paths (with or without the ``.hea`` / ``.dat`` / ``.mat`` extension).
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
        If given, the result is cached there as ``.npy`` + ``.json``, keyed by the record paths,
        their files' mtimes and sizes, and all parameters that change the result. A cached load
        returns ``X`` as a read-only ``np.memmap``. Writes are atomic.
    on_error : {'raise', 'skip'}
        ``'raise'``: any unreadable record (missing, corrupt or truncated file, NaN samples,
        missing lead, other rate or length) raises with the record's path and what was expected.
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
        A record cannot be read or does not match the request (``'raise'``), or none could be
        loaded (``'skip'``).
    """
    headers = resolve_records(records_or_folder)
    check_common_params(on_error=on_error, n_jobs=n_jobs)
    leads = _check_params(fs, duration, leads, crop, pad)
    return _load(headers, fs=fs, duration=duration, leads=leads, crop=crop, pad=pad,
                 n_jobs=n_jobs, cache_dir=cache_dir, on_error=on_error, verbose=verbose)


def _load(headers, *, fs, duration, leads, crop, pad, n_jobs, cache_dir, on_error, verbose,
          warn=True) -> Bunch:
    skip = on_error == "skip"
    present = [h for h in headers if h.is_file()]
    missing = [str(h) for h in headers if not h.is_file()] if len(present) < len(headers) else []
    if missing and not skip:
        raise FileNotFoundError(f"{len(missing)} record header(s) not found: {_names(missing)}; "
                                "pass on_error='skip' to load the others")
    if not present:
        raise FileNotFoundError(f"none of the {len(headers)} records exist on disk "
                                f"({_names(missing)})")
    params = {"fs": fs, "duration": duration, "leads": leads, "crop": crop, "pad": pad,
              "on_error": on_error}
    key = None
    if cache_dir is not None:
        cache_dir = Path(cache_dir)
        key = _cache.cache_key(present, params)
        hit = _cache.load_entry(cache_dir, key)
        if hit is not None:
            X, meta, info = hit
            if warn:
                _warn_skipped(missing, info["skipped"], stacklevel=4)
            return Bunch(X=X, y=None, label_names=[], meta=meta, fs=info["fs"],
                         lead_names=tuple(info["lead_names"]), missing=missing,
                         skipped=info["skipped"], dropped_no_label=0)

    spec = ReadSpec(leads=leads, fs=fs, duration=duration, crop=crop, pad=pad)
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

    writer = _cache.EntryWriter(cache_dir, key, shape) if key is not None else None
    try:
        X = writer.array if writer is not None else np.empty(shape, dtype=np.float32)
        X[0] = signal
        rows = [_meta_row(present[first], infos)]
        n = 1
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
            X[n:n + len(block)] = block
            good = [p for p in chunk if str(p) not in errors]
            rows.extend(_meta_row(p, info) for p, info in zip(good, block_infos, strict=True))
            n += len(block)
            skipped.update(errors)
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
        meta = pd.DataFrame(rows)
        if writer is not None:
            info = {"fs": out_fs, "lead_names": list(lead_names), "skipped": skipped,
                    "params": params}
            X = writer.commit(n, meta, info)
        elif n < len(X):
            X = X[:n].copy()
    finally:
        if writer is not None:
            writer.__exit__(None, None, None)
    if warn:
        _warn_skipped(missing, skipped, stacklevel=4)
    return Bunch(X=X, y=None, label_names=[], meta=meta, fs=out_fs, lead_names=lead_names,
                 missing=missing, skipped=skipped, dropped_no_label=0)


def _read_first(path, spec, skip):
    spec_one = ReadSpec(leads=spec.leads, fs=spec.fs, duration=spec.duration, crop=spec.crop,
                        pad=spec.pad)
    try:
        signal, info = read_record(path, spec_one)
    except Exception as exc:
        if not isinstance(exc, RecordError):
            exc = RecordError(f"record {path}: {type(exc).__name__}: {exc}")
        if not skip:
            raise exc from None
        return None, None, {str(path): str(exc)}
    return signal, info, {}
