"""Shared scikit-learn face of the self-supervised encoders: fit, transform, save and load."""

from __future__ import annotations

import copy
import hashlib
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
from skorch.callbacks import EarlyStopping, LRScheduler
from skorch.dataset import ValidSplit
from torch.optim.lr_scheduler import LambdaLR

from .. import __version__
from .._progress import EpochProgress
from .._torch import OPTIMIZERS, ECGDataset, autocast, resolve_device
from .._validation import (
    check_ecg_array,
    check_n_leads,
    check_random_state_seed,
    leads_last_hint,
)
from ..augment import make_augmentation
from ..preprocessing import LeadStandardizer, sliding_windows, window_starts
from ._checkpoint import (
    TrainingGuard,
    TrainingInterrupted,
    clean_temporaries,
    data_fingerprint,
    is_checkpoint,
    lock_run,
    new_run_folder,
    params_fingerprint,
    read_checkpoint,
    read_meta,
    remove_if_empty,
    run_folders,
    unlock_run,
    writes_checkpoints,
)
from ._training import ModuleHooks, SSLModule, SSLNet, WarmupCosine

MODEL_FORMAT = "skecg-encoder"
MODEL_FORMAT_VERSION = 2  # 2: input scaling statistics (a version-1 file reads as "mV")
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
        "input_scaling": [StrOptions({"mV", "standardize"})],
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
    # contrastive methods score each record against the other records of its batch
    _negatives_from_batch = False

    def _check_params(self) -> None:
        self._validate_params()
        if self._negatives_from_batch and self.batch_size < 2:
            raise ValueError(f"{type(self).__name__} needs batch_size >= 2: the other records "
                             f"of a batch are its negatives; got batch_size={self.batch_size}.")

    def _make_net(self, n_records: int, n_leads: int, device: str, seed: int,
                  resume_from: dict | None = None, run_dir: Path | None = None,
                  data: dict | None = None) -> SSLNet:
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
                "n_leads_in": int(n_leads), "params": self._plain_params(), "data": data}
        callbacks.append(("training_guard", TrainingGuard(run_dir, meta, resume_from)))
        monitor = "valid_loss" if self.validation_fraction else "train_loss"
        if self.early_stopping_patience is not None:
            callbacks.append(("early_stopping", EarlyStopping(
                monitor=monitor, patience=self.early_stopping_patience, load_best=True)))
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
            # one plain line per epoch, and a progress bar when stderr is a terminal
            callbacks__print_log=EpochProgress(prefix=type(self).__name__),
            crop_length=self.crop_length,
            augment=make_augmentation(self.augmentations, fs=self.fs),
            input_stats=self._input_stats(device),
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
                self._train_more(X)
            self.trained_params_ = self._plain_params()
            return self
        self.device_ = resolve_device(self.device)
        self._fit_input_scaling(X)
        seed = check_random_state_seed(self.random_state)
        data = data_fingerprint(X)
        run, lock, checkpoint = self._claim_run(X.shape[1], data)
        epochs = self.max_epochs
        if checkpoint is not None:  # continue up to max_epochs in all
            epochs = max(0, self.max_epochs - len(checkpoint["history"]))
        self.checkpoint_path_ = run
        try:
            with torch.random.fork_rng(devices=self._rng_devices()):
                torch.manual_seed(seed)
                self.net_ = self._make_net(len(X), X.shape[1], self.device_, seed, checkpoint,
                                           run_dir=run, data=data)
                self.n_leads_in_ = X.shape[1]
                self._train(self.net_.fit, X, epochs=epochs)
        finally:
            self._release_run(lock)
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

    def _fit_input_scaling(self, X) -> None:
        """Per-lead statistics of ``input_scaling`` (chunked: a memmap is never read whole)."""
        n_leads = X.shape[1]
        if self.input_scaling == "standardize":
            scaler = LeadStandardizer().fit(X)
            mean, scale = scaler.mean_, scaler.scale_
        else:
            mean, scale = np.zeros(n_leads), np.ones(n_leads)
        self.input_mean_ = mean.astype(np.float32)
        self.input_scale_ = scale.astype(np.float32)

    def _input_stats(self, device) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(mean, scale)`` of shape (n_leads, 1) on ``device``; None when nothing to do."""
        mean, scale = getattr(self, "input_mean_", None), getattr(self, "input_scale_", None)
        if mean is None or (not mean.any() and (scale == 1).all()):
            return None
        return (torch.as_tensor(mean, device=device)[:, None],
                torch.as_tensor(scale, device=device)[:, None])

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
        before_data = dict(net.callbacks_)["training_guard"].meta.get("data")
        fresh = self._make_net(n_records, self.n_leads_in_, self.device_,
                               check_random_state_seed(self.random_state))
        # plain attributes (skorch's set_params would re-initialise module and optimiser)
        for name in ("max_epochs", "batch_size", "verbose", "crop_length", "augment",
                     "iterator_train__drop_last", "iterator_train__num_workers", "callbacks"):
            setattr(net, name, getattr(fresh, name))
        net.initialize_callbacks()  # the LR schedule and hooks span the new max_epochs
        guard = dict(net.callbacks_)["training_guard"]  # keeps this fit's run and data
        guard.dirname, guard.meta["data"] = getattr(self, "checkpoint_path_", None), before_data
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

    # ------------------------------------------------------------ checkpoint runs
    def _fit_identity(self, n_leads: int, data: dict) -> dict:
        """What a checkpoint must match to be continued by this fit (see ``_run_problems``)."""
        return {"estimator": type(self).__name__, "n_leads_in": int(n_leads),
                "params": json.loads(json.dumps(self._plain_params())), "data": data}

    def _runs_of_this_fit(self, n_leads: int, data: dict) -> tuple[list, list]:
        """Runs in ``checkpoint_dir``: (those this fit may continue, all as (run, problems)).

        Those it may continue come most advanced last (epochs, then folder name), so every
        process of a data-parallel run picks the same one.
        """
        fit = self._fit_identity(n_leads, data)
        runs, matching = [], []
        for run in run_folders(self.checkpoint_dir):
            try:
                meta = read_meta(run)
            except ValueError as exc:
                runs.append((run, [f"is not a readable checkpoint ({exc})"]))
                continue
            problems = _run_problems(meta, fit)
            runs.append((run, problems))
            if not problems:
                matching.append((int(meta.get("epoch", 0)), run.name, run))
        return [run for *_, run in sorted(matching)], runs

    def _claim_run(self, n_leads: int, data: dict) -> tuple[Path | None, Path | None,
                                                             dict | None]:
        """This fit's own checkpoint folder, its lock, and the checkpoint it resumes.

        Without ``resume`` (or with no run in ``checkpoint_dir``) a new run folder is created
        and locked: the fit trains from scratch and never touches another run. With
        ``resume=True`` the run of the same estimator, leads, parameters (but those in
        ``RESUMABLE_CHANGES``) and data is locked and read; any other run is refused by name.
        In data-parallel training only rank 0 claims and locks; the others read.
        """
        if self.checkpoint_dir is None:
            if self.resume:
                raise ValueError("resume=True needs checkpoint_dir: the folder to resume from.")
            return None, None, None
        folder = Path(self.checkpoint_dir)
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"checkpoint_dir {folder} is a file, not a folder.")
        matching, runs = self._runs_of_this_fit(n_leads, data)
        writer = writes_checkpoints()
        if not self.resume or not runs:
            if not writer:
                return None, None, None
            if matching:
                warnings.warn(
                    f"checkpoint_dir {folder} already holds a run of this same fit (same "
                    f"parameters and data): {', '.join(r.name for r in matching)}. This fit "
                    "trains from scratch in a new folder; resume=True would continue that "
                    "run instead.", UserWarning, stacklevel=3)
            fit = self._fit_identity(n_leads, data)
            fixed = {k: v for k, v in fit["params"].items() if k not in RESUMABLE_CHANGES}
            name = (f"{fit['estimator'].lower()}-{params_fingerprint(fixed)[:8]}-"
                    f"{data['sha256'][:8]}")
            run = new_run_folder(folder, name)
            return run, lock_run(run), None
        if not matching:
            raise ValueError(_no_run_to_resume(folder, runs))
        run = matching[-1]
        if not writer:
            return run, None, read_checkpoint(run)
        lock = lock_run(run)
        try:
            checkpoint = read_checkpoint(run)
        except BaseException:
            unlock_run(lock)
            raise
        clean_temporaries(run)
        return run, lock, checkpoint

    def _release_run(self, lock: Path | None) -> None:
        """Unlock this fit's run; a run that completed no epoch leaves no folder behind."""
        unlock_run(lock)
        run = getattr(self, "checkpoint_path_", None)
        if lock is not None and run is not None:
            remove_if_empty(run)
            if not run.exists():
                self.checkpoint_path_ = None

    def _train_more(self, X) -> None:
        """partial_fit / warm start: train the fitted net further, checkpointing into its run."""
        guard = dict(self.net_.callbacks_).get("training_guard")
        run, lock = getattr(self, "checkpoint_path_", None), None
        if guard is not None:
            data, before = data_fingerprint(X), guard.meta.get("data")
            if before is None or before.get("sha256") != data["sha256"]:
                # trained on several data sets (or on unknown data before a load): no resume
                # will ever match it by data
                data = _mixed_data(before, data)
            guard.meta = {**guard.meta, "params": self._plain_params(), "data": data}
            if self.checkpoint_dir is not None and writes_checkpoints():
                if run is None:
                    run = new_run_folder(self.checkpoint_dir, f"{type(self).__name__.lower()}-"
                                         f"continued-{data['sha256'][:8]}")
                lock = lock_run(run)
                self.checkpoint_path_ = run
            guard.dirname = run if self.checkpoint_dir is not None else None
        try:
            self._train(self.net_.partial_fit, X)
        finally:
            self._release_run(lock)

    def partial_fit(self, X, y=None):
        """Continue pretraining for ``max_epochs`` more epochs (start one if not fitted)."""
        if not hasattr(self, "net_"):
            return self.fit(X)
        X = check_ecg_array(X, name="X")
        self._check_leads(X)
        self._check_validation_split(len(X))
        self._train_more(X)
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
        stats = self._input_stats(device)
        try:
            with torch.inference_mode(), autocast(device, self.precision):
                for start in range(0, len(X), records_per_batch):
                    batch = torch.as_tensor(np.array(X[start:start + records_per_batch]),
                                            device=device)
                    if stats is not None:
                        batch = (batch - stats[0]) / stats[1]
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
            "fitted": {"n_leads_in_": int(self.n_leads_in_),
                       "input_mean_": [float(v) for v in self.input_mean_],
                       "input_scale_": [float(v) for v in self.input_scale_]},
            "state_dict": {k: v.detach().cpu() for k, v in self.module_.state_dict().items()},
        }
        path = Path(path)
        _check_save_target(path)
        write_atomically(payload, path, "model")

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
        if payload["format_version"] < 2:  # before input scaling: records went in as they were
            params.setdefault("input_scaling", "mV")
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
            fitted = payload["fitted"]
            est.input_mean_ = np.asarray(fitted.get("input_mean_", [0.0] * est.n_leads_in_),
                                         dtype=np.float32)
            est.input_scale_ = np.asarray(fitted.get("input_scale_", [1.0] * est.n_leads_in_),
                                          dtype=np.float32)
            if est.input_mean_.shape != (est.n_leads_in_,) or est.input_scale_.shape != (
                    est.n_leads_in_,) or not (est.input_scale_ > 0).all():
                raise ValueError("its input scaling statistics do not match its leads")
            net = est._make_net(1, est.n_leads_in_, resolve_device(est.device), 0)
            net.initialize()
            net.module_.load_state_dict(payload["state_dict"])
        except (TypeError, KeyError, ValueError, RuntimeError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"{path} is a damaged skecg encoder file ({reason}).") from None
        est.device_ = resolve_device(est.device)
        est.net_, est.module_, est.history_ = net, net.module_, net.history
        est.checkpoint_path_ = None  # a model file carries no training run
        est.trained_params_ = est._plain_params()
        return est


