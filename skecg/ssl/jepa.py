"""ECG-JEPA: predict the latent tokens of masked time blocks (Weimann & Conrad 2024; Kim 2024)."""

from __future__ import annotations

import copy
from numbers import Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import Tensor, nn

from ..models import ECGTransformer, TransformerBlock, sincos_positions
from ._base import positive_int, register_encoder, store_params
from ._docs import COMMON_PARAMS_DOC
from ._tokens import TOKEN_PARAMS_DOC, TokenEncoderBase
from ._training import SSLModule
from .losses import jepa_loss

_ONLINE = ("context_encoder.", "predictor")
_TOKEN_DOC = TOKEN_PARAMS_DOC.format(size="small", patch=20, patch_s="0.2 s")


def block_keep_indices(shift: Tensor, chunk_noise: Tensor, n_patches: int, n_keep: int,
                       block: int) -> tuple[Tensor, Tensor]:
    """Kept and masked time steps when whole blocks are kept in a random order.

    Time step ``t`` of row ``b`` belongs to block ``(t + shift[b]) // block``; blocks are
    visited in increasing ``chunk_noise`` and their steps taken in time order until ``n_keep``
    are kept, so the masked steps form runs of ``block`` steps (shorter only at the ends and
    next to the one partly kept block).

    Parameters
    ----------
    shift : Tensor of shape (batch,), int64, values in [0, block)
    chunk_noise : Tensor of shape (batch, n_blocks)
        One random number per block; ``n_blocks >= n_patches // block + 2``.
    n_patches, n_keep, block : int

    Returns
    -------
    keep : Tensor of shape (batch, n_keep), int64, increasing
    masked : Tensor of shape (batch, n_patches - n_keep), int64, increasing
    """
    t = torch.arange(n_patches, device=shift.device)
    chunk = (t + shift[:, None]) // block
    rank = chunk_noise.argsort(1).argsort(1)
    key = rank.gather(1, chunk) * n_patches + t
    order = key.argsort(1)
    return order[:, :n_keep].sort(1).values, order[:, n_keep:].sort(1).values


