"""On-disk ECG store for corpora larger than RAM: built once, source by source; read batch by batch.

Layout of a store folder::

    manifest.json          committed state: rate, length, leads, and one entry per shard
    shard-00000.f32        raw float32 records, C order (n_records, n_leads, n_samples)
    shard-00000.csv        the shard's metadata table, one row per record
    .lock                  held (fcntl) while a process appends

Why a folder of shards and not one preallocated file: the size of a corpus is unknown until its
sources are loaded, committed bytes are never rewritten, and a commit is a single ``os.replace``
of a small JSON. Each source (e.g. one ``exams_partN.hdf5`` of CODE-15%) is written to temporary
files, fsync'ed and renamed into place; only then is the manifest replaced. A kill at any point
leaves the previous manifest valid; files it does not list are deleted by the next writer, and
:func:`build_ecg_store` skips the sources the manifest already lists, so rerunning a build
resumes it.

Why ``X`` is not one ``np.memmap``: a mapping counts against the address space (an
``RLIMIT_AS`` smaller than the store refuses to map it) and every page an epoch touches counts in
the process's resident memory until the kernel reclaims it, so peak RSS grows with the corpus.
:class:`StoredECGArray` reads the requested records with ``pread`` instead: memory stays at one
batch whatever the store's size. ``np.asarray(store.X)`` still materialises it (small stores).
"""

from __future__ import annotations

import bisect
import json
import math
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from .._lazy import LazyECGArray

try:
    import fcntl
except ImportError:  # Windows: no advisory lock; concurrent writers are not supported there
    fcntl = None

STORE_FORMAT = "skecg-ecg-store"
STORE_VERSION = 1
MANIFEST = "manifest.json"
_WRITE_CHUNK = 1024  # records validated and written at a time
_HAS_PREADV = hasattr(os, "preadv")


class StoredECGArray(LazyECGArray):
    """The signals of an :class:`ECGStore` as one read-only array, read on demand.

    Parameters
    ----------
    paths : list of str
        Shard files, in record order.
    counts : list of int
        Records in each shard.
    n_leads, n_samples : int
    """

    def __init__(self, paths: list[str], counts: list[int], n_leads: int, n_samples: int):
        self.paths = list(paths)
        self.counts = [int(c) for c in counts]
        self.shape = (int(sum(self.counts)), int(n_leads), int(n_samples))
        self._record_bytes = n_leads * n_samples * 4
        self._starts = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self._start_list = self._starts.tolist()
        self._fds: dict[int, int] = {}
        self._pid = os.getpid()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_fds"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._pid = os.getpid()

    def _fd(self, shard: int) -> int:
        if self._pid != os.getpid():  # a forked DataLoader worker: open its own descriptors
            self._fds, self._pid = {}, os.getpid()
        fd = self._fds.get(shard)
        if fd is None:
            fd = os.open(self.paths[shard], os.O_RDONLY | getattr(os, "O_BINARY", 0))
            self._fds[shard] = fd
        return fd

    def _read(self, shard: int, first: int, out: np.ndarray) -> None:
        """Read ``len(out)`` consecutive records of ``shard`` from its record ``first``."""
        offset = first * self._record_bytes
        if _HAS_PREADV:
            view = memoryview(out).cast("B")
            fd = self._fd(shard)
            done = os.preadv(fd, [view], offset)
            while done < len(view):
                n = os.preadv(fd, [view[done:]], offset + done)
                done += n
                if n == 0:
                    raise OSError(f"ECG store shard {self.paths[shard]} is shorter than its "
                                  "manifest says (truncated file?)")
        else:
            data = np.fromfile(self.paths[shard], dtype="<f4", count=out.size, offset=offset)
            if data.size != out.size:
                raise OSError(f"ECG store shard {self.paths[shard]} is shorter than its "
                              "manifest says (truncated file?)")
            out.reshape(-1)[:] = data

    def _take_one(self, row: int) -> np.ndarray:
        shard = bisect.bisect_right(self._start_list, row) - 1
        out = np.empty(self.shape[1:], dtype=np.float32)
        self._read(shard, row - self._start_list[shard], out)
        return out

    def _take(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows),) + self.shape[1:], dtype=np.float32)
        if not len(rows):
            return out
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        shards = np.searchsorted(self._starts, sorted_rows, side="right") - 1
        # runs of consecutive records inside one shard are read with one call each
        breaks = np.flatnonzero((np.diff(sorted_rows) != 1) | (np.diff(shards) != 0)) + 1
        in_order = not len(breaks) and np.array_equal(order, np.arange(len(rows)))
        for run in np.split(np.arange(len(rows)), breaks):
            shard = int(shards[run[0]])
            first = int(sorted_rows[run[0]] - self._starts[shard])
            if in_order:  # one run in the requested order (a slice): read in place
                self._read(shard, first, out)
                break
            block = np.empty((len(run),) + self.shape[1:], dtype=np.float32)
            self._read(shard, first, block)
            out[order[run]] = block
        return out

    def close(self) -> None:
        """Close the open file descriptors (they reopen on the next read)."""
        if self._pid == os.getpid():
            for fd in self._fds.values():
                os.close(fd)
        self._fds = {}

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass


