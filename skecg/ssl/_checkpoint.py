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

Each fit trains into a folder of its own (a *run*) inside ``checkpoint_dir``, named after a
fingerprint of the fit's training parameters and of its data (:func:`data_fingerprint`), and
claimed with a lock file (:func:`lock_run`), so clones in a cross-validation or a grid search
never share training state and two processes never train into one folder.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import socket
import tempfile
import time
from contextlib import contextmanager
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
    """Whether ``path`` is a checkpoint folder, a run folder or a folder holding runs."""
    path = Path(path)
    return (path / "meta.json").is_file() or bool(run_folders(path))


def run_folders(dirname: str | os.PathLike) -> list[Path]:
    """Training runs in ``dirname``: its subfolders that hold checkpoints, sorted by name.

    ``dirname`` itself comes first when it holds ``epoch-NNNNN`` folders directly (it is a run
    folder, or a checkpoint folder of a skecg before per-fit runs).
    """
    dirname = Path(dirname)
    if not dirname.is_dir():
        return []
    own = [dirname] if checkpoint_folders(dirname) else []
    subs = sorted(p for p in dirname.iterdir()
                  if p.is_dir() and not p.name.startswith((".", _EPOCH_PREFIX))
                  and checkpoint_folders(p))
    return own + subs


def read_meta(run: str | os.PathLike) -> dict:
    """The ``meta.json`` of a run's latest checkpoint (estimator, parameters, data, epoch)."""
    folders = checkpoint_folders(run)
    if not folders:
        raise ValueError(f"{run} holds no skecg checkpoint.")
    try:
        meta = json.loads((folders[-1] / "meta.json").read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{folders[-1]} is not a readable skecg checkpoint ({exc}).") from None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{folders[-1]} is not a readable skecg checkpoint (no format marker).")
    return meta


def visible_entries(dirname: str | os.PathLike) -> list[Path]:
    """Entries of ``dirname`` other than the hidden temporaries a killed write leaves."""
    dirname = Path(dirname)
    if not dirname.is_dir():
        return []
    return [p for p in dirname.iterdir() if not p.name.startswith(".")]


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load one checkpoint: an ``epoch-NNNNN`` folder, a run folder of them (its latest), or a
    ``checkpoint_dir`` that holds a single run.

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
    if not folders and not (path / "meta.json").is_file():
        runs = run_folders(path)
        if len(runs) > 1:
            raise ValueError(f"{path} holds {len(runs)} training runs "
                             f"({', '.join(r.name for r in runs)}); pass one of them.")
        folders = checkpoint_folders(runs[0]) if runs else []
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


# ------------------------------------------------------------------- runs: one per fit
DATA_SAMPLE_RECORDS = 256  # records read by data_fingerprint, spread evenly over X
DATA_SAMPLE_VALUES = 4096  # values kept per sampled record (strided)
LOCK_NAME = ".lock"
_EMPTY_LOCK_GRACE_S = 60.0  # a lock file still empty after this long was left by a crash


