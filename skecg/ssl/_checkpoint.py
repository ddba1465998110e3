"""Training that loses nothing: atomic per-epoch checkpoints, resume, and honest interrupts.

:class:`TrainingGuard` is a skorch callback. After each completed epoch it checks the loss is
finite, keeps the epoch's weights in memory and, with a checkpoint folder, writes the whole
training state (weights, optimiser, history, schedule position, random generators) to a hidden
temporary folder that is renamed to ``epoch-NNNNN`` once every file is on disk; the previous
epoch's folder is then removed. A kill at any moment therefore leaves one complete checkpoint.

skorch's ``partial_fit`` catches ``KeyboardInterrupt`` (that is how ``EarlyStopping`` stops), so
a Ctrl-C would otherwise end ``fit`` normally with a half-trained model. At the end of training
the guard tells a finished or early-stopped fit from an interrupted one, rolls an interrupted
fit back to its last completed epoch and raises :class:`TrainingInterrupted`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import Callback
from skorch.history import History

from .._interrupt import TrainingInterrupted, was_interrupted  # noqa: F401 (re-exported)
from ._distributed import is_main_process

CHECKPOINT_FORMAT = "skecg-checkpoint"
CHECKPOINT_FORMAT_VERSION = 1
_EPOCH_PREFIX = "epoch-"
_FILES = ("meta.json", "history.json", "params.pt", "optimizer.pt", "training_state.pt")


# ----------------------------------------------------------------------------- folders
def checkpoint_folders(dirname: str | os.PathLike) -> list[Path]:
    """Complete checkpoint folders in ``dirname``, oldest first (hidden temporaries ignored)."""
    dirname = Path(dirname)
    if not dirname.is_dir():
        return []
    found = [p for p in dirname.iterdir()
             if p.is_dir() and p.name.startswith(_EPOCH_PREFIX) and p.name[6:].isdigit()]
    return sorted(found, key=lambda p: int(p.name[len(_EPOCH_PREFIX):]))


def is_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a checkpoint folder or a folder holding checkpoints."""
    path = Path(path)
    return (path / "meta.json").is_file() or bool(checkpoint_folders(path))


def visible_entries(dirname: str | os.PathLike) -> list[Path]:
    """Entries of ``dirname`` other than the hidden temporaries a killed write leaves."""
    dirname = Path(dirname)
    if not dirname.is_dir():
        return []
    return [p for p in dirname.iterdir() if not p.name.startswith(".")]


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load one checkpoint: ``path`` is an ``epoch-NNNNN`` folder or a folder of them (latest).

    Returns
    -------
    dict with keys ``meta``, ``history`` (skorch History), ``params``, ``optimizer``,
    ``training_state`` and ``path``.

    Raises
    ------
    ValueError
        If ``path`` holds no complete skecg checkpoint; the message names it.
    """
    path = Path(path)
    folders = checkpoint_folders(path)
    folder = folders[-1] if folders else path
    missing = [name for name in _FILES if not (folder / name).is_file()]
    if missing:
        raise ValueError(f"{path} holds no skecg checkpoint (missing {', '.join(missing)}).")
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise ValueError("not a skecg checkpoint")
        return {
            "meta": meta,
            "history": History.from_file(str(folder / "history.json")),
            "params": _load_tensors(folder / "params.pt"),
            "optimizer": _load_tensors(folder / "optimizer.pt"),
            "training_state": _load_tensors(folder / "training_state.pt"),
            "path": folder,
        }
    except (ValueError, OSError, RuntimeError, EOFError, KeyError) as exc:
        raise ValueError(f"{folder} is not a readable skecg checkpoint ({exc}).") from None


def _load_tensors(path: Path):
    return torch.load(path, map_location="cpu", weights_only=True)


def _write_file(path: Path, write) -> None:
    with open(path, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # directories cannot be opened on some platforms (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _discard(path: Path) -> None:
    """Remove a folder by first renaming it aside, so no torn ``epoch-*`` folder is ever seen."""
    trash = path.with_name(f".trash-{path.name}-{os.getpid()}")
    os.replace(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def clean_temporaries(dirname: str | os.PathLike) -> None:
    """Remove what killed checkpoint writes left behind in ``dirname``."""
    dirname = Path(dirname)
    if dirname.is_dir():
        for p in dirname.iterdir():
            if p.name.startswith((".tmp-", ".trash-")):
                shutil.rmtree(p, ignore_errors=True)


def write_checkpoint(net, dirname: Path, meta: dict, training_state: dict) -> Path:
    """Write the net's state after ``len(net.history)`` epochs atomically; drop older ones."""
    dirname.mkdir(parents=True, exist_ok=True)
    epoch = len(net.history)
    tmp = Path(tempfile.mkdtemp(dir=dirname, prefix=f".tmp-{_EPOCH_PREFIX}"))
    try:
        meta = {**meta, "format": CHECKPOINT_FORMAT,
                "format_version": CHECKPOINT_FORMAT_VERSION, "epoch": epoch}
        _write_file(tmp / "params.pt", lambda f: torch.save(_cpu(net.module_.state_dict()), f))
        _write_file(tmp / "optimizer.pt", lambda f: torch.save(net.optimizer_.state_dict(), f))
        _write_file(tmp / "training_state.pt", lambda f: torch.save(training_state, f))
        history = json.dumps(net.history.to_list()).encode()
        _write_file(tmp / "history.json", lambda f: f.write(history))
        _write_file(tmp / "meta.json", lambda f: f.write(json.dumps(meta, indent=1).encode()))
        _fsync_dir(tmp)
        final = dirname / f"{_EPOCH_PREFIX}{epoch:05d}"
        if final.exists():
            _discard(final)
        os.replace(tmp, final)
        _fsync_dir(dirname)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in checkpoint_folders(dirname):
        if old != final:
            _discard(old)
    return final


