"""The paper's evaluation protocols, each one call returning a tidy table (one row per model).

Every protocol takes ``data``: a Bunch as returned by :func:`skecg.datasets.load_ptbxl` (``X``
in mV, ``y`` multi-hot, ``meta`` with ``strat_fold``) and uses PTB-XL's folds: 1-8 train, 9
validation (model selection), 10 test. Test AUCs are record-level macro AUCs with bootstrap
intervals; a row with a baseline (random init, supervised from scratch) also carries the paired
bootstrap difference to it (``delta`` with ``delta_low``/``delta_high``), computed on the same
resampled test records for both models.

The classifiers are trained with the reference code's recipe of each method,
:func:`paper_recipe`, which also says how the input is scaled (CPC: standardised per lead;
SimCLR/BYOL/SwAV: raw mV).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from .augment import NOISE_LEVELS, add_physiological_noise_windows
from .datasets import first_k_folds, ptbxl_split
from .metrics import bootstrap_macro_auc, bootstrap_macro_auc_difference, macro_auc
from .preprocessing import LeadStandardizer, aggregate_windows, sliding_windows

PROBE_C_GRID = (0.01, 0.1, 1.0)
TABLE_COLUMNS = ["model", "pretraining", "regime", "protocol", "recipe", "n_train", "n_seeds",
                 "valid_auc", "test_auc", "test_auc_std", "test_auc_low", "test_auc_high",
                 "baseline", "delta", "delta_low", "delta_high"]
METHODS = ("simclr", "byol", "swav", "cpc")
REGIMES = ("linear", "finetune", "supervised")
INPUT_SCALINGS = ("mV", "standardize")
_METHOD_OF_ENCODER = {"CPCEncoder": "cpc", "SimCLREncoder": "simclr", "BYOLEncoder": "byol",
                      "SwAVEncoder": "swav"}


# ------------------------------------------------------------------------------- recipes
def method_name(encoder_or_name) -> str:
    """The method key ("simclr", "byol", "swav", "cpc") of an encoder or a name."""
    if isinstance(encoder_or_name, str):
        name = encoder_or_name.lower()
        if name not in METHODS:
            raise ValueError(f"unknown method {encoder_or_name!r}; expected one of {METHODS} "
                             "or a skecg SSL encoder.")
        return name
    estimator = getattr(encoder_or_name, "estimator", encoder_or_name)  # FrozenEstimator
    name = _METHOD_OF_ENCODER.get(type(estimator).__name__)
    if name is None:
        raise ValueError(f"no paper recipe for {type(estimator).__name__}; expected one of "
                         f"{sorted(_METHOD_OF_ENCODER)} or a name from {METHODS}.")
    return name


def paper_recipe(encoder_or_name, regime: str, *, epoch_scale: float = 1.0,
                 **overrides) -> dict:
    """The reference code's :class:`~skecg.classifier.ECGClassifier` parameters per method.

    ========  ============  ==========================================================
    method    regime        recipe (AdamW, batch 128, random 2.5 s crops, windows of
                            250 with stride 125 averaged per record, best epoch on fold 9)
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

    The reference standardises CPC's input with fixed per-lead statistics of the full PTB-XL;
    those are not available here, so skecg fits :class:`~skecg.preprocessing.LeadStandardizer`
    on the training folds (``input_scaling="standardize"``).

    Parameters
    ----------
    encoder_or_name : skecg SSL encoder or {"simclr", "byol", "swav", "cpc"}
        A fitted encoder is put in as ``encoder`` (linear and finetune regimes); for
        "supervised" the same architecture is trained from scratch (a name: the paper's
        xresnet1d50 of width 64, or the CPC network of width 512).
    regime : {"linear", "finetune", "supervised"}
    epoch_scale : float, default=1.0
        Multiplies ``max_epochs`` and ``head_epochs`` (each at least 1 where nonzero): shorter
        CPU presets keep the recipe's shape and scale only its length.
    **overrides
        Entries replacing the recipe's (applied after ``epoch_scale``).

    Returns
    -------
    recipe : dict
        ``ECGClassifier`` parameters, plus ``input_scaling`` ("mV" or "standardize"), which
        the protocols apply to the data (see :func:`fit_classifier`).
    """
    method = method_name(encoder_or_name)
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {REGIMES}; got {regime!r}.")
    if not epoch_scale > 0:
        raise ValueError(f"epoch_scale must be > 0; got {epoch_scale!r}.")
    cpc = method == "cpc"
    recipe = dict(crop_length=250, window=250, stride=125, aggregate="mean", batch_size=128,
                  optimizer="adamw", input_scaling="standardize" if cpc else "mV",
                  head_epochs=0, finetune_lr=None, freeze_encoder=False)
    if regime == "linear":
        recipe.update(head="linear", freeze_encoder=True, max_epochs=50,
                      lr=1e-3 if cpc else 8e-3 * 128 / 256, weight_decay=1e-3 if cpc else 0.1)
    elif cpc:
        recipe.update(head="paper", head_dropout=(0.25, 0.5), max_epochs=70, lr=1e-3,
                      weight_decay=1e-3)
        if regime == "finetune":
            recipe.update(head_epochs=50, finetune_lr=1e-4, discriminative_lr=(0.01, 0.1))
    else:
        recipe.update(head="linear", max_epochs=50, lr=1e-2, weight_decay=0.1)
    if regime != "linear":
        recipe.setdefault("discriminative_lr", (1.0, 1.0))
    if regime == "supervised":
        recipe.update(supervised_baseline_params(
            encoder_or_name if not isinstance(encoder_or_name, str) else None, method))
    elif not isinstance(encoder_or_name, str):
        recipe["encoder"] = encoder_or_name
    for name in ("max_epochs", "head_epochs"):
        if recipe[name]:
            recipe[name] = max(1, round(recipe[name] * epoch_scale))
    recipe.update(overrides)
    return recipe


def describe_recipe(recipe: dict) -> str:
    """One line naming a recipe's head, phases, optimiser settings and input scaling."""
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
    parts.append(f"{recipe.get('optimizer', 'adamw')} lr {recipe['lr']:g} wd "
                 f"{recipe['weight_decay']:g}, {recipe['max_epochs']} epochs, batch "
                 f"{recipe['batch_size']}, input {recipe.get('input_scaling', 'mV')}")
    return "; ".join(parts)


