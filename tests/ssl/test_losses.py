"""SSL losses against slow, obviously correct references (Python loops / numpy)."""

import numpy as np
import pytest
import torch
from torch import nn

from skecg.ssl import losses
from skecg.ssl.losses import (
    BYOLLoss,
    InfoNCELoss,
    NTXentLoss,
    SwAVLoss,
    byol_loss,
    cpc_loss_inputs,
    info_nce_accuracy,
    info_nce_logits,
    info_nce_loss,
    nt_xent_loss,
    sample_negative_indices,
    sinkhorn_knopp,
    swav_loss,
)


def _logsumexp(v: np.ndarray) -> float:
    m = v.max()
    return float(m + np.log(np.exp(v - m).sum()))


def _info_nce_reference(pred, targ, idx, mode, offset=0, reduction="sum"):
    """Loop over sequences and positions, as the paper's reference sums over positions."""
    pred, targ, idx = pred.double().numpy(), targ.double().numpy(), idx.numpy()
    batch, n_pos, dim = pred.shape
    flat = targ.reshape(-1, dim)
    total = 0.0
    for b in range(batch):
        for t in range(n_pos):
            pos = pred[b, t] @ targ[b, t + offset]
            negs = [pred[b, t] @ (targ[b, k] if mode == "sequence" else flat[k])
                    for k in idx[b, t]]
            total += _logsumexp(np.array([pos, *negs])) - pos
    return total / batch if reduction == "sum" else total / (batch * n_pos)


# ----------------------------------------------------------------------------------- InfoNCE


@pytest.mark.parametrize("mode", ["sequence", "batch"])
@pytest.mark.parametrize("offset", [0, 2])
def test_negative_indices_never_the_positive_and_cover_all_others(mode, offset):
    gen = torch.Generator().manual_seed(0)
    batch, n_pos, n_tokens = 3, 5, 5 + offset
    idx = sample_negative_indices(batch, n_pos, 400, generator=gen, mode=mode,
                                  n_candidates=n_tokens, offset=offset)
    assert idx.shape == (batch, n_pos, 400) and idx.dtype == torch.int64
    n_candidates = n_tokens if mode == "sequence" else batch * n_tokens
    for b in range(batch):
        for t in range(n_pos):
            own = t + offset if mode == "sequence" else b * n_tokens + t + offset
            drawn = set(idx[b, t].tolist())
            assert drawn == set(range(n_candidates)) - {own}


def test_negative_indices_reproducible_and_validated():
    a = sample_negative_indices(2, 6, 4, generator=torch.Generator().manual_seed(3))
    b = sample_negative_indices(2, 6, 4, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError):
        sample_negative_indices(2, 1, 4, mode="sequence")
    with pytest.raises(ValueError):
        sample_negative_indices(2, 6, 4, mode="nearby")
    with pytest.raises(ValueError, match="offset"):
        sample_negative_indices(2, 6, 4, n_candidates=7, offset=2)


