"""ECG classification with skorch: supervised training, linear evaluation and finetuning.

:class:`ECGClassifier` is a small :class:`skorch.NeuralNet` subclass. Its network, a backbone
(trained from scratch or deep-copied from a fitted self-supervised encoder) and a head, is built
from explicit parameters and from shapes inferred from the training data (stored as fitted
attributes, never written back into parameters). Training follows the paper's protocol: one
random crop per record per epoch. Every prediction -- ``forward``, ``predict_proba``,
validation scoring -- goes through :meth:`ECGClassifier.evaluation_step`: sliding windows,
logits, nonlinearity, windows pooled per record.
"""

from __future__ import annotations

import copy
import fnmatch
import os
import pickle
import warnings
from contextlib import contextmanager
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d
from skorch import NeuralNet
from skorch.callbacks import (
    Callback,
    EarlyStopping,
    EpochScoring,
    EpochTimer,
    PassthroughScoring,
)
from skorch.dataset import Dataset, unpack_data
from skorch.exceptions import NotInitializedError
from torch import nn

from . import __version__
from ._interrupt import TrainingInterrupted, was_interrupted
from ._progress import EpochProgress
from ._torch import (
    OPTIMIZERS,
    ECGDataset,
    autocast,
    get_optimizer,
    param_groups,
    resolve_device,
    rng_devices,
)
from ._validation import (
    check_ecg_array,
    check_label_array,
    check_n_leads,
    check_random_state_seed,
    leads_last_hint,
)
from .metrics import macro_auc_scorer
from .models import CPCNetwork, ECGTransformer, LinearHead, PaperHead, make_backbone
from .preprocessing import LeadStandardizer, aggregate_windows, random_crops, sliding_windows
from .ssl._base import (  # the encoders' model-file helpers; MODEL_FORMAT marks encoder files
    _ENCODERS,
    MODEL_FORMAT,
    _check_save_target,
    _is_plain,
    _read_model_file,
    write_atomically,
)
from .ssl._checkpoint import is_checkpoint

__all__ = ["ClassifierNetwork", "ECGClassifier", "HeadOnlyPhase", "InterruptGuard"]

DEFAULT_BACKBONE = "xresnet1d50"
PRETRAINED_LR_FACTORS = (0.01, 0.1)  # the paper's finetuning: encoder x0.01, context x0.1
# fitted attributes inferred from the training data; a fresh fit infers them again
_INFERRED = ("n_leads_in_", "multilabel_", "classes_", "n_outputs_", "input_mean_",
             "input_scale_")
INPUT_SCALINGS = ("mV", "standardize")
CLASSIFIER_FORMAT = "skecg-classifier"
CLASSIFIER_FORMAT_VERSION = 1
# parameters that only steer a fit (objects: callbacks, validation data); a model file stores None
_TRAINING_ONLY = ("callbacks", "train_split")


class ClassifierNetwork(nn.Module):
    """A backbone's pooled representation followed by a classification head.

    Parameters
    ----------
    backbone : nn.Module
        Maps ``(batch, n_leads, n_samples)`` to ``(batch, out_features)`` via
        ``forward_features``.
    head : nn.Module
        Maps ``(batch, out_features)`` to logits ``(batch, n_outputs)``.

    Attributes
    ----------
    backbone_frozen : bool
        While True, ``train()`` leaves the backbone in eval mode (its BatchNorm statistics do
        not move); :class:`HeadOnlyPhase` sets it.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.backbone_frozen = False

    def train(self, mode: bool = True) -> ClassifierNetwork:
        """Set train/eval mode; a frozen backbone always stays in eval mode."""
        super().train(mode)
        if self.backbone_frozen:
            self.backbone.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, n_leads, n_samples)`` to logits ``(batch, n_outputs)``."""
        return self.head(self.backbone.forward_features(x))


class InterruptGuard(Callback):
    """Turn a Ctrl-C during ``fit`` into :class:`~skecg.ssl.TrainingInterrupted`.

    skorch's fit loop catches ``KeyboardInterrupt`` and returns normally, so an interrupted fit
    would look finished. At the end of training this callback tells a complete (or early
    stopped) fit from an interrupted one; an interrupted fit keeps the best completed epoch's
    weights when ``load_best`` restored them, else the last completed epoch's, drops the
    unfinished epoch from the history and raises.
    """

    def on_train_begin(self, net, **kwargs):
        self.target_epochs_ = len(net.history) + net.max_epochs
        self._snapshot(net)

    def on_epoch_end(self, net, **kwargs):
        self._snapshot(net)

    def on_train_end(self, net, **kwargs):
        epoch, weights = self.snapshot_
        self.snapshot_ = (epoch, None)  # a fitted net carries no copy of its weights
        if not was_interrupted(net, epoch, self.target_epochs_):
            return
        best = dict(net.callbacks_).get("best_valid_auc")
        if best is None or getattr(best, "best_model_weights_", None) is None:
            net.module_.load_state_dict(weights)
        del net.history[epoch:]
        raise TrainingInterrupted(
            f"training interrupted after {epoch} of {self.target_epochs_} epochs; the "
            "classifier holds the weights of a completed epoch (not a finished fit).", epoch, None)

    def _snapshot(self, net) -> None:
        self.snapshot_ = (len(net.history), {k: v.detach().to("cpu", copy=True)
                                             for k, v in net.module_.state_dict().items()})


class HeadOnlyPhase(Callback):
    """The head-only phase of :class:`ECGClassifier` (its ``freeze_encoder``, ``head_epochs``
    and ``finetune_lr``), read from the net at each epoch so that ``set_params`` takes effect.

    While frozen (every epoch with ``freeze_encoder``, else the first ``head_epochs``), the
    backbone gets no gradients and stays in eval mode (BatchNorm statistics untouched). When the
    phase ends, each optimiser group's learning rate becomes ``finetune_lr * group["lr_factor"]``
    if ``finetune_lr`` is set (the paper's CPC finetuning drops from 1e-3 to 1e-4 there). The
    history records ``encoder_frozen`` per epoch.
    """

    def on_epoch_begin(self, net, **kwargs):
        frozen = bool(net.freeze_encoder) or len(net.history) <= net.head_epochs
        module = net.module_
        if module.backbone_frozen and not frozen and net.finetune_lr is not None:
            for group in net.optimizer_.param_groups:
                group["lr"] = net.finetune_lr * group.get("lr_factor", 1.0)
        module.backbone_frozen = frozen
        module.backbone.requires_grad_(not frozen)
        net.history.record("encoder_frozen", frozen)


