"""Data-parallel pretraining: 2 gloo processes on CPU against 1 process with the same global batch.

SGD with a small learning rate: float rounding differs between the two gradient sums, and Adam's
normalisation (or an unstable learning rate) magnifies it over the epochs (measured: SimCLR
without BatchNorm, 5 epochs, SGD lr 0.01: |d loss| <= 2e-7; SGD lr 0.05: 8e-3; Adam: 1e-2).

The 2 processes run under ``torchrun`` in a subprocess (``OMP_NUM_THREADS=1``). BatchNorm layers
are replaced by identities in the compared models: torch has no CPU kernel for SyncBatchNorm,
so with BatchNorm each CPU process normalises over its own half of the batch and the two runs
differ by design (checked separately: identical ranks, finite loss, one checkpoint).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from skecg.ssl import SimCLREncoder, SwAVEncoder
from skecg.ssl._distributed import (
    all_reduce_mean,
    gather_with_grad,
    is_main_process,
    torchrun_command,
    world_size,
)

N_RECORDS, N_LEADS, N_SAMPLES = 24, 2, 64

WORKER = textwrap.dedent("""
    import json, sys
    import numpy as np, torch
    from torch import nn
    from skecg.ssl import (BYOLEncoder, CMSCEncoder, CPCEncoder, JEPAEncoder, SimCLREncoder,
                           STMEMEncoder, SwAVEncoder)
    from skecg.ssl._distributed import rank, world_size

    def without_batchnorm(module):
        for child in list(module.modules()):
            for key, sub in list(child.named_children()):
                if isinstance(sub, nn.BatchNorm1d):
                    setattr(child, key, nn.Identity())
        return module

    out, X = sys.argv[1], np.load(sys.argv[2])
    for job in json.loads(sys.argv[3]):
        cls = {"simclr": SimCLREncoder, "swav": SwAVEncoder, "byol": BYOLEncoder,
               "cpc": CPCEncoder, "stmem": STMEMEncoder, "jepa": JEPAEncoder,
               "cmsc": CMSCEncoder}[job["method"]]
        enc = cls(**job["params"])
        if not job["batch_norm"]:
            build = cls._build_module
            enc._build_module = lambda n, enc=enc, build=build: without_batchnorm(build(enc, n))
        enc.fit(X)
        assert world_size() == 2, world_size()
        stem = f"{out}/{job['name']}-rank{rank()}"
        torch.save({k: v.detach().clone() for k, v in enc.module_.state_dict().items()},
                   stem + ".pt")
        with open(stem + ".json", "w") as f:
            json.dump({"loss": enc.history_[:, "train_loss"],
                       "batches": enc.history_[:, "train_batch_count"]}, f)
