"""ST-MEM: spatio-temporal masked ECG modelling (Na et al., ICLR 2024)."""

from __future__ import annotations

from numbers import Real

import torch
from sklearn.utils._param_validation import Interval
from torch import Tensor, nn

from ..models import ECGTransformer, TransformerBlock, patchify, sincos_positions
from ._base import positive_int, register_encoder, store_params
from ._docs import COMMON_PARAMS_DOC
from ._tokens import TOKEN_PARAMS_DOC, TokenEncoderBase
from ._training import SSLModule
from .losses import masked_patch_mse

_TOKEN_DOC = TOKEN_PARAMS_DOC.format(size="small", patch=30, patch_s="0.3 s")


def keep_smallest(noise: Tensor, n_keep: int) -> tuple[Tensor, Tensor]:
    """Indices of the ``n_keep`` smallest values along the last axis, and the mask of the rest.

    Parameters
    ----------
    noise : Tensor of shape (..., n_patches)
    n_keep : int

    Returns
    -------
    keep : Tensor of shape (..., n_keep), int64
        Kept patch indices in increasing order.
    mask : Tensor of shape (..., n_patches), bool
        True where a patch is masked (not kept).
    """
    keep = noise.argsort(-1)[..., :n_keep].sort(-1).values
    mask = torch.ones_like(noise, dtype=torch.bool).scatter(-1, keep, False)
    return keep, mask


def random_patch_mask(shape: tuple[int, ...], mask_ratio: float,
                      generator: torch.Generator | None = None,
                      device=None) -> tuple[Tensor, Tensor]:
    """ST-MEM's masking: each record and lead keeps its own random ``1 - mask_ratio`` patches.

    Parameters
    ----------
    shape : (batch, n_leads, n_patches)
    mask_ratio : float
        Fraction of patches masked per lead; at least one patch is kept and, with more than one
        patch, at least one is masked.

    Returns
    -------
    keep : Tensor of shape (batch, n_leads, n_keep), int64
    mask : Tensor of shape (batch, n_leads, n_patches), bool
    """
    n_patches = shape[-1]
    n_keep = min(max(1, int(n_patches * (1 - mask_ratio))), max(1, n_patches - 1))
    noise = torch.rand(shape, generator=generator, device=device)
    return keep_smallest(noise, n_keep)


class STMEMModule(SSLModule):
    """Transformer encoder on the kept patches; a per-lead decoder reconstructs the masked ones.

    Parameters
    ----------
    backbone : ECGTransformer
    mask_ratio : float
    decoder_width, decoder_depth, decoder_heads : int
    """

    def __init__(self, backbone: ECGTransformer, mask_ratio: float, decoder_width: int,
                 decoder_depth: int, decoder_heads: int):
        super().__init__()
        self.backbone = backbone
        self.mask_ratio = mask_ratio
        self.decoder_embed = nn.Linear(backbone.width, decoder_width)
        self.mask_token = nn.Parameter(torch.zeros(decoder_width))
        nn.init.normal_(self.mask_token, std=0.02)
        self.decoder = nn.ModuleList(TransformerBlock(decoder_width, decoder_heads)
                                     for _ in range(decoder_depth))
        self.decoder_norm = nn.LayerNorm(decoder_width)
        self.decoder_pred = nn.Linear(decoder_width, backbone.patch_length)

    def reconstruct(self, x: Tensor, generator=None) -> tuple[Tensor, Tensor]:
        """Reconstructed patches (batch, leads, n_patches, patch_length) and the mask used."""
        tokens = self.backbone.tokens(x)
        b, n_leads, n_patches, width = tokens.shape
        keep, mask = random_patch_mask((b, n_leads, n_patches), self.mask_ratio, generator,
                                       x.device)
        kept = tokens.gather(2, keep[..., None].expand(-1, -1, -1, width))
        encoded = self.backbone.encode(kept.flatten(1, 2))
        dec = self.decoder_embed(encoded).unflatten(1, (n_leads, keep.shape[-1]))
        full = self.mask_token.to(dec.dtype).expand(b, n_leads, n_patches, dec.shape[-1])
        full = full.scatter(2, keep[..., None].expand_as(dec), dec)
        full = full + sincos_positions(n_patches, dec.shape[-1], x.device, dec.dtype)
        h = full.flatten(0, 1)  # each lead decoded on its own: no attention across leads
        for block in self.decoder:
            h = block(h)
        pred = self.decoder_pred(self.decoder_norm(h)).view(b, n_leads, n_patches, -1)
        return pred, mask

    def training_loss(self, x, augment, generator) -> torch.Tensor:
        x = augment(x, generator=generator)
        pred, mask = self.reconstruct(x, generator)
        return masked_patch_mse(pred.float(), patchify(x, self.backbone.patch_length), mask)


@register_encoder
class STMEMEncoder(TokenEncoderBase):
    __doc__ = f"""ST-MEM encoder: spatio-temporal masked ECG modelling (Na et al., ICLR 2024).

    Each lead is cut into patches; every record and lead hides its own random ``mask_ratio`` of
    them. The transformer encodes the kept patches of all leads together (attention across
    leads and time); a small decoder, run on each lead separately, reconstructs the hidden
    patches, each standardised by its own mean and deviation; the loss is their mean squared
    error. ``transform`` averages the encoder's outputs over all tokens of each window and the
    windows of each record.

    Parameters
    ----------
{_TOKEN_DOC}    mask_ratio : float, default=0.75
        Fraction of each lead's patches hidden from the encoder.
    decoder_width, decoder_depth, decoder_heads : int, default=256, 4, 4
        The reconstruction decoder (authors: 256 wide, 4 blocks, 4 heads).
{COMMON_PARAMS_DOC}
    Notes
    -----
    Authors' configuration (100 Hz equivalents): ViT-B (``size="stmem-b"``), 0.3 s patches
    (``patch_length=30``), 9 s crops (``crop_length=900``), mask ratio 0.75, AdamW with
    weight decay 0.01 and lr 1.5e-4 x batch/256, warm-up then cosine, 800 epochs, no
    augmentation; their data are filtered (0.67-40 Hz) and z-scored per record. The defaults
    keep all of this except a CPU-sized ``size="small"`` and 50 epochs; evaluation windows of
    9 s at offsets 0, 0.5, 1 s (``window=900, stride=50``) are the authors' three crops.
    """

    _parameter_constraints: dict = {
        **TokenEncoderBase._parameter_constraints,
        "mask_ratio": [Interval(Real, 0, 1, closed="neither")],
        "decoder_width": positive_int(),
        "decoder_depth": positive_int(0),
        "decoder_heads": positive_int(),
    }

    def __init__(
        self,
        size: str = "small",
        width: int | None = None,
        depth: int | None = None,
        n_heads: int | None = None,
        patch_length: int = 30,
        leads: list | None = None,
        mask_ratio: float = 0.75,
        decoder_width: int = 256,
        decoder_depth: int = 4,
        decoder_heads: int = 4,
        input_scaling: str = "mV",
        crop_length: int | None = 900,
        window: int = 900,
        stride: int = 50,
        aggregate: str | None = "mean",
        augmentations=None,
        fs: float = 100,
        batch_size: int = 256,
        max_epochs: int = 50,
        optimizer: str = "adamw",
        lr: float = 1.5e-4,
        weight_decay: float = 0.01,
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

    def _build_module(self, n_leads: int) -> STMEMModule:
        return STMEMModule(self._make_transformer(n_leads), self.mask_ratio, self.decoder_width,
                           self.decoder_depth, self.decoder_heads)