class ECGClassifier(ClassifierMixin, NeuralNet):
    """Multi-label or single-label ECG classifier on a (pretrained) backbone.

    ``y`` of shape (n_records, n_labels) holding 0/1 is a multi-label task (the PTB-XL case:
    one sigmoid per label, ``BCEWithLogitsLoss``); 1-D ``y`` holds class labels (softmax,
    ``CrossEntropyLoss``). Each epoch trains on one random crop of ``crop_length`` samples per
    record. Predictions average (``aggregate``) the probabilities of sliding windows per record.
    The paper's recipes per method are :func:`skecg.evaluation.paper_recipe`.

    Parameters
    ----------
    encoder : str, None or fitted skecg SSL encoder, default="xresnet1d50"
        A fitted self-supervised transformer (e.g. ``CPCEncoder().fit(X)``; also wrapped in
        :class:`sklearn.frozen.FrozenEstimator`): its ``module_.backbone`` is deep-copied, the
        encoder itself is never modified, and :func:`sklearn.base.clone` keeps it (fitted) rather
        than cloning it. A name from :data:`skecg.models.BACKBONES` ("xresnet1d18", ...,
        "xresnet1d50", "cpc") trains that backbone from scratch; None means "xresnet1d50".
    width : int, default=64
        Width of a backbone trained from scratch (xresnet block width; encoder and LSTM width
        for "cpc"). Ignored with a fitted encoder.
    backbone_params : dict or None, default=None
        Further arguments of the backbone trained from scratch, passed to
        :func:`skecg.models.make_backbone` on top of ``width`` (e.g. ``{"depth": 4,
        "n_heads": 4, "patch_length": 30}`` for "transformer";
        :func:`skecg.evaluation.supervised_baseline_params` gives those of an SSL encoder's
        architecture). Ignored with a fitted encoder.
    head : {"linear", "paper"}, default="linear"
        "linear": one linear layer. "paper": the paper's finetuning head, BatchNorm - dropout -
        512 hidden - ReLU - BatchNorm - dropout - linear.
    head_dropout : float or (float, float), default=(0.25, 0.5)
        Dropout of the paper head's two dropout layers.
    freeze_encoder : bool, default=False
        Linear evaluation: the backbone is not optimised and stays in eval mode during training
        (its BatchNorm statistics are frozen); only the head learns.
    head_epochs : int, default=0
        Train only the head (backbone frozen as with ``freeze_encoder``) for the first
        ``head_epochs`` epochs, then all layers (:class:`HeadOnlyPhase`).
    finetune_lr : float or None, default=None
        Base learning rate once the head-only phase ends (the discriminative factors apply to
        it); None keeps ``lr``.
    discriminative_lr : tuple of (float, float) or None, default=None
        Learning-rate factors ``(encoder, context)``: backbone parameters learn at
        ``lr * encoder`` (for the "cpc" network the LSTM at ``lr * context``), the head at
        ``lr``. None: the paper's CPC ``(0.01, 0.1)`` with a pretrained encoder, ``(1, 1)`` for
        a backbone trained from scratch.
    input_scaling : {"mV", "standardize"} or None, default=None
        None: as the backbone was trained -- a pretrained encoder's own input scaling (its
        fitted per-lead statistics, e.g. CPC's standardisation), raw mV for a backbone trained
        from scratch. "mV": records go into the network as they are. "standardize": each lead is
        standardised with a mean and standard deviation fitted on the training records in
        ``fit`` (:class:`skecg.preprocessing.LeadStandardizer`; the paper's CPC input), kept
        as ``input_mean_``/``input_scale_`` and applied on the one path that training,
        validation and prediction share. Records passed to ``fit``, ``predict_proba`` and the
        validation set are always in mV.
    crop_length : int or None, default=250
        Samples of the random training crop (2.5 s at 100 Hz); None trains on whole records.
    window, stride : int, default=250, 125
        Sliding windows (in samples) of validation and prediction.
    aggregate : {"mean", "max"}, default="mean"
        How window probabilities are pooled per record ("max" is renormalised to sum to 1 for
        single-label tasks).
    batch_size : int, default=128
        Records per training step (and per prediction batch).
    max_epochs : int, default=50
    lr : float, default=1e-3
        Learning rate of the head (see ``discriminative_lr``).
    weight_decay : float, default=1e-3
        Weight decay of weights (biases and BatchNorm parameters get none).
    optimizer : {"adamw", "adam", "sgd"} or torch optimizer class, default="adamw"
        Further arguments as in skorch: ``optimizer__momentum=0.9``, and
        ``optimizer__param_groups=[("head.*", {"lr": 0.1})]`` (parameter-name patterns of
        ``module_``; a matching parameter gets the group's options on top of its part's).
    train_split : callable or None, default=None
        skorch's validation split. None: no validation. A fixed validation set is passed the
        skorch way, ``train_split=skorch.helper.predefined_split(skorch.dataset.Dataset(
        X_valid, y_valid))`` (validated like ``X``/``y``); ``skorch.dataset.ValidSplit(0.1)``
        holds out random records. The history then holds ``valid_loss`` (window level) and
        ``valid_auc`` (record-level macro AUC: skorch's ``EpochScoring`` with
        :data:`skecg.metrics.macro_auc_scorer`).
    load_best : bool, default=True
        At the end of ``fit``, restore the weights of the epoch with the best ``valid_auc``
        (skorch's ``EarlyStopping(load_best=True)``, which never stops early here; only with a
        validation set).
    classes : array-like or None, default=None
        Class labels of single-label ``y`` (None: those in ``y``).
    random_state : int, RandomState or None, default=None
        Seeds weights, shuffling, crops and dropout; the global torch RNG is left as it was.
    device : {"cpu", "cuda", "auto"} or str, default="cpu"
    precision : {32, "bf16", "fp16"}, default=32
        Autocast dtype of the forward passes.
    verbose : int, default=0
        With ``verbose >= 1``, one plain line per epoch on standard error (epoch, losses,
        ``valid_auc``, time in s), and skorch's progress bar as well when standard error is a
        terminal (``skecg._progress.EpochProgress`` in place of skorch's ``PrintLog``).
    **kwargs
        Other :class:`skorch.NeuralNet` parameters: ``callbacks`` (appended to the defaults),
        ``warm_start``, ``criterion`` (None: chosen from ``y``; ``criterion__*`` arguments such
        as ``criterion__pos_weight`` reach it either way), ``iterator_train__*``,
        ``optimizer__*``, ... ``module`` must stay None: the network is built from ``encoder``
        and ``head``.

    Attributes
    ----------
    module_ : ClassifierNetwork
        The trained network (``module_.backbone``, ``module_.head``).
    classes_ : np.ndarray
        Class labels; for multi-label ``y``, ``np.arange(n_labels)``.
    multilabel_ : bool
        Whether ``y`` was a multi-hot matrix.
    n_outputs_ : int
        Number of logits (labels or classes).
    n_leads_in_ : int
        Number of leads seen in ``fit``.
    input_mean_, input_scale_ : np.ndarray of shape (n_leads,), float32
        Per-lead input scaling (mV; 0 and 1 with ``input_scaling="mV"``).
    device_ : str
        The device used (``device`` with "auto" resolved).
    history_ : skorch.History
        Per-epoch ``train_loss``, ``valid_loss``, ``valid_auc``, ``encoder_frozen``, ...

    Notes
    -----
    ``forward(X)`` returns the record-level probabilities that ``predict_proba`` returns and
    that ``valid_auc`` scores: one code path (:meth:`evaluation_step`). ``set_params(lr=...)``
    on an initialised net sets the rate of every parameter group until the next ``fit``
    rebuilds the optimiser, as in skorch. :meth:`save` and :meth:`load` store and restore a
    fitted classifier in a versioned file that loading never runs code from.
    """

    _parameter_constraints: dict = {
        "encoder": [str, None, HasMethods(["transform"])],
        "width": [Interval(Integral, 1, None, closed="left")],
        "backbone_params": [dict, None],
        "head": [StrOptions({"linear", "paper"})],
        "head_dropout": [Interval(Real, 0, 1, closed="left"), tuple, list],
        "input_scaling": [StrOptions(set(INPUT_SCALINGS)), None],
        "freeze_encoder": ["boolean"],
        "head_epochs": [Interval(Integral, 0, None, closed="left")],
        "finetune_lr": [Interval(Real, 0, None, closed="neither"), None],
        "discriminative_lr": [tuple, list, None],
        "crop_length": [Interval(Integral, 1, None, closed="left"), None],
        "window": [Interval(Integral, 1, None, closed="left")],
        "stride": [Interval(Integral, 1, None, closed="left")],
        "aggregate": [StrOptions({"mean", "max"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
        "load_best": ["boolean"],
        "classes": ["array-like", None],
        "random_state": ["random_state"],
        "device": [str],
        "precision": [StrOptions({"32", "bf16", "fp16"}), Options(Integral, {16, 32})],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        encoder=DEFAULT_BACKBONE,
        *,
        width: int = 64,
        backbone_params: dict | None = None,
        head: str = "linear",
        head_dropout: float | tuple[float, float] = (0.25, 0.5),
        input_scaling: str | None = None,
        freeze_encoder: bool = False,
        head_epochs: int = 0,
        finetune_lr: float | None = None,
        discriminative_lr: tuple[float, float] | None = None,
        crop_length: int | None = 250,
        window: int = 250,
        stride: int = 125,
        aggregate: str = "mean",
        batch_size: int = 128,
        max_epochs: int = 50,
        lr: float = 1e-3,
        weight_decay: float = 1e-3,
        optimizer="adamw",
        train_split=None,
        load_best: bool = True,
        classes=None,
        random_state=None,
        device: str = "cpu",
        precision: int | str = 32,
        verbose: int = 0,
        **kwargs,
    ):
        kwargs.setdefault("module", None)
        kwargs.setdefault("criterion", None)
        kwargs.setdefault("dataset", ECGDataset)  # copies records of read-only arrays
        super().__init__(optimizer=optimizer, lr=lr, max_epochs=max_epochs,
                         batch_size=batch_size, train_split=train_split, device=device,
                         verbose=verbose, **kwargs)
        self.encoder = encoder
        self.width = width
        self.backbone_params = backbone_params
        self.head = head
        self.head_dropout = head_dropout
        self.input_scaling = input_scaling
        self.freeze_encoder = freeze_encoder
        self.head_epochs = head_epochs
        self.finetune_lr = finetune_lr
        self.discriminative_lr = discriminative_lr
        self.crop_length = crop_length
        self.window = window
        self.stride = stride
        self.aggregate = aggregate
        self.weight_decay = weight_decay
        self.load_best = load_best
        self.classes = classes
        self.random_state = random_state
        self.precision = precision

    # ------------------------------------------------------------------ fitting
    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train ``max_epochs`` more epochs (building the network first if needed).

        ``fit`` is skorch's: it re-initialises (unless ``warm_start``) and calls this.

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples) or (n_records, n_samples)
            ECG records (a 2-D array is single-lead).
        y : array-like of shape (n_records, n_labels) or (n_records,)
            Multi-hot labels (multi-label) or class labels (single-label).
        classes : ignored
            Present for scikit-learn compatibility; use the ``classes`` parameter instead.

        Returns
        -------
        self
        """
        # Unavoidable override: skorch builds the network in initialize(), before any hook
        # sees the data, and has no random_state (skorch issue #33). This wrapper validates
        # X and y, infers the shapes the network needs on a fresh fit, and runs skorch's own
        # partial_fit (epochs, callbacks, history) inside fork_rng, seeded from random_state.
        self._check_params()
        unexpected = sorted(set(fit_params) - {"_routing_method"})
        if unexpected:  # skorch would pass them to the network's forward, which takes none
            raise TypeError(f"{type(self).__name__}.fit got unexpected arguments {unexpected} "
                            "(sample_weight is not supported).")
        X = check_ecg_array(X, name="X")
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y "
                             "is None.")
        if len(X) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 records to train "
                             f"(BatchNorm); got {len(X)} sample.")
        if self.crop_length is not None and X.shape[2] < self.crop_length:
            raise ValueError(f"X has {X.shape[2]} samples per lead, fewer than "
                             f"crop_length={self.crop_length}.{leads_last_hint(X)}")
        if not self.initialized_:
            self.initialize()
        fresh = self.module_ is None
        if fresh:
            self._infer_shapes(X, y)
            self._fit_input_scaling(X)
        y = self._encode_targets(y, X, name="y")
        seed = check_random_state_seed(self.random_state)
        if not fresh:  # continued training: do not repeat the same crops and shuffles
            seed += len(self.history)
        with self._resolved_device(), torch.random.fork_rng(devices=rng_devices()):
            torch.manual_seed(seed)
            if fresh:
                self._build_network()
            self.generator_ = torch.Generator().manual_seed(seed)  # crop offsets
            super().partial_fit(X, y, **fit_params)
        return self

    def _check_params(self) -> None:
        params = {name: getattr(self, name) for name in self._parameter_constraints}
        validate_parameter_constraints(self._parameter_constraints, params,
                                       caller_name=type(self).__name__)
        if self.module is not None:
            raise ValueError("module must be None: ECGClassifier builds its network from "
                             "`encoder` and `head`.")
        for name in ("discriminative_lr", "head_dropout"):
            value = getattr(self, name)
            if isinstance(value, (tuple, list)) and (
                    len(value) != 2 or not all(isinstance(v, Real) and v >= 0 for v in value)):
                raise ValueError(f"{name} must be a pair of numbers >= 0; got {value!r}.")
        if any(p >= 1 for p in np.atleast_1d(self.head_dropout)):
            raise ValueError(f"head_dropout must be in [0, 1); got {self.head_dropout!r}.")

    def _infer_shapes(self, X: np.ndarray, y) -> None:
        y = check_label_array(y, n_records=len(X), name="y")  # one line for ragged label lists
        check_classification_targets(y)
        kind = type_of_target(y, input_name="y")
        multilabel = kind == "multilabel-indicator"
        if multilabel:
            classes = np.arange(y.shape[1])
            if self.classes is not None and len(self.classes) != y.shape[1]:
                raise ValueError(f"y has {y.shape[1]} labels but classes has "
                                 f"{len(self.classes)}.")
        elif kind in ("binary", "multiclass"):
            classes = np.unique(column_or_1d(y, warn=True))
            if self.classes is not None:
                classes = np.asarray(self.classes)
        else:
            raise ValueError(f"y must be 1-D class labels or a multi-hot matrix; got {kind}.")
        if not multilabel and len(classes) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes in the "
                             "data, but the data contains only one class.")
        self.n_leads_in_ = X.shape[1]
        self.multilabel_ = multilabel
        self.classes_ = classes
        self.n_outputs_ = len(classes)

    def _fit_input_scaling(self, X) -> None:
        n_leads = X.shape[1]
        encoder_mean = getattr(self.encoder, "input_mean_", None) if self._pretrained() else None
        if self.input_scaling == "standardize":
            scaler = LeadStandardizer().fit(X)  # chunked: a memmap is never read whole
            mean, scale = scaler.mean_, scaler.scale_
        elif self.input_scaling is None and encoder_mean is not None:
            mean, scale = encoder_mean, self.encoder.input_scale_  # as it was pretrained
        else:
            mean, scale = np.zeros(n_leads), np.ones(n_leads)
        self.input_mean_ = mean.astype(np.float32)
        self.input_scale_ = scale.astype(np.float32)

    def _scale_input(self, x: torch.Tensor) -> torch.Tensor:
        """Records in mV -> network input (``input_scaling``), on ``x``'s device."""
        mean, scale = self.input_mean_, self.input_scale_
        if not mean.any() and (scale == 1).all():  # "mV": nothing to do
            return x
        mean = torch.as_tensor(mean, device=x.device)[:, None]
        scale = torch.as_tensor(scale, device=x.device)[:, None]
        return (x - mean) / scale

    def _encode_targets(self, y, X: np.ndarray, name: str) -> np.ndarray:
        """Check ``X``'s leads and turn ``y`` into float multi-hot or int64 class indices."""
        self._check_leads(X, name="X" if name == "y" else "X_valid")
        y = check_label_array(y, n_records=len(X), name=name)
        if self.multilabel_:
            if y.ndim != 2 or y.shape[1] != self.n_outputs_ or not np.isin(y, (0, 1)).all():
                raise ValueError(f"{name} must be a 0/1 matrix of shape (n_records, "
                                 f"{self.n_outputs_}); got shape {y.shape}.")
            return y.astype(np.float32)
        y = column_or_1d(y, warn=True)
        classes = self.classes_
        sorter = np.argsort(classes)
        index = sorter[np.searchsorted(classes, y, sorter=sorter).clip(max=len(classes) - 1)]
        unknown = classes[index] != y
        if unknown.any():
            raise ValueError(f"{name} holds labels {np.unique(y[unknown])[:5].tolist()} not in "
                             f"classes_ {classes.tolist()[:10]}.")
        return index.astype(np.int64)

    def _check_leads(self, X: np.ndarray, name: str = "X") -> None:
        # one line, with a hint for one record passed alone (X[0]) or leads-last records
        check_n_leads(X, self.n_leads_in_, fitted_by=type(self).__name__, name=name)

    # ------------------------------------------------------- skorch components
    @contextmanager
    def _resolved_device(self):
        """Let skorch see the concrete device (``"auto"`` resolved) while it trains."""
        requested = self.device
        self.device_ = resolve_device(requested)
        self.device = self.device_
        try:
            yield
        finally:
            self.device = requested

    def initialize(self):
        """Initialise callbacks and history; forget the shapes of an earlier fit.

        The network, criterion and optimiser depend on the data's shapes: ``partial_fit``
        builds them once it has seen the training data.
        """
        for name in _INFERRED:
            self.__dict__.pop(name, None)
        return super().initialize()

    def _build_network(self) -> None:
        # the first build from the data, not a re-initialisation: skorch would print
        # "Re-initializing optimizer." into the log when verbose
        verbose, self.verbose = self.verbose, 0
        try:
            self._initialize_module()
            self._initialize_criterion()
            self._initialize_optimizer()
        except BaseException:
            for name in _INFERRED:  # not fitted: no shapes without a network
                self.__dict__.pop(name, None)
            self.module_ = None
            raise
        finally:
            self.verbose = verbose

    def _shapes_known(self) -> bool:
        return hasattr(self, "n_outputs_")

    @property
    def _default_callbacks(self):
        callbacks = [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("head_only", HeadOnlyPhase()),
        ]
        if self.train_split is not None:
            callbacks += [
                ("valid_loss", PassthroughScoring(name="valid_loss")),
                ("valid_auc", EpochScoring(macro_auc_scorer, name="valid_auc",
                                           lower_is_better=False)),
            ]
            # read by get_params before any validation: no truth test of a raw parameter
            if isinstance(self.load_best, (bool, np.bool_)) and self.load_best:
                # patience=None: keeps the best weights, never stops early
                callbacks.append(("best_valid_auc", EarlyStopping(
                    monitor="valid_auc", lower_is_better=False, patience=None, threshold=0,
                    threshold_mode="abs", load_best=True)))
        # with verbose: one plain line per epoch (and a progress bar on a terminal) on stderr
        return [*callbacks, ("interrupt_guard", InterruptGuard()),
                ("print_log", EpochProgress(prefix=type(self).__name__))]

    def _pretrained(self) -> bool:
        return not (self.encoder is None or isinstance(self.encoder, str))

    def _make_backbone(self) -> nn.Module:
        if not self._pretrained():
            name = self.encoder or DEFAULT_BACKBONE
            widths = ({"encoder_width": self.width, "context_width": self.width}
                      if name == "cpc" else {"width": self.width})
            return make_backbone(name, self.n_leads_in_, **{**widths,
                                                             **(self.backbone_params or {})})
        # a FrozenEstimator forwards attribute access to the encoder it wraps
        backbone = getattr(getattr(self.encoder, "module_", None), "backbone", None)
        if backbone is None and getattr(self, "_restoring", False):
            # load(): the architecture of the encoder's backbone; the weights come from the file
            return self.encoder._build_module(self.n_leads_in_).backbone
        if backbone is None:
            raise ValueError(
                "encoder must be a backbone name, None or a FITTED skecg SSL encoder (e.g. "
                f"CPCEncoder(...).fit(X)); got {type(self.encoder).__name__} without a trained "
                "module_.backbone (a classifier read by ECGClassifier.load keeps its encoder's "
                "configuration, not its pretrained weights: set encoder= to train anew).")
        backbone = copy.deepcopy(backbone)
        tokens = [m for m in backbone.modules() if isinstance(m, ECGTransformer)]
        if tokens:  # a token backbone reads the leads the encoder's ``leads`` names
            for m in tokens:
                m.set_input_leads(getattr(self.encoder, "leads", None), self.n_leads_in_)
            return backbone
        if self.encoder.n_leads_in_ != self.n_leads_in_:
            raise ValueError(f"X has {self.n_leads_in_} leads, but the encoder was fitted on "
                             f"{self.encoder.n_leads_in_} leads (a convolutional backbone reads "
                             "a subset of leads zero-filled: skecg.preprocessing.FillLeads).")
        return backbone

    def initialize_module(self):
        """Build :class:`ClassifierNetwork` from ``encoder``, ``head`` and the fitted shapes."""
        if not self._shapes_known():
            self.module_ = None  # built by partial_fit once the data are seen
            return self
        backbone = self._make_backbone()
        if self.head == "paper":
            head = PaperHead(backbone.out_features, self.n_outputs_, dropout=self.head_dropout)
        else:
            head = LinearHead(backbone.out_features, self.n_outputs_)
        self.module_ = ClassifierNetwork(backbone, head)
        return self

    def initialize_criterion(self):
        """``BCEWithLogitsLoss`` for multi-label ``y``, ``CrossEntropyLoss`` otherwise."""
        if self.criterion is not None:
            return super().initialize_criterion()
        if not self._shapes_known():
            self.criterion_ = None
        else:
            loss = nn.BCEWithLogitsLoss if self.multilabel_ else nn.CrossEntropyLoss
            self.criterion_ = loss(**self.get_params_for("criterion"))
        return self

    def parameter_parts(self) -> dict[str, tuple[list[nn.Parameter], float]]:
        """The network's parts with their learning-rate factors (see ``discriminative_lr``).

        Returns
        -------
        parts : dict
            ``{"encoder": (params, factor), "context": (params, factor), "head": (params,
            1.0)}``; "context" is the LSTM of a "cpc" backbone (empty otherwise). With
            ``freeze_encoder`` only the head.
        """
        factors = self.discriminative_lr
        if factors is None:
            factors = PRETRAINED_LR_FACTORS if self._pretrained() else (1.0, 1.0)
        backbone = self.module_.backbone
        context = list(backbone.lstm.parameters()) if isinstance(backbone, CPCNetwork) else []
        context_ids = {id(p) for p in context}
        encoder = [p for p in backbone.parameters() if id(p) not in context_ids]
        parts = {"encoder": (encoder, factors[0]), "context": (context, factors[1]),
                 "head": (list(self.module_.head.parameters()), 1.0)}
        if self.freeze_encoder:
            return {"head": parts["head"]}
        return parts

    def initialize_optimizer(self, triggered_directly=None):
        """Optimiser with named parameter groups from :func:`skecg._torch.param_groups`.

        One group per part (encoder, context, head) and decay kind (e.g. "encoder",
        "head_no_decay"); learning rates follow ``discriminative_lr``; biases and BatchNorm
        parameters get no weight decay. With ``freeze_encoder`` only the head is optimised.
        """
        if not self._shapes_known():
            self.optimizer_ = None
            return self
        kwargs = self.get_params_for("optimizer")
        lr = kwargs.pop("lr", self.lr)
        weight_decay = kwargs.pop("weight_decay", self.weight_decay)
        groups = param_groups(self.parameter_parts(), lr, weight_decay)
        user_groups = kwargs.pop("param_groups", None)
        if user_groups:
            groups = _apply_param_groups(groups, user_groups, self.module_.named_parameters())
        self.optimizer_ = get_optimizer(self.optimizer)(groups, lr=lr, **kwargs)
        return self

    def _validate_params(self):
        # Unavoidable override: skorch learns the "module", "criterion" and "optimizer"
        # prefixes when it builds those components, which this class defers until fit has
        # seen the data; accept their arguments (optimizer__momentum, ...) before that.
        known = self.prefixes_
        missing = [name for name in ("module", "criterion", "optimizer") if name not in known]
        self.prefixes_ = [*known, *missing]
        try:
            return super()._validate_params()
        finally:
            self.prefixes_ = known

    def check_is_fitted(self, attributes=None, *args, **kwargs):
        """Raise skorch's ``NotInitializedError`` unless the network has been trained."""
        super().check_is_fitted(attributes or ["n_outputs_", "module_"], *args, **kwargs)

    # ---------------------------------------------------------- train / eval
    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = torch.as_tensor(y_true, device=y_pred.device)
        y_true = y_true.float() if self.multilabel_ else y_true.long()
        return self.criterion_(y_pred.float(), y_true)

    def train_step_single(self, batch, **fit_params):
        """One step on a random crop of ``crop_length`` samples of each record of the batch."""
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        x = torch.as_tensor(Xi, dtype=torch.float32, device=self.device_)
        if self.crop_length is not None:
            x = random_crops(x, self.crop_length, generator=self.generator_)
        with autocast(self.device_, self.precision):
            y_pred = self.module_(self._scale_input(x))
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def _window_and_record_outputs(self, Xi) -> tuple[torch.Tensor, torch.Tensor]:
        """Window logits and record-level probabilities of a batch of records.

        Windows -> logits -> nonlinearity -> pooled per record (``aggregate``).
        """
        x = self._scale_input(torch.as_tensor(Xi, dtype=torch.float32, device=self.device_))
        windows, record_index = sliding_windows(x, self.window, self.stride)
        with autocast(self.device_, self.precision):
            logits = self.module_(windows).float()
        proba = aggregate_windows(self._window_nonlinearity(logits), record_index,
                                  reduce=self.aggregate)
        if self.aggregate == "max" and not self.multilabel_:
            proba = proba / proba.sum(dim=1, keepdim=True)
        return logits, proba

    def _window_nonlinearity(self, logits: torch.Tensor) -> torch.Tensor:
        fn = self.predict_nonlinearity
        if fn == "auto":
            return torch.sigmoid(logits) if self.multilabel_ else torch.softmax(logits, dim=-1)
        return logits if fn is None else fn(logits)

    def _get_predict_nonlinearity(self):
        # the nonlinearity is applied per window in evaluation_step, before pooling
        self.check_is_fitted()
        return _identity

    def validation_step(self, batch, **fit_params):
        """Window-level loss and record-level probabilities (as :meth:`evaluation_step`)."""
        self._set_training(False)
        Xi, yi = unpack_data(batch)
        with torch.no_grad():
            logits, proba = self._window_and_record_outputs(Xi)
            y = torch.as_tensor(yi, device=logits.device)
            loss = self.get_loss(logits, y.repeat_interleave(len(logits) // len(y), dim=0))
        return {"loss": loss, "y_pred": proba}

    def evaluation_step(self, batch, training=False):
        """Record-level probabilities: windows -> logits -> nonlinearity -> pooled per record.

        The one path of ``forward``, ``predict_proba`` and validation scoring.
        """
        self.check_is_fitted()
        Xi, _ = unpack_data(batch)
        with torch.set_grad_enabled(training):
            self._set_training(training)
            return self._window_and_record_outputs(Xi)[1]

    def get_iterator(self, dataset, training=False):
        if not training:
            # a DataLoader draws its base seed from the global torch RNG even when it does not
            # shuffle: give it its own generator so that predicting leaves that RNG alone
            kwargs = {"generator": torch.Generator(), **self.get_params_for("iterator_valid")}
            kwargs.setdefault("batch_size", self.batch_size)
            return self.iterator_valid(dataset, **kwargs)
        kwargs = self.get_params_for("iterator_train")
        batch_size = kwargs.get("batch_size", self.batch_size)
        # a last batch of one record cannot train BatchNorm: drop it
        drop_last = len(dataset) > batch_size and len(dataset) % batch_size == 1
        kwargs = {"shuffle": True, "drop_last": drop_last, "batch_size": batch_size, **kwargs}
        return self.iterator_train(dataset, **kwargs)

    def get_dataset(self, X, y=None):
        """skorch's Dataset; records to predict are validated (leads, at least ``window``)."""
        if y is None and not isinstance(X, torch.utils.data.Dataset):
            self.check_is_fitted()
            X = check_ecg_array(X, name="X")
            self._check_leads(X)
            if X.shape[2] < self.window:
                raise ValueError(f"X has {X.shape[2]} samples per lead, fewer than "
                                 f"window={self.window}.")
        return super().get_dataset(X, y)

    def get_split_datasets(self, X, y=None, **fit_params):
        """skorch's split; a fixed validation ``Dataset`` is validated like the training data."""
        dataset_train, dataset_valid = super().get_split_datasets(X, y, **fit_params)
        if isinstance(dataset_valid, Dataset) and dataset_valid is not dataset_train:
            if dataset_valid.y is None:
                raise ValueError("The validation Dataset has no targets y.")
            X_valid = check_ecg_array(dataset_valid.X, name="X_valid")
            if X_valid.shape[2] < self.window:
                raise ValueError(f"X_valid has {X_valid.shape[2]} samples per lead, fewer than "
                                 f"window={self.window}.")
            y_valid = self._encode_targets(dataset_valid.y, X_valid, name="y_valid")
            dataset_valid = super().get_dataset(X_valid, y_valid)
        return dataset_train, dataset_valid

    # -------------------------------------------------------------- prediction
    def predict(self, X) -> np.ndarray:
        """Multi-hot labels (probability > 0.5) or the most probable class of each record.

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples) or (n_records, n_samples)

        Returns
        -------
        y_pred : np.ndarray of shape (n_records, n_labels), int64, or (n_records,)
            Multi-hot predictions (multi-label) or labels from ``classes_`` (single-label).
        """
        proba = self.predict_proba(X)
        if self.multilabel_:
            return (proba > 0.5).astype(np.int64)
        return self.classes_[proba.argmax(axis=1)]

    # -------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike) -> None:
        """Save the fitted classifier to ``path`` (atomically), to be read by :meth:`load`.

        The file holds the format version and skecg version, the parameters, the fitted
        attributes (``n_leads_in_``, ``multilabel_``, ``classes_``, ``n_outputs_``,
        ``input_mean_``, ``input_scale_``) and the network's weights: only tensors and plain
        Python values, so :meth:`load` reads it with ``torch.load(weights_only=True)`` and never
        runs code from it. A fitted SSL ``encoder`` is stored as its class name and parameters
        (the architecture of its backbone; the finetuned weights are the network's), not as an
        object. ``callbacks`` and ``train_split`` steer training only and are stored as None;
        the history and the optimiser state are not stored.

        Parameters
        ----------
        path : str or os.PathLike
            The model file. It is written to a temporary file in the same folder and renamed,
            so an interrupted save leaves no half-written file.

        Raises
        ------
        ValueError
            If a parameter is not a plain value (numbers, strings, lists, dicts, tensors; e.g.
            an optimiser class or a ``RandomState``), naming it.
        OSError
            In one line naming ``path``: a missing folder, a folder as ``path``, a read-only
            file or folder, a full disk. Nothing is written then.
        """
        self.check_is_fitted(msg=f"This {type(self).__name__} is not fitted; call fit before "
                                 "save.")
        fitted = {
            "n_leads_in_": int(self.n_leads_in_),
            "multilabel_": bool(self.multilabel_),
            "classes_": _storable(self.classes_.tolist(), "classes_"),
            "classes_dtype": None if self.classes_.dtype.kind == "O" else self.classes_.dtype.str,
            "n_outputs_": int(self.n_outputs_),
            "input_mean_": [float(v) for v in self.input_mean_],
            "input_scale_": [float(v) for v in self.input_scale_],
        }
        payload = {
            "format": CLASSIFIER_FORMAT,
            "format_version": CLASSIFIER_FORMAT_VERSION,
            "skecg_version": __version__,
            "estimator": type(self).__name__,
            "params": self._storable_params(),
            "encoder": self._encoder_config(),
            "fitted": fitted,
            "state_dict": {k: v.detach().cpu() for k, v in self.module_.state_dict().items()},
        }
        path = Path(path)
        _check_save_target(path)  # one line before anything is written
        write_atomically(payload, path, "classifier")

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | None = None) -> ECGClassifier:
        """Read a classifier written by :meth:`save`; it predicts as the saved one did.

        A classifier trained on a fitted SSL encoder comes back with ``encoder`` set to a new,
        unfitted encoder of the same class and parameters: its configuration describes the
        network, and the network's (finetuned) weights come from the file. Predicting and
        continuing training (``partial_fit``) work; a fresh ``fit`` needs the pretrained
        encoder again (``set_params(encoder=fitted_encoder)``).

        Parameters
        ----------
        path : str or os.PathLike
            A file written by :meth:`save`.
        device : str or None, default=None
            Overrides the saved ``device`` (e.g. "cpu" for a model trained on "cuda").

        Returns
        -------
        ECGClassifier
            Fitted; its history is empty.

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            In one line naming ``path``: not a skecg classifier file (an encoder file, a
            training checkpoint, another torch or pickle file, a folder), a damaged file,
            invalid stored parameters, a newer format version.
        """
        path = Path(path)
        payload = _read_classifier_file(path)
        version = payload["format_version"]
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError(f"{path} is a damaged skecg classifier file (format_version is "
                             f"{version!r}).")
        if version > CLASSIFIER_FORMAT_VERSION:
            raise ValueError(f"{path} has format version {version}; this skecg ({__version__}) "
                             f"reads classifier files up to version {CLASSIFIER_FORMAT_VERSION}. "
                             "Upgrade skecg.")
        if payload["estimator"] != cls.__name__:
            raise ValueError(f"{path} holds a {payload['estimator']}; {cls.__name__}.load reads "
                             f"only {cls.__name__} files.")
        if not isinstance(payload["params"], dict) or not isinstance(payload["fitted"], dict):
            raise ValueError(f"{path} is a damaged skecg classifier file (params and fitted "
                             "must be dicts).")
        params = dict(payload["params"])
        if device is not None:
            params["device"] = device
        try:
            if payload["encoder"] is not None:
                params["encoder"] = _rebuild_encoder(payload["encoder"])
            est = cls(**params)
            est._check_params()
            est.initialize()  # skorch checks its own parameters (unknown names) here
        except (TypeError, ValueError, KeyError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ValueError(f"{path} stores invalid parameters for {cls.__name__} ({reason}); "
                             "the file is damaged or was edited.") from None
        try:
            resolve_device(est.device)
        except ValueError as exc:  # e.g. saved on a GPU machine
            raise ValueError(f"{path} was saved with device={est.device!r}: {exc} Load it with "
                             f"{cls.__name__}.load(path, device='cpu').") from None
        try:
            est._restore(payload["fitted"], payload["state_dict"])
        except (TypeError, KeyError, ValueError, RuntimeError, AttributeError) as exc:
            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise ValueError(f"{path} is a damaged skecg classifier file ({reason}).") from None
        return est

    def _storable_params(self) -> dict:
        """``get_params(deep=False)`` as plain values (see :meth:`save`)."""
        defaults = type(self)().get_params(deep=False)
        params = {}
        for name, value in self.get_params(deep=False).items():
            if name == "encoder" and self._pretrained():
                value = None  # stored apart: see _encoder_config
            elif name in _TRAINING_ONLY:
                value = None
            elif name == "classes" and value is not None:
                value = np.asarray(value).tolist()
            elif value is defaults.get(name) and not _is_plain(value):
                continue  # a default object (skorch's DataLoader, ...): load restores it
            params[name] = _storable(value, name)
        return params

    def _encoder_config(self) -> dict | None:
        """Class name and plain parameters of a fitted SSL encoder; None for a named backbone."""
        if not self._pretrained():
            return None
        # a FrozenEstimator wraps the encoder in `estimator`
        encoder = getattr(self.encoder, "estimator", self.encoder)
        name = type(encoder).__name__
        if _ENCODERS.get(name) is not type(encoder):
            raise ValueError(f"Cannot save a classifier on a {name} encoder: only skecg's SSL "
                             f"encoders ({', '.join(sorted(_ENCODERS))}) can be rebuilt from a "
                             "file.")
        params = encoder.get_params(deep=False)
        params.update(callbacks=None, checkpoint_dir=None)  # training-time, not the model
        return {"estimator": name,
                "params": {k: _storable(v, f"encoder__{k}") for k, v in params.items()}}

    def _restore(self, fitted: dict, state_dict: dict) -> None:
        """Set the fitted attributes of :meth:`save`, build the network, load its weights."""
        n_leads, n_outputs = fitted["n_leads_in_"], fitted["n_outputs_"]
        for name, value in (("n_leads_in_", n_leads), ("n_outputs_", n_outputs)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} is {value!r}; expected a positive int")
        classes = np.asarray(fitted["classes_"], dtype=fitted.get("classes_dtype"))
        mean = np.asarray(fitted["input_mean_"], dtype=np.float32)
        scale = np.asarray(fitted["input_scale_"], dtype=np.float32)
        if classes.shape != (n_outputs,):
            raise ValueError(f"classes_ has shape {classes.shape}, not ({n_outputs},)")
        if mean.shape != (n_leads,) or scale.shape != (n_leads,) or not (scale > 0).all():
            raise ValueError("its input scaling statistics do not match its leads")
        if not isinstance(fitted["multilabel_"], bool):
            raise ValueError(f"multilabel_ is {fitted['multilabel_']!r}; expected a bool")
        self.n_leads_in_, self.multilabel_ = n_leads, fitted["multilabel_"]
        self.classes_, self.n_outputs_ = classes, n_outputs
        self.input_mean_, self.input_scale_ = mean, scale
        self._restoring = True  # _make_backbone builds an encoder's backbone unfitted
        try:
            with self._resolved_device(), torch.random.fork_rng(devices=rng_devices()):
                self._build_network()
        finally:
            del self._restoring
        self.module_.load_state_dict(state_dict)

    def save_params(self, f_params=None, f_optimizer=None, f_criterion=None, f_history=None,
                    **kwargs) -> None:
        """skorch's ``save_params``, for a fitted classifier.

        It writes parts (weights, optimiser, history) that only :meth:`load_params` of a
        classifier fitted on data of the same shapes can read back; :meth:`save` and
        :meth:`load` store and restore a whole classifier.

        Parameters
        ----------
        f_params, f_optimizer, f_criterion, f_history : str, file-like or None
            As in :meth:`skorch.NeuralNet.save_params`.
        **kwargs
            Other ``f_*`` files, as in skorch.

        Raises
        ------
        skorch.exceptions.NotInitializedError
            In one line, if the classifier is not fitted.
        """
        if not self._has_network():
            raise NotInitializedError(
                f"{type(self).__name__}.save_params needs a fitted classifier (its network is "
                "built from the training data in fit); fit it first, and use clf.save(path) "
                f"and {type(self).__name__}.load(path) to store and restore a whole classifier.")
        return super().save_params(f_params=f_params, f_optimizer=f_optimizer,
                                   f_criterion=f_criterion, f_history=f_history, **kwargs)

    def load_params(self, f_params=None, f_optimizer=None, f_criterion=None, f_history=None,
                    checkpoint=None, **kwargs) -> None:
        """skorch's ``load_params``, into a classifier fitted on data of the same shapes.

        A classifier that is not fitted has no network to load weights into (the network is
        built from the training data); restore a whole classifier with :meth:`load`.

        Parameters
        ----------
        f_params, f_optimizer, f_criterion, f_history : str, file-like or None
            As in :meth:`skorch.NeuralNet.load_params`.
        checkpoint : skorch.callbacks.Checkpoint or None
            As in skorch.
        **kwargs
            Other ``f_*`` files, as in skorch.

        Raises
        ------
        skorch.exceptions.NotInitializedError
            In one line, if weights, optimiser or criterion are to be loaded into a classifier
            that is not fitted.
        ValueError
            In one line, if a file is not a state dict written by :meth:`save_params` (torch's
            advice to set ``weights_only=False`` is not passed on).
        """
        name = type(self).__name__
        if not self._has_network() and (f_params or f_optimizer or f_criterion
                                        or checkpoint is not None or kwargs):
            raise NotInitializedError(
                f"{name}.load_params loads weights into a fitted classifier of the same shapes, "
                "but this one is not fitted (its network is built from the training data in "
                f"fit); save a whole classifier with clf.save(path) and read it with "
                f"{name}.load(path).")
        try:
            return super().load_params(f_params=f_params, f_optimizer=f_optimizer,
                                       f_criterion=f_criterion, f_history=f_history,
                                       checkpoint=checkpoint, **kwargs)
        except (pickle.UnpicklingError, EOFError) as exc:
            raise ValueError(f"{name}.load_params: a file is not a state dict written by "
                             f"save_params ({type(exc).__name__}); files written by save are "
                             f"read by {name}.load.") from None

    def _has_network(self) -> bool:
        return self._shapes_known() and getattr(self, "module_", None) is not None

    # ------------------------------------------------------------ sklearn glue
    def _get_param_names(self):
        # skorch lists every attribute not ending in "_", its private bookkeeping included
        return [name for name in super()._get_param_names() if not name.startswith("_")]

    def __sklearn_clone__(self):
        clone = super().__sklearn_clone__()
        if self._pretrained():
            # the encoder is a read-only source of pretrained weights: keep it fitted, as
            # sklearn.frozen.FrozenEstimator does (a plain clone would be unfitted)
            clone.encoder = self.encoder
        return clone

    def __setstate__(self, state):
        # Unavoidable override: skorch maps the pickled weights to state["device"], and
        # torch knows no device "auto"; map them to the device they were trained on.
        requested = state["device"]
        if requested == "auto":
            state["device"] = state.get("device_", "cpu")
        super().__setstate__(state)
        if getattr(self, "module_", None) is not None:
            self.device_ = self.device  # where the weights were mapped to
        if requested == "auto":
            self.device = requested

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.classifier_tags.multi_label = True
        tags.non_deterministic = self.device != "cpu"
        return tags


def _identity(x):
    return x


def _apply_param_groups(groups: list[dict], user_groups, named_parameters) -> list[dict]:
    """Split skecg's parameter groups by skorch-style ``optimizer__param_groups``.

    ``user_groups`` is a list of ``(pattern, options)``; a parameter whose name (in
    ``module_``) matches a pattern (:func:`fnmatch.fnmatch`, first match wins) gets ``options``
    on top of its group's settings, as in skorch.
    """
    names = {id(p): name for name, p in named_parameters}
    out = []
    for group in groups:
        buckets: dict[int, list] = {}
        for param in group["params"]:
            name = names.get(id(param), "")
            match = next((i for i, (pattern, _) in enumerate(user_groups)
                          if fnmatch.fnmatch(name, pattern)), -1)
            buckets.setdefault(match, []).append(param)
        for match, params in buckets.items():
            options = {} if match < 0 else dict(user_groups[match][1])
            suffix = "" if match < 0 else f"[{user_groups[match][0]}]"
            out.append({**group, **options, "params": params, "name": group["name"] + suffix})
    return out


def _storable(value, name: str):
    """``value`` as built-in Python values and tensors, all that ``weights_only`` reads.

    Numbers (numpy's included) become ``int``/``float``/``bool``; lists, tuples and dicts with
    string keys are converted element by element; anything else raises naming ``name``.
    """
    if value is None or isinstance(value, torch.Tensor):
        return value if value is None else value.detach().cpu()
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        items = [_storable(v, name) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {str(k): _storable(v, name) for k, v in value.items()}
    shown = " ".join(repr(value).split())
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    raise ValueError(f"Cannot save parameter {name}={shown}: a classifier file stores only "
                     "plain values (numbers, strings, lists, dicts, tensors); pass it by name "
                     "(e.g. optimizer='sgd') or as an int (random_state) to make the model "
                     "savable.")


def _rebuild_encoder(config: dict):
    """An unfitted skecg SSL encoder of the class and parameters :meth:`ECGClassifier.save`
    stored: the architecture of the backbone (see ``ECGClassifier._make_backbone``)."""
    if not isinstance(config, dict) or not isinstance(config.get("params"), dict):
        raise ValueError(f"encoder is {config!r}; expected a dict of estimator and params")
    encoder_cls = _ENCODERS.get(config.get("estimator"))
    if encoder_cls is None:
        raise ValueError(f"encoder is a {config.get('estimator')!r}, not a skecg SSL encoder")
    encoder = encoder_cls(**config["params"])
    encoder._check_params()
    return encoder


def _read_classifier_file(path: Path) -> dict:
    """The payload of a classifier file; one-line errors naming ``path`` for anything else."""
    if path.is_dir() or not path.exists() or is_checkpoint(path.parent):
        _read_model_file(path)  # raises the encoders' one line: folder, missing, checkpoint
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of foreign files
            warnings.simplefilter("ignore", UserWarning)
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types; its hints (weights_only=False) mislead
        raise ValueError(f"{path} is not a readable skecg classifier file (torch cannot read "
                         f"it: {type(exc).__name__}; damaged, truncated or another kind of "
                         "file).") from None
    if isinstance(payload, dict) and payload.get("format") == MODEL_FORMAT:
        raise ValueError(f"{path} is an encoder file, not a classifier file; use "
                         "BaseSSLEncoder.load (skecg.ssl) to read it.")
    if not isinstance(payload, dict) or payload.get("format") != CLASSIFIER_FORMAT:
        raise ValueError(f"{path} is not a skecg classifier file (no skecg format marker).")
    missing = {"format_version", "estimator", "params", "encoder", "fitted",
               "state_dict"} - set(payload)
    if missing:
        raise ValueError(f"{path} is a damaged skecg classifier file (missing "
                         f"{', '.join(sorted(missing))}).")
    return payload