""")
JOBS = [("simclr", False), ("swav", False), ("simclr", True)]
# the other methods and the mixed-precision paths under DDP (BatchNorm kept, 2 epochs)
SMOKE_JOBS = {
    "byol": dict(backbone="xresnet1d18", width=4, projection_hidden=16, projection_dim=8),
    "cpc": dict(encoder_width=8, context_width=8, steps=2, n_negatives=4),
    "simclr-bf16": dict(backbone="xresnet1d18", width=4, projection_hidden=16, projection_dim=8,
                        precision="bf16"),
    "simclr-fp16": dict(backbone="xresnet1d18", width=4, projection_hidden=16, projection_dim=8,
                        precision="fp16"),
    # the methods since the paper: token models on 16-sample patches, JEPA's EMA target in bf16,
    # CMSC's two 32-sample segments per crop
    "stmem": dict(size="tiny", patch_length=16, decoder_width=16, decoder_depth=1,
                  decoder_heads=2),
    "jepa-bf16": dict(size="tiny", patch_length=16, mask_block=1, precision="bf16"),
    "cmsc": dict(backbone="xresnet1d18", width=4, window=N_SAMPLES // 2,
                 stride=N_SAMPLES // 2),
}


def _params(method: str, checkpoint_dir=None) -> dict:
    common = dict(backbone="xresnet1d18", width=4, crop_length=N_SAMPLES, window=N_SAMPLES,
                  stride=N_SAMPLES, augmentations=[], batch_size=8, max_epochs=3,
                  optimizer="sgd", lr=0.01, random_state=0, checkpoint_dir=checkpoint_dir)
    if method == "simclr":
        return dict(common, projection_hidden=16, projection_dim=8)
    return dict(common, projection_hidden=16, projection_dim=8, n_prototypes=10,
                freeze_prototypes_epochs=1, queue_length=16, queue_start_epoch=1)


def _job_name(method: str, batch_norm: bool) -> str:
    return f"{method}-{'bn' if batch_norm else 'nobn'}"


def _without_batchnorm(module: nn.Module) -> nn.Module:
    for child in list(module.modules()):
        for key, sub in list(child.named_children()):
            if isinstance(sub, nn.BatchNorm1d):
                setattr(child, key, nn.Identity())
    return module


@pytest.fixture(scope="module")
def two_process_runs(tmp_path_factory):
    """All jobs in one ``torchrun`` start of 2 gloo processes (each start costs seconds)."""
    tmp_path = tmp_path_factory.mktemp("ddp")
    X = np.random.default_rng(0).standard_normal((N_RECORDS, N_LEADS, N_SAMPLES))
    np.save(tmp_path / "X.npy", X.astype(np.float32))
    jobs = [{"name": _job_name(m, bn), "method": m, "batch_norm": bn,
             "params": _params(m, checkpoint_dir=str(tmp_path / _job_name(m, bn)))}
            for m, bn in JOBS]
    jobs += [{"name": name, "method": name.split("-")[0], "batch_norm": True,
              "params": dict(dict(crop_length=N_SAMPLES, window=N_SAMPLES, stride=N_SAMPLES),
                             **params, batch_size=8, max_epochs=2, random_state=0,
                             checkpoint_dir=str(tmp_path / name))}
             for name, params in SMOKE_JOBS.items()]
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(script), str(tmp_path), str(tmp_path / "X.npy"), json.dumps(jobs)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return tmp_path


def _checkpoints(folder) -> list[str]:
    """The checkpoint folders of the single run (claimed by rank 0) inside ``folder``."""
    runs = list(folder.iterdir())
    assert len(runs) == 1, runs
    return [p.name for p in runs[0].iterdir()]


def _ranks(folder, name: str) -> list[dict]:
    return [{"state": torch.load(folder / f"{name}-rank{r}.pt"),
             **json.loads((folder / f"{name}-rank{r}.json").read_text())} for r in (0, 1)]


@pytest.mark.parametrize("method", ["simclr", "swav"])
def test_two_processes_match_one_process_with_the_same_global_batch(two_process_runs,
                                                                     monkeypatch, method):
    name = _job_name(method, False)
    ranks = _ranks(two_process_runs, name)
    cls = {"simclr": SimCLREncoder, "swav": SwAVEncoder}[method]
    build = cls._build_module
    monkeypatch.setattr(cls, "_build_module", lambda self, n: _without_batchnorm(build(self, n)))
    reference = cls(**_params(method)).fit(np.load(two_process_runs / "X.npy"))

    # each rank ran half of each global batch, as many steps as the single process
    assert ranks[0]["batches"] == ranks[1]["batches"] == reference.history_[:, "train_batch_count"]
    np.testing.assert_allclose(ranks[0]["loss"], reference.history_[:, "train_loss"], atol=1e-5)
    assert ranks[0]["loss"] == ranks[1]["loss"]  # history reduced over ranks
    ref_state = reference.module_.state_dict()
    for key, value in ranks[0]["state"].items():
        assert torch.equal(value, ranks[1]["state"][key]), key
        torch.testing.assert_close(value, ref_state[key], atol=1e-4, rtol=1e-4)
    # exactly one checkpoint, written by rank 0
    assert _checkpoints(two_process_runs / name) == ["epoch-00003"]


def test_two_processes_with_batchnorm_stay_identical(two_process_runs):
    name = _job_name("simclr", True)
    ranks = _ranks(two_process_runs, name)
    assert np.all(np.isfinite(ranks[0]["loss"]))
    assert ranks[0]["loss"] == ranks[1]["loss"]
    for key, value in ranks[0]["state"].items():  # parameters and running statistics
        assert torch.equal(value, ranks[1]["state"][key]), key
    assert _checkpoints(two_process_runs / name) == ["epoch-00003"]


@pytest.mark.parametrize("name", sorted(SMOKE_JOBS))
def test_other_methods_and_precisions_train_identically_on_both_ranks(two_process_runs, name):
    ranks = _ranks(two_process_runs, name)
    assert len(ranks[0]["loss"]) == 2 and np.all(np.isfinite(ranks[0]["loss"]))
    assert ranks[0]["loss"] == ranks[1]["loss"]
    for key, value in ranks[0]["state"].items():  # BYOL, JEPA: moving-average targets included
        assert torch.equal(value, ranks[1]["state"][key]), key
    assert _checkpoints(two_process_runs / name) == ["epoch-00002"]


def test_single_process_helpers_are_identities():
    x = torch.randn(3, 2, requires_grad=True)
    assert world_size() == 1 and is_main_process()
    assert gather_with_grad(x) is x
    assert all_reduce_mean(x) is x


def test_record_order_depends_on_seed_not_on_torch_rng():
    X = np.random.default_rng(1).standard_normal((8, 2, 32)).astype(np.float32)
    enc = SimCLREncoder(backbone="xresnet1d18", width=4, crop_length=32, window=32, stride=32,
                        projection_hidden=8, projection_dim=4, batch_size=4, max_epochs=1,
                        augmentations=[], random_state=3).fit(X)
    net = enc.net_
    dataset = net.get_dataset(X)
    orders = []
    for _ in range(2):
        torch.manual_seed(len(orders))  # the global torch RNG must not matter
        iterator = net.get_iterator(dataset, training=True)
        orders.append([int(i) for i in iterator.sampler])
    assert orders[0] == orders[1] and sorted(orders[0]) == list(range(8))


def test_global_batch_must_divide_over_processes(monkeypatch):
    import skecg.ssl._distributed as distributed

    enc = SimCLREncoder(backbone="xresnet1d18", width=4, crop_length=32, window=32, stride=32,
                        projection_hidden=8, projection_dim=4, batch_size=5, max_epochs=1,
                        augmentations=[])
    X = np.zeros((6, 2, 32), dtype=np.float32)
    net = enc._make_net(len(X), 2, "cpu", 0).initialize()
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    with pytest.raises(ValueError, match="batch_size=5 is the global batch"):
        net.get_iterator(net.get_dataset(X), training=True)


def test_torchrun_command_runs_the_module_in_n_processes():
    cmd = torchrun_command(3, ["skecg.cli", "pretrain"])
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc_per_node=3" in cmd and cmd[-3:] == ["-m", "skecg.cli", "pretrain"]


def test_cli_rejects_zero_devices(tmp_path, capsys):
    from skecg.cli import main

    code = main(["pretrain", "--method", "simclr", "--synthetic", "--devices", "0",
                 "--output", str(tmp_path / "m.skecg")])
    assert code == 2 and "--devices must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "m.skecg").exists()


@pytest.mark.slow
def test_cli_devices_relaunches_with_torchrun_and_rank_0_saves(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("WORLD_SIZE", None)
    done = subprocess.run([sys.executable, "-m", "skecg.cli", "pretrain", "--method", "simclr",
                           "--synthetic", "--epochs", "1", "--devices", "2",
                           "--output", str(tmp_path / "m.skecg")],
                          env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "torch.distributed.run" in done.stdout and "--nproc_per_node=2" in done.stdout
    assert done.stdout.count("saved ") == 1
    assert SimCLREncoder.load(tmp_path / "m.skecg").history_ is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.skecg"]  # checkpoints removed