def _cpu(state: dict) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


# --------------------------------------------------------------------------- callback
class TrainingGuard(Callback):
    """Finite-loss check, per-epoch checkpoints, resume and interrupt handling (see module).

    Parameters
    ----------
    dirname : str, PathLike or None
        Checkpoint folder (None: keep the last completed epoch in memory only).
    meta : dict
        Plain values stored with each checkpoint (estimator name and parameters).
    resume_from : dict or None
        A checkpoint from :func:`read_checkpoint` to restore when training begins (once).
    """

    def __init__(self, dirname=None, meta=None, resume_from=None):
        self.dirname = dirname
        self.meta = meta
        self.resume_from = resume_from

    def initialize(self):
        self.snapshot_ = None
        self.last_checkpoint_ = None
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.target_epochs_ = len(net.history) + net.max_epochs
        if self.resume_from is not None:
            self._restore(net, self.resume_from)
            self.last_checkpoint_ = self.resume_from["path"]
            self.resume_from = None  # restore once: a later warm start continues in memory
        self._snapshot(net)

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1].get("train_loss", np.nan)
        if not np.isfinite(loss):
            raise ValueError(
                f"training loss became {loss} in epoch {len(net.history)}: the optimisation "
                "diverged (try a lower lr, a higher temperature or precision=32).")
        # write first: an interrupted write leaves the snapshot (and the model) at the last
        # epoch that is on disk
        if self.dirname is not None and is_main_process():  # data-parallel: rank 0 writes
            self.last_checkpoint_ = write_checkpoint(net, Path(self.dirname), self.meta or {},
                                                     self._training_state(net))
        self._snapshot(net)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        snapshot, self.snapshot_ = self.snapshot_, None  # a fitted net carries no copy
        epoch = snapshot["epoch"]
        if not was_interrupted(net, epoch, self.target_epochs_):
            return
        net.module_.load_state_dict(snapshot["params"])
        net.module_.load_training_state(snapshot["module"])
        del net.history[epoch:]
        where = (f"checkpoint {self.last_checkpoint_}" if self.last_checkpoint_ is not None
                 else "memory only (set checkpoint_dir to keep it on disk)")
        raise TrainingInterrupted(
            f"training interrupted after {epoch} of {self.target_epochs_} epochs; the model "
            f"holds epoch {epoch}, kept in {where}.", epoch, self.last_checkpoint_)

    # -------------------------------------------------------------------- state
    def _snapshot(self, net) -> None:
        self.snapshot_ = {"epoch": len(net.history), "params": _cpu(net.module_.state_dict()),
                          "module": net.module_.training_state()}

    @staticmethod
    def _training_state(net) -> dict:
        callbacks = dict(net.callbacks_)
        hooks, schedule = callbacks["module_hooks"], callbacks.get("lr_schedule")
        scaler = getattr(net, "grad_scaler_", None)
        return {
            "step": hooks.step_,
            "lr_batch_idx": schedule.batch_idx_ if schedule is not None else 0,
            "module": net.module_.training_state(),
            "generator": net.generator_.get_state(),
            "torch_rng": torch.get_rng_state(),
            "grad_scaler": scaler.state_dict() if scaler is not None else {},
        }

    @staticmethod
    def _restore(net, checkpoint: dict) -> None:
        state = checkpoint["training_state"]
        net.module_.load_state_dict(checkpoint["params"])
        net.module_.load_training_state(state["module"])
        net.optimizer_.load_state_dict(checkpoint["optimizer"])
        net.history = checkpoint["history"]
        net.generator_.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if getattr(net, "grad_scaler_", None) is not None and state["grad_scaler"]:
            net.grad_scaler_.load_state_dict(state["grad_scaler"])
        callbacks = dict(net.callbacks_)
        callbacks["module_hooks"].step_ = state["step"]
        schedule = callbacks.get("lr_schedule")
        if schedule is not None:  # continue the schedule at the step reached
            scheduler, step = schedule.lr_scheduler_, state["step"]
            schedule.batch_idx_ = state["lr_batch_idx"]
            lrs = [base * fn(step) for base, fn in zip(scheduler.base_lrs, scheduler.lr_lambdas,
                                                        strict=True)]
            scheduler.last_epoch, scheduler._last_lr = step, lrs
            for group, lr in zip(net.optimizer_.param_groups, lrs, strict=True):
                group["lr"] = lr
