"""The paper's evaluation protocols, each one call returning a tidy table (one row per model).

Every protocol takes ``data``: a Bunch as returned by :func:`skecg.datasets.load_ptbxl` (``X``
in mV, ``y`` multi-hot, ``meta`` with ``strat_fold``) and either one split (``splits=``; default
PTB-XL's folds 1-8 train, 9 validation, 10 test) or several (``cv=``, e.g.
:func:`skecg.datasets.fold_rotation`, so that every labelled record is tested once). Test
scores of all splits are pooled: one record-level macro AUC over all tested records with a
bootstrap interval, the spread over splits (``split_auc_std``), and, for a row with a baseline
(random init, supervised from scratch), the paired bootstrap difference to it (``delta`` with
``delta_low``/``delta_high``) over the same records.

Classifiers are :class:`~skecg.classifier.ECGClassifier` estimators built from
:func:`paper_recipe`: ``ECGClassifier(**paper_recipe(encoder, regime))`` is the paper's model,
input scaling included. An unfitted encoder is a template, pretrained per split on that split's
training and validation signals (never its test records); a fitted encoder is used as given.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from ._linear_eval import paper_linear_steps, train_linear_layer
from .augment import NOISE_LEVELS, add_physiological_noise_windows
from .datasets import ptbxl_split
from .metrics import bootstrap_macro_auc, bootstrap_macro_auc_difference, macro_auc
from .preprocessing import aggregate_windows, sliding_windows

PROBE_C_GRID = (0.01, 0.1, 1.0)
TABLE_COLUMNS = ["model", "pretraining", "regime", "protocol", "recipe", "n_train", "n_test",
                 "n_splits", "n_seeds", "steps", "valid_auc", "test_auc", "test_auc_std",
                 "split_auc_std", "test_auc_low", "test_auc_high", "baseline", "delta",
                 "delta_low", "delta_high", "note"]
METHODS = ("simclr", "byol", "swav", "cpc", "stmem", "jepa", "cmsc")
REGIMES = ("linear", "finetune", "supervised")
CHANCE_AUC = 0.55  # a validation macro AUC at or below this is reported as "at chance"
_METHOD_OF_ENCODER = {"CPCEncoder": "cpc", "SimCLREncoder": "simclr", "BYOLEncoder": "byol",
                      "SwAVEncoder": "swav", "STMEMEncoder": "stmem", "JEPAEncoder": "jepa",
                      "CMSCEncoder": "cmsc"}
_RECENT_METHODS = ("stmem", "jepa", "cmsc")  # recipes from the authors' downstream settings
JEPA_LINEAR_EPOCHS = 37  # kweimann's 5k steps of batch 128, in epochs of PTB-XL folds 1-8


# ------------------------------------------------------------------------------- recipes
def method_name(encoder_or_name) -> str:
    """The method key ("simclr", ..., "cmsc"; see ``METHODS``) of an encoder or a name."""
    if isinstance(encoder_or_name, str):
        name = encoder_or_name.lower()
        if name not in METHODS:
            raise ValueError(f"unknown method {encoder_or_name!r}; expected one of {METHODS} "
                             "or a skecg SSL encoder.")
        return name
    estimator = getattr(encoder_or_name, "estimator", encoder_or_name)  # FrozenEstimator
    # a subclass of an encoder (a user's tweak) keeps its method's recipe
    name = next((_METHOD_OF_ENCODER[c.__name__] for c in type(estimator).__mro__
                 if c.__name__ in _METHOD_OF_ENCODER), None)
    if name is None:
        raise ValueError(f"no paper recipe for {type(estimator).__name__}; expected one of "
                         f"{sorted(_METHOD_OF_ENCODER)} or a name from {METHODS}.")
    return name


def paper_recipe(encoder_or_name, regime: str, *, epoch_scale: float = 1.0,
                 **overrides) -> dict:
    """The reference code's :class:`~skecg.classifier.ECGClassifier` parameters per method.

    ``ECGClassifier(**paper_recipe(encoder, regime))`` is the paper's model, unfitted,
    cloneable and searchable (add ``train_split=`` for the recipe's epoch selection).

    ========  ============  ==========================================================
    method    regime        recipe (AdamW, batch 128, random 2.5 s crops, windows of
                            250 with stride 125 averaged per record, best epoch on the
                            validation records)
    ========  ============  ==========================================================
    SimCLR,   linear        frozen encoder (BatchNorm in eval mode), ``Linear(512 -> n)``,
    BYOL,                   lr 4e-3 (8e-3 x 128/256), weight decay 0.1, 50 epochs; raw mV
    SwAV      finetune      ``Linear(512 -> n)`` head, all layers from epoch 0, lr 1e-2,
                            weight decay 0.1, 50 epochs, no discriminative lr; raw mV
              supervised    the finetune recipe on a randomly initialised xresnet1d50
    CPC       linear        frozen encoder, ``Linear(1536 -> n)``, lr 1e-3, weight decay
                            1e-3, 50 epochs; per-lead standardised input
              finetune      paper head (dropout 0.25 / 0.5), 50 head-only epochs at lr
                            1e-3, then 20 epochs of all layers at lr 1e-4 with encoder
                            x0.01 and LSTM x0.1; weight decay 1e-3; standardised input
              supervised    paper head, all layers from epoch 0 at lr 1e-3, weight decay
                            1e-3, 70 epochs, standardised input (skecg's choice: the
                            reference lists no from-scratch recipe for CPC)
    ========  ============  ==========================================================

    ST-MEM, ECG-JEPA and CMSC follow their authors' downstream settings as far as
    ``ECGClassifier`` allows. Linear: the frozen encoder and ``Linear(width -> n)`` on its
    pooled representation (the mean of all lead x time tokens of a token model). Input scaling
    is the encoder's (raw mV by default); the best epoch is chosen on the validation records.

    ========  ============  ==========================================================
    method    regime        recipe
    ========  ============  ==========================================================
    ST-MEM    linear        AdamW lr 5e-4 (1e-3 x 128/256), weight decay 0.05, batch
                            128, 50 epochs; training crops and evaluation windows of the
                            encoder's ``window`` (9 s) at its ``stride`` (0.5 s: the
                            authors' three crops per record), probabilities averaged
              finetune      the same, all layers from epoch 0, no layer decay
              supervised    the finetune recipe on the encoder's transformer (size,
                            patch length, leads) randomly initialised
    JEPA      linear        AdamW lr 1e-3, weight decay 0.1, batch 128, 37 epochs (the
                            authors' 5k steps); 2.5 s crops, windows of the encoder's
                            ``window`` (2.5 s) at its ``stride`` (1.25 s)
              finetune      37 head-only epochs at lr 1e-3 (the authors' linear stage),
                            then 37 epochs of all layers at lr 1e-4; weight decay 0
              supervised    all layers from epoch 0 at lr 1e-4, weight decay 0, 74
                            epochs, on the encoder's transformer from scratch
    CMSC      linear        Adam lr 1e-4, no weight decay, batch 256, 50 epochs; crop
                            and window of the encoder's ``crop_length`` (the whole
                            10-s record, as the authors' downstream input)
              finetune      the same, all layers from epoch 0
              supervised    the finetune recipe on the encoder's backbone from scratch
    ========  ============  ==========================================================

    Departures from the authors. ST-MEM: the pooled vector gets no LayerNorm of its own (the
    backbone's final LayerNorm acts per token, before the mean); no RandAugment, warm-up or
    cosine schedule; the input is neither filtered nor z-scored per record (the encoder's
    scaling); 50 epochs are skecg's choice (the released configuration's 10 epochs of batch
    16 are placeholders). JEPA: the attentive pooler (one query, cross-attention) is replaced
    by the mean-pooled linear head; constant lr (no cosine to 1e-6), no dropout 0.1 and no
    gradient clipping; the linear stage of finetuning has weight decay 0 (the authors' 0.1);
    training from scratch is skecg's choice (the authors report none). CMSC: the best
    validation epoch of 50 stands in for up to 400 epochs with early stopping (patience 15);
    a 12-lead record is one instance (the authors classify each lead on its own).

    The reference standardises CPC's input with fixed per-lead statistics of the full PTB-XL;
    here ``input_scaling="standardize"`` fits them on the classifier's training records.
    The protocols train a linear evaluation for the recipe's epochs *of the full PTB-XL*
    (:func:`skecg._linear_eval.paper_linear_steps`: 50 epochs are about 6,800 steps).

    Parameters
    ----------
    encoder_or_name : skecg SSL encoder or str
        A fitted encoder is put in as ``encoder`` (linear and finetune regimes); for
        "supervised" the same architecture is trained from scratch (a name from ``METHODS``:
        the paper's xresnet1d50 of width 64, the CPC network of width 512, or the default
        encoder's backbone for "stmem", "jepa" and "cmsc").
    regime : {"linear", "finetune", "supervised"}
    epoch_scale : float, default=1.0
        Multiplies the epochs of each phase (each at least 1): shorter CPU presets keep the
        recipe's shape (CPC's and JEPA's finetuning keep a head-only and an all-layer phase).
    **overrides
        Entries replacing the recipe's (applied after ``epoch_scale``).

    Returns
    -------
    recipe : dict
        ``ECGClassifier`` parameters (``input_scaling`` included).
    """
    method = method_name(encoder_or_name)
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {REGIMES}; got {regime!r}.")
    if not (isinstance(epoch_scale, (int, float)) and epoch_scale > 0):
        raise ValueError(f"epoch_scale must be a number > 0; got {epoch_scale!r}.")
    cpc = method == "cpc"

    def epochs(n: int) -> int:
        return max(1, round(n * epoch_scale))

    if method in _RECENT_METHODS:
        return {**_recent_recipe(encoder_or_name, method, regime, epochs), **overrides}
    recipe = dict(crop_length=250, window=250, stride=125, aggregate="mean", batch_size=128,
                  optimizer="adamw", input_scaling="standardize" if cpc else "mV",
                  head_epochs=0, finetune_lr=None, freeze_encoder=False)
    if regime == "linear":
        recipe.update(head="linear", freeze_encoder=True, max_epochs=epochs(50),
                      lr=1e-3 if cpc else 8e-3 * 128 / 256, weight_decay=1e-3 if cpc else 0.1)
    elif cpc:
        recipe.update(head="paper", head_dropout=(0.25, 0.5), max_epochs=epochs(70), lr=1e-3,
                      weight_decay=1e-3)
        if regime == "finetune":
            recipe.update(head_epochs=epochs(50), max_epochs=epochs(50) + epochs(20),
                          finetune_lr=1e-4, discriminative_lr=(0.01, 0.1))
    else:
        recipe.update(head="linear", max_epochs=epochs(50), lr=1e-2, weight_decay=0.1)
    if regime != "linear":
        recipe.setdefault("discriminative_lr", (1.0, 1.0))
    if regime == "supervised":
        recipe.update(supervised_baseline_params(
            encoder_or_name if not isinstance(encoder_or_name, str) else None, method))
    elif not isinstance(encoder_or_name, str):
        recipe["encoder"] = encoder_or_name
    recipe.update(overrides)
    return recipe


def describe_recipe(recipe: dict) -> str:
    """One line naming a recipe's head, phases, optimiser settings and input scaling."""
    defaults = dict(lr=1e-3, weight_decay=1e-3, max_epochs=50, batch_size=128)  # ECGClassifier's
    recipe = {**defaults, **recipe}
    parts = [f"{recipe.get('head', 'linear')} head"]
    if recipe.get("freeze_encoder"):
        parts.append("frozen encoder")
    elif recipe.get("head_epochs"):
        factors = recipe.get("discriminative_lr") or (1, 1)
        parts.append(f"{recipe['head_epochs']} head-only epochs, then all layers at lr "
                     f"{recipe.get('finetune_lr') or recipe['lr']:g} x ({factors[0]:g}, "
                     f"{factors[1]:g})")
    else:
        parts.append("all layers")
    epochs = (f"{recipe['max_epochs']} PTB-XL epochs" if recipe.get("freeze_encoder")
              else f"{recipe['max_epochs']} epochs")
    parts.append(f"{recipe.get('optimizer', 'adamw')} lr {recipe['lr']:g} wd "
                 f"{recipe['weight_decay']:g}, {epochs}, batch {recipe['batch_size']}, input "
                 f"{recipe.get('input_scaling', 'mV')}")
    return "; ".join(parts)


def _recent_recipe(encoder_or_name, method: str, regime: str, epochs) -> dict:
    """:func:`paper_recipe` of ST-MEM, JEPA and CMSC (its second table), before overrides."""
    named = isinstance(encoder_or_name, str)
    encoder = None if named else getattr(encoder_or_name, "estimator", encoder_or_name)
    if encoder is None:
        from .ssl import ENCODERS

        encoder = ENCODERS[method]()  # the default configuration: windows and scaling
    recipe = dict(aggregate="mean", optimizer="adamw", input_scaling=encoder.input_scaling,
                  head="linear", head_epochs=0, finetune_lr=None, freeze_encoder=False)
    if method == "stmem":
        recipe.update(crop_length=encoder.window, window=encoder.window, stride=encoder.stride,
                      batch_size=128, lr=1e-3 * 128 / 256, weight_decay=0.05,
                      max_epochs=epochs(50))
    elif method == "jepa":
        recipe.update(crop_length=encoder.window, window=encoder.window, stride=encoder.stride,
                      batch_size=128, lr=1e-3, weight_decay=0.1 if regime == "linear" else 0.0,
                      max_epochs=epochs(JEPA_LINEAR_EPOCHS))
        if regime == "finetune":  # the authors finetune from their linear checkpoint
            recipe.update(head_epochs=epochs(JEPA_LINEAR_EPOCHS), finetune_lr=1e-4,
                          max_epochs=2 * epochs(JEPA_LINEAR_EPOCHS))
        elif regime == "supervised":
            recipe.update(lr=1e-4, max_epochs=2 * epochs(JEPA_LINEAR_EPOCHS))
    else:  # cmsc: the whole record downstream
        length = encoder.crop_length or 2 * encoder.window
        recipe.update(optimizer="adam", crop_length=length, window=length,
                      stride=max(1, length // 2), batch_size=256, lr=1e-4, weight_decay=0.0,
                      max_epochs=epochs(50))
    if regime == "linear":
        recipe["freeze_encoder"] = True
    else:
        recipe["discriminative_lr"] = (1.0, 1.0)
    if regime == "supervised":
        recipe.update(supervised_baseline_params(encoder, method))
    elif not named:
        recipe["encoder"] = encoder_or_name
    return recipe


def _transformer_params(size: str | None, width: int | None, depth: int | None,
                        n_heads: int | None, patch_length: int, leads) -> dict:
    """ECGClassifier arguments of the :func:`skecg.models.transformer` these arguments build."""
    from .models import TRANSFORMER_SIZES
    from .models.transformer import n_heads_for

    preset = dict(TRANSFORMER_SIZES["small" if size is None else size])
    if width is not None:
        preset["width"] = int(width)
        if n_heads is None:
            preset["n_heads"] = n_heads_for(preset["width"])
    if depth is not None:
        preset["depth"] = int(depth)
    if n_heads is not None:
        preset["n_heads"] = int(n_heads)
    params = {"depth": preset["depth"], "n_heads": preset["n_heads"],
              "patch_length": int(patch_length)}
    if leads is not None:
        params["leads"] = [leads] if isinstance(leads, str) else list(leads)
    return {"encoder": "transformer", "width": preset["width"], "backbone_params": params}


def supervised_baseline_params(encoder, method: str | None = None) -> dict:
    """ECGClassifier arguments that train the encoder's backbone architecture from scratch.

    Parameters
    ----------
    encoder : skecg SSL encoder or None
        None: the paper's architecture of ``method`` (xresnet1d50 width 64, CPC width 512) or
        the backbone of its default encoder ("stmem", "jepa", "cmsc").
    method : str, optional
        Method key, used when ``encoder`` is None.

    Returns
    -------
    dict
        ``encoder`` (a backbone name), ``width`` and, for a transformer, ``backbone_params``
        (depth, heads, patch length and the encoder's ``leads``): the same network, randomly
        initialised.
    """
    if encoder is None and method in _RECENT_METHODS:
        from .ssl import ENCODERS

        encoder = ENCODERS[method]()  # its default backbone
    if encoder is None:
        return ({"encoder": "cpc", "width": 512} if method == "cpc"
                else {"encoder": "xresnet1d50", "width": 64})
    encoder = getattr(encoder, "estimator", encoder)
    if hasattr(encoder, "size") and hasattr(encoder, "patch_length"):  # ST-MEM, JEPA
        return _transformer_params(encoder.size, encoder.width, encoder.depth, encoder.n_heads,
                                   encoder.patch_length, encoder.leads)
    if getattr(encoder, "backbone", None) == "transformer":  # CMSC on patch tokens
        return _transformer_params(None, encoder.width, None, None, encoder.patch_length,
                                   encoder.leads)
    if hasattr(encoder, "context_width"):  # CPCEncoder
        return {"encoder": "cpc", "width": encoder.context_width}
    return {"encoder": encoder.backbone, "width": encoder.width}


# -------------------------------------------------------------------------------- splits
def _splits(data: Bunch, splits: Bunch | None) -> Bunch:
    if splits is not None:
        return splits
    if "meta" not in data or "strat_fold" not in data.meta:
        raise ValueError("data needs meta['strat_fold'] (PTB-XL folds) or pass splits= with "
                         "train/valid/test indices.")
    return ptbxl_split(data.meta)


def _check_cv(data: Bunch, splits: Bunch | None, cv) -> list[Bunch]:
    """The splits a protocol runs: ``cv``'s, or the single ``splits`` (default PTB-XL's)."""
    if cv is None:
        return [_splits(data, splits)]
    if splits is not None:
        raise ValueError("pass either splits= (one split) or cv= (several), not both.")
    if isinstance(cv, (int, np.integer)) or not isinstance(cv, Iterable):
        raise TypeError(f"cv must be an iterable of Bunches with train/valid/test indices (e.g. "
                        f"skecg.datasets.fold_rotation(meta)); got {cv!r}.")
    out = list(cv)
    if not out:
        raise ValueError("cv holds no split.")
    tested = np.zeros(len(data.X), dtype=np.int64)
    for i, split in enumerate(out):
        missing = [k for k in ("train", "valid", "test") if k not in split]
        if missing:
            raise ValueError(f"cv split {i} has no {', '.join(missing)} indices.")
        parts = {k: np.asarray(split[k], dtype=np.int64) for k in ("train", "valid", "test")}
        if any(len(np.intersect1d(parts[a], parts[b])) for a, b in
               (("train", "test"), ("valid", "test"), ("train", "valid"))):
            raise ValueError(f"cv split {i}: its train, valid and test indices overlap.")
        if not len(parts["train"]) or not len(parts["test"]):
            raise ValueError(f"cv split {i} has no training or no test records.")
        tested[parts["test"]] += 1
    if tested.max() > 1:
        raise ValueError(f"cv tests {int((tested > 1).sum())} records more than once; pooled "
                         "scores need every record in at most one test part.")
    return out


def _is_fitted(estimator) -> bool:
    try:
        check_is_fitted(estimator)
    except Exception:
        return False
    return True


def _check_n_seeds(n_seeds) -> int:
    if not isinstance(n_seeds, (int, np.integer)) or isinstance(n_seeds, bool) or n_seeds < 1:
        raise ValueError(f"n_seeds must be a positive int; got {n_seeds!r}.")
    return int(n_seeds)


def _model_name(encoder) -> str:
    if isinstance(encoder, (list, tuple)):
        encoder = encoder[0]
    return type(getattr(encoder, "estimator", encoder)).__name__.replace("Encoder", "")


def pretrain_per_split(encoder, data: Bunch, cv, *, random_state=None) -> list:
    """One clone of ``encoder`` per split, pretrained on that split's train + valid signals.

    Labels are not used and a split's test records are never seen, so the result can be passed
    to any protocol with the same ``cv`` (one encoder per split) and reused across protocols.

    Parameters
    ----------
    encoder : unfitted skecg SSL encoder
        The template (its parameters are kept; ``random_state`` may be overridden).
    data : Bunch
        ``X`` in mV.
    cv : iterable of Bunch
        Splits with ``train``, ``valid``, ``test`` indices.
    random_state : int, optional
        Seed of every clone (default: the template's).

    Returns
    -------
    list of fitted encoders, one per split.
    """
    encoders = []
    for split in _check_cv(data, None, cv):
        pretrain = np.sort(np.concatenate([split["train"], split["valid"]]))
        est = clone(encoder)
        if random_state is not None:
            est.set_params(random_state=random_state)
        encoders.append(est.fit(data.X[pretrain]))
    return encoders


class _EncoderSource:
    """Which encoder each split and seed uses, and how the table names its pretraining."""

    def __init__(self, encoder, data: Bunch, splits: list[Bunch]):
        self.data, self.splits = data, splits
        if isinstance(encoder, (list, tuple)):
            if len(encoder) != len(splits):
                raise ValueError(f"got {len(encoder)} encoders for {len(splits)} splits; pass "
                                 "one fitted encoder per split of cv.")
            for i, est in enumerate(encoder):
                if not _is_fitted(est):
                    raise ValueError(f"encoder {i} of the list is not fitted.")
            self.kind, self.given = "list", list(encoder)
            self.template = encoder[0]
        else:
            self.kind = "fitted" if _is_fitted(encoder) else "template"
            self.given, self.template = encoder, encoder
        name = _model_name(encoder)
        if self.kind == "fitted" and getattr(getattr(encoder, "estimator", encoder),
                                             "max_epochs", None) == 0:
            self.kind = "untrained"  # a randomly initialised encoder, given as such
        self.pretraining = {
            "untrained": f"none (random init {name}, as given)",
            "fitted": f"{name} (fitted, as given)",
            "list": f"{name} (one given per split)",
            "template": f"{name} (per split, on its train+valid records)",
        }[self.kind]

    def pretrain_set(self, split: Bunch) -> np.ndarray:
        return np.sort(np.concatenate([split["train"], split["valid"]]))

    def encoder(self, index: int, seed: int):
        """The fitted encoder of split ``index`` and seed ``seed``."""
        if self.kind in ("fitted", "untrained"):
            return self.given
        if self.kind == "list":
            return self.given[index]
        key = (index, seed)
        cache = self.__dict__.setdefault("_cache", {})
        if key not in cache:
            cache.clear()  # one pretrained encoder alive at a time
            est = clone(self.template).set_params(random_state=seed)
            cache[key] = est.fit(self.data.X[self.pretrain_set(self.splits[index])])
        return cache[key]

    def random_init(self, index: int, seed: int):
        """The same architecture randomly initialised (``max_epochs=0``) with ``seed``."""
        template = getattr(self.template, "estimator", self.template)  # FrozenEstimator
        X = self.data.X[self.pretrain_set(self.splits[index])]
        return clone(template).set_params(max_epochs=0, random_state=seed).fit(X)

    @property
    def varies_with_seed(self) -> bool:
        return self.kind == "template"


# ------------------------------------------------------------------------ fit and score
def logistic_probe(C: float = 0.1, random_state=0):
    """Standardised features + one-vs-rest logistic regression (multi-label probabilities)."""
    logreg = LogisticRegression(C=C, max_iter=2000, random_state=random_state)
    return make_pipeline(StandardScaler(), OneVsRestClassifier(logreg))


def fit_probe(train_features, y_train, valid_features, y_valid, c_grid=PROBE_C_GRID):
    """Fit logistic probes over ``c_grid`` and keep the best on the validation records.

    Returns
    -------
    probe : Pipeline
        The selected, fitted probe.
    valid_auc : float
        Its validation macro AUC.
    """
    best = None
    for C in c_grid:
        probe = logistic_probe(C).fit(train_features, y_train)
        auc = macro_auc(y_valid, probe.predict_proba(valid_features))
        if best is None or auc > best[1]:
            best = (probe, auc)
    return best


def _recipe(encoder_or_name, regime: str, recipe: str | dict, overrides: dict) -> dict:
    if isinstance(recipe, str):
        if recipe != "paper":
            raise ValueError(f"recipe must be 'paper' or a dict of ECGClassifier parameters; "
                             f"got {recipe!r}.")
        return paper_recipe(encoder_or_name, regime, **overrides)
    params = {**recipe, **overrides}
    if regime == "supervised" and isinstance(params.get("encoder"), str):
        pass  # the recipe names the architecture trained from scratch
    elif regime == "supervised":
        params.update(supervised_baseline_params(
            None if isinstance(encoder_or_name, str) else encoder_or_name,
            method_name(encoder_or_name)))
    elif "encoder" not in params:
        params["encoder"] = encoder_or_name
    return params


def fit_classifier(encoder_or_name, data: Bunch, *, regime: str = "finetune",
                   recipe: str | dict = "paper", splits: Bunch | None = None, train=None,
                   random_state=0, **overrides):
    """Train ``ECGClassifier(**recipe)``; the epoch (or step) is chosen on the validation records.

    The one fit path of the protocols and the command line. A frozen-encoder recipe
    (``freeze_encoder=True``, the linear evaluation) trains its linear layer on precomputed
    crop embeddings for the recipe's epochs of the full PTB-XL
    (:func:`skecg._linear_eval.train_linear_layer`); every other recipe is skorch's ``fit``
    with the validation records as ``train_split`` and the best epoch's weights restored.

    Parameters
    ----------
    encoder_or_name : fitted skecg SSL encoder or method name
        The encoder whose backbone is evaluated (a name only for ``regime="supervised"``).
    data : Bunch
        ``X`` in mV, multi-hot ``y``, ``meta`` with ``strat_fold``.
    regime : {"linear", "finetune", "supervised"}
    recipe : "paper" or dict
        "paper": :func:`paper_recipe`; a dict: ECGClassifier parameters used as they are.
    splits : Bunch, optional
        ``train``, ``valid``, ``test`` indices (default: PTB-XL folds 1-8 / 9 / 10).
    train : array of int, optional
        Training records (default ``splits.train``), e.g. the first k folds.
    random_state : int
    **overrides
        Passed to :func:`paper_recipe` (e.g. ``epoch_scale=0.2``, ``max_epochs=5``) or, for a
        dict recipe, update it.

    Returns
    -------
    model : ECGClassifier
        Fitted; ``model.predict_proba`` takes records in mV (the input scaling is part of it).
    info : Bunch
        ``params`` (the recipe), ``valid_auc``, ``steps`` (optimiser steps), ``best_step``,
        ``n_train`` and ``note`` (warnings: best epoch is the last one, validation at chance).
    """
    from skorch.dataset import Dataset
    from skorch.helper import predefined_split

    from .classifier import ECGClassifier

    split = _splits(data, splits)
    train = split.train if train is None else np.asarray(train)
    params = _recipe(encoder_or_name, regime, recipe, overrides)
    X_train, y_train = data.X[train], data.y[train]
    X_valid, y_valid = data.X[split.valid], data.y[split.valid]
    if params.get("freeze_encoder"):
        if not params.get("max_epochs", 0) >= 1:
            raise ValueError(f"a frozen-encoder (linear) recipe needs max_epochs >= 1; got "
                             f"{params.get('max_epochs')!r}.")
        clf = ECGClassifier(**{**params, "max_epochs": 0, "random_state": random_state})
        clf.fit(X_train, y_train)  # builds the network, input scaling and head optimiser
        batch_size = params.get("batch_size", clf.batch_size)
        n_train_steps = paper_linear_steps(params["max_epochs"], batch_size, len(train))
        trained = train_linear_layer(
            clf, X_train, y_train, X_valid, y_valid, steps=n_train_steps,
            eval_every=max(1, n_train_steps // max(1, params["max_epochs"])),
            random_state=random_state)
        valid_auc, steps, best_step = trained.valid_auc, trained.steps, trained.best_step
        best_is_last = trained.best_is_last and trained.n_evaluations > 1
    else:
        clf = ECGClassifier(**{**params, "random_state": random_state,
                               "train_split": predefined_split(Dataset(X_valid, y_valid))})
        clf.fit(X_train, y_train)
        history = clf.history
        aucs = [float(a) for a in history[:, "valid_auc"]]
        per_epoch = [sum("train_loss" in b for b in epoch["batches"]) for epoch in history]
        best = int(np.argmax(aucs))
        valid_auc, steps, best_step = aucs[best], int(sum(per_epoch)), int(
            sum(per_epoch[:best + 1]))
        best_is_last = best == len(aucs) - 1 and len(aucs) > 1
    notes = []
    if best_is_last:
        notes.append("best validation AUC at the last step: training may be too short")
    if valid_auc <= CHANCE_AUC:
        notes.append(f"validation AUC {valid_auc:.3f} is at chance")
    for note in notes:
        warnings.warn(f"{regime} fit (seed {random_state}): {note}.", stacklevel=2)
    return clf, Bunch(params=params, valid_auc=float(valid_auc), steps=int(steps),
                      best_step=int(best_step), n_train=len(train), note="; ".join(notes))


# --------------------------------------------------------------------------- table rows
class _Runs:
    """Test scores of one model over splits and seeds, pooled into one table row."""

    def __init__(self, **columns):
        self.columns = columns
        self.fits: dict[int, list] = {}  # seed -> [(test_index, scores, info), ...]

    def add(self, seed: int, test_index, scores, info: Bunch) -> None:
        self.fits.setdefault(seed, []).append((np.asarray(test_index), np.asarray(scores), info))

    def pooled(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Test indices (sorted) and scores of one seed, pooled over splits."""
        index = np.concatenate([f[0] for f in self.fits[seed]])
        scores = np.concatenate([f[1] for f in self.fits[seed]])
        order = np.argsort(index, kind="stable")
        return index[order], scores[order]

    def row(self, y, n_bootstraps: int, random_state, baseline: _Runs | None = None,
            confidence: float = 0.95) -> dict:
        seeds = sorted(self.fits)
        pooled = [self.pooled(s) for s in seeds]
        index = pooled[0][0]
        y_test = y[index]
        # every seed is resampled with the same records (same random_state), so the mean over
        # seeds of each resample's AUC (or difference) gives the interval of the seed mean
        cis = [bootstrap_macro_auc(y_test, scores, n_bootstraps=n_bootstraps,
                                   confidence=confidence, random_state=random_state)
               for _, scores in pooled]
        aucs = np.array([ci.point for ci in cis])
        low, high = _interval([ci.samples for ci in cis], confidence)
        infos = [f[2] for s in seeds for f in self.fits[s]]
        split_aucs = [macro_auc(y[f[0]], f[1]) for s in seeds for f in self.fits[s]]
        notes = sorted({i.note for i in infos if i.get("note")})
        row = dict(self.columns, n_train=int(round(np.mean([i.n_train for i in infos]))),
                   n_test=len(index), n_splits=len(self.fits[seeds[0]]), n_seeds=len(seeds),
                   steps=int(round(np.mean([i.steps for i in infos]))) if all(
                       "steps" in i for i in infos) else None,
                   valid_auc=float(np.mean([i.valid_auc for i in infos])),
                   test_auc=float(aucs.mean()),
                   test_auc_std=float(aucs.std(ddof=1)) if len(aucs) > 1 else 0.0,
                   split_auc_std=float(np.std(split_aucs, ddof=1)) if len(split_aucs) > 1
                   else 0.0,
                   test_auc_low=low, test_auc_high=high, note="; ".join(notes))
        if baseline is not None:
            base = [baseline.pooled(s) for s in seeds]
            if any(not np.array_equal(b[0], index) for b in base):
                raise RuntimeError("a model and its baseline were tested on different records.")
            diffs = [bootstrap_macro_auc_difference(y_test, a[1], b[1],
                                                    n_bootstraps=n_bootstraps,
                                                    confidence=confidence,
                                                    random_state=random_state)
                     for a, b in zip(pooled, base, strict=True)]
            delta_low, delta_high = _interval([d.samples for d in diffs], confidence)
            row.update(baseline=float(np.mean([d.auc_b for d in diffs])),
                       delta=float(np.mean([d.delta for d in diffs])),
                       delta_low=delta_low, delta_high=delta_high)
        return row


def _interval(samples: list[np.ndarray], confidence: float) -> tuple[float, float]:
    alpha = (1.0 - confidence) / 2.0
    lengths = {len(s) for s in samples}
    mean = np.mean(np.vstack(samples), axis=0) if len(lengths) == 1 else samples[0]
    low, high = np.quantile(mean, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _table(rows: list[dict], pretrained_on=None, evaluated=None,
           columns=TABLE_COLUMNS) -> pd.DataFrame:
    return _with_pretraining_data(pd.DataFrame(rows, columns=columns), pretrained_on, evaluated)


def _score(model, data: Bunch, split: Bunch) -> np.ndarray:
    return model.predict_proba(data.X[split["test"]])


# ---------------------------------------------------------------------------- protocols
def linear_evaluation(
    encoder,
    data: Bunch,
    *,
    protocol: str = "paper",
    splits: Bunch | None = None,
    cv=None,
    random_init_baseline: bool = True,
    n_seeds: int = 1,
    pretrained_on: str | Bunch | None = None,
    n_bootstraps: int = 1000,
    random_state=0,
    **recipe_overrides,
) -> pd.DataFrame:
    """Linear evaluation of an encoder, with the same architecture randomly initialised.

    Parameters
    ----------
    encoder : skecg SSL encoder, or list of fitted encoders (one per split of ``cv``)
        A fitted encoder is used as given (the paper: pretrained on a disjoint corpus). An
        unfitted encoder is a template: cloned and pretrained per split and seed on the
        split's training and validation signals, never its test records. Weights and
        BatchNorm statistics of a given encoder are never changed.
    data : Bunch
        ``X`` in mV (n_records, n_leads, n_samples), ``y`` multi-hot (n_records, n_labels),
        ``meta``.
    protocol : {"paper", "probe"}, default="paper"
        "paper": the reference's linear evaluation, one linear layer on the frozen encoder
        (BatchNorm in eval mode) on random 2.5 s crops, window sigmoids averaged per record,
        trained for the recipe's epochs of the full PTB-XL (about 6,800 steps; the crops'
        embeddings are computed once), best step on the validation records. "probe": a fast
        logistic regression on per-record averaged embeddings (``encoder.transform``), its C
        chosen on the validation records.
    splits : Bunch, optional
        One split: ``train``, ``valid``, ``test`` indices (default: PTB-XL folds 1-8/9/10).
    cv : iterable of Bunch, optional
        Several splits (e.g. :func:`skecg.datasets.fold_rotation`); test scores are pooled.
    random_init_baseline : bool
        Add the row of the same architecture, randomly initialised (``max_epochs=0``); the
        encoder's row then carries the paired difference to it.
    n_seeds : int, default=1
        Seeds ``random_state, random_state + 1, ...``: each repeats the training of the
        linear layer and the random initialisation (and the pretraining of a template).
    pretrained_on : str or Bunch, optional
        What a given encoder was pretrained on, written in a ``pretrained_on`` column. A
        corpus Bunch is also compared with ``data`` by signal content (see
        :func:`describe_pretraining_data`): shared recordings are counted and warned about.
    n_bootstraps : int
        Bootstrap resamples of the test records for the 95% intervals.
    random_state : int
        Seeds training and the bootstrap.
    **recipe_overrides
        Passed to :func:`paper_recipe` (e.g. ``epoch_scale=0.2``); "paper" protocol only.

    Returns
    -------
    pandas.DataFrame
        One row per model with columns ``TABLE_COLUMNS``.
    """
    if protocol not in ("paper", "probe"):
        raise ValueError(f"protocol must be 'paper' or 'probe'; got {protocol!r}.")
    if protocol == "probe" and recipe_overrides:
        raise TypeError(f"protocol='probe' takes no recipe overrides; got "
                        f"{sorted(recipe_overrides)}.")
    n_seeds = _check_n_seeds(n_seeds)
    split_list = _check_cv(data, splits, cv)
    source = _EncoderSource(encoder, data, split_list)
    if protocol == "probe" and not source.varies_with_seed and n_seeds > 1:
        # the probe (lbfgs) on a given encoder's embeddings is deterministic: more seeds would
        # repeat one fit and report a spread of 0
        warnings.warn(f"protocol='probe' on a given (fitted) encoder is deterministic: "
                      f"n_seeds={n_seeds} would repeat one fit; running one seed.",
                      stacklevel=2)
        n_seeds = 1
    name = _model_name(encoder)
    recipe = paper_recipe(source.template, "linear", **recipe_overrides)
    if protocol == "paper":
        text = dict(regime="linear", protocol="paper (linear layer on frozen encoder)",
                    recipe=describe_recipe(recipe))
    else:
        text = dict(regime="linear (logistic probe)", protocol="probe (logistic regression "
                    "on averaged embeddings)", recipe="logistic regression, C on validation")
    runs = _Runs(model=name, pretraining=source.pretraining, **text)
    baseline = _Runs(model=name, pretraining="none (random init)", **text)
    for seed in range(random_state, random_state + n_seeds):
        for i, split in enumerate(split_list):
            encoders = [(runs, source.encoder(i, seed))]
            if random_init_baseline:
                encoders.append((baseline, source.random_init(i, seed)))
            for target, enc in encoders:
                if protocol == "paper":
                    model, info = fit_classifier(enc, data, regime="linear", splits=split,
                                                 random_state=seed, **recipe_overrides)
                    target.add(seed, split["test"], _score(model, data, split), info)
                    continue
                features = {k: enc.transform(data.X[split[k]]) for k in ("train", "valid",
                                                                         "test")}
                probe, valid_auc = fit_probe(features["train"], data.y[split["train"]],
                                             features["valid"], data.y[split["valid"]])
                target.add(seed, split["test"], probe.predict_proba(features["test"]),
                           Bunch(valid_auc=valid_auc, n_train=len(split["train"]), note=""))
    rows = [runs.row(data.y, n_bootstraps, random_state,
                     baseline if random_init_baseline else None)]
    if random_init_baseline:
        rows.append(baseline.row(data.y, n_bootstraps, random_state))
    return _table(rows, pretrained_on, data)


def finetune_evaluation(
    encoder,
    data: Bunch,
    *,
    recipe: str | dict = "paper",
    splits: Bunch | None = None,
    cv=None,
    supervised_baseline: bool = True,
    n_seeds: int = 1,
    pretrained_on: str | Bunch | None = None,
    n_bootstraps: int = 1000,
    random_state=0,
    **recipe_overrides,
) -> pd.DataFrame:
    """Finetuning with the method's recipe, against the same architecture trained from scratch.

    The pretrained backbone is copied into an :class:`skecg.classifier.ECGClassifier` (the
    encoder itself is not modified), trained on the training records with the epoch of best
    validation macro AUC restored, and scored on the test records. SimCLR/BYOL/SwAV: linear
    head, all layers from epoch 0; CPC: paper head, head-only phase, then all layers with
    discriminative learning rates (see :func:`paper_recipe`). The baseline row trains the same
    architecture from scratch with the recipe's ``"supervised"`` regime.

    Parameters
    ----------
    encoder : skecg SSL encoder, or list of fitted encoders (one per split of ``cv``)
        Fitted: used as given; unfitted: pretrained per split (see :func:`linear_evaluation`).
    data : Bunch
        ``X`` in mV, multi-hot ``y`` and ``meta`` with ``strat_fold``.
    recipe : "paper" or dict, default="paper"
        "paper": :func:`paper_recipe` per method; a dict of ECGClassifier parameters is used
        for both rows (the baseline from scratch).
    splits, cv
        One split or several (pooled), as in :func:`linear_evaluation`.
    supervised_baseline : bool
        Add the row of the same architecture trained from scratch; the finetuned row then
        carries the paired difference to it.
    n_seeds : int, default=1
        Repeat training with seeds ``random_state, random_state + 1, ...``.
    pretrained_on : str or Bunch, optional
        As in :func:`linear_evaluation`.
    n_bootstraps : int
    random_state : int
    **recipe_overrides
        Passed to :func:`paper_recipe` for both rows (e.g. ``epoch_scale=0.2``).

    Returns
    -------
    pandas.DataFrame
        One row per model with columns ``TABLE_COLUMNS``.
    """
    n_seeds = _check_n_seeds(n_seeds)
    split_list = _check_cv(data, splits, cv)
    source = _EncoderSource(encoder, data, split_list)
    name = _model_name(encoder)
    regimes = [("finetune", source.pretraining)]
    if supervised_baseline:
        regimes.append(("supervised", "none (supervised)"))
    kind = "paper" if isinstance(recipe, str) else "custom"
    runs = {regime: _Runs(model=name, pretraining=pretraining, regime=regime,
                          protocol=f"{regime} ({kind} recipe)",
                          recipe=describe_recipe(_recipe(source.template, regime, recipe,
                                                         recipe_overrides)))
            for regime, pretraining in regimes}
    for seed in range(random_state, random_state + n_seeds):
        for i, split in enumerate(split_list):
            for regime, _ in regimes:
                model, info = fit_classifier(source.encoder(i, seed), data, regime=regime,
                                             recipe=recipe, splits=split, random_state=seed,
                                             **recipe_overrides)
                runs[regime].add(seed, split["test"], _score(model, data, split), info)
    rows = [runs["finetune"].row(data.y, n_bootstraps, random_state, runs.get("supervised"))]
    if supervised_baseline:
        rows.append(runs["supervised"].row(data.y, n_bootstraps, random_state))
    return _table(rows, pretrained_on, data)


def supervised_evaluation(
    data: Bunch,
    *,
    recipe: dict,
    model: str | None = None,
    splits: Bunch | None = None,
    cv=None,
    n_seeds: int = 1,
    n_bootstraps: int = 1000,
    random_state=0,
) -> pd.DataFrame:
    """One row: an architecture trained from scratch with a given recipe, on the same splits.

    Parameters
    ----------
    data : Bunch
        ``X`` in mV, ``y``, ``meta`` with ``strat_fold``.
    recipe : dict
        ECGClassifier parameters; ``encoder`` names the backbone (e.g. "xresnet1d18").
    model : str, optional
        The row's model name (default: the backbone's name).
    splits, cv, n_seeds, n_bootstraps, random_state
        As in :func:`finetune_evaluation`.

    Returns
    -------
    pandas.DataFrame
        One row with columns ``TABLE_COLUMNS``.
    """
    if not isinstance(recipe, dict) or not isinstance(recipe.get("encoder"), str):
        raise ValueError("recipe must be a dict of ECGClassifier parameters whose 'encoder' "
                         f"names a backbone (e.g. 'xresnet1d18'); got {recipe!r}.")
    n_seeds = _check_n_seeds(n_seeds)
    split_list = _check_cv(data, splits, cv)
    runs = _Runs(model=model or recipe["encoder"], pretraining="none (supervised)",
                 regime="supervised", protocol="supervised (given recipe)",
                 recipe=describe_recipe(recipe))
    for seed in range(random_state, random_state + n_seeds):
        for split in split_list:
            clf, info = fit_classifier(recipe["encoder"], data, regime="supervised",
                                       recipe=recipe, splits=split, random_state=seed)
            runs.add(seed, split["test"], _score(clf, data, split), info)
    return _table([runs.row(data.y, n_bootstraps, random_state)])


def _first_training_folds(data: Bunch, split: Bunch, k: int) -> np.ndarray:
    """Records of the first ``k`` training folds of a split, in the split's fold order."""
    folds = np.asarray(data.meta["strat_fold"])
    train = np.asarray(split["train"])
    order = split.get("train_folds") or tuple(sorted(np.unique(folds[train]).tolist()))
    if not isinstance(k, (int, np.integer)) or k < 1 or k > len(order):
        raise ValueError(f"n_folds holds {k!r}, but the split trains on {len(order)} folds "
                         f"({list(order)}); use numbers from 1 to {len(order)}.")
    return train[np.isin(folds[train], list(order)[:k])]


def label_efficiency(
    encoder,
    data: Bunch,
    *,
    n_folds: Iterable[int] = range(1, 9),
    regimes: Iterable[str] = ("finetune", "linear", "supervised"),
    protocol: str = "paper",
    splits: Bunch | None = None,
    cv=None,
    n_seeds: int = 1,
    n_bootstraps: int = 200,
    random_state=0,
    **recipe_overrides,
) -> pd.DataFrame:
    """The paper's label-efficiency curves: training on the first ``k`` training folds only.

    For each ``k`` in ``n_folds`` and each regime: the encoder finetuned ("finetune"), its
    linear evaluation ("linear"), and the same architecture trained from scratch
    ("supervised"), each with its :func:`paper_recipe`. Pretraining uses no labels, so a
    template encoder is pretrained once per split on all its training and validation signals.
    Finetuned rows carry the paired difference to the supervised row of the same ``k``.

    Parameters
    ----------
    encoder : skecg SSL encoder, or list of fitted encoders (one per split of ``cv``)
    data : Bunch
    n_folds : iterable of int
        Numbers of training folds (1..8 with PTB-XL's split; with ``cv`` up to the number of
        training folds of each split, e.g. 6 with ``fold_rotation(meta, n_splits=5)``).
    regimes : iterable of {"finetune", "linear", "supervised"}
    protocol : {"paper", "probe"}, default="paper"
        Linear evaluation protocol (see :func:`linear_evaluation`).
    splits, cv
        One split or several (pooled), as in :func:`linear_evaluation`.
    n_seeds, n_bootstraps, random_state
        As in :func:`finetune_evaluation`.
    **recipe_overrides
        Passed to :func:`paper_recipe` (e.g. ``epoch_scale=0.2``).

    Returns
    -------
    pandas.DataFrame
        One row per ``k`` and regime: ``n_folds`` and ``TABLE_COLUMNS``.
    """
    regimes = list(regimes)
    unknown = sorted(set(regimes) - set(REGIMES))
    if unknown:
        raise ValueError(f"regimes must be among {REGIMES}; got {unknown}.")
    if protocol not in ("paper", "probe"):
        raise ValueError(f"protocol must be 'paper' or 'probe'; got {protocol!r}.")
    n_seeds = _check_n_seeds(n_seeds)
    split_list = _check_cv(data, splits, cv)
    source = _EncoderSource(encoder, data, split_list)
    name = _model_name(encoder)
    n_folds = list(n_folds)
    for split in split_list:  # refuse a bad k before any training
        for k in n_folds:
            _first_training_folds(data, split, k)
    runs: dict = {}
    for k in n_folds:
        for regime in regimes:
            probe = regime == "linear" and protocol == "probe"
            runs[k, regime] = _Runs(
                model=name, regime=regime,
                pretraining="none (supervised)" if regime == "supervised" else
                source.pretraining,
                protocol=("probe (logistic regression on averaged embeddings)" if probe
                          else f"{regime} (paper recipe)"),
                recipe="logistic regression, C on validation" if probe else describe_recipe(
                    paper_recipe(source.template, regime, **recipe_overrides)))
    for seed in range(random_state, random_state + n_seeds):
        for i, split in enumerate(split_list):
            encoder_i = source.encoder(i, seed)
            features = None
            for k in n_folds:
                train = _first_training_folds(data, split, k)
                for regime in regimes:
                    if regime == "linear" and protocol == "probe":
                        if features is None:  # the encoder carries its input scaling
                            features = encoder_i.transform(data.X)
                        model, valid_auc = fit_probe(
                            features[train], data.y[train], features[split["valid"]],
                            data.y[split["valid"]])
                        runs[k, regime].add(seed, split["test"],
                                            model.predict_proba(features[split["test"]]),
                                            Bunch(valid_auc=valid_auc, n_train=len(train),
                                                  note=""))
                        continue
                    model, info = fit_classifier(encoder_i, data, regime=regime, splits=split,
                                                 train=train, random_state=seed,
                                                 **recipe_overrides)
                    runs[k, regime].add(seed, split["test"], _score(model, data, split), info)
    rows = []
    for k in n_folds:
        for regime in regimes:
            baseline = runs.get((k, "supervised")) if regime == "finetune" else None
            rows.append({"n_folds": int(k),
                         **runs[k, regime].row(data.y, n_bootstraps, random_state, baseline)})
    return pd.DataFrame(rows, columns=["n_folds", *TABLE_COLUMNS])


def describe_pretraining_data(pretrained_on: str | Bunch | None,
                              evaluated: Bunch | None = None) -> str | None:
    """One line saying what an encoder was pretrained on and what was excluded.

    Parameters
    ----------
    pretrained_on : str, Bunch or None
        Free text, or a loader's Bunch (``X``, ``fs``, and ``excluded`` from
        ``load_physionet_challenge(..., exclude_prefixes=...)`` or ``overlap`` from
        ``load_paper_corpus(..., exclude_overlap_with=...)``).
    evaluated : Bunch, optional
        The evaluated records (``X``, ``fs``). For a corpus Bunch that was not already checked
        against an evaluation set (no ``overlap`` table), its recordings are compared with
        these by signal content (:func:`skecg.datasets.find_overlap`), the count is stated and
        a warning raised when any is shared: pretraining then saw evaluated recordings.
    """
    if pretrained_on is None or isinstance(pretrained_on, str):
        return pretrained_on
    text = f"{len(pretrained_on.X)} records"
    excluded = list(pretrained_on.get("excluded", []))
    if excluded:
        shown = ", ".join(excluded[:3]) + (", ..." if len(excluded) > 3 else "")
        text += f"; {len(excluded)} excluded ({shown})"
    if "overlap" in pretrained_on:
        text += (f"; {len(pretrained_on.overlap)} shared with the evaluation set by content, "
                 "excluded")
    elif evaluated is not None and "fs" in pretrained_on and "fs" in evaluated:
        from .datasets import find_overlap

        shared = find_overlap(pretrained_on, evaluated)
        n_shared = shared["index_a"].nunique()
        text += f"; {n_shared} recordings shared with the evaluated records by content"
        if n_shared:
            warnings.warn(f"the pretraining corpus holds {n_shared} recordings of the evaluated "
                          "records (find_overlap); exclude them (load_paper_corpus("
                          "exclude_overlap_with=...)) for a leakage-free evaluation.",
                          stacklevel=3)
    return text


def _with_pretraining_data(table: pd.DataFrame, pretrained_on, evaluated=None) -> pd.DataFrame:
    description = describe_pretraining_data(pretrained_on, evaluated)
    if description is not None:
        is_pretrained = ~table["pretraining"].str.startswith("none")
        table["pretrained_on"] = np.where(is_pretrained, description, "")
    return table


def noise_robustness(
    model,
    data: Bunch,
    *,
    levels: Iterable[int] = (0, *NOISE_LEVELS),
    baseline=None,
    splits: Bunch | None = None,
    cv=None,
    fs: float | None = None,
    window: int = 250,
    stride: int = 125,
    n_bootstraps: int = 200,
    random_state=0,
) -> pd.DataFrame:
    """Test macro AUC of fitted models under the paper's physiological noise levels.

    As in the paper's reference code, each test record is cut into windows of ``window``
    samples (stride ``stride``), baseline wander, electrode-motion noise, powerline noise and
    baseline shifts are drawn independently for each window and added together at the level's
    amplitudes (0: clean), and the model's window probabilities are averaged per record.

    Parameters
    ----------
    model : estimator, or sequence of estimators (one per split of ``cv``)
        Fitted, with ``predict_proba`` on ECG arrays in mV (e.g. an ``ECGClassifier``, or a
        Pipeline of an encoder and a probe).
    data : Bunch
        ``X`` (n_records, n_leads, n_samples) in mV, ``y``, and ``meta`` with PTB-XL folds.
    levels : iterable of int
        Noise levels from :data:`skecg.augment.NOISE_LEVELS`, 0 for clean input.
    baseline : estimator or sequence of estimators, optional
        Second fitted model(s) scored on the very same noisy windows; each row then carries
        ``baseline`` (its AUC) and the paired bootstrap difference ``delta`` [``delta_low``,
        ``delta_high``] of ``model`` minus ``baseline``.
    splits, cv
        The test records: one split, or several whose test parts are pooled (model ``i``
        scores split ``i``'s test records).
    fs : float, optional
        Sampling rate in Hz (default ``data.fs``, else 100).
    window, stride : int
        Window length and stride in samples (the paper: 250 and 125 at 100 Hz).

    Returns
    -------
    pandas.DataFrame
        One row per level: ``level``, ``n_test``, ``test_auc``, ``test_auc_low``,
        ``test_auc_high`` (and the baseline columns above when ``baseline`` is given).
    """
    split_list = _check_cv(data, splits, cv)
    models = _per_split(model, "model", len(split_list))
    baselines = None if baseline is None else _per_split(baseline, "baseline", len(split_list))
    fs = fs if fs is not None else data.get("fs", 100)
    index = np.concatenate([np.asarray(s["test"]) for s in split_list])
    y_test = data.y[index]
    rows = []
    for level in levels:
        scores, base_scores = [], []
        for i, split in enumerate(split_list):
            generator = torch.Generator().manual_seed(int(random_state) + 1000 * i + int(level))
            X_test = torch.as_tensor(np.asarray(data.X[split["test"]]))
            if level == 0:
                windows, record_index = sliding_windows(X_test, window, stride)
            else:
                windows, record_index = add_physiological_noise_windows(
                    X_test, int(level), window=window, stride=stride, fs=fs,
                    generator=generator)
            windows, record_index = np.asarray(windows), np.asarray(record_index)
            scores.append(aggregate_windows(models[i].predict_proba(windows), record_index,
                                            "mean"))
            if baselines is not None:
                base_scores.append(aggregate_windows(baselines[i].predict_proba(windows),
                                                     record_index, "mean"))
        scores = np.concatenate(scores)
        ci = bootstrap_macro_auc(y_test, scores, n_bootstraps=n_bootstraps,
                                 random_state=random_state)
        row = dict(level=int(level), n_test=len(index), test_auc=float(ci.point),
                   test_auc_low=float(ci.low), test_auc_high=float(ci.high))
        if baselines is not None:
            diff = bootstrap_macro_auc_difference(y_test, scores, np.concatenate(base_scores),
                                                  n_bootstraps=n_bootstraps,
                                                  random_state=random_state)
            row.update(baseline=float(diff.auc_b), delta=float(diff.delta),
                       delta_low=float(diff.low), delta_high=float(diff.high))
        rows.append(row)
    return pd.DataFrame(rows)


def _per_split(models, name: str, n_splits: int) -> list:
    if isinstance(models, Sequence) and not isinstance(models, str):
        if len(models) != n_splits:
            raise ValueError(f"{name} holds {len(models)} models for {n_splits} splits; pass "
                             "one fitted model per split of cv.")
        return list(models)
    if n_splits > 1:
        raise ValueError(f"with {n_splits} splits, {name} must be a list of fitted models, one "
                         "per split (each trained without that split's test records).")
    return [models]


LEAD_SUBSETS: tuple[tuple[str, ...], ...] = (
    ("I",),
    ("I", "II"),
    ("I", "II", "III", "aVR", "aVL", "aVF"),
    ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"),
)
"""Default subsets of :func:`lead_robustness`: lead I, I + II, the six limb leads, all 12."""

LEAD_ROBUSTNESS_COLUMNS = ["model", "pretraining", "protocol", "subset", "n_leads", "n_train",
                           "n_test", "n_splits", "valid_auc", "test_auc", "test_auc_low",
                           "test_auc_high", "split_auc_std", "delta", "delta_low", "delta_high",
                           "note"]


def _reads_lead_names(encoder) -> bool:
    """Whether a fitted encoder reads a named subset natively (a token backbone)."""
    from .models import ECGTransformer

    estimator = getattr(encoder, "estimator", encoder)  # FrozenEstimator
    backbone = getattr(getattr(estimator, "module_", None), "backbone", None)
    return (hasattr(estimator, "leads") and backbone is not None
            and any(isinstance(m, ECGTransformer) for m in backbone.modules()))


def _subset_embeddings(encoder, X, rows, positions: list[int], layout: list[str],
                       chunk: int = 1024) -> np.ndarray:
    """Embeddings of records ``rows`` restricted to the leads at ``positions`` of ``layout``.

    A token encoder reads the subset natively (``leads`` set on a shallow copy, so the given
    encoder is left as it is); any other encoder reads it zero-filled to ``layout``
    (:func:`skecg.preprocessing.fill_leads`). Records are read ``chunk`` at a time.
    """
    import copy

    from .preprocessing import fill_leads

    names = [layout[p] for p in positions]
    estimator = getattr(encoder, "estimator", encoder)
    if _reads_lead_names(estimator):
        view = copy.copy(estimator).set_params(leads=names)

        def embed(X_subset):
            return view.transform(X_subset)
    else:
        def embed(X_subset):
            return encoder.transform(fill_leads(X_subset, names, layout))
    rows = np.asarray(rows)
    parts = [embed(np.asarray(X[np.ix_(rows[start:start + chunk], positions)]))
             for start in range(0, len(rows), chunk)]
    return np.concatenate(parts)


def _subset_data(encoder, data: Bunch, positions: list[int], layout: list[str]):
    """The encoder and the data that an ECGClassifier trains on for one subset of leads."""
    import copy

    from .preprocessing import fill_leads

    names = [layout[p] for p in positions]
    if len(positions) == len(layout) and positions == sorted(positions):
        return encoder, data
    subset = Bunch(**{k: v for k, v in data.items() if k != "X"})
    X_subset = np.asarray(data.X[:, positions])
    estimator = getattr(encoder, "estimator", encoder)
    if _reads_lead_names(estimator):
        subset.X = X_subset
        return copy.copy(estimator).set_params(leads=names), subset
    subset.X = fill_leads(X_subset, names, layout)
    return encoder, subset


def lead_robustness(
    encoder,
    data: Bunch,
    *,
    subsets: Iterable[Sequence[str]] | None = None,
    protocol: str = "probe",
    splits: Bunch | None = None,
    cv=None,
    n_bootstraps: int = 1000,
    random_state=0,
    **recipe_overrides,
) -> pd.DataFrame:
    """Test macro AUC of an encoder read on subsets of leads, paired with all of them.

    For each subset, a model is built for that lead set (trained and tested on the records
    restricted to it) on top of the encoder. A token encoder (ST-MEM, JEPA, transformer CMSC)
    reads the subset natively, as a shorter token sequence (its ``leads`` parameter); a
    convolutional encoder (SimCLR, BYOL, SwAV, CPC, xresnet CMSC) reads it zero-filled to the
    lead layout of ``data`` (:func:`skecg.preprocessing.fill_leads`: absent leads are 0 mV,
    before the encoder's input scaling). Every row carries the paired bootstrap difference to
    the row of all leads on the same test records (0 for that row itself).

    Parameters
    ----------
    encoder : skecg SSL encoder, or list of fitted encoders (one per split of ``cv``)
        Fitted on records of all the leads of ``data``: used as given. Unfitted: a template,
        pretrained per split on its training and validation records (all leads), never its
        test records.
    data : Bunch
        ``X`` in mV (n_records, n_leads, n_samples), multi-hot ``y``, ``meta`` with PTB-XL
        folds, and optionally ``lead_names`` (default: the first ``n_leads`` of
        :data:`skecg.models.STANDARD_LEADS`).
    subsets : iterable of sequences of str, optional
        Lead names per subset (a single str is one lead); default :data:`LEAD_SUBSETS`
        (I; I, II; the six limb leads; all 12). The row of all the leads of ``data`` is added
        at the end when no subset names them all.
    protocol : {"probe", "paper"}, default="probe"
        "probe": logistic regression on per-record averaged embeddings of the subset, its C
        chosen on the validation records (see :func:`linear_evaluation`). "paper": the
        method's paper linear evaluation (:func:`fit_classifier` with the frozen encoder and
        the recipe of :func:`paper_recipe`) trained on the subset.
    splits : Bunch, optional
        One split (default PTB-XL folds 1-8/9/10).
    cv : iterable of Bunch, optional
        Several splits (e.g. :func:`skecg.datasets.fold_rotation`); test scores are pooled.
    n_bootstraps : int
        Bootstrap resamples of the test records for the 95% intervals.
    random_state : int
        Seeds training (and pretraining of a template) and the bootstrap.
    **recipe_overrides
        Passed to :func:`paper_recipe` (e.g. ``epoch_scale=0.2``); "paper" protocol only.

    Returns
    -------
    pandas.DataFrame
        One row per subset with columns :data:`LEAD_ROBUSTNESS_COLUMNS`: ``subset`` (names
        joined by "+"), ``n_leads``, ``n_test``, ``test_auc`` with ``test_auc_low`` and
        ``test_auc_high``, and ``delta`` [``delta_low``, ``delta_high``] to all leads.

    Examples
    --------
    >>> table = lead_robustness(fitted_encoder, data)             # doctest: +SKIP
    >>> table[["subset", "n_leads", "test_auc", "delta"]]          # doctest: +SKIP
    """
    from .preprocessing import lead_positions

    if protocol not in ("paper", "probe"):
        raise ValueError(f"protocol must be 'probe' or 'paper'; got {protocol!r}.")
    if protocol == "probe" and recipe_overrides:
        raise TypeError(f"protocol='probe' takes no recipe overrides; got "
                        f"{sorted(recipe_overrides)}.")
    names = data.get("lead_names")
    n_leads = data.X.shape[1]
    layout = [str(n) for n in names] if names is not None else None
    if layout is None or len(layout) != n_leads:
        from .models import STANDARD_LEADS

        if n_leads > len(STANDARD_LEADS):
            raise ValueError(f"data.X has {n_leads} leads: name them in data.lead_names.")
        layout = list(STANDARD_LEADS[:n_leads])
    chosen = []
    for subset in (LEAD_SUBSETS if subsets is None else subsets):
        positions = lead_positions(subset, layout)
        if sorted(positions) in [sorted(p) for p in chosen]:
            raise ValueError(f"subsets names the leads {[layout[p] for p in positions]} twice.")
        chosen.append(positions)
    if not chosen:
        raise ValueError("subsets holds no subset of leads.")
    full = next((p for p in chosen if len(p) == n_leads), None)
    if full is None:
        full = list(range(n_leads))
        chosen.append(full)
    split_list = _check_cv(data, splits, cv)
    source = _EncoderSource(encoder, data, split_list)
    if protocol == "paper":
        recipe = paper_recipe(source.template, "linear", **recipe_overrides)  # refuse early
        text = dict(protocol="paper (linear layer on frozen encoder)",
                    recipe=describe_recipe(recipe))
    else:
        text = dict(protocol="probe (logistic regression on averaged embeddings)")
    runs = [_Runs(model=_model_name(encoder), pretraining=source.pretraining,
                  protocol=text["protocol"], subset="+".join(layout[p] for p in positions),
                  n_leads=len(positions)) for positions in chosen]
    reference = runs[next(i for i, p in enumerate(chosen) if p is full)]
    seed = random_state
    for i, split in enumerate(split_list):
        encoder_i = source.encoder(i, seed)
        for positions, run in zip(chosen, runs, strict=True):
            if protocol == "paper":
                enc, subset_data = _subset_data(encoder_i, data, positions, layout)
                model, info = fit_classifier(enc, subset_data, regime="linear", splits=split,
                                             random_state=seed, **recipe_overrides)
                run.add(seed, split["test"], _score(model, subset_data, split), info)
                continue
            features = {k: _subset_embeddings(encoder_i, data.X, split[k], positions, layout)
                        for k in ("train", "valid", "test")}
            probe, valid_auc = fit_probe(features["train"], data.y[split["train"]],
                                         features["valid"], data.y[split["valid"]])
            run.add(seed, split["test"], probe.predict_proba(features["test"]),
                    Bunch(valid_auc=valid_auc, n_train=len(split["train"]), note=""))
    rows = [run.row(data.y, n_bootstraps, random_state, reference) for run in runs]
    return pd.DataFrame(rows)[LEAD_ROBUSTNESS_COLUMNS]


def markdown_table(table: pd.DataFrame, digits: int = 3) -> str:
    """The table as GitHub Markdown, numbers rounded to ``digits``."""
    table = table.round(digits)
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * table.shape[1]]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def _interval_text(value, low, high, digits: int, signed: bool = False) -> str:
    """``"0.812 [0.781, 0.840]"``; empty when ``value`` is missing."""
    if value is None or pd.isna(value):
        return ""
    sign = "+" if signed else ""
    text = f"{value:{sign}.{digits}f}"
    if low is not None and high is not None and not (pd.isna(low) or pd.isna(high)):
        text += f" [{low:{sign}.{digits}f}, {high:{sign}.{digits}f}]"
    return text


def format_table(table: pd.DataFrame, digits: int = 3) -> str:
    """The columns a reader needs, as aligned plain text (for a terminal or a log).

    Shows ``model``, ``pretraining``, ``protocol``, the test AUC with its interval
    (``0.812 [0.781, 0.840]``), the paired delta to the baseline with its interval and
    ``n_seeds`` as an integer; cells that do not apply are empty, never ``nan``. The full table
    (every column) belongs in files: see :func:`markdown_table` and ``DataFrame.to_csv``.

    Parameters
    ----------
    table : DataFrame
        A results table (:data:`TABLE_COLUMNS`; missing columns are left out).
    digits : int
        Decimals of AUCs and deltas.

    Returns
    -------
    str
        One header line, a rule and one line per row.
    """
    def cell(row, name):
        value = row.get(name)
        return "" if value is None or (not isinstance(value, str) and pd.isna(value)) \
            else str(value)

    columns = {"model": lambda r: cell(r, "model"),
               "pretraining": lambda r: cell(r, "pretraining"),
               "protocol": lambda r: cell(r, "protocol") or cell(r, "regime")}
    if "test_auc" in table:
        columns["test AUC [95% interval]"] = lambda r: _interval_text(
            r.get("test_auc"), r.get("test_auc_low"), r.get("test_auc_high"), digits)
    if "delta" in table:
        columns["delta vs baseline [95% interval]"] = lambda r: _interval_text(
            r.get("delta"), r.get("delta_low"), r.get("delta_high"), digits, signed=True)
    if "n_seeds" in table:
        columns["seeds"] = lambda r: "" if pd.isna(r.get("n_seeds")) else str(int(r["n_seeds"]))
    cells = [[name for name in columns]]
    cells += [[render(row) for render in columns.values()] for _, row in table.iterrows()]
    widths = [max(len(line[j]) for line in cells) for j in range(len(columns))]
    lines = ["  ".join(text.ljust(w) for text, w in zip(line, widths, strict=True)).rstrip()
             for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _short_pretraining(pretraining) -> str:
    """``"none (random init)"`` -> ``"random init"``; empty for a missing value."""
    if not isinstance(pretraining, str):
        return ""
    text = pretraining.strip()
    if text.startswith("none (") and text.endswith(")"):
        return text[len("none ("):-1]
    return text


def _is_baseline_row(row) -> bool:
    return isinstance(row.get("pretraining"), str) and row["pretraining"].startswith("none")


def _bar_label(row) -> str:
    """A label naming what differs between rows: ``"SimCLR pretrained / linear"``,
    ``"random init (SimCLR, BYOL) / linear"``, ``"supervised (CPC)"``."""
    model = str(row["model"])
    pretraining = _short_pretraining(row.get("pretraining"))
    if _is_baseline_row(row):
        label = f"{pretraining} ({model})"
    elif not pretraining or pretraining == model:
        label = f"{model} pretrained"
    else:
        label = f"{model} ({pretraining})"
    regime = row.get("regime")
    if isinstance(regime, str) and regime and regime not in label:
        label += f" / {regime}"
    return label


def _plot_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Rows to draw, with a ``label``: identical baseline rows (the same random-init or
    supervised result repeated once per method) are drawn once, naming every model."""
    rows = table.reset_index(drop=True).copy()
    rows["label"] = [_bar_label(row) for _, row in rows.iterrows()]
    key_columns = [c for c in ("pretraining", "regime", "protocol", "test_auc", "test_auc_low",
                               "test_auc_high") if c in rows]
    keep, merged = [], {}
    for i, row in rows.iterrows():
        if not _is_baseline_row(row):
            keep.append(i)
            continue
        key = tuple(str(row[c]) for c in key_columns)
        if key in merged:
            merged[key][1].append(str(row["model"]))
            continue
        merged[key] = (i, [str(row["model"])])
        keep.append(i)
    for first, models in merged.values():
        if len(models) > 1:
            rows.loc[first, "label"] = _bar_label({**rows.loc[first].to_dict(),
                                                   "model": ", ".join(dict.fromkeys(models))})
    return rows.loc[keep].reset_index(drop=True)


def plot_table(table: pd.DataFrame, path=None, title: str = "PTB-XL test macro AUC"):
    """Chart of ``test_auc`` with its bootstrap interval, and the paired deltas; saved if ``path``.

    Each row is a bar from chance (AUC 0.5, a dashed line) to its test AUC, with the 95%
    interval; the axis starts just below chance (0.45), or lower when an interval reaches below.
    Pretrained models are blue, baselines grey. Labels name the model, its pretraining (when it
    is not the model itself) and the regime; identical baseline rows (the same random-init or
    supervised result repeated for each method) are drawn once. When the table has a ``delta``
    column, a second panel draws each paired difference to its baseline with its interval
    (``delta_low``, ``delta_high``) around a line at 0: compare models by these, not by
    overlapping intervals. The title names the regimes shown.

    Parameters
    ----------
    table : DataFrame
        A results table (:data:`TABLE_COLUMNS`; ``model``, ``test_auc``, ``test_auc_low`` and
        ``test_auc_high`` are required).
    path : path or None
        Where to save the figure (PNG, PDF, ... by extension).
    title : str
        Title; the regimes in the table are added below it.

    Returns
    -------
    matplotlib.figure.Figure
        Needs matplotlib (``pip install skecg[plot]``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'skecg[plot]'") from exc
    rows = _plot_rows(table)
    auc = rows["test_auc"].to_numpy(dtype=float)
    low = rows["test_auc_low"].to_numpy(dtype=float)
    high = rows["test_auc_high"].to_numpy(dtype=float)
    has_delta = "delta" in rows and rows["delta"].notna().any()
    y = np.arange(len(rows))
    fig, axes = plt.subplots(1, 2 if has_delta else 1, sharey=True, squeeze=False,
                             figsize=(12 if has_delta else 8, 0.42 * len(rows) + 1.9),
                             gridspec_kw={"width_ratios": [3, 2]} if has_delta else None)
    ax = axes[0, 0]
    baseline = np.array([_is_baseline_row(row) for _, row in rows.iterrows()])
    ax.barh(y, auc - 0.5, left=0.5, height=0.65,
            color=np.where(baseline, "#a6a6a6", "#4c72b0"),
            xerr=np.clip(np.vstack([auc - low, high - auc]), 0, None), capsize=3,
            ecolor="black")
    left = min(0.45, np.nanmin(low) - 0.03) if len(rows) else 0.45  # chance line in view
    ax.set_xlim(max(0.0, np.floor(left * 20) / 20), 1.0)
    ax.axvline(0.5, color="#555555", linestyle="--", linewidth=1)
    ax.set_yticks(y, rows["label"])
    ax.set_ylim(len(rows) - 0.5, -0.8)
    ax.set_xlabel("test macro AUC (95% bootstrap interval)")
    if has_delta:
        ax_delta = axes[0, 1]
        delta = rows["delta"].to_numpy(dtype=float)
        d_low = rows["delta_low"].to_numpy(dtype=float)
        d_high = rows["delta_high"].to_numpy(dtype=float)
        shown = ~np.isnan(delta)
        colors = np.where(d_low[shown] > 0, "#2a9d4a", np.where(d_high[shown] < 0, "#c44e52",
                                                                "#4c72b0"))
        ax_delta.errorbar(delta[shown], y[shown], fmt="none",
                          xerr=np.clip(np.vstack([delta - d_low, d_high - delta])[:, shown],
                                       0, None),
                          ecolor="black", capsize=3)
        ax_delta.scatter(delta[shown], y[shown], c=colors, zorder=3)
        ax_delta.axvline(0.0, color="#555555", linestyle="--", linewidth=1)
        for yi, d in zip(y[shown], delta[shown], strict=True):
            ax_delta.annotate(f"{d:+.3f}", (d, yi), textcoords="offset points", xytext=(0, 6),
                              ha="center", fontsize=8)
        span = np.nanmax(np.abs(np.concatenate([d_low[shown], d_high[shown]])))
        ax_delta.set_xlim(-1.15 * span, 1.15 * span)
        ax_delta.set_xlabel("paired AUC difference to its baseline\n(95% bootstrap interval)")
        ax_delta.tick_params(axis="y", left=False)
    regimes = [r for r in dict.fromkeys(table["regime"]) if isinstance(r, str)] \
        if "regime" in table else []
    heading = title if not regimes else f"{title}\nregime: {', '.join(regimes)}"
    fig.suptitle(heading, fontsize=11)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(color="#4c72b0", label="pretrained"), Patch(color="#a6a6a6",
                                                               label="baseline"),
               Line2D([], [], color="#555555", linestyle="--", label="chance (AUC 0.5)")]
    if has_delta:
        handles += [Line2D([], [], marker="o", linestyle="", color=c, label=text)
                    for c, text in (("#2a9d4a", "delta > 0"), ("#c44e52", "delta < 0"),
                                    ("#4c72b0", "delta interval includes 0"))]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8,
               frameon=False, handlelength=1.5, columnspacing=1.2)
    fig.tight_layout(rect=(0, 0.35 / fig.get_figheight(), 1, 1))
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def plot_lead_robustness(table: pd.DataFrame, path=None,
                         title: str = "Test macro AUC on subsets of leads"):
    """Chart of a :func:`lead_robustness` table: AUC per subset, and the paired deltas.

    Left: each subset's test macro AUC with its 95% bootstrap interval (one marker per model,
    side by side), the chance line at AUC 0.5. Right: the paired difference to all leads with
    its interval, around a line at 0. Subsets run along the x axis from fewest to most leads.

    Parameters
    ----------
    table : DataFrame
        One or more concatenated :func:`lead_robustness` tables (``model``, ``subset``,
        ``n_leads``, ``test_auc``, ``test_auc_low``, ``test_auc_high``, ``delta``,
        ``delta_low``, ``delta_high``).
    path : path or None
        Where to save the figure (PNG, PDF, ... by extension).
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        Needs matplotlib (``pip install skecg[plot]``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'skecg[plot]'") from exc
    table = table.reset_index(drop=True)
    subsets = list(dict.fromkeys(table.sort_values("n_leads", kind="stable")["subset"]))
    n_leads = dict(zip(table["subset"], table["n_leads"], strict=True))
    limb = "+".join(LEAD_SUBSETS[2])
    labels = [s if n_leads[s] <= 2 else "limb leads (6)" if s == limb else f"{n_leads[s]} leads"
              for s in subsets]
    models = list(dict.fromkeys(table["model"]))
    x = np.arange(len(subsets))
    offsets = (np.arange(len(models)) - (len(models) - 1) / 2) * min(0.25, 0.8 / len(models))
    fig, (ax, ax_delta) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, model in enumerate(models):
        rows = table[table["model"] == model].set_index("subset").reindex(subsets)
        color = colors[k % len(colors)]
        auc = rows["test_auc"].to_numpy(dtype=float)
        err = np.clip(np.vstack([auc - rows["test_auc_low"].to_numpy(dtype=float),
                                 rows["test_auc_high"].to_numpy(dtype=float) - auc]), 0, None)
        ax.errorbar(x + offsets[k], auc, yerr=err, fmt="o", color=color, capsize=3,
                    label=model)
        delta = rows["delta"].to_numpy(dtype=float)
        d_err = np.clip(np.vstack([delta - rows["delta_low"].to_numpy(dtype=float),
                                   rows["delta_high"].to_numpy(dtype=float) - delta]), 0, None)
        ax_delta.errorbar(x + offsets[k], delta, yerr=d_err, fmt="o", color=color, capsize=3,
                          label=model)
    ax.axhline(0.5, color="#555555", linestyle="--", linewidth=1, label="chance (AUC 0.5)")
    low = np.nanmin(table["test_auc_low"].to_numpy(dtype=float))
    ax.set_ylim(max(0.0, min(0.45, np.floor((low - 0.03) * 20) / 20)), 1.0)
    ax.set_ylabel("test macro AUC (95% bootstrap interval)")
    ax_delta.axhline(0.0, color="#555555", linestyle="--", linewidth=1)
    ax_delta.set_ylabel("paired AUC difference to all leads\n(95% bootstrap interval)")
    for axis in (ax, ax_delta):
        axis.set_xticks(x, labels)
        axis.set_xlim(-0.5, len(subsets) - 0.5)
        axis.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
