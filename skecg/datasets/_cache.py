"""Disk cache of loaded ECG arrays: ``<key>.npy`` (memory-mapped on reads) + ``<key>.json``.

Writes are atomic: the array is written to a temporary file in the cache folder and moved into
place with ``os.replace``; the JSON (meta, skipped records, parameters) is written the same way and
last, so it marks a complete entry. A reader that finds no JSON ignores the entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path

import numpy as np
import pandas as pd

CACHE_VERSION = 1  # bump when the loaders change what they return for the same inputs
_DATA_SUFFIXES = (".dat", ".mat")
_COPY_CHUNK = 1024  # records copied at a time when shrinking a cache file


def _stat(path: str):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def fingerprint(header_paths: list[Path]) -> list:
    """``[path, stat(.hea), stat(.dat), stat(.mat)]`` per record (stat = [mtime_ns, size])."""
    out = []
    for path in header_paths:
        stem = str(path)[:-4]
        out.append([str(path), _stat(str(path))] + [_stat(stem + s) for s in _DATA_SUFFIXES])
    return out


def cache_key(header_paths: list[Path], params: dict) -> str:
    """Hash of everything that changes the loaded result."""
    payload = json.dumps({"version": CACHE_VERSION, "params": params,
                          "files": fingerprint(header_paths)}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def entry_paths(cache_dir: Path, key: str) -> tuple[Path, Path]:
    return cache_dir / f"skecg-{key}.npy", cache_dir / f"skecg-{key}.json"


def load_entry(cache_dir: Path, key: str):
    """Return ``(X memmap, meta DataFrame, info dict)`` or None when there is no complete entry."""
    npy, js = entry_paths(cache_dir, key)
    if not (npy.is_file() and js.is_file()):
        return None
    try:
        info = json.loads(js.read_text())
        X = np.load(npy, mmap_mode="r")
    except (OSError, ValueError):
        return None
    if list(X.shape) != info.get("shape"):
        return None
    meta = pd.DataFrame(info.pop("meta"))
    return X, meta, info


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def remove_stale_temporaries(cache_dir: Path, key: str) -> None:
    """Delete temporaries of ``key`` left by killed processes (their pid no longer runs)."""
    for tmp in cache_dir.glob(f".skecg-{key}.*.tmp"):
        try:
            pid = int(tmp.name.split(".")[2])
        except (IndexError, ValueError):
            continue
        if not _pid_alive(pid):
            tmp.unlink(missing_ok=True)


class EntryWriter:
    """Write one cache entry atomically; use as a context manager around the load.

    ``array`` is a writable ``np.memmap`` of the preallocated shape, backed by a temporary file.
    ``commit`` shrinks it to the rows actually filled and moves the files into place; leaving the
    ``with`` block without ``commit`` (an exception, Ctrl-C) deletes the temporaries.
    """

    def __init__(self, cache_dir: Path, key: str, shape: tuple[int, ...], dtype=np.float32):
        self.cache_dir, self.key = cache_dir, key
        cache_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(cache_dir, key)
        self._temps: list[Path] = []
        self._tmp_npy = self._new_temp()
        self.array = np.lib.format.open_memmap(self._tmp_npy, mode="w+", dtype=dtype, shape=shape)

    def _new_temp(self) -> Path:
        path = self.cache_dir / f".skecg-{self.key}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        self._temps.append(path)
        return path

    def __enter__(self) -> EntryWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.array = None
        for path in self._temps:
            path.unlink(missing_ok=True)

    def commit(self, n_rows: int, meta: pd.DataFrame, info: dict) -> np.ndarray:
        """Keep the first ``n_rows`` rows, publish the entry and return it memory-mapped."""
        src = self.array
        if n_rows < src.shape[0]:
            small_path = self._new_temp()
            small = np.lib.format.open_memmap(small_path, mode="w+", dtype=src.dtype,
                                              shape=(n_rows,) + src.shape[1:])
            for start in range(0, n_rows, _COPY_CHUNK):
                stop = min(start + _COPY_CHUNK, n_rows)
                small[start:stop] = src[start:stop]
            small.flush()
            del small
            npy_tmp = small_path
        else:
            src.flush()
            npy_tmp = self._tmp_npy
        self.array = src = None
        npy, js = entry_paths(self.cache_dir, self.key)
        os.replace(npy_tmp, npy)
        X = np.load(npy, mmap_mode="r")
        info = dict(info, shape=list(X.shape),
                    meta={col: meta[col].tolist() for col in meta.columns})
        js_tmp = self._new_temp()
        js_tmp.write_text(json.dumps(info, default=_json_default))
        os.replace(js_tmp, js)
        return X


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in the cache JSON")