def block_time_mask(batch: int, n_patches: int, keep_range: tuple[float, float], block: int,
                    generator: torch.Generator | None = None,
                    device=None) -> tuple[Tensor, Tensor]:
    """JEPA's masking: per record, keep a fraction of time steps (all leads), mask the rest.

    The kept fraction is drawn once per batch from ``U(keep_range)``; each record then gets its
    own random blocks (see :func:`block_keep_indices`). At least one step is kept and, with more
    than one step, one is masked.

    Returns
    -------
    keep : Tensor of shape (batch, n_keep), int64
    masked : Tensor of shape (batch, n_patches - n_keep), int64
    """
    low, high = keep_range
    fraction = low + (high - low) * torch.rand((), generator=generator, device=device).item()
    n_keep = min(max(1, round(n_patches * fraction)), max(1, n_patches - 1))
    block = max(1, min(block, n_patches))
    shift = torch.randint(block, (batch,), generator=generator, device=device)
    noise = torch.rand(batch, n_patches // block + 2, generator=generator, device=device)
    return block_keep_indices(shift, noise, n_patches, n_keep, block)


def _gather_steps(tokens: Tensor, steps: Tensor) -> Tensor:
    """tokens (batch, leads, n, d) at time steps (batch, k) -> (batch, leads * k, d)."""
    b, n_leads, _, d = tokens.shape
    index = steps[:, None, :, None].expand(b, n_leads, steps.shape[1], d)
    return tokens.gather(2, index).flatten(1, 2)


class JEPAModule(SSLModule):
    """Context encoder + predictor against an EMA target encoder.

    ``backbone`` is the EMA (target) encoder: ``transform`` and
    :class:`~skecg.classifier.ECGClassifier` use it, as JEPA evaluations do.
    ``context_encoder`` and the predictor are what the optimiser trains.
    """

    def __init__(self, encoder: ECGTransformer, keep_range: tuple[float, float], block: int,
                 predictor_width: int, predictor_depth: int, predictor_heads: int,
                 momentum_range: tuple[float, float], loss: str):
        super().__init__()
        self.context_encoder = encoder
        self.backbone = copy.deepcopy(encoder).requires_grad_(False)
        self.keep_range, self.block, self.loss = tuple(keep_range), block, loss
        self.predictor_embed = nn.Linear(encoder.width, predictor_width)
        self.predictor_lead = nn.Embedding(encoder.lead_embed.num_embeddings, predictor_width)
        nn.init.normal_(self.predictor_lead.weight, std=0.02)
        self.predictor_mask = nn.Parameter(torch.zeros(predictor_width))
        nn.init.normal_(self.predictor_mask, std=0.02)
        self.predictor_blocks = nn.ModuleList(TransformerBlock(predictor_width, predictor_heads)
                                              for _ in range(predictor_depth))
        self.predictor_norm = nn.LayerNorm(predictor_width)
        self.predictor_out = nn.Linear(predictor_width, encoder.width)
        self.momentum_range = tuple(momentum_range)
        self.momentum = self.momentum_range[0]

    def learnable_parameters(self):
        return ((n, p) for n, p in self.named_parameters() if n.startswith(_ONLINE))

    def on_batch_begin(self, epoch: int, progress: float) -> None:
        start, end = self.momentum_range
        self.momentum = start + (end - start) * progress

    @torch.no_grad()
    def after_optimizer_step(self) -> None:
        target = list(self.backbone.parameters())
        online = list(self.context_encoder.parameters())
        torch._foreach_lerp_(target, online, 1.0 - self.momentum)

    def _predictor_cues(self, steps: Tensor, n_patches: int, n_leads: int, like: Tensor) -> Tensor:
        """Position + lead embedding of the predictor at (batch, k) steps -> (batch, L * k, d)."""
        pos = sincos_positions(n_patches, like.shape[-1], like.device, like.dtype)[steps]
        ids = torch.as_tensor(self.context_encoder.input_leads, device=like.device)
        lead = self.predictor_lead(ids).to(like.dtype)
        return (pos[:, None] + lead[None, :, None]).flatten(1, 2)

    def training_loss(self, x, augment, generator) -> torch.Tensor:
        x = augment(x, generator=generator)
        tokens = self.context_encoder.tokens(x)
        b, n_leads, n_patches, width = tokens.shape
        keep, masked = block_time_mask(b, n_patches, self.keep_range, self.block, generator,
                                       x.device)
        with torch.no_grad():
            target = self.backbone.encode(self.backbone.tokens(x).flatten(1, 2))
            target = _gather_steps(target.unflatten(1, (n_leads, n_patches)), masked)
        context = self.context_encoder.encode(_gather_steps(tokens, keep))
        h = self.predictor_embed(context)
        h = h + self._predictor_cues(keep, n_patches, n_leads, h)
        queries = self.predictor_mask.to(h.dtype) + self._predictor_cues(masked, n_patches,
                                                                         n_leads, h)
        h = torch.cat([h, queries], dim=1)
        for blk in self.predictor_blocks:
            h = blk(h)
        pred = self.predictor_out(self.predictor_norm(h[:, context.shape[1]:]))
        return jepa_loss(pred.float(), target.float(), self.loss)


@register_encoder
class JEPAEncoder(TokenEncoderBase):
    __doc__ = f"""ECG-JEPA encoder: joint-embedding predictive architecture on ECG tokens.

    A context encoder sees only the kept time blocks (all leads of them); a narrower predictor,
    given the context tokens plus position and lead cues of the hidden tokens, predicts what an
    exponential-moving-average (target) copy of the encoder outputs for the hidden tokens from
    the full record. The loss is the L1 distance in that latent space: no pixels are
    reconstructed and no negatives are used. ``transform`` averages the *target* encoder's
    outputs over all tokens of each window and the windows of each record.

    Parameters
    ----------
{_TOKEN_DOC}    keep_min, keep_max : float, default=0.15, 0.25
        The fraction of time steps kept as context is drawn from ``U(keep_min, keep_max)`` once
        per batch (at least one kept, one masked).
    mask_block : int, default=5
        Time steps are kept or masked in runs of ``mask_block`` patches (1 s at the defaults),
        at random offsets per record; the same steps are masked in every lead of a record.
    predictor_width : int or None, default=None
        Width of the predictor (None: half the encoder's width, as the authors).
    predictor_depth : int or None, default=None
        Blocks of the predictor (None: the encoder's depth).
    predictor_heads : int or None, default=None
        Heads of the predictor (None: the encoder's head count, or fewer so they divide the
        width).
    momentum_start, momentum_end : float, default=0.998, 0.9995
        EMA momentum of the target encoder, linear from start to end over the fit.
    loss : {{"l1", "smooth_l1"}}, default="l1"
{COMMON_PARAMS_DOC}
    Notes
    -----
    Authors' configuration (Weimann & Conrad): ViT-S (``size="jepa-s"``) on 10-s records,
    keep 15-25 %, L1, EMA 0.998 to 0.9995, AdamW (betas 0.9, 0.99) with a 10k-step warm-up to
    1e-3 then cosine, weight decay rising 0.01 to 0.1, 100k steps of 2048 records; evaluation
    on 2.5-s crops at a 1.25-s stride (the default ``window=250, stride=125``). Their tokens are
    50-ms patches over all leads at once; skecg's are per lead (as Kim et al.), 0.2 s long, so
    that a subset of leads is a shorter sequence.
    """

    _parameter_constraints: dict = {
        **TokenEncoderBase._parameter_constraints,
        "keep_min": [Interval(Real, 0, 1, closed="neither")],
        "keep_max": [Interval(Real, 0, 1, closed="neither")],
        "mask_block": positive_int(),
        "predictor_width": [*positive_int(), None],
        "predictor_depth": [*positive_int(), None],
        "predictor_heads": [*positive_int(), None],
        "momentum_start": [Interval(Real, 0, 1, closed="both")],
        "momentum_end": [Interval(Real, 0, 1, closed="both")],
        "loss": [StrOptions({"l1", "smooth_l1"})],
    }

    def __init__(
        self,
        size: str = "small",
        width: int | None = None,
        depth: int | None = None,
        n_heads: int | None = None,
        patch_length: int = 20,
        leads: list | None = None,
        keep_min: float = 0.15,
        keep_max: float = 0.25,
        mask_block: int = 5,
        predictor_width: int | None = None,
        predictor_depth: int | None = None,
        predictor_heads: int | None = None,
        momentum_start: float = 0.998,
        momentum_end: float = 0.9995,
        loss: str = "l1",
        input_scaling: str = "mV",
        crop_length: int | None = 1000,
        window: int = 250,
        stride: int = 125,
        aggregate: str | None = "mean",
        augmentations=None,
        fs: float = 100,
        batch_size: int = 256,
        max_epochs: int = 50,
        optimizer: str = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 0.05,
        warmup_epochs: int = 5,
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

    def _check_params(self) -> None:
        super()._check_params()
        if self.keep_min > self.keep_max:
            raise ValueError(f"keep_min={self.keep_min} must not exceed keep_max={self.keep_max}.")

    def _build_module(self, n_leads: int) -> JEPAModule:
        encoder = self._make_transformer(n_leads)
        width = self.predictor_width or max(2, encoder.width // 4 * 2)  # even: sin-cos table
        heads = self.predictor_heads
        if heads is None:
            heads = encoder.blocks[0].n_heads if len(encoder.blocks) else 1
            while width % heads:
                heads -= 1
        depth = len(encoder.blocks) if self.predictor_depth is None else self.predictor_depth
        return JEPAModule(encoder, (self.keep_min, self.keep_max), self.mask_block, width, depth,
                          heads, (self.momentum_start, self.momentum_end), self.loss)
