"""Base of the view-based methods (SimCLR, BYOL, SwAV): a backbone plus a projection head."""

from __future__ import annotations

import torch
from sklearn.utils._param_validation import StrOptions
from torch import nn

from ..models import BACKBONES, make_backbone
from ._base import BaseSSLEncoder, positive_int

VIEW_PARAMS_DOC = """\
    backbone : str, default="xresnet1d50"
        Backbone name from :data:`skecg.models.BACKBONES` ("xresnet1d18/34/50/101", "cpc").
    width : int, default=64
        Block width of xresnet backbones (the paper's xresnet1d50: 64, a 512-d representation);
        for the "cpc" backbone, the width of its encoder and LSTM.
"""


def two_views(x: torch.Tensor, augment, generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two independently augmented views of the same crops, each (batch, leads, samples)."""
    return augment(x, generator=generator), augment(x, generator=generator)


class ViewEncoderBase(BaseSSLEncoder):
    """Shared backbone construction of SimCLR, BYOL and SwAV."""

    _parameter_constraints: dict = {
        **BaseSSLEncoder._parameter_constraints,
        "backbone": [StrOptions(set(BACKBONES))],
        "width": positive_int(),
        "projection_hidden": positive_int(),
        "projection_dim": positive_int(),
    }

    def _make_backbone(self, n_leads: int) -> nn.Module:
        if self.backbone == "cpc":
            kwargs = {"encoder_width": self.width, "context_width": self.width}
        else:
            kwargs = {"width": self.width}
        return make_backbone(self.backbone, n_leads, **kwargs)
