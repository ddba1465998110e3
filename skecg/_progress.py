"""Training progress that reads well both on a terminal and in a log file.

:class:`EpochProgress` is a skorch callback that replaces skorch's ``PrintLog``: after each
epoch it writes one plain line (epoch, the losses and scores of the history row, the epoch's
time in seconds) to standard error. When standard error is a terminal -- checked when each fit
begins, so the same estimator behaves right under ``nohup``, a job scheduler or CI -- it also
shows skorch's :class:`~skorch.callbacks.ProgressBar` during each epoch; in a log file there
are no bars, carriage returns or colour codes, only the lines::

    [SimCLREncoder] epoch   3/170  train_loss 4.1234  valid_loss 4.3311  12.3 s

Like ``PrintLog`` it writes only when the net's ``verbose`` is set, and it subclasses
``PrintLog`` so that skorch runs it after every other callback (all scores of an epoch are in
its line) and so that it can take ``PrintLog``'s place (``callbacks__print_log=``).
"""

from __future__ import annotations

import numbers
import sys
import time
from typing import TextIO

from skorch.callbacks import PrintLog, ProgressBar

__all__ = ["EpochProgress", "format_epoch"]

_SKIPPED = ("epoch", "dur", "batches")


def format_epoch(row: dict, total: int | None = None, prefix: str = "") -> str:
    """One plain line for a skorch history row: epoch, its numeric entries, its time in s.

    Parameters
    ----------
    row : dict
        A row of ``net.history`` (``epoch``, ``dur`` and scores such as ``train_loss``).
    total : int or None
        Number of epochs the fit runs to, shown as ``epoch 3/170``.
    prefix : str
        Put in brackets at the start of the line (e.g. the estimator's name).

    Returns
    -------
    str
    """
    epoch = row.get("epoch", "?")
    width = len(str(total)) if total else 1
    parts = [f"[{prefix}] " if prefix else ""]
    parts.append(f"epoch {epoch:>{width}}/{total}" if total else f"epoch {epoch}")
    for key in sorted(row):
        value = row[key]
        if (key in _SKIPPED or key.endswith(("_best", "_batch_count"))
                or key.startswith("event_") or isinstance(value, bool)
                or not isinstance(value, numbers.Real)):
            continue
        parts.append(f"  {key} {_number(value)}")
    if isinstance(row.get("dur"), numbers.Real):
        parts.append(f"  {row['dur']:.1f} s")
    return "".join(parts)


def _number(value) -> str:
    if isinstance(value, numbers.Integral):
        return str(value)
    value = float(value)
    return f"{value:.4f}" if value == 0 or 1e-3 <= abs(value) < 1e6 else f"{value:.3e}"


class EpochProgress(PrintLog):
    """One plain line per epoch, and skorch's progress bar when the output is a terminal.

    Parameters
    ----------
    prefix : str, default=""
        Shown in brackets at the start of each line (e.g. ``"SimCLREncoder"``).
    bar : {"auto", True, False}, default="auto"
        Show skorch's :class:`~skorch.callbacks.ProgressBar` during epochs: ``"auto"`` when the
        stream is a terminal (``isatty()``, checked as each fit begins).
    stream : file-like or None, default=None
        Where lines go (None: ``sys.stderr`` as it is when the fit begins).

    Notes
    -----
    Writes only when ``net.verbose`` is set. The total shown (``epoch 3/170``) is the
    ``target_epochs_`` of a callback that knows it (skecg's training guards, whose target
    counts the epochs of a resumed run), else the epochs done so far plus ``max_epochs``.
    An epoch ended by early stopping (skorch stops by raising in ``on_epoch_end``, before this
    callback runs) is written when training ends.
    """

    def __init__(self, prefix: str = "", bar="auto", stream: TextIO | None = None):
        self.prefix = prefix
        self.bar = bar
        self.stream = stream
        super().__init__()  # PrintLog's own parameters keep their defaults (unused here)

    def initialize(self):
        super().initialize()
        self.written_ = 0
        self.bar_ = None
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.stream_ = self.stream if self.stream is not None else sys.stderr
        self.written_ = len(net.history)  # rows of an earlier fit or a restored checkpoint
        self.started_ = time.perf_counter()
        targets = [getattr(cb, "target_epochs_", None) for _, cb in net.callbacks_]
        targets = [t for t in targets if isinstance(t, numbers.Integral)]
        self.total_ = targets[0] if targets else len(net.history) + net.max_epochs
        show_bar = _is_terminal(self.stream_) if self.bar == "auto" else bool(self.bar)
        self.bar_ = ProgressBar().initialize() if show_bar and net.verbose else None

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        if self.bar_ is not None:
            self.bar_.on_epoch_begin(net, dataset_train=dataset_train,
                                     dataset_valid=dataset_valid, **kwargs)

    def on_batch_end(self, net, **kwargs):
        if self.bar_ is not None and hasattr(self.bar_, "pbar_"):
            self.bar_.on_batch_end(net, **kwargs)

    def on_epoch_end(self, net, **kwargs):
        self._close_bar()
        self._write_rows(net)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        self._close_bar()
        self._write_rows(net)  # the epoch early stopping ended

    def _close_bar(self) -> None:
        pbar = getattr(self.bar_, "pbar_", None)
        if pbar is not None:
            pbar.close()
            del self.bar_.pbar_

    def _write_rows(self, net) -> None:
        rows = net.history[self.written_:]
        self.written_ = len(net.history)
        if not net.verbose:
            return
        for row in rows:
            self.stream_.write(format_epoch(row, self.total_, self.prefix) + "\n")
        self.stream_.flush()

    def __getstate__(self):  # the stream in use and the bar are not pickled with a net
        state = self.__dict__.copy()
        for key in ("stream_", "bar_"):
            state.pop(key, None)
        return state


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # closed or replaced streams
        return False
