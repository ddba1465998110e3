"""Torch plumbing shared by the self-supervised encoders and the classifier.

Device resolution, optimiser lookup, autocast precision and the one builder of optimiser
parameter groups (learning-rate factors per part of a network, no weight decay on biases and
normalisation parameters).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager

import numpy as np
import torch
from skorch.dataset import Dataset
from torch import nn

__all__ = ["OPTIMIZERS", "PRECISIONS", "ECGDataset", "autocast", "get_optimizer", "param_groups",
           "resolve_device", "rng_devices"]

OPTIMIZERS = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}
PRECISIONS = {
    32: None, "32": None, "bf16": torch.bfloat16, "fp16": torch.float16, 16: torch.float16,
}


def resolve_device(device: str) -> str:
    """Map ``"auto"`` to ``"cuda"`` when a GPU is present, else ``"cpu"``; check the others."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        kind = None
    if kind not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be 'cpu', 'cuda[:N]', 'mps' or 'auto'; got {device!r}.")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available here; "
                         "use device='cpu' or 'auto'.")
    return device


def rng_devices() -> list[int]:
    """CUDA devices whose RNG :func:`torch.random.fork_rng` must save and restore."""
    return [torch.cuda.current_device()] if torch.cuda.is_available() else []


def get_optimizer(optimizer) -> type:
    """The optimiser class of a name from :data:`OPTIMIZERS` (a class is returned as is)."""
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)} or a torch "
                             f"optimizer class; got {optimizer!r}.")
        return OPTIMIZERS[optimizer]
    return optimizer


def autocast(device: str, precision) -> AbstractContextManager:
    """Autocast context of ``precision`` (32: disabled, "bf16", "fp16") on ``device``."""
    dtype = PRECISIONS[precision]
    return torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype is not None)


def param_groups(
    parts: Mapping[str, tuple[Iterable[nn.Parameter], float]],
    lr: float,
    weight_decay: float,
) -> list[dict]:
    """Optimiser parameter groups: one per part and decay kind.

    Parameters
    ----------
    parts : mapping of name to (parameters, lr_factor)
        Parts of the network (e.g. "encoder", "context", "head") with their learning-rate
        factor. A parameter listed in two parts stays in the first.
    lr : float
        Base learning rate: a part learns at ``lr * lr_factor``.
    weight_decay : float
        Weight decay of weight matrices and kernels; biases and normalisation parameters
        (tensors of one dimension) get none.

    Returns
    -------
    groups : list of dict
        Non-empty groups with ``params``, ``lr``, ``weight_decay``, ``name`` (the part, with
        ``"_no_decay"`` appended for the second kind) and ``lr_factor``, ready for a torch
        optimiser.
    """
    groups, seen = [], set()
    for name, (params, factor) in parts.items():
        params = [p for p in params if id(p) not in seen]
        seen.update(id(p) for p in params)
        for suffix, decay, selected in (
            ("", weight_decay, [p for p in params if p.ndim > 1]),
            ("_no_decay", 0.0, [p for p in params if p.ndim <= 1]),
        ):
            if selected:
                groups.append({"params": selected, "lr": lr * factor, "weight_decay": decay,
                               "name": name + suffix, "lr_factor": factor})
    return groups


class ECGDataset(Dataset):
    """skorch's :class:`~skorch.dataset.Dataset`, safe on read-only record arrays.

    A cached PTB-XL array is a read-only ``np.memmap``; torch warns on every batch made from
    read-only memory (and would let a model write into the cache). Each record read from such
    an array is copied (one record at a time, never the whole array).
    """

    def transform(self, X, y):
        if isinstance(X, np.ndarray) and not X.flags.writeable:
            X = np.array(X)
        return super().transform(X, y)
