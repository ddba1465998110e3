"""The paper's evaluation protocols, each one call returning a tidy table (one row per model).

Every protocol takes ``data``: a Bunch as returned by :func:`skecg.datasets.load_ptbxl` (``X``,
``y`` multi-hot, ``meta`` with ``strat_fold``) and uses PTB-XL's folds: 1-8 train, 9 validation
(model selection), 10 test. Test AUCs are record-level macro AUCs with bootstrap intervals.
"""

from __future__ import annotations

from collections.abc import Iterable

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

from .augment import NOISE_LEVELS, add_physiological_noise
from .datasets import first_k_folds, ptbxl_split
from .metrics import bootstrap_macro_auc, macro_auc

PROBE_C_GRID = (0.01, 0.1, 1.0)
TABLE_COLUMNS = ["model", "pretraining", "regime", "n_train", "valid_auc", "test_auc",
                 "test_auc_low", "test_auc_high"]


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


def _row(model: str, pretraining: str, regime: str, n_train: int, valid_auc: float,
         y_test, test_scores, n_bootstraps: int, random_state) -> dict:
    ci = bootstrap_macro_auc(y_test, test_scores, n_bootstraps=n_bootstraps,
                             random_state=random_state)
    return dict(model=model, pretraining=pretraining, regime=regime, n_train=int(n_train),
                valid_auc=float(valid_auc), test_auc=float(ci.point),
                test_auc_low=float(ci.low), test_auc_high=float(ci.high))


def _model_name(encoder) -> str:
    return type(encoder).__name__.replace("Encoder", "")


def linear_evaluation(
    encoder,
    data: Bunch,
    *,
    splits: Bunch | None = None,
    random_init_baseline: bool = True,
    pretrained_on: str | Bunch | None = None,
    n_bootstraps: int = 1000,
    random_state=0,
) -> pd.DataFrame:
    """Linear evaluation: a logistic probe on frozen embeddings (``encoder.transform``).

    Parameters
    ----------
    encoder : skecg SSL encoder
        Used as fitted; an unfitted encoder is first pretrained (labels unused) on the
        training and validation records.
    data : Bunch
        ``X`` (n_records, n_leads, n_samples), ``y`` multi-hot (n_records, n_labels), ``meta``.
    splits : Bunch, optional
        ``train``, ``valid``, ``test`` index arrays (default: PTB-XL folds 1-8 / 9 / 10).
    random_init_baseline : bool
        Add the row of the same architecture, randomly initialised (``max_epochs=0``).
    pretrained_on : str or Bunch, optional
        What the encoder was pretrained on, written in a ``pretrained_on`` column. Pass the
        Bunch of :func:`skecg.datasets.load_physionet_challenge` to state how many records were
        pretrained on and which were excluded (e.g. the PTB-XL-source ``HR*`` records, so that
        no PTB-XL test record was seen in pretraining).
    n_bootstraps : int
        Bootstrap resamples of the test records for the 95% interval.
    random_state : int
        Seeds the probes and the bootstrap.

    Returns
    -------
    pandas.DataFrame
        One row per model with columns ``TABLE_COLUMNS``.
    """
    split = _splits(data, splits)
    encoders = [(encoder, _model_name(encoder))]
    if random_init_baseline:
        encoders.append((clone(encoder).set_params(max_epochs=0), "none (random init)"))
    rows = []
    for enc, pretraining in encoders:
        if not _is_fitted(enc):
            enc.fit(data.X[np.concatenate([split.train, split.valid])])
        features = {name: enc.transform(data.X[idx]) for name, idx in split.items()}
        probe, valid_auc = fit_probe(features["train"], data.y[split.train],
                                     features["valid"], data.y[split.valid])
        rows.append(_row(_model_name(encoder), pretraining, "linear (logistic probe)",
                         len(split.train), valid_auc, data.y[split.test],
                         probe.predict_proba(features["test"]), n_bootstraps, random_state))
    return _with_pretraining_data(pd.DataFrame(rows, columns=TABLE_COLUMNS), pretrained_on)


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


