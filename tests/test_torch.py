"""The shared torch plumbing: devices, optimisers, precision and parameter groups."""

import pytest
import torch
from torch import nn

from skecg._torch import (
    OPTIMIZERS,
    autocast,
    get_optimizer,
    param_groups,
    resolve_device,
    rng_devices,
)


def test_param_groups_split_decay_and_scale_lr():
    encoder = nn.Sequential(nn.Conv1d(2, 3, 1, bias=False), nn.BatchNorm1d(3))
    head = nn.Linear(3, 2)
    groups = param_groups({"encoder": (encoder.parameters(), 0.01),
                           "context": ([], 0.1),
                           "head": (head.parameters(), 1.0)}, lr=1e-3, weight_decay=0.1)
    by_name = {g["name"]: g for g in groups}
    assert list(by_name) == ["encoder", "encoder_no_decay", "head", "head_no_decay"]
    expected = {  # (lr, weight decay, parameters): BatchNorm and biases get no decay
        "encoder": (1e-5, 0.1, [encoder[0].weight]),
        "encoder_no_decay": (1e-5, 0.0, [encoder[1].weight, encoder[1].bias]),
        "head": (1e-3, 0.1, [head.weight]),
        "head_no_decay": (1e-3, 0.0, [head.bias]),
    }
    for name, (lr, decay, params) in expected.items():
        assert by_name[name]["lr"] == pytest.approx(lr)
        assert by_name[name]["weight_decay"] == decay
        assert [id(p) for p in by_name[name]["params"]] == [id(p) for p in params]
    assert by_name["encoder"]["lr_factor"] == 0.01
    optimizer = torch.optim.AdamW(groups, lr=1e-3)
    assert len(optimizer.param_groups) == 4


def test_param_groups_keep_a_shared_parameter_in_its_first_part():
    layer = nn.Linear(2, 2)
    groups = param_groups({"a": (layer.parameters(), 1.0), "b": (layer.parameters(), 0.5)},
                          lr=1.0, weight_decay=0.0)
    assert [g["name"] for g in groups] == ["a", "a_no_decay"]


def test_resolve_device_and_optimizer_lookup():
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
        assert rng_devices() == []
    assert get_optimizer("adamw") is torch.optim.AdamW
    assert get_optimizer(torch.optim.SGD) is torch.optim.SGD
    assert set(OPTIMIZERS) == {"adamw", "adam", "sgd"}
    with pytest.raises(ValueError, match="optimizer must be one of"):
        get_optimizer("lbfgs")


def test_autocast_precisions():
    x = torch.randn(4, 4)
    with autocast("cpu", 32):
        assert (x @ x).dtype == torch.float32
    with autocast("cpu", "bf16"):
        assert (x @ x).dtype == torch.bfloat16


def test_fits_on_a_read_only_memmap_without_torch_warnings(tmp_path):
    """A cached array is a read-only memmap: no "not writable" warning, the file is unchanged."""
    import warnings

    import numpy as np

    from skecg.classifier import ECGClassifier
    from skecg.ssl import CPCEncoder

    X = np.random.default_rng(0).standard_normal((8, 2, 120)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    X_cached = np.load(tmp_path / "x.npy", mmap_mode="r")
    y = np.array([0, 1] * 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CPCEncoder(encoder_width=4, context_width=4, crop_length=60, window=60, stride=30,
                   batch_size=4, max_epochs=1, random_state=0).fit(X_cached)
        ECGClassifier(encoder="xresnet1d18", width=4, crop_length=60, window=60, stride=30,
                      batch_size=4, max_epochs=1, random_state=0).fit(X_cached, y)
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), X)
