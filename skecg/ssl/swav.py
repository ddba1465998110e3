"""SwAV: online clustering with prototypes, Sinkhorn-Knopp codes, swapped prediction."""

from __future__ import annotations

from numbers import Real

import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval
from torch import nn

from ..models import ProjectionMLP
from ..preprocessing import random_crops
from ._base import POSITIVE_FLOAT, positive_int, register_encoder, store_params
from ._distributed import gather_with_grad
from ._docs import COMMON_PARAMS_DOC
from ._training import SSLModule
from ._views import VIEW_PARAMS_DOC, ViewEncoderBase
from .losses import SwAVLoss

_CROPS_FOR_ASSIGN = (0, 1)


class SwAVModule(SSLModule):
    """Backbone, projection and prototypes; codes from the first two views.

    Parameters
    ----------
    backbone : nn.Module
    hidden, dim : int
        Projection sizes (paper: 2048, 128).
    n_prototypes : int
    loss : SwAVLoss
    n_views : int
        Full-size views (at least 2).
    n_small_views : int
        Extra multi-crop views, random crops of ``small_view_fraction`` of the crop length.
    small_view_fraction : float
    queue_length : int
        Past projections kept per assigned view to stabilise Sinkhorn with small batches
        (0: no queue); used from ``queue_start_epoch`` on.
    queue_start_epoch : int
    freeze_prototypes_epochs : int
        Epochs during which the prototypes receive no gradient.
    """

    ddp_find_unused_parameters = True  # frozen prototypes get no gradient in the first epochs

    def __init__(self, backbone: nn.Module, hidden: int, dim: int, n_prototypes: int,
                 loss: SwAVLoss, n_views: int, n_small_views: int, small_view_fraction: float,
                 queue_length: int, queue_start_epoch: int, freeze_prototypes_epochs: int):
        super().__init__()
        self.backbone = backbone
        self.projector = ProjectionMLP(backbone.out_features, hidden, dim)
        self.prototypes = nn.Linear(dim, n_prototypes, bias=False)
        self.swav_loss = loss
        self.n_views = n_views
        self.n_small_views = n_small_views
        self.small_view_fraction = small_view_fraction
        self.queue_start_epoch = queue_start_epoch
        self.freeze_prototypes_epochs = freeze_prototypes_epochs
        self.register_buffer("queue", torch.zeros(len(_CROPS_FOR_ASSIGN), queue_length, dim),
                             persistent=False)
        self.queue_filled = 0
        self.epoch = 0
        self.after_optimizer_step()

    def on_batch_begin(self, epoch: int, progress: float) -> None:
        self.epoch = epoch

    @torch.no_grad()
    def after_optimizer_step(self) -> None:
        self.prototypes.weight.copy_(F.normalize(self.prototypes.weight, dim=1))

    def training_state(self) -> dict:
        return {"queue": self.queue.detach().cpu().clone(), "queue_filled": self.queue_filled}

    @torch.no_grad()
    def load_training_state(self, state: dict) -> None:
        if state:
            self.queue.copy_(state["queue"])
            self.queue_filled = int(state["queue_filled"])

    def _project(self, views: list[torch.Tensor]) -> list[torch.Tensor]:
        z = F.normalize(self.projector(self.backbone.forward_features(torch.cat(views))), dim=1)
        # the global batch on every rank: Sinkhorn codes over it, identical queues on all ranks
        return [gather_with_grad(zi) for zi in z.chunk(len(views))]

    def training_loss(self, x, augment, generator) -> torch.Tensor:
        large = [augment(x, generator=generator) for _ in range(self.n_views)]
        z = self._project(large)
        if self.n_small_views:
            small_length = max(1, int(round(x.shape[-1] * self.small_view_fraction)))
            small = [random_crops(augment(x, generator=generator), small_length, generator)
                     for _ in range(self.n_small_views)]
            z += self._project(small)
        weight = self.prototypes.weight
        if self.epoch < self.freeze_prototypes_epochs:
            weight = weight.detach()
        scores = [zi @ weight.T for zi in z]
        queue_scores = None
        use_queue = self.queue.shape[1] > 0 and self.epoch >= self.queue_start_epoch
        if use_queue and self.queue_filled >= self.queue.shape[1]:
            queue_scores = [q @ weight.detach().T for q in self.queue]
        loss = self.swav_loss(scores, queue_scores)
        if use_queue:
            self._enqueue(torch.stack([z[i].detach() for i in _CROPS_FOR_ASSIGN]))
        return loss

    @torch.no_grad()
    def _enqueue(self, z: torch.Tensor) -> None:
        batch = min(z.shape[1], self.queue.shape[1])
        self.queue.copy_(torch.cat([z[:, :batch].to(self.queue), self.queue[:, :-batch]], dim=1))
        self.queue_filled = min(self.queue.shape[1], self.queue_filled + batch)