def supervised_baseline_params(encoder) -> dict:
    """ECGClassifier arguments that train the encoder's backbone architecture from scratch."""
    if hasattr(encoder, "context_width"):  # CPCEncoder
        return {"encoder": "cpc", "width": encoder.context_width}
    return {"encoder": encoder.backbone, "width": encoder.width}


def _classifier_row(clf, data, split, model, pretraining, regime, n_bootstraps, random_state):
    from skorch.dataset import Dataset
    from skorch.helper import predefined_split

    valid = Dataset(np.asarray(data.X[split.valid]), data.y[split.valid])
    clf.set_params(train_split=predefined_split(valid))
    clf.fit(data.X[split.train], data.y[split.train])
    valid_auc = macro_auc(data.y[split.valid], clf.predict_proba(data.X[split.valid]))
    return _row(model, pretraining, regime, len(split.train), valid_auc, data.y[split.test],
                clf.predict_proba(data.X[split.test]), n_bootstraps, random_state)


def finetune_evaluation(
    encoder,
    data: Bunch,
    *,
    splits: Bunch | None = None,
    head: str = "paper",
    head_epochs: int = 5,
    max_epochs: int = 15,
    lr: float = 1e-3,
    batch_size: int = 128,
    supervised_baseline: bool = True,
    pretrained_on: str | Bunch | None = None,
    n_bootstraps: int = 1000,
    random_state=0,
) -> pd.DataFrame:
    """Finetuning: head first, then all layers with discriminative learning rates.

    The pretrained backbone is copied into an :class:`skecg.classifier.ECGClassifier`
    (the encoder itself is not modified), trained on the training folds with the epoch of best
    validation macro AUC restored, and scored on the test fold. The baseline row trains the
    same architecture from scratch (supervised).

    Parameters
    ----------
    encoder : fitted skecg SSL encoder
    data : Bunch
        ``X``, multi-hot ``y`` and ``meta`` with ``strat_fold``.
    head : {"paper", "linear"}
    head_epochs, max_epochs : int
        Epochs of head-only training, and of training in all.
    lr, batch_size
        Head learning rate (the backbone learns at the paper's 0.01x / 0.1x factors) and batch.
    supervised_baseline : bool
        Add the row of the same architecture trained from scratch for ``max_epochs``.
    pretrained_on : str or Bunch, optional
        As in :func:`linear_evaluation`: adds a ``pretrained_on`` column.

    Returns
    -------
    pandas.DataFrame
        One row per model with columns ``TABLE_COLUMNS``.
    """
    from .classifier import ECGClassifier

    check_is_fitted(encoder)
    split = _splits(data, splits)
    common = dict(max_epochs=max_epochs, lr=lr, batch_size=batch_size, random_state=random_state,
                  crop_length=encoder.window, window=encoder.window, stride=encoder.stride)
    name = _model_name(encoder)
    rows = [_classifier_row(
        ECGClassifier(encoder=encoder, head=head, head_epochs=head_epochs, **common), data,
        split, name, name, f"finetuned ({head} head, discriminative lr)", n_bootstraps,
        random_state)]
    if supervised_baseline:
        rows.append(_classifier_row(
            ECGClassifier(head=head, **supervised_baseline_params(encoder), **common), data, split,
            name, "none (supervised)", f"trained from scratch ({head} head)", n_bootstraps,
            random_state))
    return _with_pretraining_data(pd.DataFrame(rows, columns=TABLE_COLUMNS), pretrained_on)


