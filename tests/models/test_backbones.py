"""Backbones and heads: shapes, the uniform interface, gradients and determinism."""

import pytest
import torch
from torch import nn

from skecg.models import (
    BACKBONES,
    CPCNetwork,
    LinearHead,
    PaperHead,
    ProjectionMLP,
    XResNet1d,
    make_backbone,
    xresnet1d18,
    xresnet1d50,
)

SMALL = {
    "xresnet1d18": {"width": 8},
    "xresnet1d34": {"width": 8},
    "xresnet1d50": {"width": 8},
    "xresnet1d101": {"width": 4},
    "cpc": {"encoder_width": 16, "context_width": 8},
    "transformer": {"size": "tiny", "patch_length": 8},
}


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_registry_interface(name):
    torch.manual_seed(0)
    net = make_backbone(name, n_leads=3, **SMALL[name])
    x = torch.randn(2, 3, 64)
    out = net(x)
    assert out.shape == (2, net.out_features)
    torch.testing.assert_close(net.forward_features(x), out)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_make_backbone_unknown_name():
    with pytest.raises(ValueError, match="xresnet1d50"):
        make_backbone("resnet", n_leads=12)


@pytest.mark.parametrize(
    ("factory", "width", "expected"),
    [(xresnet1d18, 16, 32), (xresnet1d50, 16, 128), (xresnet1d50, 64, 512)],
)
def test_xresnet_out_features(factory, width, expected):
    assert factory(n_leads=12, width=width).out_features == expected


def test_xresnet1d50_paper_configuration():
    net = xresnet1d50()
    assert net.out_features == 512 and net.n_channels == 256
    # bottleneck 64-wide blocks with kernel 5: about 0.9 M parameters
    assert 0.7e6 < _n_params(net) < 1.1e6
    assert _n_params(make_backbone("xresnet1d101", 12)) > 1.5 * _n_params(net)
    fmap = net.eval().forward_feature_map(torch.randn(1, 12, 250))
    # stem stride 2, max-pool 2, three stride-2 stages: 250 / 32 rounded up
    assert fmap.shape == (1, 256, 8)


def test_xresnet_blocks_start_as_identity():
    net = XResNet1d(n_leads=2, layers=(1, 1), expansion=1, block_widths=(4, 4),
                    stem_widths=(4,), kernel_size=3).eval()
    block = net.stages[0][0]  # no shape change: zero-init BN makes the block relu(x)
    x = torch.randn(2, 4, 10)
    torch.testing.assert_close(block(x), torch.relu(x))


def test_xresnet_features_are_max_and_mean():
    net = xresnet1d18(n_leads=2, width=4).eval()
    x = torch.randn(3, 2, 50)
    fmap = net.forward_feature_map(x)
    expected = torch.cat([fmap.max(dim=2).values, fmap.mean(dim=2)], dim=1)
    torch.testing.assert_close(net.forward_features(x), expected)


def test_xresnet_rejects_bad_config():
    with pytest.raises(ValueError):
        XResNet1d(layers=(1, 1), block_widths=(8,))
    with pytest.raises(ValueError):
        XResNet1d(kernel_size=4)


def test_cpc_pointwise_tokens_one_per_sample():
    net = CPCNetwork(n_leads=12, encoder_width=16, context_width=8)
    x = torch.randn(2, 12, 37)
    tokens = net.encode(x)
    assert tokens.shape == (2, 37, 16)
    assert net.context(tokens).shape == (2, 37, 8)
    assert net.downsampling_factor == 1 and net.n_tokens(37) == 37
    assert net.out_features == 24


def test_cpc_default_is_paper_configuration():
    net = CPCNetwork()
    convs = [m for m in net.encoder if isinstance(m, nn.Conv1d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convs] == [
        (12, 512, 1), (512, 512, 1), (512, 512, 1), (512, 512, 1)]
    assert all(c.bias is None for c in convs)
    assert net.lstm.num_layers == 2 and net.lstm.hidden_size == 512
    assert not net.lstm.bidirectional
    assert net.out_features == 1536


def test_cpc_strided_downsamples_by_16():
    net = CPCNetwork(encoder="strided", encoder_width=16, context_width=8)
    assert net.downsampling_factor == 16
    tokens = net.encode(torch.randn(2, 12, 1000))
    assert tokens.shape == (2, net.n_tokens(1000), 16)
    assert abs(tokens.shape[1] - 1000 / 16) <= 4


def test_cpc_forward_features_is_mean_max_last():
    torch.manual_seed(0)
    net = CPCNetwork(n_leads=2, encoder_width=8, context_width=5).eval()
    x = torch.randn(3, 2, 20)
    c = net.context(net.encode(x))
    expected = torch.cat([c.mean(1), c.max(1).values, c[:, -1]], dim=1)
    torch.testing.assert_close(net.forward_features(x), expected)


def test_cpc_context_is_causal():
    net = CPCNetwork(n_leads=2, encoder_width=8, context_width=5).eval()
    x = torch.randn(1, 2, 20)
    y = x.clone()
    y[..., 10:] = torch.randn(1, 2, 10)
    with torch.no_grad():
        cx, cy = net.context(net.encode(x)), net.context(net.encode(y))
    torch.testing.assert_close(cx[:, :10], cy[:, :10])
    assert not torch.allclose(cx[:, 10:], cy[:, 10:])


def test_cpc_rejects_unknown_encoder():
    with pytest.raises(ValueError, match="encoder"):
        CPCNetwork(encoder="dilated")


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_eval_mode_is_deterministic(name):
    net = make_backbone(name, n_leads=2, **SMALL[name]).eval()
    x = torch.randn(2, 2, 64)
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(x), rtol=0, atol=0)


def test_projection_mlp_structure():
    mlp = ProjectionMLP(12, 32, 7, n_layers=3)
    linears = [m for m in mlp.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(12, 32), (32, 32), (32, 7)]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in mlp.modules()) == 2
    assert mlp(torch.randn(4, 12)).shape == (4, 7)
    plain = ProjectionMLP(12, 32, 7, batch_norm=False, last_batch_norm=True)
    norms = [m for m in plain.modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(norms) == 1 and not norms[0].affine
    with pytest.raises(ValueError):
        ProjectionMLP(4, 4, 4, n_layers=0)


def test_paper_and_linear_heads():
    head = PaperHead(24, 5, hidden=16)
    assert [type(m) for m in head.net] == [nn.BatchNorm1d, nn.Dropout, nn.Linear, nn.ReLU,
                                           nn.BatchNorm1d, nn.Dropout, nn.Linear]
    assert head(torch.randn(4, 24)).shape == (4, 5)
    assert LinearHead(24, 5)(torch.randn(4, 24)).shape == (4, 5)
    assert _n_params(LinearHead(24, 5)) == 24 * 5 + 5
    assert LinearHead(24, 5, batch_norm=True)(torch.randn(4, 24)).shape == (4, 5)
