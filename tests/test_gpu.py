"""GPU checks (marker ``gpu``): run where CUDA is present, skipped elsewhere.

``benchmarks/gpu_check.sh`` runs them on a GPU machine (``python -m pytest -m gpu``).
Each encoder is fitted tiny on CUDA in fp32, bf16 and fp16; a model saved on the GPU is loaded
on the CPU and embeds alike; the classifier fits and predicts on CUDA; with 2 or more GPUs, two
nccl processes (SyncBatchNorm) match one process with the same global batch.
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

from skecg.classifier import ECGClassifier
from skecg.ssl import BaseSSLEncoder, BYOLEncoder, CPCEncoder, SimCLREncoder, SwAVEncoder

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]

SMALL_VIEW = dict(backbone="xresnet1d18", width=8, crop_length=100, window=100, stride=50,
                  batch_size=16, max_epochs=2, random_state=0)
TINY = {
    "cpc": (CPCEncoder, dict(encoder_width=16, context_width=16, steps=2, n_negatives=4,
                             crop_length=100, window=100, stride=50, batch_size=16, max_epochs=2,
                             random_state=0)),
    "simclr": (SimCLREncoder, dict(SMALL_VIEW, projection_hidden=32, projection_dim=8)),
    "byol": (BYOLEncoder, dict(SMALL_VIEW, projection_hidden=32, projection_dim=8)),
    "swav": (SwAVEncoder, dict(SMALL_VIEW, projection_hidden=32, projection_dim=8,
                               n_prototypes=10)),
}


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    t = np.linspace(0, 4 * np.pi, 200, dtype=np.float32)
    rng = np.random.default_rng(0)
    signal = np.sin(t)[None, None] * rng.uniform(0.5, 2, (64, 12, 1)).astype(np.float32)
    return signal + 0.1 * rng.standard_normal((64, 12, 200)).astype(np.float32)


@pytest.mark.parametrize("precision", [32, "bf16", "fp16"])
@pytest.mark.parametrize("method", sorted(TINY))
def test_encoder_fits_on_cuda(X, method, precision):
    cls, params = TINY[method]
    enc = cls(**params, device="cuda", precision=precision).fit(X)
    assert next(enc.module_.parameters()).device.type == "cuda"
    losses = enc.history_[:, "train_loss"]
    assert len(losses) == 2 and np.all(np.isfinite(losses))
    emb = enc.transform(X[:5])
    assert emb.dtype == np.float32 and np.all(np.isfinite(emb))


@pytest.mark.parametrize("method", sorted(TINY))
def test_saved_on_gpu_loads_on_cpu(tmp_path, X, method):
    cls, params = TINY[method]
    enc = cls(**params, device="cuda").fit(X)
    path = tmp_path / f"{method}.skecg"
    enc.save(path)
    on_cpu = BaseSSLEncoder.load(path, device="cpu")
    assert next(on_cpu.module_.parameters()).device.type == "cpu"
    np.testing.assert_allclose(on_cpu.transform(X[:8]), enc.transform(X[:8]),
                               rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("precision", [32, "bf16"])
def test_classifier_fits_and_predicts_on_cuda(X, precision):
    y = (X[:, 0].std(axis=1) > np.median(X[:, 0].std(axis=1))).astype(np.float32)[:, None]
    y = np.hstack([y, 1 - y])
    clf = ECGClassifier("xresnet1d18", width=8, crop_length=100, window=100, stride=50,
                        batch_size=16, max_epochs=2, device="cuda", precision=precision,
                        random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == y.shape and np.all((proba >= 0) & (proba <= 1))
    assert clf.predict(X).shape == y.shape


WORKER = textwrap.dedent("""
    import json, sys
    import numpy as np, torch
    from skecg.ssl import SimCLREncoder
    from skecg.ssl._distributed import rank, world_size
    enc = SimCLREncoder(**json.loads(sys.argv[2])).fit(np.load(sys.argv[3]))
    assert world_size() == 2
    torch.save({k: v.cpu() for k, v in enc.module_.state_dict().items()},
               f"{sys.argv[1]}/rank{rank()}.pt")
    json.dump(enc.history_[:, "train_loss"], open(f"{sys.argv[1]}/rank{rank()}.json", "w"))
""")


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 GPUs")
def test_two_nccl_processes_match_one_process(tmp_path, X):
    params = dict(TINY["simclr"][1], crop_length=200, window=200, augmentations=[],
                  optimizer="sgd", lr=0.05, max_epochs=3, device="cuda")
    np.save(tmp_path / "X.npy", X)
    (tmp_path / "worker.py").write_text(WORKER)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(tmp_path / "worker.py"), str(tmp_path), json.dumps(params),
           str(tmp_path / "X.npy")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    reference = SimCLREncoder(**params).fit(X)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    losses = json.loads((tmp_path / "rank0.json").read_text())
    # SyncBatchNorm makes the BatchNorm statistics global: same as one process
    np.testing.assert_allclose(losses, reference.history_[:, "train_loss"], atol=1e-4)
    for key, value in reference.module_.state_dict().items():
        assert torch.equal(ranks[0][key], ranks[1][key]), key
        torch.testing.assert_close(ranks[0][key], value.cpu(), atol=1e-3, rtol=1e-3)
