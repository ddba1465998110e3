"""Backbones and heads.

Every backbone is an ``nn.Module`` with an ``out_features`` attribute and a
``forward_features(x)`` method mapping ``(batch, n_leads, n_samples)`` to
``(batch, out_features)``; ``forward`` is the same map.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .cpc import CPCNetwork
from .heads import LinearHead, PaperHead, ProjectionMLP
from .transformer import (
    STANDARD_LEADS,
    TRANSFORMER_SIZES,
    ECGTransformer,
    TransformerBlock,
    lead_indices,
    patchify,
    sincos_positions,
    transformer,
)
from .xresnet1d import XResNet1d, xresnet1d18, xresnet1d34, xresnet1d50, xresnet1d101

BACKBONES: dict[str, Callable[..., nn.Module]] = {
    "xresnet1d18": xresnet1d18,
    "xresnet1d34": xresnet1d34,
    "xresnet1d50": xresnet1d50,
    "xresnet1d101": xresnet1d101,
    "cpc": CPCNetwork,
    "transformer": transformer,
}


def make_backbone(name: str, n_leads: int, **kwargs) -> nn.Module:
    """Build a registered backbone.

    Parameters
    ----------
    name : str
        One of ``BACKBONES``: "xresnet1d18", "xresnet1d34", "xresnet1d50", "xresnet1d101", "cpc",
        "transformer" (:class:`ECGTransformer`; ``width`` overrides its "small" preset).
    n_leads : int
        Number of input channels.
    **kwargs
        Passed to the backbone's factory (e.g. ``width`` for xresnets, ``context_width`` for CPC).

    Returns
    -------
    nn.Module
        A backbone with ``out_features`` and ``forward_features``.
    """
    try:
        factory = BACKBONES[name]
    except KeyError:
        raise ValueError(
            f"unknown backbone {name!r}; valid names are {sorted(BACKBONES)}"
        ) from None
    return factory(n_leads=n_leads, **kwargs)


__all__ = [
    "BACKBONES",
    "CPCNetwork",
    "ECGTransformer",
    "LinearHead",
    "PaperHead",
    "ProjectionMLP",
    "STANDARD_LEADS",
    "TRANSFORMER_SIZES",
    "TransformerBlock",
    "XResNet1d",
    "lead_indices",
    "make_backbone",
    "patchify",
    "sincos_positions",
    "transformer",
    "xresnet1d18",
    "xresnet1d34",
    "xresnet1d50",
    "xresnet1d101",
]