def _describe_data(data: dict) -> str:
    if data.get("mixed"):
        return "several data sets (warm starts or partial_fit)"
    shape = " x ".join(str(n) for n in data["shape"])
    return f"{shape} {data['dtype']}, fingerprint {data['sha256'][:8]}"


def _mixed_data(before: dict | None, now: dict) -> dict:
    """The data fingerprint of a run trained on ``before`` and then on ``now``."""
    parts = json.dumps([before, now], sort_keys=True).encode()
    return {"shape": None, "dtype": None, "mixed": True,
            "sha256": hashlib.sha256(parts).hexdigest()}


def _run_problems(meta: dict, fit: dict) -> list[str]:
    """Why a run (its checkpoint ``meta``) is not this fit's (``fit``), each naming the cause."""
    if meta.get("estimator") != fit["estimator"]:
        return [f"was written by a {meta.get('estimator')}, not a {fit['estimator']}"]
    problems = []
    if meta.get("n_leads_in") != fit["n_leads_in"]:
        problems.append(f"was trained on {meta.get('n_leads_in')} leads; X has "
                        f"{fit['n_leads_in']}")
    saved, now = meta.get("params") or {}, fit["params"]
    changed = sorted(k for k in now if k not in RESUMABLE_CHANGES and saved.get(k) != now[k])
    if changed:
        problems.append("was trained with " + ", ".join(f"{k}={saved.get(k)!r}" for k in changed)
                        + " (this fit has " + ", ".join(f"{k}={now[k]!r}" for k in changed)
                        + ")")
    data = meta.get("data")
    if not problems and data is None:
        problems.append("has no fingerprint of its training data (written by an earlier skecg "
                        "or after loading a model), so X cannot be checked against it")
    elif not problems and data.get("sha256") != fit["data"]["sha256"]:
        problems.append(f"was trained on other data ({_describe_data(data)}; X here is "
                        f"{_describe_data(fit['data'])})")
    return problems


