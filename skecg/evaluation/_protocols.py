"""The protocols: linear evaluation, finetuning, supervised training, label efficiency, noise
robustness and lead robustness, each one call returning a tidy table."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.utils import Bunch

from ..augment import NOISE_LEVELS, add_physiological_noise_windows
from ..metrics import bootstrap_macro_auc, bootstrap_macro_auc_difference
from ..preprocessing import aggregate_windows, sliding_windows
from ._core import (
    TABLE_COLUMNS,
    _check_cv,
    _check_n_seeds,
    _EncoderSource,
    _model_name,
    _recipe,
    _Runs,
    _score,
    _table,
    fit_classifier,
    fit_probe,
)
from ._recipes import REGIMES, describe_recipe, paper_recipe


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
    from ..models import ECGTransformer

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

    from ..preprocessing import fill_leads

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

    from ..preprocessing import fill_leads

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
    from ..preprocessing import lead_positions

    if protocol not in ("paper", "probe"):
        raise ValueError(f"protocol must be 'probe' or 'paper'; got {protocol!r}.")
    if protocol == "probe" and recipe_overrides:
        raise TypeError(f"protocol='probe' takes no recipe overrides; got "
                        f"{sorted(recipe_overrides)}.")
    names = data.get("lead_names")
    n_leads = data.X.shape[1]
    layout = [str(n) for n in names] if names is not None else None
    if layout is None or len(layout) != n_leads:
        from ..models import STANDARD_LEADS

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


