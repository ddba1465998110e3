"""Benchmark: one self-supervised training step of each method against its plain forward+backward.

Run from the repository root::

    python benchmarks/bench_pretrain.py [--quick] [--device cpu|cuda] [--only NAME ...]

For each configuration two fresh subprocesses are started, so that their peak memory is separate:

* ``full``: the estimator's own skorch net (``est._make_net(...)`` + ``initialize()``) is trained
  with ``net.fit`` for one epoch over ``warmup + steps`` batches, i.e. the very code path of
  ``est.fit``: DataLoader, random crop, augmentations, the method's loss (InfoNCE, NT-Xent,
  BYOL with its EMA target, SwAV with Sinkhorn), backward, optimiser step and callbacks. Each
  step is timed from the end of the previous one (a callback), the first ``warmup`` are dropped.
* ``plain``: the same network (backbone + the method's heads) on input of the same size (the
  crop, twice for the two-view methods), no augmentation, the trivial loss ``out.sum()``, its
  backward and the same optimiser step. (Not ``out.mean()``: at the CPC paper configuration its
  uniform 1/N gradient decays through the LSTM's backward into denormal floats, which made the
  plain step 9x slower on this CPU: 37 s instead of 4.2 s.)

The two-view methods also time the augmentations alone (crop + all views of the same batch),
as a share of the full step. Peak memory is the subprocess's peak RSS (``ru_maxrss``: torch,
data and model included) on a CPU, ``torch.cuda.max_memory_allocated`` on a GPU. Records are the
shared PTB-XL extract (standardised per lead), repeated when a configuration needs more.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sklearn
import skorch
import torch
import torch.nn.functional as F
from skorch.callbacks import Callback

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import skecg  # noqa: E402
from skecg._torch import PRECISIONS  # noqa: E402
from skecg.datasets import load_ptbxl  # noqa: E402
from skecg.preprocessing import LeadStandardizer, random_crops  # noqa: E402
from skecg.ssl import BYOLEncoder, CPCEncoder, SimCLREncoder, SwAVEncoder  # noqa: E402

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "shared" / "data" / "ptb-xl"
CPC_TARGET_RATIO = 1.15
CPC_TARGET_MEMORY_GB = 3.0
AUGMENTATION_TARGET_SHARE = 0.10
SMALL_XRESNET = {"backbone": "xresnet1d18", "width": 32, "batch_size": 64}

# name: (estimator class, parameters, timed steps). Paper configurations first, then small ones.
CONFIGS = {
    "cpc-paper": (CPCEncoder, {"crop_length": 1000, "batch_size": 32}, 3),
    "simclr-paper": (SimCLREncoder, {"batch_size": 256}, 3),
    "byol-paper": (BYOLEncoder, {"batch_size": 256}, 3),
    "swav-paper": (SwAVEncoder, {"batch_size": 256}, 3),
    "cpc-small": (CPCEncoder, {"encoder_width": 128, "context_width": 128, "crop_length": 250,
                               "batch_size": 32, "lr": 1e-3}, 10),
    "simclr-small": (SimCLREncoder, SMALL_XRESNET, 10),
    "byol-small": (BYOLEncoder, SMALL_XRESNET, 10),
    "swav-small": (SwAVEncoder, SMALL_XRESNET, 10),
}


def describe(name: str) -> str:
    cls, params, _ = CONFIGS[name]
    est = cls(**params)
    if cls is CPCEncoder:
        arch = (f"{est.encoder} {est.n_encoder_layers}x{est.encoder_width} + "
                f"LSTM {est.n_context_layers}x{est.context_width}, {est.n_negatives} neg.")
    else:
        arch = f"{est.backbone} w{est.width}, {'+'.join(est.augmentations)}"
    return f"{arch}, batch {est.batch_size} x {est.crop_length} samples"


# ------------------------------------------------------------------------------ the worker


def sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


class StepTimer(Callback):
    """Wall time of each training step, from the end of the previous one (DataLoader included)."""

    def __init__(self, device: str):
        self.device = device

    def on_train_begin(self, net, **kwargs):
        sync(self.device)
        self.times_, self.last_ = [], CLOCK[0]()

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            sync(self.device)
            now = CLOCK[0]()
            self.times_.append(now - self.last_)
            self.last_ = now


# wall: seconds on the clock; cpu: CPU seconds of the worker process, which other processes on a
# shared machine disturb far less (meaningful with --threads 1)
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
CLOCK = [time.perf_counter]


def plain_output(module, method: str, x: torch.Tensor) -> torch.Tensor:
    """Forward of the backbone and the method's trainable heads, without the method's loss."""
    if method == "CPCEncoder":
        context = module.backbone.context(module.backbone.encode(x))
        return module.predictor(context[:, :-module.steps])
    features = module.backbone.forward_features(torch.cat([x] * module_views(module)))
    if method == "SimCLREncoder":
        return module.projector(features)
    if method == "BYOLEncoder":
        return module.predictor(module.projector(features))
    return module.prototypes(F.normalize(module.projector(features), dim=1))  # SwAV


def module_views(module) -> int:
    return getattr(module, "n_views", 2)


def peak_memory_gb(device: str) -> float:
    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux


def worker(name: str, mode: str, data: str, device: str, warmup: int, steps: int,
           quick: bool, precision: str = "32", threads: int = 2, clock: str = "wall") -> dict:
    torch.set_num_threads(threads)
    CLOCK[0] = CLOCKS[clock]
    cls, params, _ = CONFIGS[name]
    params = dict(params)
    if quick:
        params["batch_size"] = max(4, params["batch_size"] // 8)
    precision = 32 if precision == "32" else precision
    est = cls(**params, max_epochs=1, device=device, random_state=0, precision=precision)
    est._check_params()
    n_steps = warmup + steps
    X = np.array(np.load(data, mmap_mode="r")[:n_steps * est.batch_size])
    torch.manual_seed(0)
    net = est._make_net(len(X), X.shape[1], device, seed=0)
    timer = StepTimer(device)
    net.callbacks = [*net.callbacks, ("step_timer", timer)]
    net.initialize()
    result = {"batch_size": est.batch_size}
    if mode == "full":
        net.partial_fit(X)  # one epoch of n_steps batches, exactly as est.fit runs it
        times = timer.times_
        assert len(times) == n_steps, (len(times), n_steps)
        if cls is not CPCEncoder:
            result["augment_s"] = time_augmentations(net, X[:est.batch_size], warmup, steps)
    else:
        module, optimizer = net.module_, net.optimizer_
        module.train()
        gen = torch.Generator(device=device).manual_seed(0)
        times = []
        for step in range(n_steps):
            batch = torch.as_tensor(X[step * est.batch_size:(step + 1) * est.batch_size])
            sync(device)
            start = CLOCK[0]()
            x = random_crops(batch.to(device), est.crop_length, generator=gen)
            optimizer.zero_grad()
            dtype = PRECISIONS[precision]
            with torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype is not None):
                out = plain_output(module, cls.__name__, x)
            out.float().sum().backward()
            optimizer.step()
            sync(device)
            times.append(CLOCK[0]() - start)
    result["step_s"] = float(np.min(times[warmup:]))
    result["step_median_s"] = float(np.median(times[warmup:]))
    result["peak_gb"] = peak_memory_gb(device)
    return result


def time_augmentations(net, records: np.ndarray, warmup: int, steps: int) -> float:
    """Seconds per step spent cropping and augmenting every view of one batch."""
    module, augment, gen = net.module_, net.augment, net.generator_
    x_records = torch.as_tensor(records, device=net.device)
    times = []
    with torch.no_grad():
        for _ in range(warmup + steps):
            sync(net.device)
            start = CLOCK[0]()
            x = random_crops(x_records, net.crop_length, generator=gen)
            for _ in range(module_views(module)):
                augment(x, generator=gen)
            sync(net.device)
            times.append(CLOCK[0]() - start)
    return float(np.min(times[warmup:]))


# ------------------------------------------------------------------------------ the driver


def prepare_data(path: Path, n_needed: int, out: Path) -> int:
    bunch = load_ptbxl(path)
    X = LeadStandardizer().fit_transform(bunch.X)
    reps = -(-n_needed // len(X))
    np.save(out, np.concatenate([X] * reps)[:max(n_needed, len(X))])
    return len(X)


def run_worker(name, mode, data, args) -> dict:
    steps = 1 if args.quick else CONFIGS[name][2]
    warmup = 1
    cmd = [sys.executable, __file__, "--worker", name, mode, "--data", str(data),
           "--device", args.device, "--warmup", str(warmup), "--steps", str(steps),
           "--precision", args.precision, "--threads", str(args.threads), "--clock", args.clock]
    if args.quick:
        cmd.append("--quick")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {name} {mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def best_runs(pairs: list[tuple[dict, dict]]) -> tuple[dict, dict]:
    """Of alternated (plain, full) subprocess runs, the fastest of each (peaks: the largest)."""
    best = []
    for runs in zip(*pairs, strict=True):
        fastest = dict(min(runs, key=lambda r: r["step_s"]))
        fastest["peak_gb"] = max(r["peak_gb"] for r in runs)
        best.append(fastest)
    return best[0], best[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=str(DEFAULT_PATH))
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--precision", default="32", choices=["32", "bf16", "fp16"],
                        help="autocast dtype of full and plain steps")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: batches / 8, one warm-up and one timed step")
    parser.add_argument("--repeat", type=int, default=1,
                        help="alternate this many plain/full subprocess pairs, keep the fastest")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per worker")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall seconds, or CPU seconds of the worker (for a shared machine)")
    parser.add_argument("--only", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--worker", nargs=2, metavar=("NAME", "MODE"), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        name, mode = args.worker
        print(json.dumps(worker(name, mode, args.data, args.device, args.warmup, args.steps,
                                args.quick, args.precision, args.threads, args.clock)))
        return

    print("command:", "python " + shlex.join(sys.argv))
    print(f"python {platform.python_version()}, torch {torch.__version__}, skecg "
          f"{skecg.__version__}, scikit-learn {sklearn.__version__}, skorch {skorch.__version__}")
    device_info = (torch.cuda.get_device_name(args.device) if args.device.startswith("cuda")
                   else f"CPU, {os.cpu_count()} cores, torch.set_num_threads({args.threads})")
    print(f"machine: {platform.platform()}; device {args.device}: {device_info}; "
          f"precision {args.precision}; clock {args.clock}")
    n_needed = max(2 * CONFIGS[name][1]["batch_size"] * (1 + CONFIGS[name][2])
                   for name in args.only)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "X.npy"
        n_records = prepare_data(Path(args.path), n_needed, data)
        print(f"data: {n_records} PTB-XL records (100 Hz, 12 x 1000, standardised per lead) "
              f"from {args.path}, repeated where a run needs more batches")
        print(f"load average at start: {os.getloadavg()[0]:.2f}")
        timed = "1" if args.quick else "3 (paper configs) or 10 (small)"
        print(f"each run: 1 warm-up + {timed} timed steps, {args.repeat} alternated plain/full "
              "subprocess pair(s); step = the fastest (median of its run in brackets: the CPU "
              "is shared, the fastest is the least disturbed)")
        print("full = est.fit's code path; plain = same network, out.sum() backward + the same "
              "optimiser step, no augmentation; peak = the subprocess's peak RSS"
              + (" (QUICK: batches / 8)" if args.quick else "") + "\n")
        header = (f"{'config':13s} {'batch':>5s} {'mode':5s} {'step [s] (median)':>17s} "
                  f"{'samples/s':>9s} {'peak [GB]':>9s} {'vs plain':>8s}  details")
        print(header)
        print("-" * len(header))
        results = {}
        for name in args.only:
            plain, full = best_runs([(run_worker(name, "plain", data, args),
                                      run_worker(name, "full", data, args))
                                     for _ in range(args.repeat)])
            results[name] = (full, plain)
            for mode, r in (("plain", plain), ("full", full)):
                ratio = r["step_s"] / plain["step_s"]
                detail = describe(name) if mode == "plain" else ""
                if mode == "full" and "augment_s" in r:
                    detail = (f"augmentations {r['augment_s']:.3f} s = "
                              f"{r['augment_s'] / r['step_s']:.1%} of the step")
                if mode == "full" and ratio < 0.9:
                    detail += " [full faster than plain: timing disturbed by other processes]"
                print(f"{name:13s} {r['batch_size']:5d} {mode:5s} "
                      f"{r['step_s']:7.3f} ({r['step_median_s']:7.3f}) "
                      f"{r['batch_size'] / r['step_s']:9.1f} {r['peak_gb']:9.2f} "
                      f"{ratio:7.2f}x  {detail}", flush=True)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (2 cores)")
    report_targets(results, quick=args.quick)


def report_targets(results: dict, quick: bool) -> None:
    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    note = " (quick run: not the target configuration)" if quick else ""
    if "cpc-paper" in results:
        full, plain = results["cpc-paper"]
        ratio = full["step_s"] / plain["step_s"]
        print(f"target CPC paper config, full step <= {CPC_TARGET_RATIO}x plain: {ratio:.2f}x "
              f"({verdict(ratio <= CPC_TARGET_RATIO)}){note}")
        print(f"target CPC paper config, peak memory < {CPC_TARGET_MEMORY_GB} GB: "
              f"{full['peak_gb']:.2f} GB ({verdict(full['peak_gb'] < CPC_TARGET_MEMORY_GB)})"
              f"{note}")
    if "simclr-paper" in results:
        full, _ = results["simclr-paper"]
        share = full["augment_s"] / full["step_s"]
        print(f"target SimCLR xresnet1d50 batch 256, augmentations <= "
              f"{AUGMENTATION_TARGET_SHARE:.0%} of a step: {share:.1%} "
              f"({verdict(share <= AUGMENTATION_TARGET_SHARE)}){note}")
    ratios = ", ".join(f"{name} {full['step_s'] / plain['step_s']:.2f}x"
                       for name, (full, plain) in results.items())
    print(f"full / plain per configuration: {ratios}")


if __name__ == "__main__":
    main()
