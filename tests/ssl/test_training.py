"""Tests that fail when training is wrong: LR schedule, BYOL EMA, SwAV freezing, precision.

Each compares what the training loop does, step by step, with an independent reference
(torch's own schedulers, the EMA formula written out).
"""

import math

import numpy as np
import pytest
import torch

from skecg.ssl import BYOLEncoder, CPCEncoder, SimCLREncoder, SwAVEncoder
from skecg.ssl._training import SSLNet
from skecg.ssl.byol import BYOLModule

VIEWS = dict(backbone="xresnet1d18", width=8, projection_hidden=16, projection_dim=8,
             crop_length=64, window=64, stride=32, batch_size=8, lr=1e-3, random_state=0)
STEPS_PER_EPOCH = 3  # 24 records, batch 8


@pytest.fixture
def record_steps(monkeypatch):
    """Call ``probe(net)`` after each training step's backward pass; returns the records."""

    def install(probe):
        records, original = [], SSLNet.train_step_single

        def step(self, batch, **fit_params):
            out = original(self, batch, **fit_params)
            records.append(probe(self))
            return out

        monkeypatch.setattr(SSLNet, "train_step_single", step)
        return records

    return install


def test_lr_follows_torch_warmup_then_cosine(ecg, record_steps):
    warmup_epochs, max_epochs, lr = 2, 6, 1e-2
    lrs = record_steps(lambda net: net.optimizer_.param_groups[0]["lr"])
    CPCEncoder(encoder_width=8, context_width=8, steps=2, n_negatives=2, crop_length=60,
               batch_size=8, max_epochs=max_epochs, lr=lr, warmup_epochs=warmup_epochs,
               lr_schedule="cosine", random_state=0).fit(ecg)
    total, warmup = max_epochs * STEPS_PER_EPOCH, warmup_epochs * STEPS_PER_EPOCH
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    reference = torch.optim.lr_scheduler.SequentialLR(optimizer, [
        torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1 / warmup, end_factor=1.0,
                                          total_iters=warmup - 1),
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total - warmup),
    ], milestones=[warmup])
    expected = []
    for _ in range(total):
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        reference.step()
    np.testing.assert_allclose(lrs, expected, rtol=1e-6, atol=1e-12)
    assert lrs[warmup - 1] == pytest.approx(lr) and lrs[-1] < 0.05 * lr  # shape, in words


def test_byol_target_is_the_ema_of_the_online_network(ecg, monkeypatch):
    base_momentum, max_epochs = 0.9, 2
    seen, original = [], BYOLModule.after_optimizer_step

    def checked(self):
        target_before = [p.detach().clone() for p in self.target_backbone.parameters()]
        online = [p.detach().clone() for p in self.backbone.parameters()]
        original(self)
        target_after = [p.detach().clone() for p in self.target_backbone.parameters()]
        seen.append((self.momentum, target_before, online, target_after))

    monkeypatch.setattr(BYOLModule, "after_optimizer_step", checked)
    BYOLEncoder(**VIEWS, base_momentum=base_momentum, max_epochs=max_epochs).fit(ecg)
    total = max_epochs * STEPS_PER_EPOCH
    assert len(seen) == total
    for step, (momentum, before, online, after) in enumerate(seen):
        # momentum schedule: base -> 1 on a half cosine over the fit (BYOL paper, eq. 4)
        expected_m = 1 - (1 - base_momentum) * (math.cos(math.pi * step / total) + 1) / 2
        assert momentum == pytest.approx(expected_m)
        for t0, o, t1 in zip(before, online, after, strict=True):
            torch.testing.assert_close(t1, expected_m * t0 + (1 - expected_m) * o)
    # the target moved, and towards the online network
    first = seen[0]
    assert not torch.equal(first[1][0], first[3][0])
    assert (first[3][0] - first[2][0]).norm() < (first[1][0] - first[2][0]).norm()


