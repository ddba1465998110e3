"""The ECG transformer: tokens, position table, attention against a plain reference, leads."""

import math

import pytest
import torch

from skecg.models import (
    STANDARD_LEADS,
    TRANSFORMER_SIZES,
    ECGTransformer,
    TransformerBlock,
    lead_indices,
    make_backbone,
    patchify,
    sincos_positions,
    transformer,
)


def test_patchify_drops_the_incomplete_patch():
    x = torch.arange(2 * 3 * 11, dtype=torch.float32).view(2, 3, 11)
    p = patchify(x, 5)
    assert p.shape == (2, 3, 2, 5)
    torch.testing.assert_close(p[1, 2, 1], x[1, 2, 5:10])
    with pytest.raises(ValueError, match="fewer than one patch"):
        patchify(x, 12)


def test_sincos_table_matches_formula():
    table = sincos_positions(7, 8)
    for pos in range(7):
        for i in range(4):
            angle = pos * 10000 ** (-i / 4)
            assert math.isclose(table[pos, i], math.sin(angle), abs_tol=1e-6)
            assert math.isclose(table[pos, 4 + i], math.cos(angle), abs_tol=1e-6)


def test_block_attention_matches_loop_reference():
    torch.manual_seed(0)
    block = TransformerBlock(8, 2).eval()
    x = torch.randn(2, 5, 8)
    h = block.norm1(x)
    q, k, v = block.qkv(h).chunk(3, dim=-1)
    out = torch.zeros_like(x)
    for b in range(2):
        heads = []
        for head in range(2):
            cols = slice(4 * head, 4 * head + 4)
            scores = q[b, :, cols] @ k[b, :, cols].T / 2.0
            heads.append(scores.softmax(-1) @ v[b, :, cols])
        out[b] = torch.cat(heads, -1)
    expected = x + block.proj(out)
    expected = expected + block.mlp(block.norm2(expected))
    torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-5)


def test_fewer_leads_is_a_shorter_sequence_with_their_own_embeddings():
    torch.manual_seed(0)
    net = transformer(12, size="tiny", patch_length=10)
    x = torch.randn(2, 12, 50)
    assert net.tokens(x).shape == (2, 12, 5, 32)
    sub = net.tokens(x[:, 1:2], leads=["II"])
    assert sub.shape == (2, 1, 5, 32)
    torch.testing.assert_close(sub[:, 0], net.tokens(x)[:, 1])  # lead II's embedding, not I's
    assert not torch.allclose(net.tokens(x[:, 1:2], leads=["I"]), sub)
    assert net.forward_features(x[:, :6], leads=list(STANDARD_LEADS[:6])).shape == (2, 32)
    with pytest.raises(ValueError, match="reads 12"):
        net.forward_features(x[:, :2])


def test_lead_indices():
    assert lead_indices(None, 3) == [0, 1, 2]
    assert lead_indices(["avr", "V6"], 2) == [3, 11]
    for bad, n, match in [(["I", "I"], 2, "repeat"), (["X"], 1, "unknown lead"),
                          (["I"], 2, "names 1")]:
        with pytest.raises(ValueError, match=match):
            lead_indices(bad, n)
    with pytest.raises(ValueError, match="at most 12"):
        lead_indices(None, 13)


def test_presets_and_registry():
    assert set(TRANSFORMER_SIZES) >= {"tiny", "stmem-b", "jepa-s"}
    net = make_backbone("transformer", 12, width=64)
    assert isinstance(net, ECGTransformer) and net.out_features == 64
    assert net.blocks[0].n_heads == 1
    tiny = transformer(size="tiny", depth=1, n_heads=4)
    assert len(tiny.blocks) == 1 and tiny.blocks[0].n_heads == 4
    with pytest.raises(ValueError, match="unknown transformer size"):
        transformer(size="huge")