def label_efficiency(
    encoder,
    data: Bunch,
    *,
    n_folds: Iterable[int] = range(1, 9),
    splits: Bunch | None = None,
    n_bootstraps: int = 200,
    random_state=0,
) -> pd.DataFrame:
    """Linear evaluation with the probe trained on the first ``k`` training folds only.

    The encoder is used as fitted (pretraining does not use labels, so it may see all
    training records). Returns one row per ``k`` with an extra ``n_folds`` column.
    """
    split = _splits(data, splits)
    check_is_fitted(encoder)
    features = encoder.transform(data.X)
    folds = np.asarray(data.meta["strat_fold"])
    rows = []
    for k in n_folds:
        train = np.intersect1d(first_k_folds(folds, k), split.train)
        probe, valid_auc = fit_probe(features[train], data.y[train], features[split.valid],
                                     data.y[split.valid])
        row = _row(_model_name(encoder), _model_name(encoder), "linear (logistic probe)",
                   len(train), valid_auc, data.y[split.test],
                   probe.predict_proba(features[split.test]), n_bootstraps, random_state)
        rows.append({"n_folds": int(k), **row})
    return pd.DataFrame(rows, columns=["n_folds", *TABLE_COLUMNS])


def noise_robustness(
    model,
    data: Bunch,
    *,
    levels: Iterable[int] = (0, *NOISE_LEVELS),
    splits: Bunch | None = None,
    fs: float | None = None,
    n_bootstraps: int = 200,
    random_state=0,
) -> pd.DataFrame:
    """Test macro AUC of a fitted model under the paper's physiological noise levels.

    Baseline wander, electrode-motion noise, powerline noise and baseline shifts are added
    together to the test records at each level (0: clean), as in the paper.

    Parameters
    ----------
    model : estimator
        Fitted, with ``predict_proba`` on ECG arrays (e.g. an ``ECGClassifier``, or a
        Pipeline of an encoder and a probe).
    levels : iterable of int
        Noise levels from :data:`skecg.augment.NOISE_LEVELS`, 0 for clean input.
    fs : float, optional
        Sampling rate in Hz (default ``data.fs``, else 100).

    Returns
    -------
    pandas.DataFrame
        One row per level: ``level``, ``test_auc``, ``test_auc_low``, ``test_auc_high``.
    """
    split = _splits(data, splits)
    fs = fs if fs is not None else data.get("fs", 100)
    X_test = torch.as_tensor(np.asarray(data.X[split.test]))
    y_test = data.y[split.test]
    rows = []
    for level in levels:
        generator = torch.Generator().manual_seed(int(random_state) + int(level))
        noisy = X_test if level == 0 else add_physiological_noise(X_test, level, fs=fs,
                                                                   generator=generator)
        scores = model.predict_proba(noisy.numpy())
        ci = bootstrap_macro_auc(y_test, scores, n_bootstraps=n_bootstraps,
                                 random_state=random_state)
        rows.append(dict(level=int(level), test_auc=float(ci.point), test_auc_low=float(ci.low),
                         test_auc_high=float(ci.high)))
    return pd.DataFrame(rows)


def markdown_table(table: pd.DataFrame, digits: int = 3) -> str:
    """The table as GitHub Markdown, numbers rounded to ``digits``."""
    table = table.round(digits)
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * table.shape[1]]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def plot_table(table: pd.DataFrame, path=None, title: str = "PTB-XL test macro AUC"):
    """Horizontal bar chart of ``test_auc`` with its bootstrap interval; saved if ``path``.

    Needs matplotlib (``pip install skecg[plot]``). Returns the matplotlib Figure.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'skecg[plot]'") from exc
    labels = [str(m) for m in table["model"]]
    if "pretraining" in table:
        labels = [f"{m} / {p}" for m, p in zip(labels, table["pretraining"], strict=True)]
    auc = table["test_auc"].to_numpy()
    err = np.vstack([auc - table["test_auc_low"], table["test_auc_high"] - auc])
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(table) + 1.2))
    ax.barh(labels, auc, xerr=err, color="#4c72b0", capsize=3)
    ax.set_xlim(max(0.0, float(table["test_auc_low"].min()) - 0.1), 1.0)
    ax.set_xlabel("test macro AUC (95% bootstrap interval)")
    ax.set_title(title)
    ax.invert_yaxis()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