def supervised_baseline_params(encoder, method: str | None = None) -> dict:
    """ECGClassifier arguments that train the encoder's backbone architecture from scratch.

    Parameters
    ----------
    encoder : skecg SSL encoder or None
        None: the paper's architecture of ``method`` (xresnet1d50 width 64, CPC width 512).
    method : str, optional
        Method key, used when ``encoder`` is None.
    """
    if encoder is None:
        return ({"encoder": "cpc", "width": 512} if method == "cpc"
                else {"encoder": "xresnet1d50", "width": 64})
    encoder = getattr(encoder, "estimator", encoder)
    if hasattr(encoder, "context_width"):  # CPCEncoder
        return {"encoder": "cpc", "width": encoder.context_width}
    return {"encoder": encoder.backbone, "width": encoder.width}


# ----------------------------------------------------------------------------- helpers
def _splits(data: Bunch, splits: Bunch | None) -> Bunch:
    if splits is not None:
        return splits
    if "meta" not in data or "strat_fold" not in data.meta:
        raise ValueError("data needs meta['strat_fold'] (PTB-XL folds) or pass splits= with "
                         "train/valid/test indices.")
    return ptbxl_split(data.meta)


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


def input_scaler(scaling: str, X_train) -> LeadStandardizer | None:
    """The fitted input scaling of a recipe: a LeadStandardizer on ``X_train``, or None (mV)."""
    if scaling not in INPUT_SCALINGS:
        raise ValueError(f"input_scaling must be one of {INPUT_SCALINGS}; got {scaling!r}.")
    return LeadStandardizer().fit(X_train) if scaling == "standardize" else None


def _scale(scaler, X):
    return np.asarray(X) if scaler is None else scaler.transform(X)


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


