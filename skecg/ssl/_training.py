"""The skorch training machinery shared by every self-supervised method.

``SSLNet`` is a small :class:`skorch.NeuralNet` subclass: it overrides the single training and
validation steps (random crop, augment, ask the method's module for its loss), the optimiser
set-up (no weight decay on biases and BatchNorm) and the learnable parameters (so a momentum
target network never reaches the optimiser). Everything else -- epochs, history, validation
split, early stopping, checkpoints, progress bars, device handling -- is skorch's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import unpack_data
from torch import nn

from .._torch import PRECISIONS, autocast, param_groups
from ..preprocessing import random_crops
from ._distributed import DataParallelMixin, rank


class SSLModule(nn.Module):
    """Base class of a self-supervised method: a backbone plus the method's heads and loss.

    Subclasses implement :meth:`training_loss`; they may override :meth:`learnable_parameters`
    (to keep a target network out of the optimiser) and the training hooks.
    The backbone must expose ``forward_features(x) -> (batch, out_features)``.
    """

    backbone: nn.Module
    #: convert BatchNorm to SyncBatchNorm in data-parallel CUDA runs (global batch statistics)
    sync_batchnorm: bool = True

    def training_loss(
        self, x: torch.Tensor, augment: Callable, generator: torch.Generator | None
    ) -> torch.Tensor:
        """Self-supervised loss of one batch of crops ``x`` of shape (batch, leads, samples)."""
        raise NotImplementedError

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Representation of windows ``x`` (batch, leads, samples) -> (batch, out_features)."""
        return self.backbone.forward_features(x)

    def learnable_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        """Named parameters the optimiser updates (all of them by default)."""
        return self.named_parameters()

    def on_batch_begin(self, epoch: int, progress: float) -> None:
        """Called before each training step; ``progress`` runs from 0 to 1 over the whole fit."""

    def after_optimizer_step(self) -> None:
        """Called after each optimiser step (momentum updates, weight normalisation)."""

    def training_state(self) -> dict:
        """State outside ``state_dict`` that training carries across steps (copied, on CPU)."""
        return {}

    def load_training_state(self, state: dict) -> None:
        """Restore what :meth:`training_state` returned (checkpoint resume, interrupts)."""


class WarmupCosine:
    """Learning-rate factor: linear warm-up, then cosine decay to 0 (picklable ``lr_lambda``).

    Parameters
    ----------
    total_steps : int
        Number of optimiser steps of the whole fit.
    warmup_steps : int
        Steps of linear warm-up from ``1 / warmup_steps`` to 1.
    cosine : bool
        Decay with a half cosine after the warm-up; constant 1 otherwise.
    """

    def __init__(self, total_steps: int, warmup_steps: int = 0, cosine: bool = True):
        self.total_steps = max(1, int(total_steps))
        self.warmup_steps = max(0, int(warmup_steps))
        self.cosine = cosine

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if not self.cosine:
            return 1.0
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return 0.5 * (1.0 + math.cos(math.pi * progress))


class ModuleHooks(Callback):
    """Tells the method's module where training stands, and lets it act after each step."""

    def __init__(self, total_steps: int):
        self.total_steps = total_steps

    def initialize(self):
        self.step_ = 0
        return self

    def on_train_begin(self, net, **kwargs):
        self.step_ = 0  # progress restarts with each fit / partial_fit, like the LR schedule

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            epoch = max(0, len(net.history) - 1)
            net.module_.on_batch_begin(epoch, min(1.0, self.step_ / max(1, self.total_steps)))

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            self.step_ += 1
            net.module_.after_optimizer_step()


class SSLNet(DataParallelMixin, NeuralNet):
    """skorch net that trains an :class:`SSLModule` on unlabelled ECG batches.

    Extra parameters (beyond :class:`skorch.NeuralNet`'s)
    ------------------------------------------------------
    crop_length : int or None
        Samples of the random crop taken from each record per step (None: whole record).
    augment : callable
        Batched augmentation ``augment(x, generator=...) -> x`` applied by the module.
    precision : {32, "bf16", "fp16"}
        Autocast dtype of the forward pass.
    seed : int
        Seed of the crop/augmentation generator.
    input_stats : (torch.Tensor, torch.Tensor) or None
        Per-lead ``(mean, scale)`` of shape (n_leads, 1) applied to each crop before the
        module (the encoder's ``input_scaling``); None: records are used as they are.
    """

    def __init__(self, *args, crop_length=None, augment=None, precision=32, seed=0,
                 input_stats=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.input_stats = input_stats
        self.crop_length = crop_length
        self.augment = augment
        self.precision = precision
        self.seed = seed

    def initialize(self):
        super().initialize()
        self.generator_ = torch.Generator(device=self.device).manual_seed(self.seed + rank())
        fp16 = PRECISIONS[self.precision] is torch.float16
        self.grad_scaler_ = torch.amp.GradScaler(torch.device(self.device).type) if fp16 else None
        return self

    def get_all_learnable_params(self):
        yield from self.module_.learnable_parameters()

    def initialize_optimizer(self, triggered_directly=None):
        """Build the optimiser with weight decay on weights only (not biases, not BatchNorm)."""
        named = list(self.get_all_learnable_params())
        kwargs = self.get_params_for("optimizer")
        kwargs.setdefault("lr", self.lr)
        weight_decay = kwargs.pop("weight_decay", 0.0)
        groups = param_groups({"all": ([p for _, p in named], 1.0)}, kwargs["lr"], weight_decay)
        self.optimizer_ = self.optimizer(groups, **kwargs)
        return self

    def ssl_loss(self, batch) -> torch.Tensor:
        """Crop, augment and score one batch of records with the module's loss."""
        Xi, _ = unpack_data(batch)
        x = torch.as_tensor(Xi, device=self.device, dtype=torch.float32)
        if self.crop_length is not None:
            x = random_crops(x, self.crop_length, generator=self.generator_)
        if self.input_stats is not None:  # the encoder's input scaling (per-lead mean, scale)
            x = (x - self.input_stats[0]) / self.input_stats[1]
        with autocast(self.device, self.precision):
            loss = self.module_training_loss(x, self.augment, self.generator_)
        return loss.float()

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        loss = self.ssl_loss(batch)
        if self.grad_scaler_ is not None:
            self.grad_scaler_.scale(loss).backward()
        else:
            loss.backward()
        return {"loss": loss, "y_pred": loss.detach()}

    def train_step(self, batch, **fit_params):
        if self.grad_scaler_ is None:
            return super().train_step(batch, **fit_params)
        # GradScaler cannot step an optimiser through skorch's closure: step it directly.
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        self.grad_scaler_.step(self.optimizer_)
        self.grad_scaler_.update()
        return step

    def validation_step(self, batch, **fit_params):
        self._set_training(False)
        with torch.no_grad():
            loss = self.ssl_loss(batch)
        return {"loss": loss, "y_pred": loss}