def test_swav_prototypes_frozen_during_the_first_epoch(ecg, record_steps):
    def probe(net):
        grad = net.module_.prototypes.weight.grad
        return (len(net.history), None if grad is None else grad.abs().sum().item(),
                net.module_.prototypes.weight.detach().clone())

    records = record_steps(probe)
    est = SwAVEncoder(**VIEWS, n_prototypes=10, max_epochs=2, freeze_prototypes_epochs=1)
    est.fit(ecg)
    first = [r for r in records if r[0] == 1]
    second = [r for r in records if r[0] == 2]
    assert len(first) == len(second) == STEPS_PER_EPOCH
    assert all(grad is None or grad == 0 for _, grad, _ in first)  # no gradient while frozen
    for _, _, weight in first[1:]:  # and no change (weight decay skips gradient-free params)
        torch.testing.assert_close(weight, first[0][2])
    assert all(grad is not None and grad > 0 for _, grad, _ in second)
    assert not torch.allclose(est.module_.prototypes.weight, first[0][2])


@pytest.mark.parametrize("precision, dtype", [("bf16", torch.bfloat16),
                                              ("fp16", torch.float16)])
def test_reduced_precision_trains_on_cpu(ecg, precision, dtype, record_steps, monkeypatch):
    seen = []
    original = torch.nn.Conv1d.forward

    def conv(self, x):
        out = original(self, x)
        seen.append(out.dtype)
        return out

    monkeypatch.setattr(torch.nn.Conv1d, "forward", conv)
    scalers = record_steps(lambda net: net.grad_scaler_ is not None)
    est = SimCLREncoder(**VIEWS, max_epochs=2, precision=precision).fit(ecg)
    assert dtype in seen  # autocast really ran the convolutions in reduced precision
    assert all(scalers) == (precision == "fp16")  # fp16 uses a gradient scaler
    assert all(np.isfinite(row["train_loss"]) for row in est.history_)
    emb = est.transform(ecg)
    assert emb.dtype == np.float32 and np.isfinite(emb).all()


def test_user_callbacks_are_appended_and_run(tmp_path):
    """``callbacks=`` adds skorch callbacks after the encoder's own; the model still saves."""
    from skorch.callbacks import Callback

    from skecg.ssl import SimCLREncoder

    class CountEpochs(Callback):
        def initialize(self):
            self.epochs_ = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.epochs_ += 1

    X = np.random.default_rng(0).standard_normal((8, 2, 100)).astype(np.float32)
    counter = CountEpochs()
    encoder = SimCLREncoder(backbone="xresnet1d18", width=4, crop_length=50, window=50,
                            stride=25, batch_size=4, max_epochs=2, augmentations=[],
                            callbacks=[("count", counter)], random_state=0).fit(X)
    names = [name for name, _ in encoder.net_.callbacks_]
    assert names.index("count") > names.index("training_guard")  # after the encoder's own
    assert dict(encoder.net_.callbacks_)["count"].epochs_ == 2
    assert not hasattr(counter, "epochs_")  # the parameter itself is left untouched
    encoder.save(tmp_path / "m.skecg")
    assert type(encoder).load(tmp_path / "m.skecg").callbacks is None


def test_warm_start_honours_changed_training_params():
    """A warm start trains ``max_epochs`` more at the new lr; architecture changes are refused."""
    X = np.random.default_rng(0).standard_normal((8, 2, 100)).astype(np.float32)
    encoder = SimCLREncoder(backbone="xresnet1d18", width=4, crop_length=50, window=50,
                            stride=25, batch_size=4, max_epochs=1, lr=1e-3, weight_decay=1e-4,
                            augmentations=[], warm_start=True, random_state=0).fit(X)
    assert len(encoder.history_) == 1
    encoder.set_params(max_epochs=3, lr=5e-3, weight_decay=0.0)
    encoder.fit(X)
    assert len(encoder.history_) == 4  # 3 more epochs, history kept
    groups = encoder.net_.optimizer_.param_groups
    assert all(g["initial_lr"] == pytest.approx(5e-3) for g in groups)
    assert all(g["weight_decay"] == 0.0 for g in groups)
    encoder.set_params(width=8)
    with pytest.raises(ValueError, match="width"):
        encoder.fit(X)