@pytest.mark.parametrize("mode", ["sequence", "batch"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_info_nce_matches_loop_reference(mode, reduction):
    torch.manual_seed(0)
    pred, targ = torch.randn(3, 7, 4), torch.randn(3, 10, 4)
    idx = sample_negative_indices(3, 7, 5, generator=torch.Generator().manual_seed(1), mode=mode,
                                  n_candidates=10, offset=3)
    loss = info_nce_loss(pred, targ, negatives=mode, negative_indices=idx, offset=3,
                         reduction=reduction)
    assert loss.ndim == 0
    assert loss.item() == pytest.approx(
        _info_nce_reference(pred, targ, idx, mode, offset=3, reduction=reduction), abs=1e-5)


@pytest.mark.parametrize("mode", ["sequence", "batch"])
def test_info_nce_module_uses_generator(mode):
    torch.manual_seed(0)
    pred, targ = torch.randn(2, 9, 3), torch.randn(2, 11, 3)
    module = InfoNCELoss(n_negatives=6, negatives=mode)
    loss = module(pred, targ, generator=torch.Generator().manual_seed(5), offset=2)
    idx = sample_negative_indices(2, 9, 6, generator=torch.Generator().manual_seed(5), mode=mode,
                                  n_candidates=11, offset=2)
    assert loss.item() == pytest.approx(_info_nce_reference(pred, targ, idx, mode, offset=2),
                                        abs=1e-5)


def test_info_nce_defaults():
    module = InfoNCELoss()
    assert module.n_negatives == 128 and module.negatives == "sequence"
    assert module.reduction == "sum"
    with pytest.raises(ValueError):
        InfoNCELoss(negatives="global")
    with pytest.raises(ValueError, match="reduction"):
        InfoNCELoss(reduction="none")


@pytest.mark.parametrize("mode", ["sequence", "batch"])
def test_info_nce_chunked_paths_match_and_backprop(monkeypatch, mode):
    torch.manual_seed(0)
    pred = torch.randn(3, 6, 4, requires_grad=True)
    targ = torch.randn(3, 8, 4, requires_grad=True)
    idx = sample_negative_indices(3, 6, 3, generator=torch.Generator().manual_seed(2), mode=mode,
                                  n_candidates=8, offset=2)
    whole = info_nce_loss(pred, targ, negatives=mode, negative_indices=idx, offset=2)
    g_whole = torch.autograd.grad(whole, (pred, targ))
    monkeypatch.setattr(losses, "_BATCH_CHUNK_ELEMENTS", 25)  # 2 rows / 1 record per chunk
    chunked = info_nce_loss(pred, targ, negatives=mode, negative_indices=idx, offset=2)
    g_chunked = torch.autograd.grad(chunked, (pred, targ))
    torch.testing.assert_close(chunked, whole)
    for a, b in zip(g_chunked, g_whole, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("mode", ["sequence", "batch"])
def test_info_nce_gradient_is_exact(mode):
    pred = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    targ = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    idx = sample_negative_indices(2, 4, 9, generator=torch.Generator().manual_seed(0), mode=mode,
                                  n_candidates=5, offset=1)
    assert torch.autograd.gradcheck(
        lambda p, t: info_nce_loss(p, t, negatives=mode, negative_indices=idx, offset=1),
        (pred, targ))
    with torch.no_grad():  # and the no-grad path gives the same value
        assert info_nce_loss(pred, targ, negatives=mode, negative_indices=idx,
                             offset=1).item() == pytest.approx(
            _info_nce_reference(pred, targ, idx, mode, offset=1), abs=1e-10)


def test_info_nce_perfect_predictor_has_zero_loss():
    # a perfect predictor of the positive (large scale) drives the loss towards 0
    targ = torch.nn.functional.one_hot(torch.arange(6)).float().unsqueeze(0)
    idx = sample_negative_indices(1, 6, 4, generator=torch.Generator().manual_seed(0))
    logits = info_nce_logits(20 * targ, targ, idx)
    assert logits.shape == (1, 6, 5)
    assert info_nce_accuracy(logits).item() == 1.0
    assert info_nce_loss(20 * targ, targ, negative_indices=idx).item() < 1e-6
    with pytest.raises(ValueError, match="offset"):
        info_nce_logits(targ, targ, idx, offset=1)


def test_cpc_loss_inputs_pairs_context_t_with_token_t_plus_steps():
    context = torch.arange(10.0).view(1, 10, 1)
    tokens = torch.arange(10.0).view(1, 10, 1) + 100
    pred, targ = cpc_loss_inputs(context, tokens, nn.Identity(), steps=3)
    assert pred.shape == targ.shape == (1, 7, 1)
    torch.testing.assert_close(targ - pred, torch.full((1, 7, 1), 103.0))
    with pytest.raises(ValueError):
        cpc_loss_inputs(context, tokens, nn.Identity(), steps=10)


def test_cpc_module_loss_is_the_references_sum_over_positions():
    """CPCModule's loss equals the reference's loop: for each position i, negatives from all
    T tokens except i + steps, batch-mean cross-entropy, summed over i."""
    from skecg.models import CPCNetwork
    from skecg.ssl.cpc import CPCModule

    torch.manual_seed(0)
    module = CPCModule(CPCNetwork(n_leads=2, encoder_width=8, context_width=6,
                                  n_encoder_layers=2), steps=3, n_negatives=5,
                       negatives="sequence").double().eval()
    x = torch.randn(4, 2, 20, dtype=torch.float64)
    loss = module.training_loss(x, lambda v, generator=None: v, torch.Generator().manual_seed(7))
    tokens = module.backbone.encode(x)
    predictions = module.predictor(module.backbone.context(tokens))
    idx = sample_negative_indices(4, 17, 5, generator=torch.Generator().manual_seed(7),
                                  n_candidates=20, offset=3)
    expected = 0.0
    for i in range(20 - 3):
        candidates = torch.cat([tokens[:, i + 3, None],
                                tokens[torch.arange(4)[:, None], idx[:, i]]], dim=1)
        scores = (predictions[:, i, None] * candidates).sum(-1)
        expected += torch.nn.functional.cross_entropy(
            scores, torch.zeros(4, dtype=torch.long)).item()
    assert loss.item() == pytest.approx(expected, rel=1e-10)


# ----------------------------------------------------------------------------------- NT-Xent


def _nt_xent_reference(z1, z2, temperature):
    z = np.concatenate([z1.double().numpy(), z2.double().numpy()])
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    n2 = len(z)
    total = 0.0
    for i in range(n2):
        pos = (i + n2 // 2) % n2
        logits = np.array([z[i] @ z[j] / temperature for j in range(n2) if j != i])
        total += _logsumexp(logits) - z[i] @ z[pos] / temperature
    return total / n2


@pytest.mark.parametrize("temperature", [0.5, 0.1])
def test_nt_xent_matches_loop_reference(temperature):
    torch.manual_seed(0)
    z1, z2 = torch.randn(5, 3), torch.randn(5, 3)
    expected = _nt_xent_reference(z1, z2, temperature)
    assert nt_xent_loss(z1, z2, temperature).item() == pytest.approx(expected, abs=1e-5)
    assert NTXentLoss(temperature)(z1, z2).item() == pytest.approx(expected, abs=1e-5)
    assert NTXentLoss().temperature == 0.5


# -------------------------------------------------------------------------------------- BYOL


def test_byol_matches_numpy_and_stops_target_gradient():
    torch.manual_seed(0)
    p = torch.randn(4, 6, requires_grad=True)
    z = torch.randn(4, 6, requires_grad=True)
    pn, zn = p.detach().numpy(), z.detach().numpy()
    cos = (pn * zn).sum(1) / np.linalg.norm(pn, axis=1) / np.linalg.norm(zn, axis=1)
    loss = byol_loss(p, z)
    assert loss.item() == pytest.approx(float(np.mean(2 - 2 * cos)), abs=1e-5)
    torch.testing.assert_close(BYOLLoss()(p, z), loss)
    loss.backward()
    assert p.grad is not None and z.grad is None


# -------------------------------------------------------------------------------------- SwAV


def _sinkhorn_reference(scores, epsilon, n_iterations):
    q = np.exp(scores / epsilon).T  # (K, B)
    q /= q.sum()
    n_prototypes, batch = q.shape
    for _ in range(n_iterations):
        for k in range(n_prototypes):
            q[k] /= q[k].sum() * n_prototypes
        for b in range(batch):
            q[:, b] /= q[:, b].sum() * batch
    return (q * batch).T


def _log_softmax(v):
    return v - _logsumexp(v)


def _swav_reference(scores, queue, temperature, epsilon, n_iterations, crops):
    scores = [s.double().numpy() for s in scores]
    batch = scores[0].shape[0]
    pair_losses = []
    for j, i in enumerate(crops):
        current = scores[i] if queue is None else np.concatenate([queue[j].double().numpy(),
                                                                   scores[i]])
        q = _sinkhorn_reference(current, epsilon, n_iterations)[-batch:]
        for v in range(len(scores)):
            if v == i:
                continue
            per_sample = [-(q[b] * _log_softmax(scores[v][b] / temperature)).sum()
                          for b in range(batch)]
            pair_losses.append(np.mean(per_sample))
    return float(np.mean(pair_losses))


def test_sinkhorn_matches_reference_and_marginals():
    torch.manual_seed(0)
    scores = torch.nn.functional.normalize(torch.randn(6, 4), dim=1) * 0.9
    q = sinkhorn_knopp(scores, epsilon=0.05, n_iterations=3)
    assert q.shape == (6, 4) and not q.requires_grad
    np.testing.assert_allclose(q.numpy(), _sinkhorn_reference(scores.double().numpy(), 0.05, 3),
                               rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(q.sum(1), torch.ones(6))
    # many iterations: prototypes are used equally
    q_many = sinkhorn_knopp(scores, epsilon=0.5, n_iterations=200)
    torch.testing.assert_close(q_many.sum(0), torch.full((4,), 6 / 4), rtol=1e-4, atol=1e-4)


def test_sinkhorn_is_stable_for_extreme_scores():
    scores = torch.tensor([[10.0, -10.0, 0.0], [-10.0, 10.0, 0.0]], requires_grad=True)
    q = sinkhorn_knopp(scores, epsilon=0.01)
    assert torch.isfinite(q).all()
    torch.testing.assert_close(q.sum(1), torch.ones(2))


@pytest.mark.parametrize("with_queue", [False, True])
def test_swav_matches_numpy_reference(with_queue):
    torch.manual_seed(0)
    scores = [torch.randn(5, 4) * 0.5 for _ in range(3)]
    queue = [torch.randn(7, 4) * 0.5, torch.randn(7, 4) * 0.5] if with_queue else None
    expected = _swav_reference(scores, queue, 0.1, 0.05, 3, (0, 1))
    assert SwAVLoss()(scores, queue).item() == pytest.approx(expected, rel=1e-5, abs=1e-5)
    stacked_queue = None if queue is None else torch.stack(queue)
    assert swav_loss(scores, stacked_queue).item() == pytest.approx(expected, rel=1e-5, abs=1e-5)


def test_swav_gradient_flows_only_through_predictions():
    scores = [torch.randn(4, 3, requires_grad=True) for _ in range(2)]
    SwAVLoss(crops_for_assign=(0,))(scores).backward()
    # view 0 only provides the (no-grad) codes; view 1 predicts them
    assert scores[0].grad is None or torch.count_nonzero(scores[0].grad) == 0
    assert torch.count_nonzero(scores[1].grad) > 0


def test_swav_validates_inputs():
    with pytest.raises(ValueError):
        swav_loss([torch.randn(4, 3)])
    with pytest.raises(ValueError):
        swav_loss([torch.randn(4, 3)] * 2, crops_for_assign=(2,))
    with pytest.raises(ValueError):
        swav_loss([torch.randn(4, 3)] * 2, queue_scores=[torch.randn(2, 3)])
