"""ECG classification with skorch: supervised training, linear evaluation and finetuning.

:class:`ECGClassifier` is a :class:`skorch.NeuralNetClassifier` subclass. Its network, a backbone
(trained from scratch or deep-copied from a fitted self-supervised encoder) and a head, is built
in ``initialize_module`` from explicit parameters and from shapes inferred in ``fit`` (stored as
fitted attributes, never written back into parameters). Training follows the paper's protocol:
one random crop per record per epoch; evaluation averages window predictions per record.
"""

from __future__ import annotations

import copy
import numbers
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, EpochTimer, PassthroughScoring, PrintLog
from skorch.dataset import Dataset, unpack_data
from skorch.utils import to_numpy
from torch import nn

from ._validation import check_ecg_array, check_random_state_seed
from .metrics import macro_auc
from .models import CPCNetwork, LinearHead, PaperHead, make_backbone
from .preprocessing import random_crops, sliding_windows
from .ssl._base import OPTIMIZERS, resolve_device
from .ssl._training import PRECISIONS

__all__ = ["ClassifierNetwork", "ECGClassifier", "RecordAUC"]

DEFAULT_BACKBONE = "xresnet1d50"
HEADS = ("linear", "paper")
PRETRAINED_LR_FACTORS = (0.01, 0.1)  # the paper's finetuning: encoder x0.01, context x0.1


class ClassifierNetwork(nn.Module):
    """A backbone's pooled representation followed by a classification head.

    Parameters
    ----------
    backbone : nn.Module
        Maps ``(batch, n_leads, n_samples)`` to ``(batch, out_features)`` via
        ``forward_features``.
    head : nn.Module
        Maps ``(batch, out_features)`` to logits ``(batch, n_outputs)``.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, n_leads, n_samples)`` to logits ``(batch, n_outputs)``."""
        return self.head(self.backbone.forward_features(x))


class RecordAUC(Callback):
    """Record-level macro AUC of the validation records (``valid_auc``) and best weights.

    Collects the record-level probabilities that :meth:`ECGClassifier.validation_step` returns
    (window probabilities pooled per record) and records their macro AUC in the history as
    ``valid_auc`` (and ``valid_auc_best``). If the net's ``load_best`` is True, the weights of
    the epoch with the highest ``valid_auc`` are restored at the end of training. Does nothing
    when the net has no validation set.
    """

    def initialize(self):
        self.y_true_, self.y_score_ = [], []
        self.best_score_, self.best_state_ = -np.inf, None
        return self

    def on_train_begin(self, net, **kwargs):
        self.best_score_, self.best_state_ = -np.inf, None

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs):
        if not training:
            self.y_true_.append(to_numpy(unpack_data(batch)[1]))
            self.y_score_.append(to_numpy(y_pred))

    def on_epoch_end(self, net, **kwargs):
        if not self.y_score_:
            return
        score = macro_auc(np.concatenate(self.y_true_), np.concatenate(self.y_score_))
        self.y_true_, self.y_score_ = [], []
        is_best = score > self.best_score_
        net.history.record("valid_auc", score)
        net.history.record("valid_auc_best", bool(is_best))
        if is_best:
            self.best_score_ = score
            if net.load_best:
                self.best_state_ = {k: v.detach().cpu().clone()
                                    for k, v in net.module_.state_dict().items()}

    def on_train_end(self, net, **kwargs):
        if net.load_best and self.best_state_ is not None:
            net.module_.load_state_dict(self.best_state_)
        self.best_state_ = None  # do not carry a second copy of the weights in pickles