class ECGStore:
    """A folder of ECG records at one rate and length, appended source by source.

    Parameters
    ----------
    path : path
        The store folder. It is created on the first :meth:`append`.

    Attributes
    ----------
    X : StoredECGArray of shape (n_records, n_leads, n_samples), float32, mV
        Read batch by batch; every skecg estimator fits on it without loading it whole.
    meta : DataFrame
        One row per record: ``source`` (the name it was appended under), ``labels`` (the
        record's positive labels joined by ``";"``) and the loader's own ``meta`` columns.
    fs, lead_names, sources
        Rate (Hz), lead order and the committed source names (None / () while empty).

    Examples
    --------
    >>> store = ECGStore("corpus.ecgstore")                                # doctest: +SKIP
    >>> store.append(load_physionet_challenge("cinc2020"), source="cinc")  # doctest: +SKIP
    >>> LeadStandardizer().fit(store.X)                                   # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._manifest = self._read_manifest()

    # ------------------------------------------------------------------ reading
    def _read_manifest(self) -> dict | None:
        file = self.path / MANIFEST
        if not file.is_file():
            if self.path.exists() and not self.path.is_dir():
                raise NotADirectoryError(f"ECG store {self.path} is not a folder")
            return None
        try:
            manifest = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"ECG store manifest {file} cannot be read: {exc}") from exc
        if manifest.get("format") != STORE_FORMAT:
            raise ValueError(f"{file} is not an skecg ECG store manifest")
        if manifest.get("version", 0) > STORE_VERSION:
            raise ValueError(f"ECG store {self.path} has format version {manifest['version']}; "
                             f"this skecg reads up to {STORE_VERSION}. Upgrade skecg.")
        return manifest

    @property
    def sources(self) -> tuple[str, ...]:
        shards = self._manifest["shards"] if self._manifest else []
        return tuple(s["source"] for s in shards)

    @property
    def fs(self) -> float | None:
        return self._manifest["fs"] if self._manifest else None

    @property
    def lead_names(self) -> tuple[str, ...] | None:
        return tuple(self._manifest["lead_names"]) if self._manifest else None

    def __len__(self) -> int:
        return sum(s["n_records"] for s in self._manifest["shards"]) if self._manifest else 0

    @property
    def X(self) -> StoredECGArray:
        if not self._manifest or not self._manifest["shards"]:
            raise ValueError(f"ECG store {self.path} is empty: append a source first")
        shards = self._manifest["shards"]
        return StoredECGArray([str(self.path / s["file"]) for s in shards],
                              [s["n_records"] for s in shards],
                              self._manifest["n_leads"], self._manifest["n_samples"])

    @property
    def meta(self) -> pd.DataFrame:
        if not self._manifest:
            return pd.DataFrame(columns=["source", "labels"])
        text_columns = {"source": str, "labels": str, "record": str}
        tables = [pd.read_csv(self.path / s["meta"], dtype=text_columns)
                  for s in self._manifest["shards"]]
        meta = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
        meta["labels"] = meta["labels"].fillna("")
        return meta

    def labels(self, label_names=None) -> tuple[np.ndarray, list[str]]:
        """Multi-hot labels from ``meta['labels']``.

        Parameters
        ----------
        label_names : sequence of str or None
            Columns of ``y``; None: every label found, sorted.

        Returns
        -------
        y : np.ndarray of shape (n_records, n_labels), float32
        label_names : list of str
        """
        lists = [s.split(";") if s else [] for s in self.meta["labels"]]
        if label_names is None:
            label_names = sorted(set().union(*map(set, lists))) if lists else []
        column = {name: j for j, name in enumerate(label_names)}
        y = np.zeros((len(lists), len(column)), dtype=np.float32)
        for i, names in enumerate(lists):
            y[i, [column[n] for n in names if n in column]] = 1.0
        return y, list(label_names)

    def to_bunch(self) -> Bunch:
        """The store in the loaders' shape: ``X`` (lazy), ``y``, ``label_names``, ``meta``..."""
        y, names = self.labels()
        excluded = [name for s in self._manifest["shards"] for name in s.get("excluded", [])]
        return Bunch(X=self.X, y=y, label_names=names, meta=self.meta, fs=self.fs,
                     lead_names=self.lead_names, excluded=excluded, missing=[], skipped={},
                     dropped_no_label=0)

    def __repr__(self) -> str:
        return (f"ECGStore({str(self.path)!r}, {len(self)} records, {len(self.sources)} "
                "sources)")

    # ------------------------------------------------------------------ writing
    def append(self, data: Bunch | Mapping, source: str, *, verbose: bool | int = False) -> bool:
        """Append a loader's result as one shard; atomic (all of it or nothing).

        Parameters
        ----------
        data : Bunch
            A loader's result: ``X`` (n_records, n_leads, n_samples) in mV, ``fs``, and
            optionally ``lead_names``, ``meta``, ``y`` + ``label_names``, ``excluded``.
        source : str
            Name of this source; appending a name already in the store does nothing (resume).
        verbose : bool or int
            Show a progress bar over the records written.

        Returns
        -------
        appended : bool
            False when ``source`` was already committed.

        Raises
        ------
        ValueError
            ``X`` is not 3-D, holds NaN or infinite values (the record is named), or its rate,
            length or leads differ from the store's.
        """
        if not isinstance(source, str) or not source or "\n" in source:
            raise ValueError(f"source must be a non-empty one-line name; got {source!r}")
        self.path.mkdir(parents=True, exist_ok=True)
        with _Lock(self.path):
            self._manifest = self._read_manifest()
            if source in self.sources:
                return False
            self._remove_orphans()
            X, fs, lead_names = self._check_source(data, source)
            meta = self._meta_table(data, source, len(X))
            index = len(self.sources)
            shard = {"source": source, "file": f"shard-{index:05d}.f32",
                     "meta": f"shard-{index:05d}.csv", "n_records": len(X),
                     "excluded": [str(e) for e in data.get("excluded", [])]}
            self._write_shard(X, source, meta, shard, verbose)
            manifest = self._manifest or {
                "format": STORE_FORMAT, "version": STORE_VERSION, "fs": float(fs),
                "n_leads": int(X.shape[1]), "n_samples": int(X.shape[2]),
                "lead_names": list(lead_names), "dtype": "float32", "shards": []}
            manifest = dict(manifest, shards=manifest["shards"] + [shard])
            _atomic_write_text(self.path / MANIFEST, json.dumps(manifest, indent=1))
            self._manifest = manifest
        return True

    def _check_source(self, data, source):
        X = data["X"]
        if getattr(X, "ndim", None) != 3:
            raise ValueError(f"source {source!r}: X must be 3-D (n_records, n_leads, n_samples); "
                             f"got shape {getattr(X, 'shape', None)}")
        if len(X) == 0:
            raise ValueError(f"source {source!r} has 0 records")
        fs = data.get("fs")
        if fs is None or not math.isfinite(float(fs)) or float(fs) <= 0:
            raise ValueError(f"source {source!r}: fs must be a positive rate in Hz; got {fs!r}")
        lead_names = tuple(data.get("lead_names") or (f"lead{i}" for i in range(X.shape[1])))
        if len(lead_names) != X.shape[1]:
            raise ValueError(f"source {source!r}: {len(lead_names)} lead names for "
                             f"{X.shape[1]} leads")
        if self._manifest:
            m = self._manifest
            if not math.isclose(float(fs), m["fs"]):
                raise ValueError(f"source {source!r} is sampled at {float(fs):g} Hz; the store "
                                 f"holds {m['fs']:g} Hz (load it with fs={m['fs']:g})")
            if X.shape[2] != m["n_samples"]:
                raise ValueError(f"source {source!r} has {X.shape[2]} samples per lead; the store "
                                 f"holds {m['n_samples']} (load it with duration="
                                 f"{m['n_samples'] / m['fs']:g})")
            if [n.lower() for n in lead_names] != [n.lower() for n in m["lead_names"]]:
                raise ValueError(f"source {source!r} has leads {list(lead_names)}; the store "
                                 f"holds {m['lead_names']}")
        return X, fs, lead_names

    @staticmethod
    def _meta_table(data, source: str, n: int) -> pd.DataFrame:
        meta = data.get("meta")
        meta = pd.DataFrame(index=range(n)) if meta is None else meta.reset_index(drop=True)
        if len(meta) != n:
            raise ValueError(f"source {source!r}: meta has {len(meta)} rows for {n} records")
        meta = meta.drop(columns=[c for c in ("source", "labels") if c in meta.columns])
        y, names = data.get("y"), list(data.get("label_names") or [])
        labels = [""] * n
        if y is not None and len(names):
            y = np.asarray(y)
            if y.ndim == 1:
                y = y[:, None]
            if y.shape != (n, len(names)):
                raise ValueError(f"source {source!r}: y has shape {y.shape}; expected "
                                 f"({n}, {len(names)}) for its label_names")
            labels = [";".join(names[j] for j in np.flatnonzero(row)) for row in y]
        meta.insert(0, "source", source)
        meta.insert(1, "labels", labels)
        return meta

    def _write_shard(self, X, source, meta, shard, verbose) -> None:
        data_tmp = self.path / _temp_name(shard["file"])
        done = False
        try:
            bar = _progress(len(X), verbose, f"writing {source}")
            with open(data_tmp, "wb") as f:
                for start in range(0, len(X), _WRITE_CHUNK):
                    chunk = np.ascontiguousarray(X[start:start + _WRITE_CHUNK], dtype="<f4")
                    finite = np.isfinite(chunk).reshape(len(chunk), -1).all(axis=1)
                    if not finite.all():
                        bad = start + int(np.flatnonzero(~finite)[0])
                        name = meta["record"].iloc[bad] if "record" in meta.columns else bad
                        raise ValueError(f"source {source!r}: record {name} (row {bad}) holds "
                                         "NaN or infinite values; nothing was appended")
                    f.write(chunk.tobytes())
                    if bar is not None:
                        bar.update(len(chunk))
                f.flush()
                os.fsync(f.fileno())
            if bar is not None:
                bar.close()
            os.replace(data_tmp, self.path / shard["file"])
            _atomic_write_text(self.path / shard["meta"], meta.to_csv(index=False))
            done = True
        finally:
            data_tmp.unlink(missing_ok=True)
            if not done:
                (self.path / shard["file"]).unlink(missing_ok=True)

    def _remove_orphans(self) -> None:
        """Delete shards and temporaries a killed writer left (the lock is held)."""
        listed = {MANIFEST, ".lock"}
        for s in (self._manifest or {}).get("shards", []):
            listed.update((s["file"], s["meta"]))
        for file in self.path.iterdir():
            is_ours = file.name.startswith(("shard-", ".tmp-"))
            if is_ours and file.name not in listed and file.is_file():
                file.unlink(missing_ok=True)


