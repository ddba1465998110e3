"""Shared scikit-learn face of the self-supervised encoders: fit, transform, save and load."""

from __future__ import annotations

import copy
import json
import math
import os
import tempfile
import warnings
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EarlyStopping, LRScheduler, ProgressBar
from skorch.dataset import ValidSplit
from torch.optim.lr_scheduler import LambdaLR

from .. import __version__
from .._torch import OPTIMIZERS, ECGDataset, autocast, resolve_device
from .._validation import (
    check_ecg_array,
    check_n_leads,
    check_random_state_seed,
    leads_last_hint,
)
from ..augment import make_augmentation
from ..preprocessing import sliding_windows, window_starts
from ._checkpoint import (
    TrainingGuard,
    TrainingInterrupted,
    clean_temporaries,
    is_checkpoint,
    read_checkpoint,
    visible_entries,
)
from ._training import ModuleHooks, SSLModule, SSLNet, WarmupCosine

MODEL_FORMAT = "skecg-encoder"
MODEL_FORMAT_VERSION = 1
AGGREGATIONS = ("mean", "max", None)
# Parameters a resumed fit may change: none of them alters the network or the optimisation.
RESUMABLE_CHANGES = frozenset({
    "max_epochs", "resume", "verbose", "device", "checkpoint_dir", "early_stopping_patience",
    "transform_batch_size", "aggregate", "window", "stride", "warm_start", "num_workers",
    "callbacks",
})

# Training parameters a warm start may change: they take effect on the next fit.
WARM_START_CHANGES = frozenset({
    "lr", "weight_decay", "batch_size", "crop_length", "augmentations", "warmup_epochs",
    "lr_schedule",
})


def positive_int(smallest: int = 1) -> list:
    """Constraint: an int ``>= smallest`` (scikit-learn ``_parameter_constraints`` style)."""
    return [Interval(Integral, smallest, None, closed="left")]


POSITIVE_FLOAT = [Interval(Real, 0, None, closed="neither")]


class BaseSSLEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base of the self-supervised encoders. Subclasses define ``__init__`` and ``_build_module``.

    Common parameters (documented in each subclass): ``crop_length``, ``window``, ``stride``,
    ``aggregate``, ``augmentations``, ``fs``, ``batch_size``, ``max_epochs``, ``optimizer``,
    ``lr``, ``weight_decay``, ``warmup_epochs``, ``lr_schedule``, ``validation_fraction``,
    ``early_stopping_patience``, ``checkpoint_dir``, ``warm_start``, ``transform_batch_size``,
    ``precision``, ``device``, ``random_state``, ``verbose``.
    """

    # Checked at fit by scikit-learn's ``_validate_params``: errors name the parameter and range.
    _parameter_constraints: dict = {
        "crop_length": [*positive_int(), None],
        "window": positive_int(),
        "stride": positive_int(),
        "aggregate": [StrOptions({"mean", "max"}), None],
        "augmentations": "no_validation",  # names or callables, checked by make_augmentation
        "fs": POSITIVE_FLOAT,
        "batch_size": positive_int(),
        "max_epochs": positive_int(0),
        "optimizer": [StrOptions(set(OPTIMIZERS))],
        "lr": POSITIVE_FLOAT,
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "warmup_epochs": positive_int(0),
        "lr_schedule": [StrOptions({"cosine"}), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "early_stopping_patience": [*positive_int(), None],
        "checkpoint_dir": [str, os.PathLike, None],
        "resume": ["boolean"],
        "warm_start": ["boolean"],
        "transform_batch_size": positive_int(),
        "num_workers": positive_int(0),
        "callbacks": [list, None],
        "precision": [StrOptions({"32", "bf16", "fp16"}), Options(Integral, {16, 32})],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def _build_module(self, n_leads: int) -> SSLModule:
        raise NotImplementedError

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> None:
        self._validate_params()

    def _make_net(self, n_records: int, n_leads: int, device: str, seed: int,
                  resume_from: dict | None = None) -> SSLNet:
        n_train = n_records if self.validation_fraction is None else math.floor(
            n_records * (1 - self.validation_fraction))
        drop_last = n_train > self.batch_size  # avoids a last batch of 1 (BatchNorm cannot train)
        steps_per_epoch = max(1, n_train // self.batch_size if drop_last else 1)
        total_steps = steps_per_epoch * self.max_epochs
        callbacks = [("module_hooks", ModuleHooks(total_steps))]
        if self.lr_schedule is not None or self.warmup_epochs:
            schedule = WarmupCosine(total_steps, self.warmup_epochs * steps_per_epoch,
                                    cosine=self.lr_schedule == "cosine")
            # last_epoch=-1: each fit/partial_fit runs its own schedule over max_epochs (skorch
            # would otherwise resume it at an epoch count, while the schedule counts batches)
            callbacks.append(("lr_schedule", LRScheduler(LambdaLR, lr_lambda=schedule,
                                                         step_every="batch", last_epoch=-1)))
        # after the schedule (its restore overrides the schedule's restart), before early
        # stopping (which ends an epoch by raising)
        meta = {"estimator": type(self).__name__, "skecg_version": __version__,
                "n_leads_in": int(n_leads), "params": self._plain_params()}
        callbacks.append(("training_guard", TrainingGuard(self.checkpoint_dir, meta, resume_from)))
        monitor = "valid_loss" if self.validation_fraction else "train_loss"
        if self.early_stopping_patience is not None:
            callbacks.append(("early_stopping", EarlyStopping(
                monitor=monitor, patience=self.early_stopping_patience, load_best=True)))
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        callbacks.extend(copy.deepcopy(self.callbacks or []))  # the user's, after ours
        train_split = None
        if self.validation_fraction:
            train_split = ValidSplit(self.validation_fraction, stratified=False, random_state=seed)
        return SSLNet(
            module=self._build_module(n_leads),
            criterion=torch.nn.Identity,  # unused: the module computes its own loss
            dataset=ECGDataset,
            optimizer=OPTIMIZERS[self.optimizer],
            lr=self.lr,
            optimizer__weight_decay=self.weight_decay,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            train_split=train_split,
            iterator_train__shuffle=True,
            iterator_train__drop_last=drop_last,
            iterator_train__num_workers=getattr(self, "num_workers", 0),
            callbacks=callbacks,
            device=device,
            verbose=int(bool(self.verbose)),
            crop_length=self.crop_length,
            augment=make_augmentation(self.augmentations, fs=self.fs),
            precision=self.precision,
            seed=seed,
        )

    def fit(self, X, y=None):
        """Pretrain the encoder on unlabelled ECG.

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples)
            ECG in mV (an ``np.memmap`` is read batch by batch, never copied whole).
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        X = check_ecg_array(X, name="X")
        if len(X) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 records to train (BatchNorm "
                             f"and contrastive losses); got {len(X)} sample.")
        if self.crop_length is not None and X.shape[2] < self.crop_length:
            raise ValueError(f"X has {X.shape[2]} samples per lead, fewer than "
                             f"crop_length={self.crop_length}.{leads_last_hint(X)}")
        self._check_validation_split(len(X))
        if self.warm_start and hasattr(self, "net_"):
            self._check_leads(X)
            self._apply_warm_start_params(len(X))
            with torch.random.fork_rng(devices=self._rng_devices()):
                self._train(self.net_.partial_fit, X)
            self.trained_params_ = self._plain_params()
            return self
        self.device_ = resolve_device(self.device)
        seed = check_random_state_seed(self.random_state)
        checkpoint = self._checkpoint_to_resume(X.shape[1])
        epochs = self.max_epochs
        if checkpoint is not None:  # continue up to max_epochs in all
            epochs = max(0, self.max_epochs - len(checkpoint["history"]))
        with torch.random.fork_rng(devices=self._rng_devices()):
            torch.manual_seed(seed)
            self.net_ = self._make_net(len(X), X.shape[1], self.device_, seed, checkpoint)
            self.n_leads_in_ = X.shape[1]
            self._train(self.net_.fit, X, epochs=epochs)
        self.trained_params_ = self._plain_params()
        return self

    def _check_validation_split(self, n_records: int) -> None:
        """Refuse a ``validation_fraction`` that leaves fewer than 2 training records."""
        if not self.validation_fraction:
            return
        n_valid = math.ceil(n_records * self.validation_fraction)  # as skorch's ValidSplit
        if n_records - n_valid < 2:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} holds out {n_valid} of the "
                f"{n_records} records for validation, leaving {n_records - n_valid} to train "
                f"on; {type(self).__name__} needs at least 2. Lower validation_fraction, pass "
                "more records, or set validation_fraction=None.")

    def _apply_warm_start_params(self, n_records: int) -> None:
        """Make parameters changed since the last fit take effect on a warm start.

        Training parameters (epochs, batch, crops, augmentations, learning rate, weight decay,
        schedule, callbacks, ...) apply to the next ``fit``; parameters that define the network
        or its loss cannot change without a new fit and are refused by name.
        """
        before = getattr(self, "trained_params_", None)
        if before is None:  # fitted before this attribute existed (loaded model): nothing known
            return
        now = self._plain_params()
        changed = {k for k in now if before.get(k) != now[k]}
        fixed = sorted(changed - RESUMABLE_CHANGES - WARM_START_CHANGES)
        if fixed:
            raise ValueError(
                f"warm_start=True continues the fitted network, but {', '.join(fixed)} changed "
                f"since it was trained ({', '.join(f'{k}={before.get(k)!r}' for k in fixed)}); "
                "set warm_start=False to train a new network.")
        if not changed:
            return
        net = self.net_
        fresh = self._make_net(n_records, self.n_leads_in_, self.device_,
                               check_random_state_seed(self.random_state))
        # plain attributes (skorch's set_params would re-initialise module and optimiser)
        for name in ("max_epochs", "batch_size", "verbose", "crop_length", "augment",
                     "iterator_train__drop_last", "iterator_train__num_workers", "callbacks"):
            setattr(net, name, getattr(fresh, name))
        net.initialize_callbacks()  # the LR schedule and hooks span the new max_epochs
        for group in net.optimizer_.param_groups:  # the schedule restarts from initial_lr
            group["lr"] = group["initial_lr"] = self.lr * group.get("lr_factor", 1.0)
            decays = not group.get("name", "").endswith("_no_decay")
            group["weight_decay"] = self.weight_decay if decays else 0.0

    def _train(self, train, X, **fit_params) -> None:
        """Run skorch's ``fit``/``partial_fit``; an interrupted run keeps its last epoch."""
        try:
            train(X, **fit_params)
        except TrainingInterrupted:
            self.module_, self.history_ = self.net_.module_, self.net_.history
            raise
        self.module_, self.history_ = self.net_.module_, self.net_.history

    def _plain_params(self) -> dict:
        params = {k: (os.fspath(v) if isinstance(v, os.PathLike) else v)
                  for k, v in self.get_params(deep=False).items()}
        return {k: (v if _is_plain(v) else repr(v)) for k, v in params.items()}

    def _checkpoint_to_resume(self, n_leads: int) -> dict | None:
        """The checkpoint ``fit`` continues from, or None; refuses to overwrite one."""
        folder = self.checkpoint_dir
        if folder is None:
            if self.resume:
                raise ValueError("resume=True needs checkpoint_dir: the folder to resume from.")
            return None
        if Path(folder).exists() and not Path(folder).is_dir():
            raise ValueError(f"checkpoint_dir {folder} is a file, not a folder.")
        if not visible_entries(folder):
            clean_temporaries(folder)
            return None
        if not self.resume:
            what = "a training checkpoint" if is_checkpoint(folder) else "other files"
            raise ValueError(
                f"checkpoint_dir {folder} already holds {what}; pass resume=True to continue "
                "from it, or choose an empty folder (nothing was overwritten).")
        checkpoint = read_checkpoint(folder)
        meta, name = checkpoint["meta"], type(self).__name__
        if meta.get("estimator") != name:
            raise ValueError(f"checkpoint {checkpoint['path']} was written by a "
                             f"{meta.get('estimator')}, not a {name}.")
        if meta.get("n_leads_in") != n_leads:
            raise ValueError(f"checkpoint {checkpoint['path']} was trained on "
                             f"{meta.get('n_leads_in')} leads; X has {n_leads}.")
        saved, now = meta.get("params", {}), json.loads(json.dumps(self._plain_params()))
        changed = sorted(k for k in now if k not in RESUMABLE_CHANGES and saved.get(k) != now[k])
        if changed:
            raise ValueError(
                f"cannot resume from {checkpoint['path']}: it was trained with "
                + ", ".join(f"{k}={saved.get(k)!r}" for k in changed)
                + "; resume with the same parameters (only "
                + ", ".join(sorted(RESUMABLE_CHANGES - {"resume"})) + " may change).")
        clean_temporaries(folder)
        return checkpoint

    def partial_fit(self, X, y=None):
        """Continue pretraining for ``max_epochs`` more epochs (start one if not fitted)."""
        if not hasattr(self, "net_"):
            return self.fit(X)
        X = check_ecg_array(X, name="X")
        self._check_leads(X)
        self._check_validation_split(len(X))
        self._train(self.net_.partial_fit, X)
        return self

    def _rng_devices(self) -> list:
        return [torch.cuda.current_device()] if torch.cuda.is_available() else []

    # --------------------------------------------------------------- embedding
    def _check_leads(self, X: np.ndarray) -> None:
        check_n_leads(X, self.n_leads_in_, fitted_by=type(self).__name__)

    def transform_windows(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Embed each sliding window of each record.

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples)

        Returns
        -------
        embeddings : np.ndarray of shape (n_records * n_windows, n_features_out), float32
        record_index : np.ndarray of shape (n_records * n_windows,), int64
        """
        check_is_fitted(self, "module_")
        X = check_ecg_array(X, name="X")
        self._check_leads(X)
        if X.shape[2] < self.window:
            raise ValueError(f"X has {X.shape[2]} samples per lead, fewer than the embedding "
                             f"window={self.window}.")
        n_windows = len(window_starts(X.shape[2], self.window, self.stride))
        records_per_batch = max(1, self.transform_batch_size // n_windows)
        device = self.net_.device
        module = self.module_
        was_training = module.training
        module.eval()
        out = np.empty((len(X) * n_windows, self._n_features_out), dtype=np.float32)
        try:
            with torch.inference_mode(), autocast(device, self.precision):
                for start in range(0, len(X), records_per_batch):
                    batch = torch.as_tensor(np.array(X[start:start + records_per_batch]),
                                            device=device)
                    windows, _ = sliding_windows(batch, self.window, self.stride)
                    emb = module.embed(windows).float().cpu().numpy()
                    out[start * n_windows:start * n_windows + len(emb)] = emb
        finally:
            module.train(was_training)
        return out, np.repeat(np.arange(len(X), dtype=np.int64), n_windows)

    def transform(self, X) -> np.ndarray:
        """Embed records: window embeddings averaged (``aggregate``) per record.

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples)

        Returns
        -------
        embeddings : np.ndarray of shape (n_records, n_features_out), float32
            With ``aggregate=None``: shape (n_records * n_windows, n_features_out), one row per
            window in record-major order (see :meth:`transform_windows` for the record index).
        """
        embeddings, record_index = self.transform_windows(X)
        if self.aggregate is None:
            return embeddings
        per_record = embeddings.reshape(record_index[-1] + 1, -1, embeddings.shape[1])
        if self.aggregate == "max":
            return per_record.max(axis=1)
        return per_record.mean(axis=1)

    @property
    def _n_features_out(self) -> int:
        return int(self.module_.backbone.out_features)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = self.device != "cpu"
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    # ------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Save config, weights and skecg version to ``path`` (atomically).

        The file holds only tensors and plain Python values, so :meth:`load` opens it with
        ``torch.load(weights_only=True)``: loading never runs code from the file.
        """
        check_is_fitted(self, "module_")
        params = self.get_params(deep=False)
        params["callbacks"] = None  # training-time hooks (objects) are not part of the model
        for name, value in params.items():
            if not _is_plain(value):
                raise ValueError(f"Cannot save parameter {name}={value!r}: only plain values "
                                 "(numbers, strings, lists of names) are stored. Pass "
                                 "augmentations by name to make the model savable.")
        payload = {
            "format": MODEL_FORMAT,
            "format_version": MODEL_FORMAT_VERSION,
            "skecg_version": __version__,
            "estimator": type(self).__name__,
            "params": params,
            "fitted": {"n_leads_in_": int(self.n_leads_in_)},
            "state_dict": {k: v.detach().cpu() for k, v in self.module_.state_dict().items()},
        }
        path = Path(path)
        _check_save_target(path)
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            os.close(fd)
            torch.save(payload, tmp)
            os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp's 0600 is for the temp file only
            os.replace(tmp, path)
        except (OSError, RuntimeError) as exc:  # torch reports a full disk as RuntimeError
            reason = getattr(exc, "strerror", None) or str(exc).strip().splitlines()[0]
            error = type(exc) if isinstance(exc, OSError) else OSError
            raise error(f"cannot save the model to {path} ({reason}); nothing was "
                        "written.") from None
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.remove(tmp)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | None = None):
        """Load an encoder written by :meth:`save`; ``device`` overrides the saved device.

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            In one line naming ``path``, for anything that is not a skecg model file (a
            training checkpoint, another torch file, a damaged file, a folder).
        """
        payload = _read_model_file(Path(path))
        if payload["format_version"] > MODEL_FORMAT_VERSION:
            raise ValueError(f"{path} has format version {payload['format_version']}; this skecg "
                             f"({__version__}) reads up to {MODEL_FORMAT_VERSION}. Upgrade skecg.")
        estimator_cls = _ENCODERS.get(payload["estimator"]) if cls is BaseSSLEncoder else cls
        if estimator_cls is None or estimator_cls.__name__ != payload["estimator"]:
            raise ValueError(f"{path} holds a {payload['estimator']}, not a {cls.__name__}.")
        if not isinstance(payload["params"], dict):
            raise ValueError(f"{path} is a damaged skecg encoder file (params is a "
                             f"{type(payload['params']).__name__}, not a dict).")
        params = dict(payload["params"])
        if device is not None:
            params["device"] = device
        try:
            est = estimator_cls(**params)
            est._check_params()
        except (TypeError, ValueError) as exc:  # unknown names, values out of range
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ValueError(f"{path} stores invalid parameters for a {estimator_cls.__name__} "
                             f"({reason}); the file is damaged or was edited.") from None
        n_leads = payload["fitted"].get("n_leads_in_") if isinstance(payload["fitted"],
                                                                      dict) else None
        if isinstance(n_leads, bool) or not isinstance(n_leads, Integral) or n_leads < 1:
            raise ValueError(f"{path} is a damaged skecg encoder file (n_leads_in_ is "
                             f"{n_leads!r}; expected a positive int).")
        try:
            est.n_leads_in_ = int(n_leads)
            net = est._make_net(1, est.n_leads_in_, resolve_device(est.device), 0)
            net.initialize()
            net.module_.load_state_dict(payload["state_dict"])
        except (TypeError, KeyError, ValueError, RuntimeError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"{path} is a damaged skecg encoder file ({reason}).") from None
        est.device_ = resolve_device(est.device)
        est.net_, est.module_, est.history_ = net, net.module_, net.history
        est.trained_params_ = est._plain_params()
        return est