def data_fingerprint(X) -> dict:
    """A cheap, deterministic fingerprint of training data: shape, dtype and a sampled hash.

    Reads at most :data:`DATA_SAMPLE_RECORDS` records, spread evenly over ``X`` (the first and
    the last included), and hashes up to :data:`DATA_SAMPLE_VALUES` strided values of each with
    the shape, dtype and the positions read, so a memmap or an out-of-core array of any size is
    never read whole. Different folds or subsets of a corpus differ in the records at these
    positions; two arrays that agree on shape, dtype and every sampled value share a
    fingerprint.

    Parameters
    ----------
    X : array-like of shape (n_records, n_leads, n_samples)
        Indexable by an int array of record numbers (``np.ndarray``, ``np.memmap``, an
        out-of-core ECG array).

    Returns
    -------
    dict with ``shape`` (list), ``dtype`` (str) and ``sha256`` (hex str).
    """
    shape = [int(n) for n in X.shape]
    dtype = str(np.dtype(X.dtype))
    rows = np.unique(np.linspace(0, shape[0] - 1, min(shape[0], DATA_SAMPLE_RECORDS))
                     .round().astype(np.int64))
    sample = np.asarray(X[rows], dtype=np.float32).reshape(len(rows), -1)
    step = max(1, -(-sample.shape[1] // DATA_SAMPLE_VALUES))  # ceil division
    digest = hashlib.sha256(json.dumps({"shape": shape, "dtype": dtype}).encode())
    digest.update(rows.tobytes())
    digest.update(np.ascontiguousarray(sample[:, ::step]).tobytes())
    return {"shape": shape, "dtype": dtype, "sha256": digest.hexdigest()}


def params_fingerprint(params: dict) -> str:
    """SHA-256 (hex) of plain parameter values, independent of their order."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=repr).encode()).hexdigest()


def new_run_folder(dirname: str | os.PathLike, name: str) -> Path:
    """Create a new, empty run folder in ``dirname``: ``name``, else ``name-2``, ``name-3``...

    The folder is created with ``mkdir`` (atomic), so no two fits ever get the same one.
    """
    dirname = Path(dirname)
    dirname.mkdir(parents=True, exist_ok=True)
    for i in itertools.count(1):
        folder = dirname / (name if i == 1 else f"{name}-{i}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise AssertionError("unreachable")  # pragma: no cover


def lock_holder(run: str | os.PathLike) -> dict | None:
    """``{"pid", "host", "time"}`` of the process holding ``run``'s lock; None when unlocked.

    A lock left by a process of this host that no longer runs (killed, crashed) counts as
    unlocked.
    """
    holder = _read_lock(Path(run) / LOCK_NAME)
    if holder is None or not _alive(holder):
        return None
    return holder


def lock_run(run: str | os.PathLike) -> Path:
    """Claim ``run`` for this process: create ``run/.lock`` exclusively with our pid and host.

    A lock whose process no longer runs (same host) is taken over.

    Returns
    -------
    pathlib.Path
        The lock file (give it to :func:`unlock_run`).

    Raises
    ------
    ValueError
        If another live process holds the lock; the message names the process and the file.
    """
    path = Path(run) / LOCK_NAME
    me = {"pid": os.getpid(), "host": socket.gethostname(), "time": time.time()}
    for _ in range(5):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read_lock(path)
            if holder is None:  # released meanwhile
                continue
            if _alive(holder):
                where = "this process" if _is_me(holder) else (
                    f"process {holder.get('pid')} on {holder.get('host')}")
                raise ValueError(
                    f"{run} is being trained by {where} (lock file {path}); two fits never "
                    f"train into one folder. If that process no longer runs, delete {path}."
                ) from None
            _break_stale(path, holder)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(me))
            f.flush()
            os.fsync(f.fileno())
        return path
    raise ValueError(f"could not lock {run}: its lock file {path} keeps changing.")


def unlock_run(lock: Path | None) -> None:
    """Remove a lock taken by :func:`lock_run` in this process (no-op for None)."""
    if lock is None:
        return
    holder = _read_lock(lock)
    if holder is not None and _is_me(holder):
        try:
            lock.unlink()
        except FileNotFoundError:
            pass


@contextmanager
def locked_run(run: Path | None):
    """Hold ``run``'s lock for the duration of a ``with`` block (no-op for None)."""
    lock = lock_run(run) if run is not None else None
    try:
        yield lock
    finally:
        unlock_run(lock)


def remove_if_empty(run: Path | None) -> None:
    """Remove a run folder that holds nothing (a fit that completed no epoch)."""
    if run is None or not run.is_dir():
        return
    clean_temporaries(run)
    if not any(run.iterdir()):
        try:
            run.rmdir()
        except OSError:  # something appeared meanwhile: keep it
            pass


def writes_checkpoints() -> bool:
    """Whether this process writes checkpoints: rank 0, known before the process group exists.

    ``torchrun`` sets ``RANK`` in each process before the process group is initialised (which
    happens when the net is), so a fit can claim its folder in rank 0 only.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return is_main_process()
    try:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            return int(os.environ.get("RANK", "0")) == 0
    except ValueError:
        return True
    return True


def _read_lock(path: Path) -> dict | None:
    try:
        text = path.read_text()
        stat = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        holder = json.loads(text)
        if isinstance(holder, dict) and isinstance(holder.get("pid"), int):
            return holder
    except ValueError:
        pass
    # being written, or left unreadable by a crash: stale once old enough
    return {"pid": None, "host": None, "time": stat.st_mtime, "unreadable": True}


def _is_me(holder: dict) -> bool:
    return holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname()


def _alive(holder: dict) -> bool:
    if holder.get("unreadable"):
        return time.time() - holder.get("time", 0) < _EMPTY_LOCK_GRACE_S
    if holder.get("host") != socket.gethostname():
        return True  # another machine's process: cannot be checked from here
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    except OSError:
        return False
    return True


def _break_stale(path: Path, holder: dict) -> None:
    """Remove a stale lock without removing a fresh one another process just took."""
    aside = path.with_name(f"{LOCK_NAME}.stale-{os.getpid()}")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return
    moved = _read_lock(aside)
    same = moved is not None and {k: moved.get(k) for k in ("pid", "host", "time")} == {
        k: holder.get(k) for k in ("pid", "host", "time")}
    if not same:  # another process broke the stale lock and locked first: put its lock back
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
    aside.unlink(missing_ok=True)


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