def build_ecg_store(
    path: str | os.PathLike,
    sources: Mapping[str, Callable[[], Bunch] | Bunch],
    *,
    verbose: bool | int = True,
) -> ECGStore:
    """Build (or resume building) an ECG store from several loaders, source by source.

    Parameters
    ----------
    path : path
        The store folder.
    sources : mapping of name -> callable returning a Bunch (or a Bunch)
        Loaders of each source, called only for sources not yet in the store, so a build killed
        half-way resumes at the first missing source. Load each at the store's rate and length
        (``fs=``, ``duration=``).
    verbose : bool or int
        A tqdm progress bar over the sources (and one over each source's records).

    Returns
    -------
    ECGStore
    """
    store = ECGStore(path)
    bar = _progress(len(sources), verbose, "ECG store sources", unit="source")
    for name, load in sources.items():
        if name not in store.sources:
            data = load() if callable(load) else load
            store.append(data, source=name, verbose=verbose)
            del data
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return store


def load_ecg_store(path: str | os.PathLike) -> Bunch:
    """Open an ECG store as a loader's Bunch (``X`` read batch by batch).

    Returns
    -------
    Bunch with ``X`` (:class:`StoredECGArray`), ``y`` (multi-hot over all labels found),
    ``label_names``, ``meta``, ``fs``, ``lead_names``, ``excluded`` (records the sources left
    out, e.g. PTB-XL-derived ``HR*``), ``missing``, ``skipped``, ``dropped_no_label``.
    """
    store = ECGStore(path)
    if not store.sources:
        raise FileNotFoundError(f"no ECG store at {path}: expected a folder with {MANIFEST}")
    return store.to_bunch()


class _Lock:
    """Exclusive advisory lock on ``<store>/.lock``; released by the OS if the process dies."""

    def __init__(self, folder: Path):
        self.file = folder / ".lock"

    def __enter__(self):
        self._fd = os.open(self.file, os.O_RDWR | os.O_CREAT, 0o666)
        if fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


def _temp_name(final: str) -> str:
    return f".tmp-{os.getpid()}-{secrets.token_hex(4)}-{final}"


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(_temp_name(path.name))
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _progress(total, verbose, desc, unit="rec"):
    if not verbose:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit)