def _no_run_to_resume(folder: Path, runs: list) -> str:
    """One line: why no run in ``folder`` may be continued, naming the nearest one's problems."""
    allowed = ", ".join(sorted(RESUMABLE_CHANGES - {"resume"}))
    tail = (f"; resume=True continues only a run of the same estimator, parameters and data "
            f"(only {allowed} may change). With resume=False, fit trains from scratch in a new "
            f"folder inside {folder}.")
    if len(runs) == 1:
        run, problems = runs[0]
        return f"cannot resume from {run}: it " + " and ".join(problems) + tail
    run, problems = min(runs, key=lambda item: (len(item[1]), "written by" in item[1][0],
                                                item[0].name))
    return (f"cannot resume: none of the {len(runs)} runs in {folder} was trained with these "
            f"parameters and data; the nearest, {run.name}, " + " and ".join(problems) + tail)


def _read_model_file(path: Path) -> dict:
    """The payload of a skecg model file; one-line errors naming ``path`` for anything else."""
    if path.is_dir():
        if is_checkpoint(path):
            run = path.parent if (path / "meta.json").is_file() else path  # an epoch folder
            raise ValueError(f"{path} is a training checkpoint folder, not a skecg model file; "
                             f"continue training from it with checkpoint_dir='{run}', "
                             "resume=True (the same parameters and data).")
        raise ValueError(f"{path} is a folder, not a skecg model file.")
    if not path.exists():
        raise FileNotFoundError(f"model file {path} does not exist.")
    if is_checkpoint(path.parent):
        raise ValueError(f"{path} is a training checkpoint file, not a skecg model file; continue "
                         f"training with checkpoint_dir='{path.parent.parent}', resume=True (the "
                         "same parameters and data).")
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


def write_atomically(payload: dict, path: Path, what: str = "model") -> None:
    """``torch.save`` to a temporary file beside ``path``, renamed over it when complete.

    A failure (full disk, permissions) leaves ``path`` as it was and no temporary file, and is
    reported in one line naming ``path`` (never the temporary file).
    """
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        torch.save(payload, tmp)
        os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp's 0600 is for the temp file only
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # torch reports a full disk as RuntimeError
        lines = str(exc).strip().splitlines()
        reason = getattr(exc, "strerror", None) or (lines[0] if lines else type(exc).__name__)
        error = type(exc) if isinstance(exc, OSError) else OSError
        raise error(f"cannot save the {what} to {path} ({reason}); nothing was "
                    "written.") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


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
