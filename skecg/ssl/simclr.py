"""SimCLR: two augmented views, MLP projection, NT-Xent."""

from __future__ import annotations

import torch
from torch import nn

from ..models import ProjectionMLP
from ._base import POSITIVE_FLOAT, register_encoder, store_params
from ._distributed import gather_with_grad
from ._docs import COMMON_PARAMS_DOC
from ._training import SSLModule
from ._views import VIEW_PARAMS_DOC, ViewEncoderBase, two_views
from .losses import NTXentLoss


class SimCLRModule(SSLModule):
    """Backbone + projection; NT-Xent between the two views of each crop."""

    def __init__(self, backbone: nn.Module, hidden: int, dim: int, temperature: float):
        super().__init__()
        self.backbone = backbone
        self.projector = ProjectionMLP(backbone.out_features, hidden, dim, batch_norm=False)
        self.nt_xent = NTXentLoss(temperature=temperature)

    def training_loss(self, x, augment, generator) -> torch.Tensor:
        views = torch.cat(two_views(x, augment, generator))
        z1, z2 = self.projector(self.backbone.forward_features(views)).chunk(2)
        # every rank scores the global batch (exactly the one-process loss; see _distributed)
        return self.nt_xent(gather_with_grad(z1), gather_with_grad(z2))


@register_encoder
class SimCLREncoder(ViewEncoderBase):
    __doc__ = f"""SimCLR encoder for ECG (Chen et al. 2020, as in Mehari & Strodthoff 2022).

    Two augmented views of each 2.5 s crop go through the backbone and an MLP projection
    (``backbone.out_features -> projection_hidden -> ReLU -> projection_dim``); NT-Xent pulls the
    views of a crop together. ``transform`` returns the backbone representation (512-d for the
    paper's xresnet1d50) averaged over sliding windows.

    Parameters
    ----------
{VIEW_PARAMS_DOC}    projection_hidden : int, default=512
    projection_dim : int, default=16
        Output of the projection head (16 in the paper's configuration).
    temperature : float, default=0.5
{COMMON_PARAMS_DOC}
    Notes
    -----
    Paper configuration: RandomResizedCrop + TimeOut on 2.5 s crops, batch 4096, Adam with
    lr 2.29e-3, weight decay 1e-5, 10 warm-up epochs then cosine, 2000 epochs.
    """

    _negatives_from_batch = True
    _parameter_constraints: dict = {
        **ViewEncoderBase._parameter_constraints, "temperature": POSITIVE_FLOAT,
    }

    def __init__(
        self,
        backbone: str = "xresnet1d50",
        width: int = 64,
        projection_hidden: int = 512,
        projection_dim: int = 16,
        temperature: float = 0.5,
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

    def _build_module(self, n_leads: int) -> SimCLRModule:
        return SimCLRModule(self._make_backbone(n_leads), self.projection_hidden,
                            self.projection_dim, self.temperature)