class ECGClassifier(NeuralNetClassifier):
    """Multi-label or single-label ECG classifier on a (pretrained) backbone.

    ``y`` of shape (n_records, n_labels) holding 0/1 is a multi-label task (the PTB-XL case:
    one sigmoid per label, ``BCEWithLogitsLoss``); 1-D ``y`` holds class labels (softmax,
    ``CrossEntropyLoss``). Each epoch trains on one random crop of ``crop_length`` samples per
    record; :meth:`predict_proba` averages (``aggregate``) the probabilities of sliding windows
    per record.

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
    head : {"linear", "paper"}, default="linear"
        "linear": one linear layer (linear evaluation). "paper": the paper's finetuning head,
        BatchNorm - dropout - 512 hidden - ReLU - BatchNorm - dropout - linear.
    freeze_encoder : bool, default=False
        Linear evaluation: the backbone is not optimised and stays in eval mode during training
        (its BatchNorm statistics are frozen); only the head learns.
    head_epochs : int, default=0
        Train only the head (backbone frozen as with ``freeze_encoder``) for the first
        ``head_epochs`` epochs, then all layers. The history records ``encoder_frozen`` per
        epoch.
    discriminative_lr : tuple of (float, float) or None, default=None
        Learning-rate factors ``(encoder, context)``: backbone parameters learn at
        ``lr * encoder`` (for the "cpc" network the LSTM at ``lr * context``), the head at
        ``lr``. None: the paper's ``(0.01, 0.1)`` with a pretrained encoder, ``(1, 1)`` for a
        backbone trained from scratch.
    crop_length : int or None, default=250
        Samples of the random training crop (2.5 s at 100 Hz); None trains on whole records.
    window, stride : int, default=250, 125
        Sliding windows (in samples) of validation and prediction.
    aggregate : {"mean", "max"}, default="mean"
        How window probabilities are pooled per record ("max" is renormalised to sum to 1 for
        single-label tasks).
    batch_size : int, default=128
        Records per training step (and per prediction chunk).
    max_epochs : int, default=50
    lr : float, default=1e-3
        Learning rate of the head (see ``discriminative_lr``).
    weight_decay : float, default=1e-3
        Weight decay of weights (biases and BatchNorm parameters get none).
    optimizer : {"adamw", "adam", "sgd"} or torch optimizer class, default="adamw"
        Further arguments as ``optimizer__momentum=...``.
    train_split : callable or None, default=None
        skorch's validation split. None: no validation. A fixed validation set is passed the
        skorch way, ``train_split=skorch.helper.predefined_split(skorch.dataset.Dataset(
        X_valid, y_valid))`` (validated like ``X``/``y``; pass it already preprocessed when the
        classifier ends a Pipeline); ``skorch.dataset.ValidSplit(0.1)`` holds out random
        records. The history then holds ``valid_loss`` (window level) and ``valid_auc``
        (record-level macro AUC, windows pooled per record).
    load_best : bool, default=True
        At the end of ``fit``, restore the weights of the epoch with the best ``valid_auc``
        (only with a validation set).
    random_state : int, RandomState or None, default=None
        Seeds weights, shuffling, crops and dropout; the global torch RNG is left as it was.
    device : {"cpu", "cuda", "auto"} or str, default="cpu"
    precision : {32, "bf16"}, default=32
        Autocast dtype of the forward passes.
    verbose : int, default=0
        Print skorch's epoch log.
    **kwargs
        Other :class:`skorch.NeuralNetClassifier` parameters: ``callbacks`` (e.g.
        ``EarlyStopping(monitor="valid_auc", lower_is_better=False)``), ``warm_start``,
        ``criterion`` (None: chosen from ``y``), ``classes``, ``iterator_train__*``,
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
    device_ : str
        The device used (``device`` with "auto" resolved).
    history_ : skorch.History
        Per-epoch ``train_loss``, ``valid_loss``, ``valid_auc``, ``encoder_frozen``, ...

    Notes
    -----
    The paper's regimes (PTB-XL, 100 Hz): linear evaluation ``freeze_encoder=True``; finetuning
    ``head="paper", head_epochs=50`` then all layers with discriminative learning rates (the
    paper also lowers ``lr`` from 1e-3 to 1e-4 after the head phase: add a skorch
    ``LRScheduler`` callback for that). Supervised baseline: ``encoder="xresnet1d50"``.

    ``fit`` and ``partial_fit`` are thin wrappers around skorch's: they validate ``X``
    (2-D input is read as single-lead records) and ``y``, infer the shapes the network needs
    before skorch initialises it, resolve ``device="auto"`` and run training inside
    :func:`torch.random.fork_rng`; epochs, callbacks and history are skorch's. While training,
    ``device`` reads as the resolved device (so skorch's own code, e.g. checkpoint loading, sees
    a real one); the requested value is restored when ``fit`` returns. As in skorch,
    ``set_params(lr=...)`` on an initialised net sets the rate of every parameter group until
    the next ``fit`` rebuilds the optimiser.
    """

    def __init__(
        self,
        encoder=DEFAULT_BACKBONE,
        *,
        width: int = 64,
        head: str = "linear",
        freeze_encoder: bool = False,
        head_epochs: int = 0,
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
        random_state=None,
        device: str = "cpu",
        precision: int | str = 32,
        verbose: int = 0,
        **kwargs,
    ):
        kwargs.setdefault("module", None)
        kwargs.setdefault("criterion", None)
        super().__init__(optimizer=optimizer, lr=lr, max_epochs=max_epochs,
                         batch_size=batch_size, train_split=train_split, device=device,
                         verbose=verbose, **kwargs)
        self.encoder = encoder
        self.width = width
        self.head = head
        self.freeze_encoder = freeze_encoder
        self.head_epochs = head_epochs
        self.discriminative_lr = discriminative_lr
        self.crop_length = crop_length
        self.window = window
        self.stride = stride
        self.aggregate = aggregate
        self.weight_decay = weight_decay
        self.load_best = load_best
        self.random_state = random_state
        self.precision = precision

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y, **fit_params):
        """Train the network (re-initialised unless ``warm_start``).

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples) or (n_records, n_samples)
            ECG records (a 2-D array is single-lead).
        y : array-like of shape (n_records, n_labels) or (n_records,)
            Multi-hot labels (multi-label) or class labels (single-label).

        Returns
        -------
        self
        """
        if not self.warm_start:
            self.initialized_ = False
        return self.partial_fit(X, y, _routing_method="fit", **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train ``max_epochs`` more epochs (initialising the network first if needed).

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples) or (n_records, n_samples)
        y : array-like of shape (n_records, n_labels) or (n_records,)
        classes : ignored
            Present for scikit-learn compatibility; use the ``classes`` parameter instead.

        Returns
        -------
        self
        """
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
                             f"crop_length={self.crop_length}.")
        if not self.initialized_:
            self._infer_shapes(X, y)
        y = self._encode_targets(y, X, name="y")
        seed = check_random_state_seed(self.random_state)
        if self.initialized_:  # continued training: do not repeat the same crops and shuffles
            seed += len(self.history)
        with self._resolved_device(), torch.random.fork_rng(devices=_rng_devices()):
            torch.manual_seed(seed)
            super().partial_fit(X, y, **fit_params)
        return self

    def _check_params(self) -> None:
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}; got {self.head!r}.")
        if self.aggregate not in ("mean", "max"):
            raise ValueError(f"aggregate must be 'mean' or 'max'; got {self.aggregate!r}.")
        if self.precision not in (32, "32", "bf16"):
            raise ValueError(f"precision must be 32 or 'bf16'; got {self.precision!r}.")
        if isinstance(self.optimizer, str) and self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)} or a torch "
                             f"optimizer class; got {self.optimizer!r}.")
        if self.module is not None:
            raise ValueError("module must be None: ECGClassifier builds its network from "
                             "`encoder` and `head`.")
        names = ["batch_size", "max_epochs", "window", "stride"]
        for name in names + ["crop_length"] * (self.crop_length is not None):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}.")
        if not isinstance(self.head_epochs, numbers.Integral) or self.head_epochs < 0:
            raise ValueError(f"head_epochs must be an int >= 0; got {self.head_epochs!r}.")
        factors = self.discriminative_lr
        if factors is not None and (len(factors) != 2 or min(factors) < 0):
            raise ValueError("discriminative_lr must be None or (encoder factor, context "
                             f"factor) >= 0; got {factors!r}.")

    def _infer_shapes(self, X: np.ndarray, y) -> None:
        y = np.asarray(y)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} records but y has {len(y)} entries.")
        check_classification_targets(y)
        kind = type_of_target(y, input_name="y")
        self.n_leads_in_ = X.shape[1]
        self.multilabel_ = kind == "multilabel-indicator"
        if self.multilabel_:
            self.classes_inferred_ = np.arange(y.shape[1])
        elif kind in ("binary", "multiclass"):
            self.classes_inferred_ = np.unique(column_or_1d(y, warn=True))
        else:
            raise ValueError(f"y must be 1-D class labels or a multi-hot matrix; got {kind}.")
        if self.multilabel_ and self.classes is not None and len(self.classes) != y.shape[1]:
            raise ValueError(f"y has {y.shape[1]} labels but classes has {len(self.classes)}.")
        self.n_outputs_ = len(self.classes_)
        if not self.multilabel_ and self.n_outputs_ < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes in the "
                             "data, but the data contains only one class.")

    def _encode_targets(self, y, X: np.ndarray, name: str) -> np.ndarray:
        """Check ``X``'s leads and turn ``y`` into float multi-hot or int64 class indices."""
        if X.shape[1] != self.n_leads_in_:
            raise ValueError(f"X has {X.shape[1]} leads, but {type(self).__name__} was fitted "
                             f"on {self.n_leads_in_} leads.")
        y = np.asarray(y)
        if len(y) != len(X):
            raise ValueError(f"{name} has {len(y)} entries for {len(X)} records.")
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

    def check_data(self, X, y=None):
        """No-op: ``partial_fit`` has validated and encoded ``X`` and ``y`` already."""

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
        """Build network, criterion, optimiser and callbacks (needs the shapes from ``fit``)."""
        if not hasattr(self, "n_leads_in_"):
            raise ValueError(f"{type(self).__name__} infers its shapes from the data: call "
                             "fit(X, y) rather than initialize().")
        with self._resolved_device():
            super().initialize()
        # crop offsets come from a generator on the CPU, seeded from the (forked) global RNG
        self.generator_ = torch.Generator().manual_seed(int(torch.randint(2**62, (1,))))
        return self

    @property
    def _default_callbacks(self):
        return [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            ("valid_auc", RecordAUC()),
            ("print_log", PrintLog()),
        ]

    def _pretrained(self) -> bool:
        return not (self.encoder is None or isinstance(self.encoder, str))

    def _make_backbone(self) -> nn.Module:
        if not self._pretrained():
            name = self.encoder or DEFAULT_BACKBONE
            widths = ({"encoder_width": self.width, "context_width": self.width}
                      if name == "cpc" else {"width": self.width})
            return make_backbone(name, self.n_leads_in_, **widths)
        # a FrozenEstimator forwards attribute access to the encoder it wraps
        backbone = getattr(getattr(self.encoder, "module_", None), "backbone", None)
        if backbone is None:
            raise ValueError(
                "encoder must be a backbone name, None or a FITTED skecg SSL encoder (e.g. "
                f"CPCEncoder(...).fit(X)); got {type(self.encoder).__name__} without a trained "
                "module_.backbone.")
        if self.encoder.n_leads_in_ != self.n_leads_in_:
            raise ValueError(f"X has {self.n_leads_in_} leads, but the encoder was fitted on "
                             f"{self.encoder.n_leads_in_} leads.")
        return copy.deepcopy(backbone)

    def initialize_module(self):
        """Build :class:`ClassifierNetwork` from ``encoder``, ``head`` and the fitted shapes."""
        backbone = self._make_backbone()
        if self.head == "paper":
            head = PaperHead(backbone.out_features, self.n_outputs_)
        else:
            head = LinearHead(backbone.out_features, self.n_outputs_)
        self.module_ = ClassifierNetwork(backbone, head)
        return self

    def initialize_criterion(self):
        """``BCEWithLogitsLoss`` for multi-label ``y``, ``CrossEntropyLoss`` otherwise."""
        if self.criterion is not None:
            return super().initialize_criterion()
        self.criterion_ = nn.BCEWithLogitsLoss() if self.multilabel_ else nn.CrossEntropyLoss()
        return self

    def _parameter_parts(self) -> dict[str, list[nn.Parameter]]:
        backbone = self.module_.backbone
        context = list(backbone.lstm.parameters()) if isinstance(backbone, CPCNetwork) else []
        context_ids = {id(p) for p in context}
        encoder = [p for p in backbone.parameters() if id(p) not in context_ids]
        head = list(self.module_.head.parameters())
        return {"encoder": encoder, "context": context, "head": head}

    def initialize_optimizer(self, triggered_directly=None):
        """Optimiser with one parameter group per part (encoder, context, head) and decay kind.

        Groups are named (``group["name"]``, e.g. "encoder", "head_no_decay"); their learning
        rates follow ``discriminative_lr``; biases and BatchNorm parameters get no weight decay.
        With ``freeze_encoder`` only the head is optimised.
        """
        factors = self.discriminative_lr
        if factors is None:
            factors = PRETRAINED_LR_FACTORS if self._pretrained() else (1.0, 1.0)
        lr_factor = {"encoder": factors[0], "context": factors[1], "head": 1.0}
        kwargs = self.get_params_for("optimizer")
        lr = kwargs.pop("lr", self.lr)
        weight_decay = kwargs.pop("weight_decay", self.weight_decay)
        groups = []
        for part, params in self._parameter_parts().items():
            if self.freeze_encoder and part != "head":
                continue
            for suffix, decay, selected in (("", weight_decay, [p for p in params if p.ndim > 1]),
                                            ("_no_decay", 0.0, [p for p in params if p.ndim <= 1])):
                if selected:
                    groups.append({"params": selected, "lr": lr * lr_factor[part],
                                   "weight_decay": decay, "name": part + suffix})
        optimizer = self.optimizer
        optimizer = OPTIMIZERS[optimizer] if isinstance(optimizer, str) else optimizer
        self.optimizer_ = optimizer(groups, lr=lr, **kwargs)
        return self

    # ---------------------------------------------------------- train / eval
    def _encoder_frozen(self) -> bool:
        return bool(self.freeze_encoder or len(self.history) <= self.head_epochs)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(net, dataset_train=dataset_train, dataset_valid=dataset_valid,
                               **kwargs)
        frozen = self._encoder_frozen()
        self.module_.backbone.requires_grad_(not frozen)
        self.history.record("encoder_frozen", frozen)

    def _set_training(self, training=True):
        super()._set_training(training)
        if training and self._encoder_frozen():
            self.module_.backbone.eval()  # frozen BatchNorm statistics

    def _autocast(self):
        dtype = PRECISIONS[self.precision]
        return torch.autocast(torch.device(self.device_).type, dtype=dtype,
                              enabled=dtype is not None)

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
        with self._autocast():
            y_pred = self.module_(x)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def validation_step(self, batch, **fit_params):
        """Window-level loss and record-level probabilities (windows pooled per record)."""
        self._set_training(False)
        Xi, yi = unpack_data(batch)
        x = torch.as_tensor(Xi, dtype=torch.float32, device=self.device_)
        with torch.no_grad():
            logits = self._window_logits(x)
            y = torch.as_tensor(yi, device=logits.device)
            loss = self.get_loss(logits, y.repeat_interleave(len(logits) // len(x), dim=0))
            proba = self._pool(self._nonlinearity(logits), len(x))
        return {"loss": loss, "y_pred": proba}

    def get_iterator(self, dataset, training=False):
        if not training:
            return super().get_iterator(dataset, training=False)
        kwargs = self.get_params_for("iterator_train")
        batch_size = kwargs.get("batch_size", self.batch_size)
        # a last batch of one record cannot train BatchNorm: drop it
        drop_last = len(dataset) > batch_size and len(dataset) % batch_size == 1
        kwargs = {"shuffle": True, "drop_last": drop_last, "batch_size": batch_size, **kwargs}
        return self.iterator_train(dataset, **kwargs)

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
            dataset_valid = self.get_dataset(X_valid, y_valid)
        return dataset_train, dataset_valid

    # -------------------------------------------------------------- prediction
    def _window_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of every window of records ``x``: (n_records * n_windows, n_outputs)."""
        windows, _ = sliding_windows(x, self.window, self.stride)
        with self._autocast():
            return self.module_(windows).float()

    def _nonlinearity(self, logits: torch.Tensor) -> torch.Tensor:
        fn = self.predict_nonlinearity
        if fn == "auto":
            return torch.sigmoid(logits) if self.multilabel_ else torch.softmax(logits, dim=-1)
        return logits if fn is None else fn(logits)

    def _pool(self, values: torch.Tensor, n_records: int) -> torch.Tensor:
        """Pool record-major window values (n_records * n_windows, k) to (n_records, k)."""
        per_record = values.reshape(n_records, -1, values.shape[-1])
        if self.aggregate == "mean":
            return per_record.mean(dim=1)
        pooled = per_record.amax(dim=1)
        return pooled if self.multilabel_ else pooled / pooled.sum(dim=1, keepdim=True)

    def predict_proba(self, X) -> np.ndarray:
        """Record-level probabilities: window probabilities pooled per record.

        Parameters
        ----------
        X : array-like of shape (n_records, n_leads, n_samples) or (n_records, n_samples)
            Records of at least ``window`` samples.

        Returns
        -------
        proba : np.ndarray of shape (n_records, n_outputs_), float32
            Per-label probabilities (multi-label) or class probabilities in the order of
            ``classes_`` (single-label).
        """
        check_is_fitted(self)
        X = check_ecg_array(X, name="X")
        if X.shape[1] != self.n_leads_in_:
            raise ValueError(f"X has {X.shape[1]} leads, but {type(self).__name__} was fitted "
                             f"on {self.n_leads_in_} leads.")
        if X.shape[2] < self.window:
            raise ValueError(f"X has {X.shape[2]} samples per lead, fewer than "
                             f"window={self.window}.")
        self._set_training(False)
        out = []
        with torch.inference_mode():
            for start in range(0, len(X), self.batch_size):
                x = torch.as_tensor(np.array(X[start:start + self.batch_size]),
                                    device=self.device_)
                logits = self._window_logits(x)
                out.append(self._pool(self._nonlinearity(logits), len(x)).cpu().numpy())
        return np.concatenate(out).astype(np.float32, copy=False)

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
        requested = state["device"]
        if requested == "auto":  # skorch maps the weights with the device it finds here
            state["device"] = state.get("device_", "cpu")
        super().__setstate__(state)
        if hasattr(self, "module_"):
            self.device_ = self.device  # where the weights were mapped to
        if requested == "auto":
            self.device = requested

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.classifier_tags.multi_label = True
        tags.non_deterministic = self.device != "cpu"
        return tags


def _rng_devices() -> list[int]:
    return [torch.cuda.current_device()] if torch.cuda.is_available() else []
