"""BYOL: online network with predictor, momentum (EMA) target network, no negatives."""

from __future__ import annotations

import copy
import math
from numbers import Real

import torch
from sklearn.utils._param_validation import Interval
from torch import nn

from ..models import ProjectionMLP
from ._base import register_encoder, store_params
from ._docs import COMMON_PARAMS_DOC
from ._training import SSLModule
from ._views import VIEW_PARAMS_DOC, ViewEncoderBase, two_views
from .losses import byol_loss

_TARGET_PREFIX = "target_"


class BYOLModule(SSLModule):
    """Online backbone, projector and predictor; a target copy updated as their EMA.

    The target's parameters are excluded from :meth:`learnable_parameters`, so the optimiser
    never sees them; :meth:`after_optimizer_step` moves them towards the online network with a
    momentum rising from ``base_momentum`` to 1 on a cosine schedule.
    """

    def __init__(self, backbone: nn.Module, hidden: int, dim: int, base_momentum: float):
        super().__init__()
        self.backbone = backbone
        self.projector = ProjectionMLP(backbone.out_features, hidden, dim)
        self.predictor = ProjectionMLP(dim, hidden, dim)
        self.target_backbone = copy.deepcopy(backbone).requires_grad_(False)
        self.target_projector = copy.deepcopy(self.projector).requires_grad_(False)
        self.base_momentum = base_momentum
        self.momentum = base_momentum

    def learnable_parameters(self):
        return ((n, p) for n, p in self.named_parameters() if not n.startswith(_TARGET_PREFIX))

    def _momentum_pairs(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        online = [*self.backbone.parameters(), *self.projector.parameters()]
        target = [*self.target_backbone.parameters(), *self.target_projector.parameters()]
        return target, online

    def on_batch_begin(self, epoch: int, progress: float) -> None:
        self.momentum = 1 - (1 - self.base_momentum) * (math.cos(math.pi * progress) + 1) / 2

    @torch.no_grad()
    def after_optimizer_step(self) -> None:
        target, online = self._momentum_pairs()
        torch._foreach_lerp_(target, online, 1.0 - self.momentum)

    def training_loss(self, x, augment, generator) -> torch.Tensor:
        views = torch.cat(two_views(x, augment, generator))
        p1, p2 = self.predictor(self.projector(self.backbone.forward_features(views))).chunk(2)
        with torch.no_grad():
            t1, t2 = self.target_projector(self.target_backbone.forward_features(views)).chunk(2)
        return byol_loss(p1, t2) + byol_loss(p2, t1)


@register_encoder
class BYOLEncoder(ViewEncoderBase):
    __doc__ = f"""BYOL encoder for ECG (Grill et al. 2020, as in Mehari & Strodthoff 2022).

    The online network (backbone, projector, predictor) predicts the target network's projection
    of the other view; the target is an exponential moving average of the online network.

    Parameters
    ----------
{VIEW_PARAMS_DOC}    projection_hidden : int, default=512
        Hidden size of projector and predictor (Linear-BN-ReLU-Linear).
    projection_dim : int, default=128
        Output of projector and predictor; 16 in the paper's reference configuration.
    base_momentum : float, default=0.996
        EMA momentum at the start; it rises to 1 on a cosine schedule over the fit.
{COMMON_PARAMS_DOC}"""

    _parameter_constraints: dict = {
        **ViewEncoderBase._parameter_constraints,
        "base_momentum": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        backbone: str = "xresnet1d50",
        width: int = 64,
        projection_hidden: int = 512,
        projection_dim: int = 128,
        base_momentum: float = 0.996,
        input_scaling: str = "mV",
        crop_length: int | None = 250,
        window: int = 250,
        stride: int = 125,
        aggregate: str | None = "mean",
        augmentations=("RandomResizedCrop", "TimeOut"),
        fs: float = 100,
        batch_size: int = 256,
        max_epochs: int = 50,
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        warmup_epochs: int = 0,
        lr_schedule: str | None = "cosine",
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

    def _build_module(self, n_leads: int) -> BYOLModule:
        return BYOLModule(self._make_backbone(n_leads), self.projection_hidden,
                          self.projection_dim, self.base_momentum)