def _read_model_file(path: Path) -> dict:
    """The payload of a skecg model file; one-line errors naming ``path`` for anything else."""
    if path.is_dir():
        if is_checkpoint(path):
            raise ValueError(f"{path} is a training checkpoint folder, not a skecg model file; "
                             f"continue training from it with checkpoint_dir='{path}', "
                             "resume=True.")
        raise ValueError(f"{path} is a folder, not a skecg model file.")
    if not path.exists():
        raise FileNotFoundError(f"model file {path} does not exist.")
    if is_checkpoint(path.parent):
        raise ValueError(f"{path} is a training checkpoint file, not a skecg model file; continue "
                         f"training with checkpoint_dir='{path.parent.parent}', resume=True.")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of foreign files
            warnings.simplefilter("ignore", UserWarning)
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types; its hints (weights_only=False) mislead
        raise ValueError(f"{path} is not a skecg encoder file (unreadable as a torch file: "
                         f"{type(exc).__name__}).") from None
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path} is not a skecg encoder file (no skecg format marker).")
    missing = {"format_version", "estimator", "params", "fitted", "state_dict"} - set(payload)
    if missing:
        raise ValueError(f"{path} is a damaged skecg encoder file (missing "
                         f"{', '.join(sorted(missing))}).")
    return payload


_ENCODERS: dict[str, type] = {}


def register_encoder(cls: type) -> type:
    """Class decorator: make ``BaseSSLEncoder.load`` able to rebuild ``cls``."""
    _ENCODERS[cls.__name__] = cls
    return cls


def store_params(estimator, init_locals: dict) -> None:
    """Store ``__init__``'s arguments unchanged as attributes (the scikit-learn contract)."""
    for name, value in init_locals.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


def _check_save_target(path: Path) -> None:
    """One-line errors, before anything is written, for a model file that cannot be saved."""
    if path.is_dir():
        raise IsADirectoryError(f"cannot save the model to {path}: it is a folder; give a file "
                                "name.")
    if not path.parent.is_dir():
        what = "is not a folder" if path.parent.exists() else "does not exist"
        raise FileNotFoundError(f"cannot save the model to {path}: folder {path.parent} {what}.")
    if path.exists() and (not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222):
        raise PermissionError(f"{path} is read-only; it was not replaced (make it writable or "
                              "save under another name).")


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _is_plain(value) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    return False
