"""Benchmark: one training step of ST-MEM, JEPA and CMSC against a plain step of their backbone.

Run from the repository root::

    python benchmarks/bench_new_methods_step.py [../shared/data/ptb-xl] [--repeats 7]

For each configuration, on the same batch of crops (PTB-XL records, standardised per lead):

* ``full``: the method's whole training step as ``fit`` runs it per batch: masking or
  segmenting, the method's forward (encoder, decoder / predictor / EMA target), its loss,
  backward, the optimiser step (AdamW over the method's learnable parameters) and the
  after-step hook (the EMA update of JEPA's target).
* ``plain``: the backbone alone on the full crop, ``backbone.forward_features(x).sum()``, its
  backward and an AdamW step over the backbone's parameters.

Steps alternate full/plain; each is timed in CPU seconds (``time.process_time``, one torch
thread: the machine is shared) and the median of the repeats is reported, with the ratio
full / plain. The target of issue 18 is a ratio of at most 1.10.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _report import header  # noqa: E402

from skecg.datasets import load_ptbxl  # noqa: E402
from skecg.preprocessing import LeadStandardizer, random_crops  # noqa: E402
from skecg.ssl import CMSCEncoder, JEPAEncoder, STMEMEncoder  # noqa: E402

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "shared" / "data" / "ptb-xl"
TARGET_RATIO = 1.10
BATCH = 32
CONFIGS = {
    "stmem-small": (STMEMEncoder(size="small", patch_length=30, decoder_width=64,
                                 decoder_depth=1, decoder_heads=4), 900,
                    "transformer 128x4 blocks, 0.3-s patches, 9-s crops (360 tokens), mask 0.75, "
                    "decoder 64x1"),
    "jepa-small": (JEPAEncoder(size="small", patch_length=20), 1000,
                   "transformer 128x4 blocks, 0.2-s patches, 10-s crops (600 tokens), keep "
                   "15-25 %, predictor 64x4, EMA target"),
    "cmsc-xresnet18": (CMSCEncoder(backbone="xresnet1d18", width=32), 1000,
                       "xresnet1d18 width 32, 10-s crops as two 5-s segments"),
    "cmsc-transformer": (CMSCEncoder(backbone="transformer", width=128, patch_length=25), 1000,
                         "transformer 128x4 blocks, 0.25-s patches, two 5-s segments"),
}


def make_step(module: torch.nn.Module, mode: str, x: torch.Tensor, generator: torch.Generator):
    """A closure running one full or plain training step on ``x``."""
    net = getattr(module, "context_encoder", module.backbone)  # JEPA: the trained encoder
    params = ([p for _, p in module.learnable_parameters()] if mode == "full"
              else list(net.parameters()))
    optimizer = torch.optim.AdamW(params, lr=1e-4)

    def identity(v, generator=None):
        return v

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        if mode == "full":
            module.on_batch_begin(0, 0.5)
            loss = module.training_loss(x, identity, generator)
        else:
            loss = net.forward_features(x).sum()
        loss.backward()
        optimizer.step()
        if mode == "full":
            module.after_optimizer_step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_PATH))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_ptbxl(args.data, task="all")
    records = LeadStandardizer().fit_transform(data.X[:BATCH]).astype(np.float32)
    print(header(f"{len(records)} PTB-XL records (100 Hz, 12 x 1000, standardised per lead), "
                 f"one batch of {BATCH} crops"))
    print(f"each configuration: 1 warm-up + {args.repeats} timed steps per mode, alternated; "
          "CPU seconds (time.process_time), median\n")
    print(f"{'config':17s} {'plain [s]':>9s} {'full [s]':>9s} {'full/plain':>10s}  details")
    print("-" * 100)
    ratios = {}
    for name, (encoder, crop, details) in CONFIGS.items():
        if args.only and name not in args.only:
            continue
        torch.manual_seed(0)
        module = encoder._build_module(12).train()
        gen = torch.Generator().manual_seed(0)
        x = random_crops(torch.as_tensor(records), crop, generator=gen)
        steps = {mode: make_step(module, mode, x, gen) for mode in ("plain", "full")}
        times: dict[str, list[float]] = {"plain": [], "full": []}
        for i in range(args.repeats + 1):
            for mode in ("plain", "full"):
                start = time.process_time()
                steps[mode]()
                if i:  # the first round is the warm-up
                    times[mode].append(time.process_time() - start)
        plain, full = (float(np.median(times[m])) for m in ("plain", "full"))
        ratios[name] = full / plain
        print(f"{name:17s} {plain:9.3f} {full:9.3f} {full / plain:9.2f}x  {details}", flush=True)
    print()
    for name, ratio in ratios.items():
        verdict = "met" if ratio <= TARGET_RATIO else f"ABOVE the {TARGET_RATIO:.2f}x target"
        print(f"target {name}: full step <= {TARGET_RATIO:.2f}x plain: {ratio:.2f}x ({verdict})")


if __name__ == "__main__":
    main()