@register_encoder
class SwAVEncoder(ViewEncoderBase):
    __doc__ = f"""SwAV encoder for ECG (Caron et al. 2020, as in Mehari & Strodthoff 2022).

    Projections of each view are scored against learnable prototypes; Sinkhorn-Knopp turns the
    scores of the first two views into balanced soft codes that every other view must predict.

    Parameters
    ----------
{VIEW_PARAMS_DOC}    projection_hidden : int, default=2048
    projection_dim : int, default=128
    n_prototypes : int, default=3000
    temperature : float, default=0.1
    sinkhorn_epsilon : float, default=0.05
    sinkhorn_iterations : int, default=3
    n_views : int, default=2
        Full-size augmented views per crop.
    n_small_views : int, default=0
        Multi-crop: extra views cut to ``small_view_fraction`` of the crop.
    small_view_fraction : float, default=0.5
    queue_length : int, default=0
        Queue of past projections per assigned view (paper: 8x the batch size); 0 disables it.
    queue_start_epoch : int, default=15
    freeze_prototypes_epochs : int, default=1
{COMMON_PARAMS_DOC}
    Notes
    -----
    The paper's reference run: ``n_views=6`` views of 250 samples (``crop_length=250``), no
    small views, batch 4096, Adam with lr 1e-3 and weight decay 1e-6, a queue of 8x the batch
    size from epoch 15, prototypes frozen in the first epoch, 2000 epochs.
    """

    _parameter_constraints: dict = {
        **ViewEncoderBase._parameter_constraints,
        "n_prototypes": positive_int(),
        "temperature": POSITIVE_FLOAT,
        "sinkhorn_epsilon": POSITIVE_FLOAT,
        "sinkhorn_iterations": positive_int(),
        "n_views": positive_int(2),
        "n_small_views": positive_int(0),
        "small_view_fraction": [Interval(Real, 0, 1, closed="right")],
        "queue_length": positive_int(0),
        "queue_start_epoch": positive_int(0),
        "freeze_prototypes_epochs": positive_int(0),
    }

    def __init__(
        self,
        backbone: str = "xresnet1d50",
        width: int = 64,
        projection_hidden: int = 2048,
        projection_dim: int = 128,
        n_prototypes: int = 3000,
        temperature: float = 0.1,
        sinkhorn_epsilon: float = 0.05,
        sinkhorn_iterations: int = 3,
        n_views: int = 2,
        n_small_views: int = 0,
        small_view_fraction: float = 0.5,
        queue_length: int = 0,
        queue_start_epoch: int = 15,
        freeze_prototypes_epochs: int = 1,
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

    def _build_module(self, n_leads: int) -> SwAVModule:
        if self.n_views < 2:
            raise ValueError(f"n_views must be at least 2; got {self.n_views}.")
        loss = SwAVLoss(self.temperature, self.sinkhorn_epsilon, self.sinkhorn_iterations,
                        _CROPS_FOR_ASSIGN)
        return SwAVModule(
            self._make_backbone(n_leads), self.projection_hidden, self.projection_dim,
            self.n_prototypes, loss, self.n_views, self.n_small_views, self.small_view_fraction,
            self.queue_length, self.queue_start_epoch, self.freeze_prototypes_epochs,
        )
