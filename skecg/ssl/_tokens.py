"""Shared parts of the encoders on per-lead tokens (ST-MEM, JEPA; CMSC with a transformer).

``leads`` names the channels of the ``X`` passed to ``fit`` and ``transform``. A token model
reads any named subset of the leads it was trained on (or of the 12 standard leads): fit on 12
leads, then ``encoder.set_params(leads=["I", "II"]).transform(X[:, :2])``. A convolutional
backbone keeps the lead count it was fitted with.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .._validation import check_ecg_array
from ..models import (
    STANDARD_LEADS,
    TRANSFORMER_SIZES,
    ECGTransformer,
    lead_indices,
    transformer,
)
from ._base import BaseSSLEncoder, positive_int

LEADS_PARAM_DOC = """\
    leads : list of str or None, default=None
        Names of the leads (channels) of ``X``, in order, from ``skecg.models.STANDARD_LEADS``
        ("I", "II", "III", "aVR", "aVL", "aVF", "V1".."V6"); None: the first ``n_leads``
        standard leads (all 12 for PTB-XL). It names the ``X`` of the next ``fit`` or
        ``transform``: a transformer encoder fitted on 12 leads embeds lead I and II alone with
        ``set_params(leads=["I", "II"]).transform(X[:, :2])`` (a shorter token sequence, no
        zero-fill).
"""

TOKEN_PARAMS_DOC = """\
    size : str, default={size!r}
        Transformer size preset from ``skecg.models.TRANSFORMER_SIZES`` ("tiny", "small",
        "stmem-s", "stmem-b", "jepa-xs", "jepa-s", "jepa-b"); "tiny" is for tests on a CPU.
    width, depth, n_heads : int or None, default=None
        Override the preset's token width, number of blocks and heads.
    patch_length : int, default={patch}
        Samples per patch token ({patch_s} at 100 Hz); samples after the last whole patch of a
        window are ignored.
""" + LEADS_PARAM_DOC

TOKEN_CONSTRAINTS: dict = {
    "size": [StrOptions(set(TRANSFORMER_SIZES))],
    "width": [*positive_int(), None],
    "depth": [*positive_int(), None],
    "n_heads": [*positive_int(), None],
    "patch_length": positive_int(),
    "leads": [list, tuple, None],
}


def transformers_in(module: nn.Module) -> Iterator[ECGTransformer]:
    """Every :class:`ECGTransformer` inside ``module`` (online and target encoders)."""
    return (m for m in module.modules() if isinstance(m, ECGTransformer))


class LeadNamesMixin:
    """``leads`` names X's channels; token backbones read any named subset (left of the base)."""

    def fit(self, X, y=None):
        self._check_params()
        X = check_ecg_array(X, name="X")
        lead_indices(self.leads, X.shape[1])  # names and count agree, before any training
        return super().fit(X, y)

    def _build_leads(self, n_leads: int) -> list[int]:
        """Lead ids of the network built for ``n_leads`` channels (fit, resume or load)."""
        if self.leads is not None and len(self.leads) == n_leads:
            return lead_indices(self.leads, n_leads)
        return lead_indices(None, n_leads)  # a loaded model whose leads were changed later

    def _check_leads(self, X: np.ndarray) -> None:
        lead_indices(self.leads, X.shape[1])
        if not any(transformers_in(self.module_.backbone)) and X.shape[1] != self.n_leads_in_:
            raise ValueError(f"X has {X.shape[1]} leads, but {type(self).__name__} was fitted on "
                             f"{self.n_leads_in_} leads with a convolutional backbone (zero-"
                             "fill a subset with skecg.preprocessing.fill_leads).")

    @contextmanager
    def _reading_leads(self, n_leads: int):
        """Name the leads of the next inputs in every transformer; restore them afterwards."""
        ids = lead_indices(self.leads, n_leads)
        models = list(transformers_in(self.module_))
        before = [m.input_leads for m in models]
        saved = {k: getattr(self, k, None) for k in ("input_mean_", "input_scale_")}
        if saved["input_mean_"] is not None and models and tuple(ids) != before[0]:
            mean, scale = np.asarray(saved["input_mean_"]), np.asarray(saved["input_scale_"])
            if not mean.any() and (scale == 1).all():  # "mV": records used as they are
                self.input_mean_ = np.zeros(n_leads, np.float32)
                self.input_scale_ = np.ones(n_leads, np.float32)
            else:  # "standardize": the fitted statistics of these leads, by name
                missing = [STANDARD_LEADS[i] for i in ids if i not in before[0]]
                if missing:
                    raise ValueError(f"input_scaling='standardize' has statistics of the "
                                     f"fitted leads only; {missing} were not among them.")
                rows = [before[0].index(i) for i in ids]
                self.input_mean_, self.input_scale_ = mean[rows], scale[rows]
        for m in models:
            m.set_input_leads(ids, n_leads)
        try:
            yield
        finally:
            for m, old in zip(models, before, strict=True):
                m.input_leads = old
            for k, v in saved.items():
                if v is not None:
                    setattr(self, k, v)

    def transform_windows(self, X) -> tuple[np.ndarray, np.ndarray]:
        check_is_fitted(self, "module_")
        X = check_ecg_array(X, name="X")
        self._check_leads(X)
        with self._reading_leads(X.shape[1]):
            return super().transform_windows(X)

    def _train(self, train, X, **fit_params) -> None:
        if hasattr(self, "module_") and getattr(self.net_, "initialized_", False):
            self._check_leads(X)  # partial_fit / warm start: train on the names given now
            for m in transformers_in(self.module_):
                m.set_input_leads(lead_indices(self.leads, X.shape[1]), X.shape[1])
        super()._train(train, X, **fit_params)


class TokenEncoderBase(LeadNamesMixin, BaseSSLEncoder):
    """Base of the encoders whose backbone is an :class:`~skecg.models.ECGTransformer`."""

    _parameter_constraints: dict = {**BaseSSLEncoder._parameter_constraints, **TOKEN_CONSTRAINTS}

    def _make_transformer(self, n_leads: int) -> ECGTransformer:
        return transformer(n_leads, size=self.size, width=self.width, depth=self.depth,
                           n_heads=self.n_heads, patch_length=self.patch_length,
                           leads=self._build_leads(n_leads))
