"""CMSC: contrastive multi-segment coding (Kiyasseh et al., CLOCS, ICML 2021)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import StrOptions
from torch import Tensor, nn

from ..models import BACKBONES, make_backbone
from ._base import POSITIVE_FLOAT, BaseSSLEncoder, positive_int, register_encoder, store_params
from ._distributed import gather_with_grad
from ._docs import COMMON_PARAMS_DOC
from ._tokens import LEADS_PARAM_DOC, LeadNamesMixin
from ._training import SSLModule
from .losses import cmsc_loss


def adjacent_segments(x: Tensor, n_segments: int = 2) -> Tensor:
    """Cut each crop into ``n_segments`` adjacent, non-overlapping segments of equal length.

    Parameters
    ----------
    x : Tensor of shape (batch, n_leads, n_samples)
    n_segments : int, default=2

    Returns
    -------
    Tensor of shape (n_segments, batch, n_leads, n_samples // n_segments)
        Trailing samples that do not fill a segment are dropped.
    """
    length = x.shape[-1] // n_segments
    if length < 1:
        raise ValueError(f"{x.shape[-1]} samples cannot make {n_segments} segments.")
    return x[..., :n_segments * length].unflatten(-1, (n_segments, length)).permute(2, 0, 1, 3)


class CMSCModule(SSLModule):
    """Backbone embedding of two adjacent segments per crop; CMSC contrast between them."""

    def __init__(self, backbone: nn.Module, temperature: float):
        super().__init__()
        self.backbone = backbone
        self.temperature = temperature

    def training_loss(self, x, augment, generator) -> torch.Tensor:
        first, second = adjacent_segments(augment(x, generator=generator))
        z = F.normalize(self.backbone.forward_features(torch.cat([first, second])), dim=1)
        a, b = z.float().chunk(2)
        # every rank scores the global batch (the one-process loss; see _distributed)
        return cmsc_loss(gather_with_grad(a), gather_with_grad(b), self.temperature)


@register_encoder
class CMSCEncoder(LeadNamesMixin, BaseSSLEncoder):
    __doc__ = f"""CMSC encoder: contrastive multi-segment coding (Kiyasseh et al. 2021).

    Each training crop is cut into two adjacent, non-overlapping segments; the backbone embeds
    both (L2-normalised), and a symmetric contrastive loss with temperature 0.1 makes the two
    segments of a record each other's positive and every other segment in the batch a negative.
    No projection head (as the authors). ``transform`` returns the backbone representation
    averaged over sliding windows of one segment length.

    Parameters
    ----------
    backbone : str, default="xresnet1d50"
        Backbone name from :data:`skecg.models.BACKBONES`; "transformer" is the token model
        (then ``width`` overrides its "small" preset and ``leads`` may name any subset).
    width : int, default=64
        Block width of xresnet backbones; token width of "transformer".
    patch_length : int, default=25
        Samples per token of the "transformer" backbone (ignored by the others).
    temperature : float, default=0.1
{LEADS_PARAM_DOC}{COMMON_PARAMS_DOC}
    Notes
    -----
    Authors' configuration (CLOCS): each *lead* of a 10-s Chapman record at 500 Hz is an
    instance; its two 5-s halves are the views, min-max scaled, with no augmentation; a 3-layer
    single-lead CNN (45 k parameters); positives also include every other lead and record of
    the same patient; Adam, lr 1e-4, batch 256, up to 400 epochs with early stopping.
    skecg follows the fairseq-signals variant: a 12-lead record is the instance, its two 5-s
    halves at 100 Hz (``crop_length=1000``) the views, positives are the two segments of one
    record (``fit`` has no patient ids), and the backbone is skecg's (xresnet1d50 by default).
    """

    _negatives_from_batch = True
    _parameter_constraints: dict = {
        **BaseSSLEncoder._parameter_constraints,
        "backbone": [StrOptions(set(BACKBONES))],
        "width": positive_int(),
        "patch_length": positive_int(),
        "temperature": POSITIVE_FLOAT,
        "leads": [list, tuple, None],
    }

    def __init__(
        self,
        backbone: str = "xresnet1d50",
        width: int = 64,
        patch_length: int = 25,
        temperature: float = 0.1,
        leads: list | None = None,
        input_scaling: str = "mV",
        crop_length: int | None = 1000,
        window: int = 500,
        stride: int = 250,
        aggregate: str | None = "mean",
        augmentations=None,
        fs: float = 100,
        batch_size: int = 256,
        max_epochs: int = 50,
        optimizer: str = "adam",
        lr: float = 1e-4,
        weight_decay: float = 0.0,
        warmup_epochs: int = 0,
        lr_schedule: str | None = None,
        validation_fraction: float | None = None,
        early_stopping_patience: int | None = None,
        checkpoint_dir: str | None = None,
        resume: bool = False,
        warm_start: bool = False,
        transform_batch_size: int = 256,
        num_workers: int = 0,
        callbacks: list | None = None,
        precision: int | str = 32,
        device: str = "cpu",
        random_state=None,
        verbose: int = 0,
    ):
        store_params(self, locals())

    def _build_module(self, n_leads: int) -> CMSCModule:
        if self.backbone == "transformer":
            kwargs = {"width": self.width, "patch_length": self.patch_length,
                      "leads": self._build_leads(n_leads)}
        elif self.backbone == "cpc":
            kwargs = {"encoder_width": self.width, "context_width": self.width}
        else:
            kwargs = {"width": self.width}
        return CMSCModule(make_backbone(self.backbone, n_leads, **kwargs), self.temperature)
