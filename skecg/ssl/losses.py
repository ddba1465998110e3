"""Self-supervised losses: CPC's InfoNCE, SimCLR's NT-Xent, BYOL and SwAV (the paper's), and
ST-MEM's masked patch reconstruction, JEPA's latent regression and CMSC's contrast.

Each loss is a functional form plus a small ``nn.Module`` carrying the paper's defaults.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "BYOLLoss",
    "CMSCLoss",
    "InfoNCELoss",
    "NTXentLoss",
    "SwAVLoss",
    "byol_loss",
    "cmsc_loss",
    "cpc_loss_inputs",
    "info_nce_accuracy",
    "info_nce_logits",
    "info_nce_loss",
    "jepa_loss",
    "masked_patch_mse",
    "nt_xent_loss",
    "sample_negative_indices",
    "sinkhorn_knopp",
    "swav_loss",
]

NegativesMode = Literal["sequence", "batch"]

# Upper bound on the number of elements of the gathered negative vectors (rows * K * D) that
# "batch" mode materialises at once: 2**24 float32 = 64 MiB per chunk.
_BATCH_CHUNK_ELEMENTS = 2**24


# ----------------------------------------------------------------------------------- InfoNCE


def sample_negative_indices(
    batch: int,
    n_positions: int,
    n_negatives: int,
    generator: torch.Generator | None = None,
    mode: NegativesMode = "sequence",
    device: torch.device | str | None = None,
    n_candidates: int | None = None,
    offset: int = 0,
) -> Tensor:
    """Draw negative indices uniformly (with replacement), never the positive itself.

    Prediction ``t`` of sequence ``b`` has the positive ``t + offset`` among the ``T``
    candidate tokens of its sequence (CPC: the token ``steps`` ahead among all tokens).

    Parameters
    ----------
    batch : int
        Number of sequences B.
    n_positions : int
        Number of predicted positions P per sequence.
    n_negatives : int
        Number of negatives K per position.
    generator : torch.Generator, optional
        Source of randomness; indices are drawn on its device.
    mode : {"sequence", "batch"}
        "sequence": indices into the same sequence's ``T`` tokens, excluding ``t + offset``.
        "batch": flat indices into all ``B * T`` tokens (``b * T + s``), excluding
        ``b * T + t + offset``.
    device : torch.device or str, optional
        Device of the returned tensor (default: the generator's device, else CPU).
    n_candidates : int, optional
        Tokens per sequence ``T`` (default ``n_positions``); at least ``n_positions + offset``.
    offset : int, default=0
        Position of prediction ``t``'s positive is ``t + offset``.

    Returns
    -------
    Tensor of shape (batch, n_positions, n_negatives), int64
    """
    n_tokens = n_positions if n_candidates is None else int(n_candidates)
    if offset < 0 or n_positions + offset > n_tokens:
        raise ValueError(f"positives t + offset must index the {n_tokens} tokens: got "
                         f"n_positions={n_positions}, offset={offset}")
    if mode == "sequence":
        n_choices = n_tokens
    elif mode == "batch":
        n_choices = batch * n_tokens
    else:
        raise ValueError(f"mode must be 'sequence' or 'batch', got {mode!r}")
    if n_choices < 2:
        raise ValueError(f"need at least 2 candidate tokens for negatives, got {n_choices}")
    draw_device = generator.device if generator is not None else device
    # sample among the n - 1 others, then skip over the positive's own index
    idx = torch.randint(0, n_choices - 1, (batch, n_positions, n_negatives),
                        generator=generator, device=draw_device)
    own = offset + torch.arange(n_positions, device=idx.device).view(1, n_positions, 1)
    if mode == "batch":
        own = own + n_tokens * torch.arange(batch, device=idx.device).view(batch, 1, 1)
    idx = idx + (idx >= own).long()
    return idx if device is None else idx.to(device)


def _sampled_dot_forward(predictions: Tensor, targets: Tensor, indices: Tensor) -> Tensor:
    """``out[n, k] = predictions[n] . targets[indices[n, k]]``, gathering a chunk at a time."""
    n_rows, k = indices.shape
    dim = predictions.shape[1]
    rows_per_chunk = max(1, _BATCH_CHUNK_ELEMENTS // max(1, k * dim))
    chunks = []
    for start in range(0, n_rows, rows_per_chunk):
        idx = indices[start:start + rows_per_chunk]
        gathered = targets.index_select(0, idx.reshape(-1)).view(*idx.shape, dim)
        chunks.append(torch.bmm(gathered, predictions[start:start + rows_per_chunk, :, None]))
    return torch.cat(chunks).squeeze(-1)


def _sampled_dot_backward(grad: Tensor, predictions: Tensor, targets: Tensor, indices: Tensor,
                          needs_input_grad) -> tuple[Tensor | None, Tensor | None]:
    """Gradients of ``out[n, k] = predictions[n] . targets[indices[n, k]]`` (flat rows).

    The prediction gradient is a weighted bag-sum of the sampled targets (``embedding_bag``,
    nothing gathered); the target gradient a sparse (N_targets, N) matrix with N * K entries
    times the predictions.
    """
    grad_predictions = grad_targets = None
    if needs_input_grad[0]:
        grad_predictions = F.embedding_bag(
            indices, targets, per_sample_weights=grad.to(targets.dtype), mode="sum"
        ).to(predictions.dtype)
    if needs_input_grad[1]:
        n_rows, k = indices.shape
        owners = torch.arange(n_rows, device=indices.device).repeat_interleave(k)
        sparse = torch.sparse_coo_tensor(
            torch.stack([indices.reshape(-1), owners]), grad.reshape(-1).float(),
            (targets.shape[0], n_rows), check_invariants=False,
        )
        grad_targets = torch.sparse.mm(sparse, predictions.float()).to(targets.dtype)
    return grad_predictions, grad_targets


class _SampledDot(torch.autograd.Function):
    """Dot products of each prediction with its sampled targets, for "batch" negatives.

    Autograd through a gather would keep the gathered negatives, (N, K, D): 8 GiB at the paper's
    size (N = 32 * 988, K = 128, D = 512), and a (N, N) score matrix is 4 GiB and ~40x the
    flops. Here the forward gathers chunk by chunk (at most ``_BATCH_CHUNK_ELEMENTS`` elements
    at once) and keeps only the inputs; the backward needs no gather
    (:func:`_sampled_dot_backward`).
    """

    @staticmethod
    def forward(ctx, predictions: Tensor, targets: Tensor, indices: Tensor) -> Tensor:
        ctx.save_for_backward(predictions, targets, indices)
        return _sampled_dot_forward(predictions, targets, indices)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        predictions, targets, indices = ctx.saved_tensors
        return (*_sampled_dot_backward(grad, predictions, targets, indices,
                                       ctx.needs_input_grad), None)


class _SequenceSampledDot(torch.autograd.Function):
    """``out[b, t, k] = predictions[b, t] . tokens[b, indices[b, t, k]]`` ("sequence" negatives).

    Only the sampled scores are kept and differentiated: the backward scatters the (B, P, K)
    gradient into a per-record (B, T, P) matrix for the token gradient and bag-sums the sampled
    tokens for the prediction gradient, so no (B, P, T) gradient is formed and nothing of size
    (B, P, K, D) is gathered. The forward computes the scores of a chunk of records against
    all of their tokens with one batched matrix product and keeps the sampled ones: on a CPU
    that product is as fast as any gather of the K negatives (a gather of (B, P, K, D) is
    memory-bound, a sampled matrix product costs the same as the dense one), and at most
    ``_BATCH_CHUNK_ELEMENTS`` scores exist at a time.
    """

    @staticmethod
    def forward(ctx, predictions: Tensor, tokens: Tensor, indices: Tensor) -> Tensor:
        ctx.save_for_backward(predictions, tokens, indices)
        batch, n_positions, _ = predictions.shape
        n_tokens = tokens.shape[1]
        records = max(1, _BATCH_CHUNK_ELEMENTS // max(1, n_positions * n_tokens))
        return torch.cat([
            torch.bmm(predictions[s:s + records], tokens[s:s + records].transpose(1, 2))
            .gather(2, indices[s:s + records])
            for s in range(0, batch, records)
        ])

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        predictions, tokens, indices = ctx.saved_tensors
        batch, n_positions, dim = predictions.shape
        n_tokens = tokens.shape[1]
        grad_predictions = grad_tokens = None
        if ctx.needs_input_grad[0]:
            flat = indices + n_tokens * torch.arange(batch, device=indices.device).view(-1, 1, 1)
            grad_predictions = F.embedding_bag(
                flat.reshape(batch * n_positions, -1), tokens.reshape(-1, dim),
                per_sample_weights=grad.reshape(batch * n_positions, -1).to(tokens.dtype),
                mode="sum",
            ).view(batch, n_positions, dim).to(predictions.dtype)
        if ctx.needs_input_grad[1]:
            records = max(1, _BATCH_CHUNK_ELEMENTS // max(1, n_positions * n_tokens))
            grad_tokens = torch.cat([
                torch.bmm(
                    grad.new_zeros(min(records, batch - s), n_positions, n_tokens)
                    .scatter_add_(2, indices[s:s + records], grad[s:s + records])
                    .transpose(1, 2),
                    predictions[s:s + records].to(grad.dtype),
                )
                for s in range(0, batch, records)
            ]).to(tokens.dtype)
        return grad_predictions, grad_tokens, None


def info_nce_logits(
    predictions: Tensor,
    targets: Tensor,
    negative_indices: Tensor,
    negatives: NegativesMode = "sequence",
    offset: int = 0,
) -> Tensor:
    """Logits of the InfoNCE classification: the positive first, then the negatives.

    Parameters
    ----------
    predictions : Tensor of shape (batch, P, D)
        Predicted tokens.
    targets : Tensor of shape (batch, T, D)
        Candidate tokens, ``T >= P + offset``; ``targets[:, t + offset]`` is the positive for
        ``predictions[:, t]`` (CPC: all encoder tokens and ``offset = steps``).
    negative_indices : Tensor of shape (batch, P, K), int64
        From :func:`sample_negative_indices` with the same ``negatives`` mode, ``T`` and
        ``offset``.
    negatives : {"sequence", "batch"}
        Whether the indices point into the same sequence or into all ``batch * T`` tokens.
    offset : int, default=0
        Distance between a prediction's position and its positive's.

    Returns
    -------
    Tensor of shape (batch, P, 1 + K)
        Plain dot products (no temperature); column 0 is the positive.
    """
    if predictions.ndim != 3 or targets.ndim != 3 or predictions.shape[0] != targets.shape[0] \
            or predictions.shape[2] != targets.shape[2]:
        raise ValueError(
            "predictions and targets must have shapes (batch, P, D) and (batch, T, D), got "
            f"{tuple(predictions.shape)} and {tuple(targets.shape)}"
        )
    batch, n_positions, dim = predictions.shape
    n_tokens = targets.shape[1]
    if offset < 0 or n_positions + offset > n_tokens:
        raise ValueError(f"targets must hold the positives t + offset: got P={n_positions}, "
                         f"offset={offset} and T={n_tokens}")
    if negative_indices.shape[:2] != (batch, n_positions):
        raise ValueError(
            f"negative_indices must have shape ({batch}, {n_positions}, K), "
            f"got {tuple(negative_indices.shape)}"
        )
    negative_indices = negative_indices.to(predictions.device)
    targets = targets.to(predictions.dtype)
    positive = (predictions * targets[:, offset:offset + n_positions]).sum(-1, keepdim=True)
    if negatives == "sequence":
        negative = _SequenceSampledDot.apply(predictions, targets, negative_indices)
    elif negatives == "batch":
        negative = _SampledDot.apply(
            predictions.reshape(-1, dim), targets.reshape(-1, dim),
            negative_indices.reshape(batch * n_positions, -1),
        ).view(batch, n_positions, -1)
    else:
        raise ValueError(f"negatives must be 'sequence' or 'batch', got {negatives!r}")
    return torch.cat([positive, negative], dim=-1)


def info_nce_accuracy(logits: Tensor) -> Tensor:
    """Fraction of positions whose positive has the highest logit.

    Parameters
    ----------
    logits : Tensor of shape (..., 1 + K)
        From :func:`info_nce_logits`.

    Returns
    -------
    Tensor of shape ()
    """
    return (logits.detach().argmax(dim=-1) == 0).float().mean()


def _check_reduction(reduction: str) -> None:
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")


def info_nce_loss(
    predictions: Tensor,
    targets: Tensor,
    n_negatives: int = 128,
    negatives: NegativesMode = "sequence",
    generator: torch.Generator | None = None,
    negative_indices: Tensor | None = None,
    offset: int = 0,
    reduction: Literal["sum", "mean"] = "sum",
) -> Tensor:
    """InfoNCE loss of CPC: cross-entropy of the positive against sampled negatives.

    Parameters
    ----------
    predictions : Tensor of shape (batch, P, D)
    targets : Tensor of shape (batch, T, D)
        Candidate tokens; ``targets[:, t + offset]`` is the positive for ``predictions[:, t]``
        and the negatives are drawn from all ``T`` tokens except it.
    n_negatives : int
        Negatives per position (ignored when ``negative_indices`` is given).
    negatives : {"sequence", "batch"}
        Draw negatives from the same sequence or from the whole batch.
    generator : torch.Generator, optional
        Source of randomness for the negatives.
    negative_indices : Tensor of shape (batch, P, K), optional
        Precomputed indices from :func:`sample_negative_indices`.
    offset : int, default=0
        Distance between a prediction's position and its positive's (CPC: ``steps``).
    reduction : {"sum", "mean"}, default="sum"
        "sum": summed over the P positions and averaged over the batch, as the paper's
        reference computes it (a sum over positions of batch-mean cross-entropies). "mean":
        averaged over all ``batch * P`` positions, i.e. the "sum" value divided by P. Adam is
        invariant to that constant factor except through its epsilon, so the two train
        almost alike; "sum" reproduces the reference's updates.

    Returns
    -------
    Tensor of shape ()
    """
    _check_reduction(reduction)
    if negative_indices is None:
        negative_indices = sample_negative_indices(
            predictions.shape[0], predictions.shape[1], n_negatives, generator=generator,
            mode=negatives, device=predictions.device, n_candidates=targets.shape[1],
            offset=offset,
        )
    logits = info_nce_logits(predictions, targets, negative_indices, negatives, offset)
    flat = logits.reshape(-1, logits.shape[-1])
    if flat.dtype in (torch.float16, torch.bfloat16):
        flat = flat.float()
    loss = F.cross_entropy(flat, flat.new_zeros(flat.shape[0], dtype=torch.long),
                           reduction="sum") / logits.shape[0]
    return loss if reduction == "sum" else loss / logits.shape[1]


class InfoNCELoss(nn.Module):
    """InfoNCE with uniformly sampled negatives, as in the paper's CPC.

    Parameters
    ----------
    n_negatives : int
        Negatives per position (paper: 128).
    negatives : {"sequence", "batch"}
        Draw negatives from the same sequence (paper) or from the whole batch.
    reduction : {"sum", "mean"}
        Sum over positions, mean over the batch (the paper's reference), or the mean over all
        positions; see :func:`info_nce_loss`.
    """

    def __init__(self, n_negatives: int = 128, negatives: NegativesMode = "sequence",
                 reduction: Literal["sum", "mean"] = "sum") -> None:
        super().__init__()
        if negatives not in ("sequence", "batch"):
            raise ValueError(f"negatives must be 'sequence' or 'batch', got {negatives!r}")
        _check_reduction(reduction)
        self.n_negatives = n_negatives
        self.negatives = negatives
        self.reduction = reduction

    def logits(
        self, predictions: Tensor, targets: Tensor, generator: torch.Generator | None = None,
        offset: int = 0,
    ) -> Tensor:
        """Sample negatives and return the ``(batch, P, 1 + n_negatives)`` logits."""
        idx = sample_negative_indices(
            predictions.shape[0], predictions.shape[1], self.n_negatives, generator=generator,
            mode=self.negatives, device=predictions.device, n_candidates=targets.shape[1],
            offset=offset,
        )
        return info_nce_logits(predictions, targets, idx, self.negatives, offset)

    def forward(
        self, predictions: Tensor, targets: Tensor, generator: torch.Generator | None = None,
        offset: int = 0,
    ) -> Tensor:
        """Loss for ``(batch, P, D)`` predictions and ``(batch, T, D)`` targets; a scalar."""
        return info_nce_loss(predictions, targets, self.n_negatives, self.negatives, generator,
                             offset=offset, reduction=self.reduction)


def cpc_loss_inputs(
    context: Tensor, tokens: Tensor, predictor: Callable[[Tensor], Tensor], steps: int = 12
) -> tuple[Tensor, Tensor]:
    """Pair the prediction from context ``t`` with the token ``t + steps`` (single horizon).

    Parameters
    ----------
    context : Tensor of shape (batch, T, context_width)
        Context network outputs.
    tokens : Tensor of shape (batch, T, encoder_width)
        Encoder outputs.
    predictor : callable
        Maps ``(batch, T - steps, context_width)`` to ``(batch, T - steps, encoder_width)``
        (the paper: a linear map without bias).
    steps : int
        Prediction horizon in tokens (paper: 12).

    Returns
    -------
    predictions : Tensor of shape (batch, T - steps, encoder_width)
    targets : Tensor of shape (batch, T - steps, encoder_width)
    """
    if context.shape[:2] != tokens.shape[:2]:
        raise ValueError(
            f"context and tokens must share (batch, T), got {tuple(context.shape)} and "
            f"{tuple(tokens.shape)}"
        )
    if not 1 <= steps < context.shape[1]:
        raise ValueError(f"steps must be in [1, T), got steps={steps} with T={context.shape[1]}")
    return predictor(context[:, :-steps]), tokens[:, steps:]


# ----------------------------------------------------------------------------------- NT-Xent


def nt_xent_loss(z1: Tensor, z2: Tensor, temperature: float = 0.5) -> Tensor:
    """SimCLR's normalised temperature-scaled cross-entropy.

    Parameters
    ----------
    z1, z2 : Tensor of shape (batch, d)
        Projections of two views; row ``i`` of each comes from the same record.
    temperature : float
        Softmax temperature (paper: 0.5).

    Returns
    -------
    Tensor of shape ()
        Mean over the ``2 * batch`` anchors of a ``2 * batch - 1``-way classification whose
        positive is the other view of the same record.
    """
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"z1 and z2 must have equal shape (batch, d), got {tuple(z1.shape)} "
                         f"and {tuple(z2.shape)}")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.T) / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=sim.device), float("-inf"))
    positives = torch.arange(2 * n, device=sim.device).roll(n)
    return F.cross_entropy(sim, positives)


class NTXentLoss(nn.Module):
    """NT-Xent loss module (see :func:`nt_xent_loss`).

    Parameters
    ----------
    temperature : float
        Softmax temperature (paper: 0.5).
    """

    def __init__(self, temperature: float = 0.5) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        """Loss for two ``(batch, d)`` projections; a scalar tensor."""
        return nt_xent_loss(z1, z2, self.temperature)


# -------------------------------------------------------------------------------------- BYOL


def byol_loss(p: Tensor, z: Tensor) -> Tensor:
    """BYOL regression loss ``2 - 2 cos(p, z)`` averaged over the batch; no gradient to ``z``.

    Parameters
    ----------
    p : Tensor of shape (batch, d)
        Online predictions.
    z : Tensor of shape (batch, d)
        Target projections (detached here); the caller symmetrises over the two views.

    Returns
    -------
    Tensor of shape ()
    """
    return 2 - 2 * (F.normalize(p, dim=-1) * F.normalize(z.detach(), dim=-1)).sum(-1).mean()


class BYOLLoss(nn.Module):
    """BYOL loss module (see :func:`byol_loss`)."""

    def forward(self, p: Tensor, z: Tensor) -> Tensor:
        """Loss for ``(batch, d)`` predictions and targets; a scalar tensor."""
        return byol_loss(p, z)


# -------------------------------------------------------------------------------------- SwAV


@torch.no_grad()
def sinkhorn_knopp(scores: Tensor, epsilon: float = 0.05, n_iterations: int = 3) -> Tensor:
    """Equipartitioned soft assignments of samples to prototypes (SwAV's Sinkhorn-Knopp).

    ``Q = exp(scores / epsilon).T`` is normalised to total 1, then rows (prototypes) and columns
    (samples) are alternately rescaled to sum to ``1 / K`` and ``1 / B``. The iteration runs in
    the log domain: the same result as subtracting the maximum before ``exp``, but a prototype
    whose scores all lie far below the maximum cannot underflow to a zero row (and NaN).

    Parameters
    ----------
    scores : Tensor of shape (batch, K)
        Sample-prototype similarities.
    epsilon : float
        Entropic regularisation (paper: 0.05).
    n_iterations : int
        Number of row/column normalisation rounds (paper: 3).

    Returns
    -------
    Tensor of shape (batch, K)
        Assignments with each row summing to 1; float32 (float64 for float64 input); no grad.
    """
    if scores.ndim != 2:
        raise ValueError(f"scores must have shape (batch, K), got {tuple(scores.shape)}")
    if scores.dtype != torch.float64:
        scores = scores.float()
    batch, n_prototypes = scores.shape
    log_q = scores.T / epsilon
    log_q = log_q - torch.logsumexp(log_q.reshape(-1), dim=0)
    for _ in range(n_iterations):
        log_q = log_q - torch.logsumexp(log_q, dim=1, keepdim=True) - math.log(n_prototypes)
        log_q = log_q - torch.logsumexp(log_q, dim=0, keepdim=True) - math.log(batch)
    return (log_q.exp() * batch).T


def swav_loss(
    scores: Sequence[Tensor],
    queue_scores: Sequence[Tensor | None] | Tensor | None = None,
    temperature: float = 0.1,
    sinkhorn_epsilon: float = 0.05,
    sinkhorn_iterations: int = 3,
    crops_for_assign: Sequence[int] = (0, 1),
) -> Tensor:
    """SwAV swapped-prediction loss.

    Parameters
    ----------
    scores : sequence of Tensor of shape (batch, K)
        Prototype scores of each view (same batch, e.g. 2 global + 5 local crops).
    queue_scores : sequence of Tensor (n_queue, K), or Tensor (n_assign, n_queue, K), optional
        Scores of queued past samples, one entry per crop in ``crops_for_assign``; they are
        prepended to that crop's scores for Sinkhorn only, then dropped. ``None`` entries or
        empty tensors mean no queue.
    temperature : float
        Temperature of the predicted distributions (paper: 0.1).
    sinkhorn_epsilon, sinkhorn_iterations
        Passed to :func:`sinkhorn_knopp`.
    crops_for_assign : sequence of int
        Views whose codes are computed and predicted from every other view.

    Returns
    -------
    Tensor of shape ()
        ``-sum q_i log softmax(scores_v / temperature)`` averaged over samples and over all
        (assigned crop ``i``, other view ``v``) pairs.
    """
    n_views = len(scores)
    if n_views < 2:
        raise ValueError(f"SwAV needs at least 2 views, got {n_views}")
    if not crops_for_assign or any(not 0 <= i < n_views for i in crops_for_assign):
        raise ValueError(f"crops_for_assign {tuple(crops_for_assign)} invalid for {n_views} views")
    if queue_scores is not None and len(queue_scores) != len(crops_for_assign):
        raise ValueError(f"queue_scores needs one entry per assigned crop "
                         f"({len(crops_for_assign)}), got {len(queue_scores)}")
    stacked = torch.stack(list(scores))  # (V, B, K)
    if stacked.dtype in (torch.float16, torch.bfloat16):
        stacked = stacked.float()
    batch = stacked.shape[1]
    log_probs = F.log_softmax(stacked / temperature, dim=-1)
    total = stacked.new_zeros(())
    for j, i in enumerate(crops_for_assign):
        current = stacked[i].detach()
        queue = None if queue_scores is None else queue_scores[j]
        if queue is not None and queue.shape[0] > 0:
            current = torch.cat([queue.detach().to(current), current])
        q = sinkhorn_knopp(current, sinkhorn_epsilon, sinkhorn_iterations)[-batch:].to(stacked)
        others = [v for v in range(n_views) if v != i]
        total = total - (q * log_probs[others]).sum(-1).mean()
    return total / len(crops_for_assign)


class SwAVLoss(nn.Module):
    """SwAV loss module with the paper's defaults (see :func:`swav_loss`).

    Parameters
    ----------
    temperature : float
        Temperature of the predicted distributions.
    sinkhorn_epsilon : float
        Entropic regularisation of Sinkhorn-Knopp.
    sinkhorn_iterations : int
        Sinkhorn-Knopp iterations.
    crops_for_assign : sequence of int
        Views whose codes are computed.
    """

    def __init__(
        self,
        temperature: float = 0.1,
        sinkhorn_epsilon: float = 0.05,
        sinkhorn_iterations: int = 3,
        crops_for_assign: Sequence[int] = (0, 1),
    ) -> None:
        super().__init__()
        self.temperature = temperature
        self.sinkhorn_epsilon = sinkhorn_epsilon
        self.sinkhorn_iterations = sinkhorn_iterations
        self.crops_for_assign = tuple(crops_for_assign)

    def forward(
        self,
        scores: Sequence[Tensor],
        queue_scores: Sequence[Tensor | None] | Tensor | None = None,
    ) -> Tensor:
        """Loss for per-view ``(batch, K)`` prototype scores; a scalar tensor."""
        return swav_loss(scores, queue_scores, self.temperature, self.sinkhorn_epsilon,
                         self.sinkhorn_iterations, self.crops_for_assign)


# ------------------------------------------------------------------------------------ ST-MEM


def masked_patch_mse(pred: Tensor, target: Tensor, mask: Tensor, normalize_target: bool = True,
                     eps: float = 1e-6) -> Tensor:
    """ST-MEM's reconstruction loss: mean squared error over the masked patches only.

    Parameters
    ----------
    pred, target : Tensor of shape (..., n_patches, patch_length)
        Reconstructed and true patches (mV, or any unit: see ``normalize_target``).
    mask : Tensor of shape (..., n_patches), bool
        True where a patch was masked (hidden from the encoder).
    normalize_target : bool, default=True
        Standardise each target patch by its own mean and unbiased standard deviation,
        ``(t - mean) / sqrt(var + eps)`` (a one-sample patch becomes 0).
    eps : float, default=1e-6

    Returns
    -------
    Tensor of shape ()
        ``sum_masked mean_p (pred - target)^2 / n_masked`` (0 when nothing is masked).
    """
    if pred.shape != target.shape or mask.shape != pred.shape[:-1]:
        raise ValueError(f"pred {tuple(pred.shape)}, target {tuple(target.shape)} and mask "
                         f"{tuple(mask.shape)} must be (..., N, p), (..., N, p) and (..., N).")
    target = target.detach()
    if normalize_target:
        mean = target.mean(-1, keepdim=True)
        var = (target.var(-1, keepdim=True) if target.shape[-1] > 1
               else torch.zeros_like(mean))
        target = (target - mean) / (var + eps).sqrt()
    per_patch = (pred - target).pow(2).mean(-1)
    weight = mask.to(per_patch.dtype)
    return (per_patch * weight).sum() / weight.sum().clamp(min=1)


# --------------------------------------------------------------------------------------- JEPA


def jepa_loss(pred: Tensor, target: Tensor, loss: str = "l1", beta: float = 1.0) -> Tensor:
    """JEPA's latent regression: predicted vs target-encoder tokens; no gradient to ``target``.

    Parameters
    ----------
    pred, target : Tensor of shape (..., width)
        Predictor outputs and target-encoder outputs at the masked positions.
    loss : {"l1", "smooth_l1"}, default="l1"
        Mean absolute error (Weimann & Conrad) or smooth L1 with ``beta`` (Kim et al.).
    beta : float, default=1.0

    Returns
    -------
    Tensor of shape ()
        Mean over all elements (0 when there are none).
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ.")
    if pred.numel() == 0:  # nothing masked (a one-patch record): nothing to predict
        return pred.sum()
    if loss == "l1":
        return F.l1_loss(pred, target.detach())
    if loss == "smooth_l1":
        return F.smooth_l1_loss(pred, target.detach(), beta=beta)
    raise ValueError(f"loss must be 'l1' or 'smooth_l1', got {loss!r}.")


# --------------------------------------------------------------------------------------- CMSC


def cmsc_loss(a: Tensor, b: Tensor, temperature: float = 0.1,
              groups: Tensor | None = None) -> Tensor:
    """Contrastive multi-segment coding: segments of the same record (or patient) attract.

    With ``S = cos(a_i, b_j) / temperature``, the loss is
    ``0.5 * mean_pos(-log softmax_row(S)) + 0.5 * mean_pos(-log softmax_col(S))`` over the
    positive pairs (i, j): same ``groups`` value, or ``i == j`` without groups.

    Parameters
    ----------
    a, b : Tensor of shape (batch, d)
        Embeddings of the first and second segment of each record.
    temperature : float, default=0.1
    groups : Tensor of shape (batch,), optional
        Record or patient id per row; rows sharing an id are positives of each other.

    Returns
    -------
    Tensor of shape ()
    """
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"a and b must have equal shape (batch, d), got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    sim = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / temperature
    if groups is None:
        rows = F.log_softmax(sim, dim=1).diagonal()
        cols = F.log_softmax(sim, dim=0).diagonal()
        return -0.5 * (rows.mean() + cols.mean())
    positive = (groups[:, None] == groups[None, :]).to(sim.dtype)
    n_pos = positive.sum()
    rows = (F.log_softmax(sim, dim=1) * positive).sum() / n_pos
    cols = (F.log_softmax(sim, dim=0) * positive).sum() / n_pos
    return -0.5 * (rows + cols)


class CMSCLoss(nn.Module):
    """CMSC loss module (see :func:`cmsc_loss`).

    Parameters
    ----------
    temperature : float
        Softmax temperature (authors: 0.1).
    """

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, a: Tensor, b: Tensor, groups: Tensor | None = None) -> Tensor:
        """Loss for two ``(batch, d)`` segment embeddings; a scalar tensor."""
        return cmsc_loss(a, b, self.temperature, groups)