def fit_classifier(encoder_or_name, data: Bunch, *, regime: str = "finetune",
                   recipe: str | dict = "paper", splits: Bunch | None = None, train=None,
                   random_state=0, **overrides):
    """Train an ECGClassifier with a recipe; the epoch is chosen on the validation records.

    Parameters
    ----------
    encoder_or_name : fitted skecg SSL encoder or method name
        The encoder whose backbone is evaluated (a name only for ``regime="supervised"``).
    data : Bunch
        ``X`` in mV, multi-hot ``y``, ``meta`` with ``strat_fold``.
    regime : {"linear", "finetune", "supervised"}
    recipe : "paper" or dict
        "paper": :func:`paper_recipe`; a dict: ECGClassifier parameters (and
        ``input_scaling``) used as they are.
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
    model : ECGClassifier or Pipeline
        Fitted; a Pipeline ``LeadStandardizer -> ECGClassifier`` when the recipe standardises,
        so ``model.predict_proba`` takes records in mV.
    params : dict
        The recipe used (``input_scaling`` included).
    """
    from skorch.dataset import Dataset
    from skorch.helper import predefined_split

    from .classifier import ECGClassifier

    split = _splits(data, splits)
    train = split.train if train is None else train
    if isinstance(recipe, str):
        if recipe != "paper":
            raise ValueError(f"recipe must be 'paper' or a dict of ECGClassifier parameters; "
                             f"got {recipe!r}.")
        params = paper_recipe(encoder_or_name, regime, **overrides)
    else:
        params = {**recipe, **overrides}
        if regime == "supervised":
            params.update(supervised_baseline_params(
                None if isinstance(encoder_or_name, str) else encoder_or_name,
                method_name(encoder_or_name)))
        elif "encoder" not in params:
            params["encoder"] = encoder_or_name
    classifier_params = dict(params)
    scaler = input_scaler(classifier_params.pop("input_scaling", "mV"), data.X[train])
    valid = Dataset(_scale(scaler, data.X[split.valid]), data.y[split.valid])
    clf = ECGClassifier(**{**classifier_params, "random_state": random_state,
                           "train_split": predefined_split(valid)})
    clf.fit(_scale(scaler, data.X[train]), data.y[train])
    model = clf if scaler is None else Pipeline([("scaling", scaler), ("classifier", clf)])
    return model, params


# --------------------------------------------------------------------------- table rows
def _row(model: str, pretraining: str, regime: str, n_train: int, valid_auc: float,
         y_test, test_scores, n_bootstraps: int, random_state, **columns) -> dict:
    """One table row of a single model (one seed): test AUC with its bootstrap interval."""
    ci = bootstrap_macro_auc(y_test, test_scores, n_bootstraps=n_bootstraps,
                             random_state=random_state)
    return dict(model=model, pretraining=pretraining, regime=regime, n_train=int(n_train),
                valid_auc=float(valid_auc), test_auc=float(ci.point),
                test_auc_low=float(ci.low), test_auc_high=float(ci.high), **columns)


class _Runs:
    """Test scores of one model over seeds, summarised into one table row."""

    def __init__(self, **columns):
        self.columns = columns
        self.valid_aucs: list[float] = []
        self.scores: list[np.ndarray] = []

    def add(self, valid_auc: float, test_scores) -> None:
        self.valid_aucs.append(float(valid_auc))
        self.scores.append(np.asarray(test_scores))

    def row(self, y_test, n_bootstraps: int, random_state, baseline: _Runs | None = None,
            confidence: float = 0.95) -> dict:
        # every seed is resampled with the same records (same random_state), so the mean over
        # seeds of each resample's AUC (or difference) gives the interval of the seed mean
        cis = [bootstrap_macro_auc(y_test, s, n_bootstraps=n_bootstraps, confidence=confidence,
                                   random_state=random_state) for s in self.scores]
        aucs = np.array([ci.point for ci in cis])
        low, high = _interval([ci.samples for ci in cis], confidence)
        row = dict(self.columns, n_seeds=len(aucs), valid_auc=float(np.mean(self.valid_aucs)),
                   test_auc=float(aucs.mean()),
                   test_auc_std=float(aucs.std(ddof=1)) if len(aucs) > 1 else 0.0,
                   test_auc_low=low, test_auc_high=high)
        if baseline is not None:
            diffs = [bootstrap_macro_auc_difference(y_test, a, b, n_bootstraps=n_bootstraps,
                                                    confidence=confidence,
                                                    random_state=random_state)
                     for a, b in zip(self.scores, baseline.scores, strict=True)]
            delta_low, delta_high = _interval([d.samples for d in diffs], confidence)
            base = [d.auc_b for d in diffs]
            row.update(baseline=float(np.mean(base)),
                       delta=float(np.mean([d.delta for d in diffs])),
                       delta_low=delta_low, delta_high=delta_high)
        return row


