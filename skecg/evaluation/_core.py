"""What every protocol shares: splits, the encoder of each split, the one fit -> score path and
pooled table rows."""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from .._linear_eval import paper_linear_steps, train_linear_layer
from ..datasets import ptbxl_split
from ..metrics import bootstrap_macro_auc, bootstrap_macro_auc_difference, macro_auc
from ._recipes import method_name, paper_recipe, supervised_baseline_params

PROBE_C_GRID = (0.01, 0.1, 1.0)
TABLE_COLUMNS = ["model", "pretraining", "regime", "protocol", "recipe", "n_train", "n_test",
                 "n_splits", "n_seeds", "steps", "valid_auc", "test_auc", "test_auc_std",
                 "split_auc_std", "test_auc_low", "test_auc_high", "baseline", "delta",
                 "delta_low", "delta_high", "note"]
CHANCE_AUC = 0.55  # a validation macro AUC at or below this is reported as "at chance"


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

    from ..classifier import ECGClassifier

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
        from ..datasets import find_overlap

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
