"""A small, fast parser for WFDB header (``.hea``) files.

``wfdb.rdheader`` costs about 2 ms per record, mostly Python overhead; reading the few fields the
loaders need by hand is ~20x cheaper. A multi-segment record raises :class:`UnsupportedHeader`,
and the caller falls back to ``wfdb.rdrecord``; a malformed header raises :class:`RecordError`
naming the file and the line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

_FMT_RE = re.compile(r"^(\d+)(?:x(\d+))?(?::(\d+))?(?:\+(\d+))?$")
_GAIN_RE = re.compile(r"^([-+]?[\d.]+(?:[eE][-+]?\d+)?)(?:\(([-+]?\d+)\))?(?:/(\S+))?$")
_DEFAULT_GAIN = 200.0  # WFDB default ADC gain (adu per physical unit)
_DEFAULT_FS = 250.0  # WFDB default sampling frequency
WFDB_FORMATS = ("8", "16", "24", "32", "61", "80", "160", "212", "310", "311", "508", "516", "524")


class RecordError(ValueError):
    """A WFDB record could not be read or does not match what was requested."""


class UnsupportedHeader(Exception):
    """The header is valid WFDB but outside what the fast reader handles."""


@dataclass
class Header:
    """The fields of a WFDB header that the loaders use."""

    path: Path  # the .hea file
    record_name: str
    n_signals: int
    fs: float  # Hz
    n_samples: int | None  # per signal; None when the header leaves it out
    file_names: list[str] = field(default_factory=list)
    fmts: list[str] = field(default_factory=list)
    samples_per_frame: list[int] = field(default_factory=list)
    skews: list[int] = field(default_factory=list)
    byte_offsets: list[int] = field(default_factory=list)
    gains: list[float] = field(default_factory=list)  # adu per unit
    baselines: list[int] = field(default_factory=list)  # adu
    units: list[str] = field(default_factory=list)
    sig_names: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)


def _shown(line: str, limit: int = 80) -> str:
    """``repr`` of a header line for messages, cut to ``limit`` characters (binary garbage)."""
    return repr(line) if len(line) <= limit else repr(line[:limit]) + f"... ({len(line)} chars)"


def _parse_fs(token: str, where: str) -> float:
    value = re.split(r"[/(]", token, maxsplit=1)[0]
    try:
        fs = float(value)
    except ValueError:
        raise RecordError(f"{where}: sampling frequency {token!r} is not a number") from None
    if not (fs > 0 and math.isfinite(fs)):
        raise RecordError(f"{where}: sampling frequency must be a finite number > 0 Hz; got "
                          f"{token!r}")
    return fs


def parse_header(path: Path) -> Header:
    """Parse a single-segment WFDB header.

    Parameters
    ----------
    path : Path
        The ``.hea`` file (read as Latin-1, so any byte sequence decodes).

    Returns
    -------
    Header

    Raises
    ------
    RecordError
        The file is unreadable, empty, or malformed; its record line and its signal lines
        disagree on the number of signals (message names the file and the line).
    UnsupportedHeader
        A multi-segment record.
    """
    try:
        text = path.read_text(encoding="latin-1")
    except OSError as exc:
        raise RecordError(f"cannot read header {path}: {exc}") from exc
    comments: list[str] = []
    lines: list[tuple[int, str]] = []  # (line number, text) of the non-comment lines
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            comments.append(stripped[1:].strip())
        else:
            lines.append((number, stripped))
    if not lines:
        raise RecordError(f"header {path} is empty: expected a record line "
                          "'<name> <n_signals> <fs> <n_samples>'")
    number, record_line = lines[0]
    where = f"header {path} line {number}: record line {_shown(record_line)}"
    tokens = record_line.split()
    if "/" in tokens[0]:
        raise UnsupportedHeader("multi-segment record")
    try:
        n_signals = int(tokens[1])
    except (IndexError, ValueError):
        raise RecordError(f"{where} must give '<name> <n_signals> [fs] [n_samples]'") from None
    if n_signals < 1:
        raise RecordError(f"{where} declares {n_signals} signals; expected at least 1")
    fs = _parse_fs(tokens[2], where) if len(tokens) > 2 else _DEFAULT_FS
    n_samples = None
    if len(tokens) > 3:
        try:
            n_samples = int(tokens[3])
        except ValueError:
            n_samples = -1
        if n_samples < 0:
            raise RecordError(f"{where}: number of samples {tokens[3]!r} is not an integer "
                              ">= 0") from None
    n_lines = len(lines) - 1
    if n_lines != n_signals:
        what = "truncated header?" if n_lines < n_signals else "wrong count on the record line?"
        raise RecordError(f"header {path} declares {n_signals} signals but has {n_lines} signal "
                          f"lines (record line {number}: {_shown(record_line)}; {what})")
    header = Header(path=path, record_name=tokens[0], n_signals=n_signals, fs=fs,
                    n_samples=n_samples, comments=comments)
    for number, line in lines[1:]:
        _parse_signal_line(header, line, number)
    return header


def _parse_signal_line(header: Header, line: str, number: int) -> None:
    tokens = line.split()
    where = f"header {header.path} line {number}: signal line {_shown(line)}"
    if len(tokens) < 2:
        raise RecordError(f"{where} must give at least '<file> <format>'")
    fmt_match = _FMT_RE.match(tokens[1])
    if fmt_match is None:
        raise RecordError(f"{where}: format {tokens[1]!r} is not '<fmt>[x<spf>][:skew][+offset]'")
    fmt, spf, skew, offset = fmt_match.groups()
    if fmt not in WFDB_FORMATS:
        raise RecordError(f"{where}: format {fmt!r} is not a WFDB signal format; expected one of "
                          f"{', '.join(WFDB_FORMATS)}")
    if spf is not None and int(spf) < 1:
        raise RecordError(f"{where}: samples per frame {spf!r} must be >= 1")
    gain, baseline, units = _DEFAULT_GAIN, None, "mV"
    if len(tokens) > 2:
        gain_match = _GAIN_RE.match(tokens[2])
        if gain_match is None:
            raise RecordError(f"{where}: gain {tokens[2]!r} is not '<gain>[(baseline)][/units]'")
        gain_str, baseline_str, units_str = gain_match.groups()
        try:
            gain = float(gain_str)
        except ValueError:
            raise RecordError(f"{where}: gain {gain_str!r} is not a number") from None
        if not math.isfinite(gain):
            raise RecordError(f"{where}: gain {gain_str!r} is not finite")
        gain = gain or _DEFAULT_GAIN  # WFDB: a gain of 0 means the default, 200 adu/unit
        baseline = int(baseline_str) if baseline_str is not None else None
        units = units_str if units_str is not None else units
    if baseline is None:  # WFDB: baseline defaults to the ADC zero (5th field)
        try:
            baseline = int(tokens[4]) if len(tokens) > 4 else 0
        except ValueError:
            raise RecordError(f"{where}: ADC zero {tokens[4]!r} is not an integer") from None
    header.file_names.append(tokens[0])
    header.fmts.append(fmt)
    header.samples_per_frame.append(int(spf) if spf else 1)
    header.skews.append(int(skew) if skew else 0)
    header.byte_offsets.append(int(offset) if offset else 0)
    header.gains.append(gain)
    header.baselines.append(baseline)
    header.units.append(units)
    header.sig_names.append(" ".join(tokens[8:]) if len(tokens) > 8 else "")
