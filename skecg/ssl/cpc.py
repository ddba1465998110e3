"""Contrastive predictive coding (CPC): pointwise/strided encoder, LSTM context, InfoNCE."""

from __future__ import annotations

import torch
from sklearn.utils._param_validation import StrOptions
from torch import nn

from ..models import CPCNetwork
from ._base import BaseSSLEncoder, positive_int, register_encoder, store_params
from ._docs import COMMON_PARAMS_DOC
from ._training import SSLModule
from .losses import InfoNCELoss, cpc_loss_inputs


class CPCModule(SSLModule):
    """CPC network + linear predictor; predicts the token ``steps`` ahead from the context.

    Parameters
    ----------
    backbone : CPCNetwork
    steps : int
        Prediction horizon in tokens (paper: 12).
    n_negatives : int
        Negatives per prediction (paper: 128).
    negatives : {"sequence", "batch"}
        Draw negatives from the same sequence (paper) or from the whole batch.
    """

    # negatives come from the same sequence, so per-process BatchNorm statistics leak nothing
    # between records, and each channel is normalised over batch x time steps
    sync_batchnorm = False

    def __init__(self, backbone: CPCNetwork, steps: int, n_negatives: int, negatives: str):
        super().__init__()
        self.backbone = backbone
        self.predictor = nn.Linear(backbone.context_width, backbone.encoder_width, bias=False)
        self.info_nce = InfoNCELoss(n_negatives=n_negatives, negatives=negatives)
        self.steps = steps

    def training_loss(self, x, augment, generator) -> torch.Tensor:
        tokens = self.backbone.encode(augment(x, generator=generator))
        context = self.backbone.context(tokens)
        predictions, _ = cpc_loss_inputs(context, tokens, self.predictor, self.steps)
        # as the reference: negatives from all T tokens, InfoNCE summed over the positions
        return self.info_nce(predictions, tokens, generator=generator, offset=self.steps)


@register_encoder
class CPCEncoder(BaseSSLEncoder):
    __doc__ = f"""Contrastive predictive coding encoder for ECG (Mehari & Strodthoff 2022).

    A per-timestep convolutional encoder produces one token per sample (or per 16 samples with
    the strided encoder); a unidirectional LSTM summarises the past; a linear map predicts the
    token ``steps`` ahead, scored by InfoNCE against ``n_negatives`` negatives drawn from all
    tokens of the sequence except the positive; as in the paper's reference, the loss is summed
    over the predicted positions and averaged over the batch. ``transform``
    embeds each window as the concat of mean-, max-pool and last step of the LSTM outputs
    (``3 * context_width`` features) and averages them per record.

    Parameters
    ----------
    encoder : {{"pointwise", "strided"}}, default="pointwise"
        Pointwise: 4 convolutions with kernel 1; strided: kernels 10,4,4,4 with stride 2.
    encoder_width : int, default=512
    n_encoder_layers : int, default=4
    context_width : int, default=512
        LSTM hidden size.
    n_context_layers : int, default=2
    steps : int, default=12
        Prediction horizon in tokens.
    n_negatives : int, default=128
    negatives : {{"sequence", "batch"}}, default="sequence"
{COMMON_PARAMS_DOC}
    Notes
    -----
    Paper configuration: batch 32, 10 s crops (``crop_length=1000`` at 100 Hz), AdamW with
    lr 1e-4 and weight decay 1e-3, 1000 epochs, mixed precision. These are the defaults except
    ``max_epochs``. On a CPU use a small configuration, e.g. ``encoder_width=context_width=128``
    with ``crop_length=250``.
    """

    _parameter_constraints: dict = {
        **BaseSSLEncoder._parameter_constraints,
        "encoder": [StrOptions({"pointwise", "strided"})],
        "encoder_width": positive_int(),
        "n_encoder_layers": positive_int(),
        "context_width": positive_int(),
        "n_context_layers": positive_int(),
        "steps": positive_int(),
        "n_negatives": positive_int(),
        "negatives": [StrOptions({"sequence", "batch"})],
    }

    def __init__(
        self,
        encoder: str = "pointwise",
        encoder_width: int = 512,
        n_encoder_layers: int = 4,
        context_width: int = 512,
        n_context_layers: int = 2,
        steps: int = 12,
        n_negatives: int = 128,
        negatives: str = "sequence",
        input_scaling: str = "standardize",
        crop_length: int | None = 1000,
        window: int = 250,
        stride: int = 125,
        aggregate: str | None = "mean",
        augmentations=None,
        fs: float = 100,
        batch_size: int = 32,
        max_epochs: int = 50,
        optimizer: str = "adamw",
        lr: float = 1e-4,
        weight_decay: float = 1e-3,
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

    def _build_module(self, n_leads: int) -> CPCModule:
        backbone = CPCNetwork(
            n_leads=n_leads, encoder=self.encoder, encoder_width=self.encoder_width,
            n_encoder_layers=self.n_encoder_layers, context_width=self.context_width,
            n_context_layers=self.n_context_layers,
        )
        return CPCModule(backbone, self.steps, self.n_negatives, self.negatives)