def _interval(samples: list[np.ndarray], confidence: float) -> tuple[float, float]:
    alpha = (1.0 - confidence) / 2.0
    lengths = {len(s) for s in samples}
    mean = np.mean(np.vstack(samples), axis=0) if len(lengths) == 1 else samples[0]
    low, high = np.quantile(mean, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _table(rows: list[dict], pretrained_on=None) -> pd.DataFrame:
    return _with_pretraining_data(pd.DataFrame(rows, columns=TABLE_COLUMNS), pretrained_on)


def _model_name(encoder) -> str:
    return type(getattr(encoder, "estimator", encoder)).__name__.replace("Encoder", "")


def _seeded(encoder, seed: int, X_pretrain, pretrain: bool):
    """The encoder for one seed: as fitted, or (unfitted) pretrained here with ``seed``."""
    if not pretrain:
        return encoder
    return clone(encoder).set_params(random_state=seed).fit(X_pretrain)


def _random_init(encoder, seed: int, X_pretrain):
    """The same architecture, randomly initialised (``max_epochs=0``) with ``seed``."""
    encoder = getattr(encoder, "estimator", encoder)  # FrozenEstimator
    return clone(encoder).set_params(max_epochs=0, random_state=seed).fit(X_pretrain)


# ---------------------------------------------------------------------------- protocols
def linear_evaluation(
    encoder,
    data: Bunch,
    *,
    protocol: str = "paper",
    splits: Bunch | None = None,
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
    encoder : skecg SSL encoder
        Used as fitted; an unfitted encoder is first pretrained (labels unused) on the
        training and validation records, input scaled as its recipe says. The encoder's
        weights and BatchNorm statistics are never changed.
    data : Bunch
        ``X`` in mV (n_records, n_leads, n_samples), ``y`` multi-hot (n_records, n_labels),
        ``meta``.
    protocol : {"paper", "probe"}, default="paper"
        "paper": the reference's linear evaluation, one linear layer on the frozen encoder
        (BatchNorm in eval mode) trained on random 2.5 s crops, window sigmoids averaged per
        record, epoch chosen on the validation fold (:func:`paper_recipe` ``"linear"``).
        "probe": a fast logistic regression on per-record averaged embeddings
        (``encoder.transform``), its C chosen on the validation fold.
    splits : Bunch, optional
        ``train``, ``valid``, ``test`` index arrays (default: PTB-XL folds 1-8 / 9 / 10).
    random_init_baseline : bool
        Add the row of the same architecture, randomly initialised (``max_epochs=0``); the
        encoder's row then carries the paired difference to it.
    n_seeds : int, default=1
        Seeds ``random_state, random_state + 1, ...``: each repeats the training of the
        linear layer and of the random initialisation (and pretraining, for an unfitted
        encoder). Rows report the mean test AUC over seeds and its standard deviation.
    pretrained_on : str or Bunch, optional
        What the encoder was pretrained on, written in a ``pretrained_on`` column. Pass the
        Bunch of :func:`skecg.datasets.load_physionet_challenge` to state how many records were
        pretrained on and which were excluded (e.g. the PTB-XL-source ``HR*`` records).
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
    split = _splits(data, splits)
    name = _model_name(encoder)
    recipe = paper_recipe(encoder, "linear", **recipe_overrides)
    scaler = input_scaler(recipe["input_scaling"], data.X[split.train])
    pretrain = not _is_fitted(encoder)
    X_pretrain = _scale(scaler, data.X[np.concatenate([split.train, split.valid])])
    if protocol == "paper":
        text = dict(regime="linear", protocol="paper (linear layer on frozen encoder)",
                    recipe=describe_recipe(recipe))
    else:
        text = dict(regime="linear (logistic probe)", protocol="probe (logistic regression "
                    "on averaged embeddings)", recipe="logistic regression, C on fold 9")
    runs = _Runs(model=name, pretraining=name, n_train=len(split.train), **text)
    baseline = _Runs(model=name, pretraining="none (random init)", n_train=len(split.train),
                     **text)
    for seed in range(random_state, random_state + n_seeds):
        encoders = [(runs, _seeded(encoder, seed, X_pretrain, pretrain))]
        if random_init_baseline:
            encoders.append((baseline, _random_init(encoder, seed, X_pretrain)))
        for target, enc in encoders:
            if protocol == "paper":
                model, _ = fit_classifier(enc, data, regime="linear", splits=split,
                                          random_state=seed, **recipe_overrides)
                valid_auc = macro_auc(data.y[split.valid], model.predict_proba(
                    data.X[split.valid]))
                target.add(valid_auc, model.predict_proba(data.X[split.test]))
            else:
                features = {k: enc.transform(_scale(scaler, data.X[idx]))
                            for k, idx in split.items()}
                probe, valid_auc = fit_probe(features["train"], data.y[split.train],
                                             features["valid"], data.y[split.valid])
                target.add(valid_auc, probe.predict_proba(features["test"]))
    y_test = data.y[split.test]
    rows = [runs.row(y_test, n_bootstraps, random_state,
                     baseline if random_init_baseline else None)]
    if random_init_baseline:
        rows.append(baseline.row(y_test, n_bootstraps, random_state))
    return _table(rows, pretrained_on)


def finetune_evaluation(
    encoder,
    data: Bunch,
    *,
    recipe: str | dict = "paper",
    splits: Bunch | None = None,
    supervised_baseline: bool = True,
    n_seeds: int = 1,
    pretrained_on: str | Bunch | None = None,
    n_bootstraps: int = 1000,
    random_state=0,
    **recipe_overrides,
) -> pd.DataFrame:
    """Finetuning with the method's recipe, against the same architecture trained from scratch.

    The pretrained backbone is copied into an :class:`skecg.classifier.ECGClassifier`
    (the encoder itself is not modified), trained on the training folds with the epoch of best
    validation macro AUC restored, and scored on the test fold. SimCLR/BYOL/SwAV: linear head,
    all layers from epoch 0; CPC: paper head, head-only phase, then all layers with
    discriminative learning rates (see :func:`paper_recipe`). The baseline row trains the same
    architecture from scratch with the recipe's ``"supervised"`` regime.

    Parameters
    ----------
    encoder : fitted skecg SSL encoder
    data : Bunch
        ``X`` in mV, multi-hot ``y`` and ``meta`` with ``strat_fold``.
    recipe : "paper" or dict, default="paper"
        "paper": :func:`paper_recipe` per method; a dict of ECGClassifier parameters (and
        ``input_scaling``) is used for both rows (the baseline from scratch).
    supervised_baseline : bool
        Add the row of the same architecture trained from scratch; the finetuned row then
        carries the paired difference to it.
    n_seeds : int, default=1
        Repeat training with seeds ``random_state, random_state + 1, ...``; rows report the
        mean test AUC and its standard deviation over seeds.
    pretrained_on : str or Bunch, optional
        As in :func:`linear_evaluation`: adds a ``pretrained_on`` column.
    n_bootstraps : int
    random_state : int
    **recipe_overrides
        Passed to :func:`paper_recipe` for both rows (e.g. ``epoch_scale=0.2``,
        ``batch_size=64``).

    Returns
    -------
    pandas.DataFrame
        One row per model with columns ``TABLE_COLUMNS``.
    """
    check_is_fitted(encoder)
    n_seeds = _check_n_seeds(n_seeds)
    split = _splits(data, splits)
    name = _model_name(encoder)
    regimes = [("finetune", name)]
    if supervised_baseline:
        regimes.append(("supervised", "none (supervised)"))
    runs = {}
    for regime, pretraining in regimes:
        kind, params = _recipe_params(encoder, regime, recipe, recipe_overrides)
        runs[regime] = _Runs(model=name, pretraining=pretraining, regime=regime,
                             protocol=f"{regime} ({kind} recipe)",
                             recipe=describe_recipe(params), n_train=len(split.train))
    for seed in range(random_state, random_state + n_seeds):
        for regime, _ in regimes:
            model, _ = fit_classifier(encoder, data, regime=regime, recipe=recipe, splits=split,
                                      random_state=seed, **recipe_overrides)
            runs[regime].add(macro_auc(data.y[split.valid],
                                       model.predict_proba(data.X[split.valid])),
                             model.predict_proba(data.X[split.test]))
    y_test = data.y[split.test]
    rows = [runs["finetune"].row(y_test, n_bootstraps, random_state,
                                 runs.get("supervised"))]
    if supervised_baseline:
        rows.append(runs["supervised"].row(y_test, n_bootstraps, random_state))
    return _table(rows, pretrained_on)


def _recipe_params(encoder, regime, recipe, overrides) -> tuple[str, dict]:
    if isinstance(recipe, str):
        return "paper", paper_recipe(encoder, regime, **overrides)
    return "custom", {**recipe, **overrides}


def label_efficiency(
    encoder,
    data: Bunch,
    *,
    n_folds: Iterable[int] = range(1, 9),
    regimes: Iterable[str] = ("finetune", "linear", "supervised"),
    protocol: str = "paper",
    splits: Bunch | None = None,
    n_seeds: int = 1,
    n_bootstraps: int = 200,
    random_state=0,
    **recipe_overrides,
) -> pd.DataFrame:
    """The paper's label-efficiency curves: training on the first ``k`` training folds only.

    For each ``k`` in ``n_folds`` and each regime: the encoder finetuned ("finetune"), its
    linear evaluation ("linear"), and the same architecture trained from scratch
    ("supervised"), each with its :func:`paper_recipe`. The encoder is used as fitted
    (pretraining does not use labels, so it may see all training records). Finetuned rows
    carry the paired difference to the supervised row of the same ``k``.

    Parameters
    ----------
    encoder : fitted skecg SSL encoder
    data : Bunch
    n_folds : iterable of int
        Numbers of training folds (1..8).
    regimes : iterable of {"finetune", "linear", "supervised"}
    protocol : {"paper", "probe"}, default="paper"
        Linear evaluation protocol (see :func:`linear_evaluation`).
    n_seeds, n_bootstraps, random_state
        As in :func:`finetune_evaluation`.
    **recipe_overrides
        Passed to :func:`paper_recipe` (e.g. ``epoch_scale=0.2``).

    Returns
    -------
    pandas.DataFrame
        One row per ``k`` and regime: ``n_folds`` and ``TABLE_COLUMNS``.
    """
    check_is_fitted(encoder)
    regimes = list(regimes)
    unknown = sorted(set(regimes) - set(REGIMES))
    if unknown:
        raise ValueError(f"regimes must be among {REGIMES}; got {unknown}.")
    if protocol not in ("paper", "probe"):
        raise ValueError(f"protocol must be 'paper' or 'probe'; got {protocol!r}.")
    n_seeds = _check_n_seeds(n_seeds)
    split = _splits(data, splits)
    folds = np.asarray(data.meta["strat_fold"])
    name = _model_name(encoder)
    y_test = data.y[split.test]
    features = None
    rows = []
    for k in n_folds:
        train = np.intersect1d(first_k_folds(folds, k), split.train)
        runs = {}
        for regime in regimes:
            probe = regime == "linear" and protocol == "probe"
            params = None if probe else paper_recipe(encoder, regime, **recipe_overrides)
            runs[regime] = _Runs(
                model=name, pretraining="none (supervised)" if regime == "supervised" else name,
                regime=regime, protocol=("probe (logistic regression on averaged embeddings)"
                                         if probe else f"{regime} (paper recipe)"),
                recipe="logistic regression, C on fold 9" if probe else describe_recipe(params),
                n_train=len(train))
            for seed in range(random_state, random_state + n_seeds):
                if probe:
                    if features is None:
                        scaler = input_scaler(paper_recipe(encoder, "linear")["input_scaling"],
                                              data.X[split.train])
                        features = encoder.transform(_scale(scaler, data.X))
                    model, valid_auc = fit_probe(features[train], data.y[train],
                                                 features[split.valid], data.y[split.valid])
                    runs[regime].add(valid_auc, model.predict_proba(features[split.test]))
                    continue
                model, _ = fit_classifier(encoder, data, regime=regime, splits=split,
                                          train=train, random_state=seed, **recipe_overrides)
                runs[regime].add(macro_auc(data.y[split.valid],
                                           model.predict_proba(data.X[split.valid])),
                                 model.predict_proba(data.X[split.test]))
        for regime in regimes:
            baseline = runs.get("supervised") if regime == "finetune" else None
            rows.append({"n_folds": int(k),
                         **runs[regime].row(y_test, n_bootstraps, random_state, baseline)})
    return pd.DataFrame(rows, columns=["n_folds", *TABLE_COLUMNS])


def describe_pretraining_data(pretrained_on: str | Bunch | None) -> str | None:
    """One line saying what an encoder was pretrained on and what was excluded.

    Parameters
    ----------
    pretrained_on : str, Bunch or None
        Free text, or a loader's Bunch (``X``, and ``excluded`` from
        ``load_physionet_challenge(..., exclude_prefixes=...)``).
    """
    if pretrained_on is None or isinstance(pretrained_on, str):
        return pretrained_on
    text = f"{len(pretrained_on.X)} records"
    excluded = list(pretrained_on.get("excluded", []))
    if excluded:
        shown = ", ".join(excluded[:3]) + (", ..." if len(excluded) > 3 else "")
        text += f"; {len(excluded)} excluded ({shown})"
    return text


def _with_pretraining_data(table: pd.DataFrame, pretrained_on) -> pd.DataFrame:
    description = describe_pretraining_data(pretrained_on)
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
    fs: float | None = None,
    window: int = 250,
    stride: int = 125,
    n_bootstraps: int = 200,
    random_state=0,
) -> pd.DataFrame:
    """Test macro AUC of a fitted model under the paper's physiological noise levels.

    As in the paper's reference code, each test record is cut into windows of ``window``
    samples (stride ``stride``), baseline wander, electrode-motion noise, powerline noise and
    baseline shifts are drawn independently for each window and added together at the level's
    amplitudes (0: clean), and the model's window probabilities are averaged per record.

    Parameters
    ----------
    model : estimator
        Fitted, with ``predict_proba`` on ECG arrays (e.g. an ``ECGClassifier``, or a
        Pipeline of an encoder and a probe), in the units of ``data.X`` (mV: the noise is
        calibrated in mV).
    data : Bunch
        ``X`` (n_records, n_leads, n_samples) in mV, ``y``, and ``meta`` with PTB-XL folds.
    levels : iterable of int
        Noise levels from :data:`skecg.augment.NOISE_LEVELS`, 0 for clean input.
    baseline : estimator, optional
        A second fitted model scored on the very same noisy windows; each row then carries
        ``baseline`` (its AUC) and the paired bootstrap difference ``delta`` [``delta_low``,
        ``delta_high``] of ``model`` minus ``baseline``.
    fs : float, optional
        Sampling rate in Hz (default ``data.fs``, else 100).
    window, stride : int
        Window length and stride in samples (the paper: 250 and 125 at 100 Hz).

    Returns
    -------
    pandas.DataFrame
        One row per level: ``level``, ``test_auc``, ``test_auc_low``, ``test_auc_high`` (and
        the baseline columns above when ``baseline`` is given).
    """
    split = _splits(data, splits)
    fs = fs if fs is not None else data.get("fs", 100)
    X_test = torch.as_tensor(np.asarray(data.X[split.test]))
    y_test = data.y[split.test]
    rows = []
    for level in levels:
        generator = torch.Generator().manual_seed(int(random_state) + int(level))
        if level == 0:
            windows, record_index = sliding_windows(X_test, window, stride)
        else:
            windows, record_index = add_physiological_noise_windows(
                X_test, int(level), window=window, stride=stride, fs=fs, generator=generator)
        windows, record_index = np.asarray(windows), np.asarray(record_index)

        def record_scores(estimator, windows=windows, record_index=record_index):
            return aggregate_windows(estimator.predict_proba(windows), record_index, "mean")

        scores = record_scores(model)
        ci = bootstrap_macro_auc(y_test, scores, n_bootstraps=n_bootstraps,
                                 random_state=random_state)
        row = dict(level=int(level), test_auc=float(ci.point), test_auc_low=float(ci.low),
                   test_auc_high=float(ci.high))
        if baseline is not None:
            diff = bootstrap_macro_auc_difference(y_test, scores, record_scores(baseline),
                                                  n_bootstraps=n_bootstraps,
                                                  random_state=random_state)
            row.update(baseline=float(diff.auc_b), delta=float(diff.delta),
                       delta_low=float(diff.low), delta_high=float(diff.high))
        rows.append(row)
    return pd.DataFrame(rows)


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
