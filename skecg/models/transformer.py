"""A 1-D transformer over per-lead patch tokens of ECG (the ST-MEM / ECG-JEPA token model).

Each lead is cut into patches of ``patch_length`` samples; one shared linear map embeds every
patch; a learned embedding per *named* lead and a fixed sine-cosine table per time position are
added. All tokens of all leads then go through one pre-LN transformer with full attention.
A record with fewer leads is a shorter token sequence: nothing is zero-filled, and lead II alone
uses lead II's embedding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "STANDARD_LEADS",
    "TRANSFORMER_SIZES",
    "ECGTransformer",
    "TransformerBlock",
    "lead_indices",
    "n_heads_for",
    "patchify",
    "sincos_positions",
    "transformer",
]

#: Names of the 12 standard leads, in the PTB-XL order; row ``i`` of the lead embedding table.
STANDARD_LEADS: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)

#: Size presets ``(width, depth, n_heads)``: the authors' encoders and small CPU sizes.
#: "stmem-s"/"stmem-b": ST-MEM's ViT-S/B (12 blocks); "jepa-xs"/"jepa-s"/"jepa-b": ECG-JEPA's
#: (Weimann & Conrad) XS/S/B encoders. MLP width is ``4 * width`` in all of them.
TRANSFORMER_SIZES: dict[str, dict[str, int]] = {
    "tiny": {"width": 32, "depth": 2, "n_heads": 2},
    "small": {"width": 128, "depth": 4, "n_heads": 4},
    "jepa-xs": {"width": 192, "depth": 8, "n_heads": 4},
    "jepa-s": {"width": 384, "depth": 8, "n_heads": 6},
    "jepa-b": {"width": 768, "depth": 12, "n_heads": 12},
    "stmem-s": {"width": 384, "depth": 12, "n_heads": 6},
    "stmem-b": {"width": 768, "depth": 12, "n_heads": 12},
}

_LEAD_IDS = {name.lower(): i for i, name in enumerate(STANDARD_LEADS)}


def lead_indices(leads: Sequence[str | int] | None, n_leads: int) -> list[int]:
    """Rows of the lead embedding table for the channels of an input.

    Parameters
    ----------
    leads : sequence of str or int, or None
        Lead names (case-insensitive, from :data:`STANDARD_LEADS`) or row indices, one per input
        channel, in channel order. None: the first ``n_leads`` standard leads.
    n_leads : int
        Number of input channels.

    Returns
    -------
    list of int, length ``n_leads``
    """
    if leads is None:
        if not 1 <= n_leads <= len(STANDARD_LEADS):
            raise ValueError(f"{n_leads} leads cannot be named by default (at most 12 standard "
                             "leads); pass leads=[...] with their names.")
        return list(range(n_leads))
    if isinstance(leads, str):
        leads = [leads]
    leads = list(leads)
    if len(leads) != n_leads:
        raise ValueError(f"leads names {len(leads)} leads ({leads}), but the input has "
                         f"{n_leads}.")
    ids = []
    for lead in leads:
        if isinstance(lead, str):
            if lead.lower() not in _LEAD_IDS:
                raise ValueError(f"unknown lead {lead!r}; valid names are {list(STANDARD_LEADS)}.")
            ids.append(_LEAD_IDS[lead.lower()])
        elif isinstance(lead, int) and 0 <= lead < len(STANDARD_LEADS):
            ids.append(int(lead))
        else:
            raise ValueError(f"lead {lead!r} is neither a standard lead name nor an index 0-11.")
    if len(set(ids)) != len(ids):
        raise ValueError(f"leads must not repeat a lead; got {leads}.")
    return ids


def patchify(x: Tensor, patch_length: int) -> Tensor:
    """Cut each lead into consecutive patches; samples after the last whole patch are dropped.

    Parameters
    ----------
    x : Tensor of shape (batch, n_leads, n_samples)
    patch_length : int
        Samples per patch.

    Returns
    -------
    Tensor of shape (batch, n_leads, n_samples // patch_length, patch_length)
    """
    n_patches = x.shape[-1] // patch_length
    if n_patches < 1:
        raise ValueError(f"{x.shape[-1]} samples per lead are fewer than one patch of "
                         f"patch_length={patch_length}.")
    return x[..., :n_patches * patch_length].unflatten(-1, (n_patches, patch_length))


def sincos_positions(n_positions: int, dim: int, device=None, dtype=None) -> Tensor:
    """Fixed 1-D sine-cosine position table: the sine half, then the cosine half.

    Column ``i`` of each half has frequency ``10000 ** (-i / (dim / 2))`` (ST-MEM's table without
    its zero rows for separator tokens).

    Parameters
    ----------
    n_positions : int
    dim : int
        Even embedding width.

    Returns
    -------
    Tensor of shape (n_positions, dim)
    """
    if dim % 2:
        raise ValueError(f"the position table needs an even width, got {dim}.")
    half = dim // 2
    omega = 10000.0 ** (-torch.arange(half, device=device, dtype=torch.float64) / half)
    angles = torch.arange(n_positions, device=device, dtype=torch.float64)[:, None] * omega
    return torch.cat([angles.sin(), angles.cos()], dim=1).to(dtype or torch.float32)


class TransformerBlock(nn.Module):
    """Pre-LN transformer block: ``x + Attn(LN(x))``, then ``x + MLP(LN(x))`` (GELU).

    Attention runs through :func:`torch.nn.functional.scaled_dot_product_attention` (fused
    kernels on GPU, exact on CPU).

    Parameters
    ----------
    width : int
        Token width, divisible by ``n_heads``.
    n_heads : int
    mlp_ratio : float
        Hidden width of the MLP in multiples of ``width``.
    qkv_bias : bool
        Bias in the query/key/value projection.
    """

    def __init__(self, width: int, n_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True):
        super().__init__()
        if width % n_heads:
            raise ValueError(f"width={width} must be divisible by n_heads={n_heads}.")
        self.n_heads = n_heads
        self.norm1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width, bias=qkv_bias)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, width))

    def forward(self, x: Tensor) -> Tensor:
        """(batch, tokens, width) -> (batch, tokens, width)."""
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.n_heads, d // self.n_heads).unbind(2)
        att = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                             v.transpose(1, 2))
        x = x + self.proj(att.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.norm2(x))


class ECGTransformer(nn.Module):
    """Transformer over per-lead patch tokens; any named subset of the 12 leads.

    Parameters
    ----------
    n_leads : int, default=12
        Number of input channels of ``forward_features`` when no lead names are given.
    leads : sequence of str or None, default=None
        Names of the input channels, in order (None: the first ``n_leads`` of
        :data:`STANDARD_LEADS`). Change them later with :meth:`set_input_leads`.
    patch_length : int, default=25
        Samples per patch token (25 = 0.25 s at 100 Hz).
    width, depth, n_heads : int, default=128, 4, 4
        Token width, number of blocks and attention heads.
    mlp_ratio : float, default=4.0
    qkv_bias : bool, default=True

    Attributes
    ----------
    out_features : int
        ``width``: the size of the pooled representation.
    input_leads : tuple of int
        Rows of the lead embedding table for the current input channels.

    Notes
    -----
    Tokens: ``LN(patch) -> Linear -> LN``, plus the lead embedding of the patch's lead and the
    sine-cosine embedding of its time index (the same for every lead). ``forward_features``
    averages the final-LN outputs of all lead x time tokens. Samples after the last whole patch
    are ignored.
    """

    def __init__(
        self,
        n_leads: int = 12,
        leads: Sequence[str] | None = None,
        patch_length: int = 25,
        width: int = 128,
        depth: int = 4,
        n_heads: int = 4,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
    ):
        super().__init__()
        self.patch_length = int(patch_length)
        self.width = self.out_features = int(width)
        self.input_leads = tuple(lead_indices(leads, n_leads))
        self.patch_embed = nn.Sequential(nn.LayerNorm(self.patch_length),
                                         nn.Linear(self.patch_length, width), nn.LayerNorm(width))
        self.lead_embed = nn.Embedding(len(STANDARD_LEADS), width)
        nn.init.normal_(self.lead_embed.weight, std=0.02)
        self.blocks = nn.ModuleList(TransformerBlock(width, n_heads, mlp_ratio, qkv_bias)
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.apply(_init_linear)

    def set_input_leads(self, leads: Sequence[str | int] | None, n_leads: int) -> None:
        """Name the channels of later inputs (``n_leads`` of them)."""
        self.input_leads = tuple(lead_indices(leads, n_leads))

    def _lead_ids(self, n_leads: int, leads, device) -> Tensor:
        ids = self.input_leads if leads is None else lead_indices(leads, n_leads)
        if len(ids) != n_leads:
            raise ValueError(f"the input has {n_leads} leads, but the transformer reads "
                             f"{len(ids)} ({[STANDARD_LEADS[i] for i in ids]}); name the input's "
                             "leads.")
        return torch.as_tensor(ids, device=device)

    def positions(self, n_patches: int, device=None, dtype=None) -> Tensor:
        """The position table of ``n_patches`` time steps, shape (n_patches, width)."""
        return sincos_positions(n_patches, self.width, device=device, dtype=dtype)

    def tokens(self, x: Tensor, leads: Sequence[str | int] | None = None) -> Tensor:
        """Embedded patch tokens before the transformer.

        Parameters
        ----------
        x : Tensor of shape (batch, n_leads, n_samples)
        leads : sequence of str or int, optional
            Names of ``x``'s leads (default: :attr:`input_leads`).

        Returns
        -------
        Tensor of shape (batch, n_leads, n_samples // patch_length, width)
        """
        patches = patchify(x, self.patch_length)
        ids = self._lead_ids(x.shape[1], leads, x.device)
        tok = self.patch_embed(patches)
        return (tok + self.lead_embed(ids)[:, None]
                + self.positions(patches.shape[2], x.device, tok.dtype))

    def encode(self, tokens: Tensor) -> Tensor:
        """Run the blocks and the final LN: (batch, n_tokens, width) -> same shape."""
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)

    def forward_features(self, x: Tensor, leads: Sequence[str | int] | None = None) -> Tensor:
        """Mean of all lead x time token outputs: (batch, n_leads, n_samples) -> (batch, width)."""
        return self.encode(self.tokens(x, leads).flatten(1, 2)).mean(1)

    def forward(self, x: Tensor, leads: Sequence[str | int] | None = None) -> Tensor:
        """Same as :meth:`forward_features`."""
        return self.forward_features(x, leads)


def _init_linear(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def transformer(
    n_leads: int = 12,
    size: str | None = None,
    width: int | None = None,
    depth: int | None = None,
    n_heads: int | None = None,
    patch_length: int = 25,
    leads: Sequence[str] | None = None,
    **kwargs,
) -> ECGTransformer:
    """Build an :class:`ECGTransformer` from a size preset, with optional overrides.

    Parameters
    ----------
    n_leads : int, default=12
    size : str or None, default=None
        A key of :data:`TRANSFORMER_SIZES`; None means "small".
    width, depth, n_heads : int or None
        Override the preset. A width without ``n_heads`` gets :func:`n_heads_for` heads.
    patch_length : int, default=25
    leads : sequence of str or None
    **kwargs
        ``mlp_ratio``, ``qkv_bias``.

    Returns
    -------
    ECGTransformer
    """
    preset = transformer_size(size, width, depth, n_heads)
    return ECGTransformer(n_leads=n_leads, leads=leads, patch_length=patch_length, **preset,
                          **kwargs)


def transformer_size(size: str | None = None, width: int | None = None,
                     depth: int | None = None, n_heads: int | None = None) -> dict:
    """The preset ``size`` ("small" if None) with ``width``/``depth``/``n_heads`` overridden.

    Returns the preset's dict (``width``, ``depth``, ``n_heads``, ...); a width without
    ``n_heads`` gets :func:`n_heads_for` heads.
    """
    name = "small" if size is None else size
    if name not in TRANSFORMER_SIZES:
        raise ValueError(f"unknown transformer size {size!r}; valid sizes are "
                         f"{sorted(TRANSFORMER_SIZES)}.")
    preset = dict(TRANSFORMER_SIZES[name])
    if width is not None:
        preset["width"] = int(width)
        if n_heads is None:
            preset["n_heads"] = n_heads_for(preset["width"])
    if depth is not None:
        preset["depth"] = int(depth)
    if n_heads is not None:
        preset["n_heads"] = int(n_heads)
    return preset


def n_heads_for(width: int) -> int:
    """A default head count for ``width``: 64-wide heads, at least one, dividing ``width``."""
    heads = max(1, width // 64)
    while width % heads:
        heads -= 1
    return heads

