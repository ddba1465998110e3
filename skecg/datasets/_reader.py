"""Read one WFDB record into a float32 (n_leads, n_samples) array in mV, resampled and cropped."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from ._header import Header, RecordError, UnsupportedHeader, parse_header

_UNIT_SCALE = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}  # -> mV
_INVALID_16 = -32768  # WFDB "no sample" value for format 16
_MAT4_HEADER_BYTES = 20  # MATLAB v4: type, rows, columns, imaginary flag, name length (int32)
_MAT4_INT16 = 30  # MATLAB v4 type code of a little-endian full int16 matrix
_MAX_RATIO_DENOMINATOR = 1000  # bound on up/down of the polyphase filter
CROP_POLICIES = ("start", "center", "end")
PAD_POLICIES = ("zeros", "edge", "error")


@dataclass
class ReadSpec:
    """What every record of one load is turned into."""

    leads: tuple[str, ...] | None  # None: all leads, in the first record's order
    fs: float | None  # output rate in Hz; None: keep the source rate (must be shared)
    duration: float | None  # seconds; None: keep the length (must be shared)
    crop: str = "start"
    pad: str = "zeros"
    fs_required: float | None = None  # set from the first record when fs is None
    n_out: int | None = None  # samples per lead, set from the first record
    n_leads: int | None = None  # set from the first record
    length_hint: str = "pass duration= to crop/pad"  # how the caller's user fixes a length


def why_not_a_file(path: Path) -> str:
    """Why ``path`` cannot be read as a file, as the end of a sentence ("is missing", ...)."""
    if path.is_dir():
        return "is a folder, not a file"
    if path.is_symlink() and not path.exists():
        return f"is a broken link (to {Path(path).readlink()})"
    if path.exists():
        return "is not a regular file (a FIFO, socket or device?)"
    return "is missing"


def resample_ratio(fs_out: float, fs_src: float) -> tuple[int, int]:
    """Return ``(up, down)`` with ``up / down ~= fs_out / fs_src`` (denominator <= 1000)."""
    ratio = Fraction(fs_out).limit_denominator(10**6) / Fraction(fs_src).limit_denominator(10**6)
    ratio = ratio.limit_denominator(_MAX_RATIO_DENOMINATOR)
    return ratio.numerator, ratio.denominator


def _unit_scale(unit: str, header: Header, lead: str) -> float:
    try:
        return _UNIT_SCALE[(unit or "mV").strip().lower()]
    except KeyError:
        raise RecordError(f"record {header.path}: lead {lead!r} is in unit {unit!r}; expected a "
                          f"voltage ({', '.join(_UNIT_SCALE)})") from None


def _select_channels(names: list[str], leads, path) -> list[int]:
    if leads is None:
        return list(range(len(names)))
    lookup: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        lookup.setdefault(name.strip().lower(), []).append(i)
    wanted = [lead.strip().lower() for lead in leads]
    missing = [lead for lead, key in zip(leads, wanted, strict=True) if key not in lookup]
    if missing:
        raise RecordError(f"record {path}: lead(s) {missing} not found; the record has leads "
                          f"{names}, expected {list(leads)}")
    twice = [lead for lead, key in zip(leads, wanted, strict=True) if len(lookup[key]) > 1]
    if twice:
        raise RecordError(f"record {path}: lead(s) {twice} appear more than once among its "
                          f"signals {names}; cannot tell which to use")
    return [lookup[key][0] for key in wanted]


def _check_finite(signal: np.ndarray, names: list[str], path) -> None:
    """Raise naming the leads if ``signal`` holds NaN or infinite samples."""
    finite = np.isfinite(signal)
    if not finite.all():
        bad = [names[i] for i in np.flatnonzero(~finite.all(axis=1))]
        raise RecordError(f"record {path}: {int((~finite).sum())} NaN or infinite samples in "
                          f"lead(s) {bad}; expected finite samples")


def _fast_path_ok(h: Header) -> bool:
    return (h.n_signals > 0 and all(f == "16" for f in h.fmts)
            and all(s == 1 for s in h.samples_per_frame) and not any(h.skews)
            and len(set(h.file_names)) == 1 and len(set(h.byte_offsets)) == 1)


def _read_digital_16(h: Header, channels: list[int]) -> np.ndarray:
    """Format-16 samples of ``channels`` as int16 of shape (n_channels, n_samples)."""
    data_path = h.path.parent / h.file_names[0]
    if not data_path.is_file():
        raise RecordError(f"record {h.path}: signal file {data_path} named in the header "
                          f"{why_not_a_file(data_path)}")
    offset = h.byte_offsets[0]
    try:
        raw = np.fromfile(data_path, dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise RecordError(f"record {h.path}: cannot read signal file {data_path}: {exc}") from exc
    if data_path.suffix.lower() == ".mat" and not _is_mat4_int16(raw, h.n_signals, offset):
        return _read_mat(h, data_path)[channels]  # any other .mat: float 'val', v5, ...
    data = raw[offset:]
    flat = data[:data.size - data.size % 2].view("<i2")
    n_frames = flat.size // h.n_signals
    if h.n_samples is not None and n_frames < h.n_samples:
        raise RecordError(f"record {h.path}: signal file {data_path} holds {n_frames} samples per "
                          f"lead; the header declares {h.n_samples} (truncated file?)")
    if h.n_samples and flat.size > h.n_samples * h.n_signals and flat.size % h.n_samples == 0:
        raise RecordError(f"record {h.path}: signal file {data_path} holds {flat.size} samples, "
                          f"i.e. {flat.size // h.n_samples} signals x {h.n_samples}; the header "
                          f"declares {h.n_signals} signals (wrong signal count in the header?)")
    if h.n_samples is None and flat.size % h.n_signals:
        raise RecordError(f"record {h.path}: signal file {data_path} size is not a multiple of "
                          f"{h.n_signals} signals x 2 bytes (truncated file?)")
    n = h.n_samples if h.n_samples is not None else n_frames
    frames = flat[:n * h.n_signals].reshape(n, h.n_signals)
    return frames[:, channels].T


def _is_mat4_int16(raw: np.ndarray, n_signals: int, offset: int) -> bool:
    """Whether ``raw`` is a MATLAB v4 file whose int16 (n_signals, n) matrix starts at ``offset``.

    Only then may the header's format 16 + byte offset be read directly; a float64 'val', a v5
    file or a wrong offset goes through ``scipy.io.loadmat`` instead.
    """
    if offset == 0 or raw.size < _MAT4_HEADER_BYTES:
        return False
    mopt, n_rows, _, imaginary, name_length = struct.unpack("<5i", raw[:_MAT4_HEADER_BYTES])
    return (mopt == _MAT4_INT16 and imaginary == 0 and n_rows == n_signals
            and _MAT4_HEADER_BYTES + name_length == offset)


def _read_mat(h: Header, data_path: Path) -> np.ndarray:
    """Read a challenge-style MATLAB file (key ``val``, shape (n_signals, n_samples))."""
    from scipy.io import loadmat

    try:
        val = loadmat(data_path)["val"]
    except Exception as exc:  # scipy raises many types for corrupt files
        raise RecordError(f"record {h.path}: cannot read 'val' from {data_path}: {exc}") from exc
    if not isinstance(val, np.ndarray) or val.dtype.kind not in "iuf":
        raise RecordError(f"record {h.path}: 'val' in {data_path} is not a numeric matrix "
                          f"(got {getattr(val, 'dtype', type(val))}); expected int16 samples")
    if val.ndim != 2 or val.shape[0] != h.n_signals:
        raise RecordError(f"record {h.path}: 'val' in {data_path} has shape {val.shape}; expected "
                          f"({h.n_signals}, n_samples)")
    if h.n_samples is not None and val.shape[1] < h.n_samples:
        raise RecordError(f"record {h.path}: {data_path} holds {val.shape[1]} samples per lead; "
                          f"the header declares {h.n_samples}")
    return val[:, :h.n_samples] if h.n_samples is not None else val


def _read_physical_fast(h: Header, leads) -> tuple[np.ndarray, list[str]]:
    channels = _select_channels(h.sig_names, leads, h.path)
    digital = _read_digital_16(h, channels)
    invalid = digital == _INVALID_16
    if invalid.any():
        bad = [h.sig_names[channels[i]] for i in np.flatnonzero(invalid.any(axis=1))]
        raise RecordError(f"record {h.path}: {int(invalid.sum())} NaN (invalid) samples in "
                          f"lead(s) {bad}; expected finite samples")
    gains = np.array([h.gains[c] for c in channels], dtype=np.float32)[:, None]
    baselines = np.array([h.baselines[c] for c in channels], dtype=np.float32)[:, None]
    names = [h.sig_names[c] for c in channels]
    scales = [_unit_scale(h.units[c], h, h.sig_names[c]) for c in channels]
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        signal = (digital.astype(np.float32) - baselines) / gains
        if any(s != 1.0 for s in scales):
            signal *= np.array(scales, dtype=np.float32)[:, None]
    _check_finite(signal, names, h.path)  # a float 'val' (.mat) with NaN/Inf, or beyond float32
    return signal, names


def _read_physical_wfdb(path: Path, leads) -> tuple[np.ndarray, list[str], Header]:
    """Fallback for formats the fast path does not handle: ``wfdb.rdrecord``."""
    import wfdb

    try:
        rec = wfdb.rdrecord(str(path.with_suffix("")))
    except Exception as exc:  # wfdb raises many types for corrupt records
        raise RecordError(f"record {path}: wfdb could not read it: {type(exc).__name__}: "
                          f"{exc}") from exc
    names = list(rec.sig_name or [])
    h = Header(path=path, record_name=rec.record_name, n_signals=rec.n_sig, fs=float(rec.fs),
               n_samples=rec.sig_len, sig_names=names, units=list(rec.units or []),
               comments=list(rec.comments or []))
    channels = _select_channels(names, leads, path)
    if rec.p_signal is None:
        raise RecordError(f"record {path}: wfdb returned no single-segment signal")
    selected = [names[c] for c in channels]
    scales = [_unit_scale(h.units[c] if c < len(h.units) else "mV", h, names[c])
              for c in channels]
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        signal = rec.p_signal[:, channels].T.astype(np.float32)
        if any(s != 1.0 for s in scales):
            signal *= np.array(scales, dtype=np.float32)[:, None]
    _check_finite(signal, selected, path)  # wfdb marks invalid samples NaN
    return signal, selected, h


def read_physical(path: Path, leads) -> tuple[np.ndarray, list[str], Header]:
    """Read a record's ``leads`` (None: all) as float32 (n_leads, n_samples) in mV.

    Uses the fast header parser and ``np.fromfile`` for format 16 (PTB-XL ``.dat``, challenge
    ``.mat`` with a byte offset), ``scipy.io.loadmat`` for ``.mat`` files without one, and
    ``wfdb.rdrecord`` for everything else.
    """
    if not path.is_file():
        raise RecordError(f"record header {path} {why_not_a_file(path)}")
    try:
        header = parse_header(path)
    except UnsupportedHeader:
        return _read_physical_wfdb(path, leads)
    for name in dict.fromkeys(header.file_names):  # also for records read by wfdb below
        if name != "~" and not (path.parent / name).is_file():  # "~": no signal file
            raise RecordError(f"record {path}: signal file {path.parent / name} named in the "
                              f"header {why_not_a_file(path.parent / name)}")
    if not _fast_path_ok(header):
        signal, names, wheader = _read_physical_wfdb(path, leads)
        wheader.comments = header.comments
        return signal, names, wheader
    signal, names = _read_physical_fast(header, leads)
    return signal, names, header


def fit_length(signal: np.ndarray, n_target: int, crop: str, pad: str, path) -> np.ndarray:
    """Crop or pad ``signal`` (n_leads, n) to ``n_target`` samples along the last axis."""
    n = signal.shape[-1]
    if n > n_target:
        start = {"start": 0, "center": (n - n_target) // 2, "end": n - n_target}[crop]
        return signal[:, start:start + n_target]
    if n < n_target:
        if pad == "error":
            raise RecordError(f"record {path} has {n} samples after resampling; expected at "
                              f"least {n_target} (duration x fs) and pad='error'")
        missing = n_target - n
        before = {"start": 0, "center": missing // 2, "end": missing}[crop]
        mode = "constant" if pad == "zeros" else "edge"
        return np.pad(signal, ((0, 0), (before, missing - before)), mode=mode)
    return signal


def read_record(path: Path, spec: ReadSpec) -> tuple[np.ndarray, dict]:
    """Read, convert, resample and crop/pad one record according to ``spec``.

    Returns
    -------
    signal : np.ndarray of shape (n_leads, n_out), float32, mV
    info : dict with ``record``, ``fs_original`` (Hz), ``n_samples_original``, ``lead_names``
        (as in the file) and ``comments`` (header comment lines).
    """
    signal, names, header = read_physical(path, spec.leads)
    fs_src, n_src = header.fs, signal.shape[-1]
    if n_src == 0:
        raise RecordError(f"record {path} has 0 samples; expected a non-empty signal")
    fs_out = spec.fs
    if fs_out is None:
        if spec.fs_required is not None and not math.isclose(fs_src, spec.fs_required):
            raise RecordError(f"record {path} is sampled at {fs_src:g} Hz; expected "
                              f"{spec.fs_required:g} Hz like the first record (pass fs= to "
                              "resample)")
        fs_out = fs_src
    if not math.isclose(fs_out, fs_src):
        up, down = resample_ratio(fs_out, fs_src)
        signal = resample_poly(signal, up, down, axis=-1).astype(np.float32, copy=False)
    if spec.duration is not None:
        signal = fit_length(signal, int(round(spec.duration * fs_out)), spec.crop, spec.pad, path)
    elif spec.n_out is not None and signal.shape[-1] != spec.n_out:
        raise RecordError(f"record {path} has {signal.shape[-1]} samples at {fs_out:g} Hz; "
                          f"expected {spec.n_out} like the first record ({spec.length_hint})")
    info = {"record": header.record_name, "fs_original": fs_src, "n_samples_original": n_src,
            "lead_names": names, "comments": header.comments}
    return np.ascontiguousarray(signal, dtype=np.float32), info
