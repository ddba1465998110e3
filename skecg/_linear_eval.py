"""Linear evaluation of a frozen encoder, trained on precomputed crop embeddings.

A frozen backbone in eval mode maps a crop to the same embedding every time, so the paper's
linear evaluation (one linear layer trained on random 2.5 s crops, BatchNorm statistics frozen)
does not need the backbone in its training loop: the crops' embeddings are computed once, on a
grid of crop starts, and the layer is trained on them for as many optimiser steps as the
paper's recipe takes on the full PTB-XL. One pass of the encoder replaces the
``steps * batch_size`` crop passes of a training loop, which is what makes a trained linear layer
affordable on a CPU.

Departures from the reference, both stated in the tables' docs:

- its crop starts are uniform over every sample offset; here they are ``n_crop_starts`` evenly
  spaced offsets (16 by default: every 0.5 s of a 10 s record at 100 Hz for a 2.5 s crop), one
  drawn uniformly per record and step;
- the layer is trained on embeddings standardised with their training mean and standard
  deviation, then folded back (``W / sd``, ``b - W mean / sd``), so the model is still one
  linear layer on the frozen encoder's features. The function class is unchanged; only the
  optimiser's conditioning is: features of very small spread (a random LSTM's, say) otherwise
  need weights far larger than the recipe's steps at its learning rate can reach, and the
  layer stays untrained. Weight decay then acts on the standardised weights.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.utils import Bunch

from .metrics import macro_auc
from .models import LinearHead
from .preprocessing import aggregate_windows, sliding_windows

#: Records of PTB-XL's training folds 1-8 (the paper's linear evaluation counts its epochs
#: over these: 50 epochs at batch 128 are about 6,800 optimiser steps).
PTBXL_TRAIN_RECORDS = 17_418
_CROPS_PER_BATCH = 1024


def paper_linear_steps(max_epochs: int, batch_size: int, n_train: int) -> int:
    """Optimiser steps of a recipe's linear evaluation: its epochs of the full PTB-XL.

    On fewer training records than PTB-XL's folds 1-8, the paper's number of steps is kept (an
    epoch of 352 records is 3 steps, not 137); on more, the recipe's epochs are.
    """
    return int(max_epochs) * math.ceil(max(int(n_train), PTBXL_TRAIN_RECORDS) / int(batch_size))


def crops_at(x: torch.Tensor, starts: np.ndarray, length: int) -> torch.Tensor:
    """Crops of every record at the given starts, record-major.

    Parameters
    ----------
    x : torch.Tensor of shape (n_records, n_leads, n_samples)
    starts : np.ndarray of shape (n_starts,), int
    length : int
        Crop length in samples.

    Returns
    -------
    torch.Tensor of shape (n_records * n_starts, n_leads, length)
    """
    positions = torch.as_tensor(np.asarray(starts)[:, None] + np.arange(length), device=x.device)
    crops = x[:, :, positions]  # (n_records, n_leads, n_starts, length)
    n_records, n_leads = x.shape[:2]
    return crops.permute(0, 2, 1, 3).reshape(n_records * len(starts), n_leads, length)


def _embed(clf, X, cut) -> torch.Tensor:
    """Backbone features of each piece ``cut(x)`` yields, batch by batch, as float16 on CPU.

    Returns shape (n_records, n_pieces, n_features).
    """
    backbone = clf.module_.backbone
    was_training = backbone.training
    backbone.eval()
    out = []
    try:
        with torch.no_grad():
            n_pieces = None
            start = 0
            while start < len(X):
                step = 1 if n_pieces is None else max(1, _CROPS_PER_BATCH // n_pieces)
                x = torch.as_tensor(np.asarray(X[start:start + step]), dtype=torch.float32,
                                    device=clf.device_)
                pieces = cut(clf._scale_input(x))
                n_pieces = len(pieces) // len(x)
                features = backbone.forward_features(pieces).float()
                out.append(features.reshape(len(x), n_pieces, -1).to("cpu", torch.float16))
                start += step
    finally:
        backbone.train(was_training)
    return torch.cat(out)


def _record_scores(clf, head, window_features: torch.Tensor) -> np.ndarray:
    """Window features (n_records, n_windows, d) -> record probabilities, as ``predict_proba``."""
    n_records, n_windows, _ = window_features.shape
    with torch.no_grad():
        logits = head(window_features.reshape(n_records * n_windows, -1).float().to(clf.device_))
        proba = clf._window_nonlinearity(logits.float())
    record_index = np.repeat(np.arange(n_records), n_windows)
    proba = aggregate_windows(proba, record_index, reduce=clf.aggregate)
    proba = proba.cpu().numpy() if isinstance(proba, torch.Tensor) else np.asarray(proba)
    if clf.aggregate == "max" and not clf.multilabel_:
        proba = proba / proba.sum(axis=1, keepdims=True)
    return proba


def train_linear_layer(clf, X_train, y_train, X_valid, y_valid, *, steps: int,
                       eval_every: int, n_crop_starts: int = 16, random_state: int = 0) -> Bunch:
    """Train the head of an initialised, frozen-encoder ECGClassifier on crop embeddings.

    Parameters
    ----------
    clf : ECGClassifier
        Fitted with ``max_epochs=0`` and ``freeze_encoder=True``: network, input scaling and
        head-only optimiser built, nothing trained. Its head is trained in place and left with
        the weights of the evaluation with the best validation macro AUC.
    X_train, X_valid : array-like of shape (n_records, n_leads, n_samples)
        Records in mV.
    y_train, y_valid : array-like
        Targets as ``clf`` was fitted with (multi-hot or class labels).
    steps : int
        Optimiser steps (batches of ``clf.batch_size`` records, one crop each).
    eval_every : int
        Steps between validation evaluations (one "epoch" of the recipe).
    n_crop_starts : int, default=16
        Evenly spaced crop starts per training record (see the module's note).
    random_state : int

    Returns
    -------
    Bunch
        ``steps``, ``best_step``, ``valid_auc`` (at ``best_step``), ``n_evaluations``,
        ``best_is_last`` and ``valid_aucs`` (one per evaluation).
    """
    n_samples = np.shape(X_train)[2]
    crop = clf.crop_length or n_samples
    starts = np.unique(np.linspace(0, n_samples - crop, n_crop_starts).round().astype(np.int64))
    train_features = _embed(clf, X_train, lambda x: crops_at(x, starts, crop))
    valid_features = _embed(clf, X_valid,
                            lambda x: sliding_windows(x, clf.window, clf.stride)[0])
    targets = torch.as_tensor(clf._encode_targets(y_train, X_train, name="y"))
    generator = torch.Generator().manual_seed(int(random_state))
    head, optimizer = clf.module_.head, clf.optimizer_
    standardise = isinstance(head, LinearHead) and isinstance(head.norm, torch.nn.Identity)
    if standardise:
        mean, sd = _feature_moments(train_features)
        train_features = ((train_features.float() - mean) / sd).half()
        valid_features = ((valid_features.float() - mean) / sd).half()
    threads = torch.get_num_threads()
    if torch.device(clf.device_).type == "cpu":
        # steps on a (batch, features) matrix are too small to share: thread synchronisation
        # made them 10x slower on 2 busy cores (1.2 vs 11 ms per step)
        torch.set_num_threads(1)
    try:
        best, aucs = _train_steps(clf, head, optimizer, train_features, targets, valid_features,
                                  y_valid, steps, eval_every, len(starts), generator)
    finally:
        torch.set_num_threads(threads)
    head.eval()
    if best[2] is not None:
        head.load_state_dict(best[2])
    if standardise:
        _fold_standardisation(head, mean, sd)
    return Bunch(steps=int(steps), best_step=int(best[1]), valid_auc=float(best[0]),
                 n_evaluations=len(aucs), best_is_last=best[1] == steps, valid_aucs=aucs)


def _feature_moments(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature mean and standard deviation over records and crops (1 where constant)."""
    flat = features.reshape(-1, features.shape[-1]).float()
    mean = flat.mean(dim=0)
    sd = flat.std(dim=0)
    return mean, torch.where(sd > 1e-6, sd, torch.ones_like(sd))


def _fold_standardisation(head, mean: torch.Tensor, sd: torch.Tensor) -> None:
    """Turn a layer trained on ``(f - mean) / sd`` into the same map of ``f``."""
    linear = head.linear
    with torch.no_grad():
        mean, sd = mean.to(linear.weight.device), sd.to(linear.weight.device)
        weight = linear.weight / sd
        linear.bias -= weight @ mean
        linear.weight.copy_(weight)


def _train_steps(clf, head, optimizer, train_features, targets, valid_features, y_valid,
                 steps, eval_every, n_starts, generator):
    """The optimiser steps of :func:`train_linear_layer`; returns the best state and AUCs."""
    n_train, batch_size = len(train_features), min(clf.batch_size, len(train_features))
    batches_per_pass = max(1, n_train // batch_size)
    best = (-np.inf, 0, None)
    aucs = []
    head.train()
    for step in range(1, int(steps) + 1):
        position = (step - 1) % batches_per_pass
        if position == 0:
            order = torch.randperm(n_train, generator=generator)
        rows = order[position * batch_size:(position + 1) * batch_size]
        which = torch.randint(n_starts, (len(rows),), generator=generator)
        x = train_features[rows, which].float().to(clf.device_)
        optimizer.zero_grad(set_to_none=True)
        loss = clf.get_loss(head(x), targets[rows].to(clf.device_), training=True)
        loss.backward()
        optimizer.step()
        if step % eval_every == 0 or step == steps:
            head.eval()
            auc = macro_auc(y_valid, _record_scores(clf, head, valid_features))
            head.train()
            aucs.append(auc)
            if auc > best[0]:
                best = (auc, step, {k: v.detach().clone() for k, v in head.state_dict().items()})
    return best, aucs

