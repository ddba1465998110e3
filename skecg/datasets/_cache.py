"""Disk cache of loaded ECG arrays: ``<key>.npy`` (memory-mapped on reads) + ``<key>.json``.

The key hashes the load parameters and a fingerprint of every file a record uses: each header's
content and every signal file it names (with their inode, ctime, mtime and size, and a sample of
the signal file's bytes), so a replaced file is seen even when its size and mtime are kept
(``cp -p``, ``rsync -a``, unzip).

Writes go through an ordinary file, never through a writable memory map: a full disk raises
``ENOSPC`` as an exception instead of killing the process with ``SIGBUS`` (and the free space is
checked before the load starts). The array and the JSON (meta, skipped records, parameters) are
written to temporaries in the cache folder and moved into place with ``os.replace``, the JSON
last, so it marks a complete entry. Temporaries left by killed processes are removed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import stat
import struct
import time
from pathlib import Path

import numpy as np
import pandas as pd

CACHE_VERSION = 2  # bump when the loaders change what they return for the same inputs
_SAMPLE_BYTES = 1024  # bytes hashed at the start, middle and end of each signal file
_WHOLE_HEADER_MAX = 1 << 20  # headers up to 1 MiB are hashed (and parsed for names) whole
_STALE_AGE_S = 24 * 3600  # a temporary untouched for this long is dead, whoever wrote it
_NPY_ALIGN = 64
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"
_FIRST_TOKEN_RE = re.compile(r"^[ \t]*([^\s#]\S*)", re.MULTILINE)
_TEMP_RE = re.compile(r"^\.skecg-[0-9a-f]+\.(?:([A-Za-z0-9]+)-)?(\d+)\.[0-9A-Za-z]+\.tmp$")


class CacheError(OSError):
    """The cache folder cannot be used: not a folder, not writable, or full."""


def _cache_error(cache_dir: Path, what: str, exc: BaseException | None = None) -> CacheError:
    reason = f": {exc.strerror or exc}" if isinstance(exc, OSError) else ""
    err = exc.errno if isinstance(exc, OSError) else None
    return CacheError(err, f"cache_dir {cache_dir}: {what}{reason}; choose a writable cache_dir "
                           "with enough free space, or pass cache_dir=None to load without a "
                           "cache")


def check_cache_dir(cache_dir) -> Path:
    """Validate the ``cache_dir`` parameter (a folder path; created when missing)."""
    if not isinstance(cache_dir, (str, os.PathLike)) or not os.fspath(cache_dir):
        raise TypeError(f"cache_dir must be a folder path or None; got {cache_dir!r}")
    path = Path(cache_dir)
    if path.exists() and not path.is_dir():
        raise CacheError(errno.ENOTDIR, f"cache_dir {path} exists and is not a folder; pass a "
                                        "folder path, or cache_dir=None to load without a cache")
    return path


# ---------------------------------------------------------------- fingerprint


def _named_files(header_text: str, header_dir: str, depth: int = 0) -> list[str]:
    """Paths of the files a WFDB header names: signal files, or segment headers and theirs."""
    first_tokens = _FIRST_TOKEN_RE.findall(header_text)  # of each non-comment line
    if not first_tokens:
        return []
    names = [name for name in dict.fromkeys(first_tokens[1:]) if name not in ("~", "-")]
    if "/" not in first_tokens[0]:
        return [os.path.join(header_dir, name) for name in names]
    out = []  # multi-segment record: lines name segment records, each with its own header
    for name in names:
        segment = os.path.join(header_dir, name + ".hea")
        out.append(segment)
        if depth == 0 and os.path.isfile(segment):
            try:
                with open(segment, encoding="latin-1") as f:
                    out += _named_files(f.read(_WHOLE_HEADER_MAX), header_dir, depth=1)
            except OSError:
                pass
    return out


def _read_at(fd: int, n_bytes: int, start: int) -> bytes:
    os.lseek(fd, start, os.SEEK_SET)
    return os.read(fd, n_bytes)


def _hash_file(h, path: str, whole_max: int) -> bytes | None:
    """Feed identity, times, size and content (whole or sampled) of ``path`` into ``h``.

    Returns the content when it was read whole. Never blocks: a FIFO named like a record is
    opened non-blocking and, like anything but a regular file, not read.
    """
    name = path.encode("utf-8", "surrogateescape") + b"\0"
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        h.update(name + f"absent {exc.errno}".encode())
        return None
    try:
        st = os.fstat(fd)
        size = st.st_size
        identity = struct.pack("<5q", st.st_dev, st.st_ino, st.st_ctime_ns, st.st_mtime_ns, size)
        if not stat.S_ISREG(st.st_mode):
            h.update(name + identity + b"not a file")
            return None
        if size <= whole_max:
            content = _read_at(fd, size, 0)
            h.update(name + identity + content)
            return content
        h.update(name + identity + b"".join(
            _read_at(fd, _SAMPLE_BYTES, start)
            for start in (0, (size - _SAMPLE_BYTES) // 2, size - _SAMPLE_BYTES)))
        return None
    except OSError as exc:  # a directory named like a record, a device, ...
        h.update(name + f"unreadable {exc.errno}".encode())
        return None
    finally:
        os.close(fd)


def cache_key(header_paths: list[Path], params: dict) -> str:
    """Hash of the parameters and of every file the records use (see the module docstring)."""
    h = hashlib.sha256(json.dumps({"version": CACHE_VERSION, "params": params},
                                  sort_keys=True, default=str).encode())
    for path in header_paths:
        header = os.fspath(path)
        content = _hash_file(h, header, _WHOLE_HEADER_MAX)
        if content is None:
            continue
        for data in _named_files(content.decode("latin-1"), os.path.dirname(header)):
            _hash_file(h, data, 3 * _SAMPLE_BYTES)
    return h.hexdigest()[:32]


# ---------------------------------------------------------------- reading


def entry_paths(cache_dir: Path, key: str) -> tuple[Path, Path]:
    return cache_dir / f"skecg-{key}.npy", cache_dir / f"skecg-{key}.json"


def load_entry(cache_dir: Path, key: str):
    """Return ``(X memmap, meta DataFrame, info dict)`` or None when there is no complete entry.

    ``X`` is mapped read-only. Not copy-on-write (``mmap_mode="c"``): a private writable mapping
    is charged in full against RAM + swap, so a cache larger than that would fail with ENOMEM.
    """
    npy, js = entry_paths(cache_dir, key)
    try:
        if not (npy.is_file() and js.is_file()):
            return None
        info = json.loads(js.read_text())
        X = np.load(npy, mmap_mode="r")
        if list(X.shape) != info["shape"]:
            return None
        meta = pd.DataFrame(info.pop("meta"))
        for field in ("fs", "lead_names", "skipped"):
            info[field]  # noqa: B018 - a KeyError means an entry of another layout
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return X, meta, info


# ---------------------------------------------------------------- writing


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def remove_stale_temporaries(cache_dir: Path) -> list[Path]:
    """Delete temporaries (of any key) whose writer is dead or that were untouched for a day.

    A writer on this host is dead when its pid no longer runs; a temporary from another host
    (a shared network folder) only counts as dead by age. Returns the removed paths.
    """
    removed = []
    now = time.time()
    try:
        candidates = list(cache_dir.glob(".skecg-*.tmp"))
    except OSError:
        return removed
    for tmp in candidates:
        match = _TEMP_RE.match(tmp.name)
        try:
            old = now - tmp.stat().st_mtime > _STALE_AGE_S
        except OSError:
            continue
        dead = match is not None and match.group(1) in (None, _HOST) and \
            int(match.group(2)) != os.getpid() and not _pid_alive(int(match.group(2)))
        if old or dead:
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


def npy_header(shape: tuple[int, ...], dtype, length: int | None = None) -> bytes:
    """A ``.npy`` version 1.0 header, space-padded to a multiple of 64 bytes or to ``length``."""
    text = (f"{{'descr': {np.lib.format.dtype_to_descr(np.dtype(dtype))!r}, "
            f"'fortran_order': False, 'shape': {tuple(int(n) for n in shape)!r}, }}")
    body = text.encode("latin-1")
    if length is None:
        length = -(-(10 + len(body) + 1) // _NPY_ALIGN) * _NPY_ALIGN
    pad = length - 10 - len(body) - 1
    if pad < 0 or length - 10 > 0xFFFF:
        raise ValueError(f"npy header for shape {shape} does not fit in {length} bytes")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", length - 10) + body + b" " * pad + b"\n"


def _write(file, block: np.ndarray) -> None:
    file.write(memoryview(block).cast("B"))


def _free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def _check_free_space(cache_dir: Path, size: int) -> None:
    """Fail before the load when the cache file cannot fit (quotas still fail at the write).

    ``posix_fallocate`` would reserve the space, but where a filesystem lacks it (NFSv3, some
    FUSE mounts) glibc emulates it by writing every block once more.
    """
    try:
        free = _free_bytes(cache_dir)
    except OSError:
        return
    if free < size:
        raise CacheError(errno.ENOSPC, f"cache_dir {cache_dir}: the cache file needs "
                                       f"{_human(size)} but only {_human(free)} are free (No "
                                       "space left on device); free space there, choose another "
                                       "cache_dir, or pass cache_dir=None to load without a "
                                       "cache")


class EntryWriter:
    """Write one cache entry atomically; use as a context manager around the load.

    Rows are appended in order with :meth:`append` (written through the file, not a memory
    map); :meth:`commit` publishes the entry. Leaving the ``with`` block without ``commit`` (an
    exception, Ctrl-C) deletes the temporaries. Any ``OSError`` of the cache folder is raised as
    :class:`CacheError` naming it.
    """

    def __init__(self, cache_dir: Path, key: str, shape: tuple[int, ...], dtype=np.float32):
        self.cache_dir, self.key = cache_dir, key
        self.dtype = np.dtype(dtype)
        self.row_shape = tuple(shape[1:])
        self.row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize
        self.n_rows = 0
        self._temps: list[Path] = []
        self._file = None
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _cache_error(cache_dir, "cannot create the folder", exc) from exc
        header = npy_header(shape, self.dtype)
        self._header_len = len(header)
        _check_free_space(cache_dir, self._header_len + shape[0] * self.row_bytes)
        try:
            self._file = open(self._new_temp(), "xb")  # noqa: SIM115 - closed in commit/close
            self._file.write(header)
        except OSError as exc:
            self.close()
            raise _cache_error(cache_dir, "cannot write a cache file", exc) from exc

    def _new_temp(self) -> Path:
        path = self.cache_dir / (f".skecg-{self.key}.{_HOST}-{os.getpid()}."
                                 f"{secrets.token_hex(4)}.tmp")
        self._temps.append(path)
        return path

    def __enter__(self) -> EntryWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close and delete the temporaries (no-op after a successful commit)."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None
        for path in self._temps:
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass
        self._temps = []

    def append(self, block: np.ndarray) -> None:
        """Write ``block`` (n, *row_shape) after the rows written so far."""
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if not len(block):
            return
        if block.shape[1:] != self.row_shape:
            raise ValueError(f"cache rows have shape {self.row_shape}; got {block.shape[1:]}")
        try:
            _write(self._file, block)
        except OSError as exc:
            self.close()
            raise _cache_error(self.cache_dir, "cannot write the cache file", exc) from exc
        self.n_rows += len(block)

    def commit(self, meta: pd.DataFrame, info: dict) -> np.ndarray:
        """Publish the rows written so far with ``meta`` and ``info``; return them memory-mapped."""
        shape = (self.n_rows,) + self.row_shape
        npy, js = entry_paths(self.cache_dir, self.key)
        info = dict(info, shape=list(shape), meta={col: meta[col].tolist() for col in meta.columns})
        try:
            f, npy_tmp = self._file, self._temps[0]
            f.seek(0)
            f.write(npy_header(shape, self.dtype, self._header_len))
            f.truncate(self._header_len + self.n_rows * self.row_bytes)
            f.flush()
            os.fsync(f.fileno())
            f.close()
            self._file = None
            js_tmp = self._new_temp()
            js_tmp.write_text(json.dumps(info, default=_json_default))
            os.replace(npy_tmp, npy)
            os.replace(js_tmp, js)
        except OSError as exc:
            self.close()
            raise _cache_error(self.cache_dir, "cannot publish the cache entry", exc) from exc
        self._temps = []
        return np.load(npy, mmap_mode="r")


def _human(n_bytes: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes} bytes"


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in the cache JSON")
