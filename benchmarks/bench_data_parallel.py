"""Benchmark: data-parallel pretraining throughput, 2 gloo processes against 1 process, on CPU.

Run from the repository root::

    python benchmarks/bench_data_parallel.py [--rounds 3] [--epochs 4] [--records 1024]

Each configuration is fitted (``est.fit``, the whole skorch path) in three ways, each a fresh
subprocess: one process with 1 thread (``1x1``), one process with 2 threads (``1x2``) and two
processes of 1 thread under ``torchrun`` (``2x1``, gloo, the global batch split over them).
The throughput is records per second over the epochs after the first (``history[:, 'dur']``
of rank 0, which waits for the slower rank at every gradient all-reduce). The variants are
interleaved round by round so that load from other users hits them alike; the load average is
printed with each round. Data-parallel efficiency = throughput(2x1) / (2 x throughput(1x1)).

``--batch-scaling DEVICE`` instead times one training step (``net.train_step``, the fit's own
step) of the paper configurations at the per-process batches that N data-parallel processes
would each run with the paper's global batch (CPC 32 / N, SimCLR 4096 / N for N = 8, 4, 2, 1):
on a GPU a small per-process batch does not take 1/N of the time (the CPC LSTM is sequential
over 1000 time steps), which bounds the speed-up of data parallelism there.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _report import header  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "bench_data_parallel.txt"
SMALL_XRESNET = {"backbone": "xresnet1d18", "width": 32, "crop_length": 250, "batch_size": 64,
                 "projection_hidden": 128, "projection_dim": 16}
CONFIGS = {
    "simclr-small": ("SimCLREncoder", SMALL_XRESNET),
    "cpc-small": ("CPCEncoder", {"encoder_width": 128, "context_width": 128, "crop_length": 250,
                                 "batch_size": 32}),
}
MODES = {"1x1": (1, 1), "1x2": (1, 2), "2x1": (2, 1)}  # processes x threads


def worker(config: str, records: int, epochs: int) -> None:
    import torch

    import skecg.ssl as ssl
    from skecg.ssl._distributed import is_main_process, world_size

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    cls_name, params = CONFIGS[config]
    X = np.random.default_rng(0).standard_normal((records, 12, 1000)).astype(np.float32)
    est = getattr(ssl, cls_name)(**params, max_epochs=epochs, random_state=0).fit(X)
    if is_main_process():
        steps = est.history_[-1, "train_batch_count"]
        print(json.dumps({"dur": est.history_[:, "dur"], "steps": steps,
                          "records": steps * params["batch_size"], "world": world_size()}))


def batch_scaling(device: str, precision: str, quick: bool, steps: int = 4) -> list[str]:
    """Step time of the paper configurations at per-process batches global / N."""
    import time

    import torch

    from skecg.ssl import CPCEncoder, SimCLREncoder

    precision = 32 if precision == "32" else precision
    plans = [("cpc-paper", CPCEncoder, {"crop_length": 1000}, 32),
             ("simclr-paper", SimCLREncoder, {}, 4096)]
    lines = [f"device {device}, precision {precision}; step = fastest of {steps} after 1 warm-up"
             + (" (QUICK: global batches / 16)" if quick else ""),
             f"{'config':13s} {'N':>2s} {'batch/N':>7s} {'step [s]':>9s} {'x of N=1':>8s} "
             f"{'ideal 1/N':>9s}"]
    for name, cls, params, global_batch in plans:
        global_batch = max(2, global_batch // 16) if quick else global_batch
        base = None
        for n in (1, 2, 4, 8):
            batch = global_batch // n
            if batch < 2:
                continue
            est = cls(**params, batch_size=batch, device=device, precision=precision,
                      random_state=0)
            net = est._make_net(batch * (steps + 1), 12, device, 0).initialize()
            X = torch.randn(batch, 12, 1000)
            times = []
            for _ in range(steps + 1):
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                start = time.perf_counter()
                net.train_step((X, None))
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - start)
            step = min(times[1:])
            base = base or step
            lines.append(f"{name:13s} {n:2d} {batch:7d} {step:9.4f} {step / base:8.2f} "
                         f"{1 / n:9.2f}")
            print(lines[-1], flush=True)
    return lines


# ------------------------------------------------------------------------------ projection
CORPUS_RECORDS = 54_500  # the paper's "All": CinC 2020 training + Chapman-Shaoxing + CODE test
PAPER = {"cpc": (32, 1000), "simclr": (4096, 2000)}  # global batch, epochs
# ../shared/reference/paper.md, "Cost anchors measured here": one H100, s per step
H100_STEP = {("cpc", "fp32"): 0.066, ("cpc", "bf16"): 0.056,
             ("simclr", "fp32"): 0.170, ("simclr", "bf16"): 0.134}
ASSUMED_GPU_EFFICIENCY = 0.9


def _parse_results() -> tuple[dict, dict, str]:
    import re

    pretrain = (RESULTS.parent / "bench_pretrain.txt").read_text()
    cpu_step = {}
    for line in pretrain.splitlines():
        m = re.match(r"^(cpc|simclr)-paper\s+(\d+)\s+full\s+([\d.]+)", line)
        if m:
            cpu_step[m[1]] = (int(m[2]), float(m[3]))
    load = re.search(r"load average at start: ([\d.]+)", pretrain)
    parallel = RESULTS.read_text()
    efficiency = {}
    for line in parallel.splitlines():
        m = re.match(r"^(\S+-small)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$",
                     line)
        if m:
            efficiency[m[1]] = {"1x1": float(m[2]), "1x2": float(m[3]), "2x1": float(m[4]),
                                "vs_1x2": float(m[5]), "eff": float(m[6])}
    loads = [float(x) for x in re.findall(r"load ([\d.]+)\)", parallel)] or [float("nan")]
    note = (f"bench_pretrain.txt load at start {load[1] if load else '?'}; "
            f"bench_data_parallel.txt load {min(loads):.1f} to {max(loads):.1f}")
    return cpu_step, efficiency, note


def projection() -> str:
    """benchmarks/results/projection.md from the committed measurements (see the text)."""
    cpu_step, efficiency, load_note = _parse_results()
    steps = {m: (CORPUS_RECORDS // b) * e for m, (b, e) in PAPER.items()}

    def fmt(seconds: float) -> str:
        if seconds >= 3 * 86400:
            return f"{seconds / 86400:.1f} d"
        return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"

    rows = ["| method | machine | 1 process | 2 | 4 | 8 |", "|---|---|---|---|---|---|"]
    for method in ("cpc", "simclr"):
        key = f"{method}-small"
        eff = min(1.0, efficiency[key]["eff"])  # > 1 is the load's doing (see the text)
        batch, step = cpu_step[method]
        per_step = step * PAPER[method][0] / batch  # CPU: linear in the batch
        total = steps[method] * per_step
        rows.append(f"| {method.upper()} | this CPU (2 cores), fp32 | {fmt(total)} | "
                    + " | ".join(fmt(total / (n * eff)) for n in (2, 4, 8)) + " |")
        for precision in ("fp32", "bf16"):
            total = steps[method] * H100_STEP[method, precision]
            rows.append(f"| {method.upper()} | H100, {precision} | {fmt(total)} | "
                        + " | ".join(fmt(total / (n * ASSUMED_GPU_EFFICIENCY))
                                     for n in (2, 4, 8)) + " |")
    eff_lines = [f"| {k} | {v['1x1']:.1f} | {v['1x2']:.1f} | {v['2x1']:.1f} | "
                 f"{v['vs_1x2']:.2f} | {v['eff']:.2f} |" for k, v in efficiency.items()]
    cpc_b, cpc_s = cpu_step["cpc"]
    sim_b, sim_s = cpu_step["simclr"]
    assumptions = [
        f"Corpus: the paper's \"All\", {CORPUS_RECORDS:,} records (CinC 2020 training set, "
        f"Chapman-Shaoxing, CODE test set). CPC: 1000 epochs at batch 32 (10 s crops): "
        f"{CORPUS_RECORDS // 32:,} steps per epoch, {steps['cpc']:,} steps. SimCLR: 2000 epochs "
        f"at batch 4096 (2 views of 2.5 s crops, xresnet1d50): {CORPUS_RECORDS // 4096} steps per "
        f"epoch (the last partial batch dropped), {steps['simclr']:,} steps.",
        "`batch_size` is the global batch: N processes each run batch / N records per step, so "
        "the number of steps does not change with N; time(N) = steps x step(1) / (N x "
        "efficiency).",
        f"This CPU, 1 process (2 threads): the full training step at the paper configuration from "
        f"`bench_pretrain.txt`: CPC {cpc_s:.3f} s per batch of {cpc_b}; SimCLR {sim_s:.3f} s per "
        f"batch of {sim_b}, scaled linearly to 4096 ({sim_s * 4096 / sim_b:.1f} s; a CPU step is "
        "compute-bound, so linear in the batch).",
        "CPU with N processes: N such 2-core units (one process each, gloo) at the efficiency "
        "measured with 2 processes on this machine's 2 cores (table below, small configurations; "
        "each method's efficiency applied to its paper configuration), capped at 1: a measured "
        "value above 1 says more about the load than about DDP. Several machines would add "
        "network all-reduce time that this does not include.",
        "GPU: H100 step times from `../shared/reference/paper.md` (\"Cost anchors measured "
        "here\"): CPC 66 ms fp32 / 56 ms bf16 (batch 32, plain forward+backward; the full step "
        "with the vectorised InfoNCE measured 0.98x of it); SimCLR 170 ms fp32 / 134 ms bf16 "
        "(batch 4096, no augmentation: augmentations were 0.4% of a CPU step). Not measured in "
        "this session (no GPU); `benchmarks/gpu_check.sh` measures the lent H200.",
        f"GPU data-parallel efficiency: assumed {ASSUMED_GPU_EFFICIENCY} (DDP overlaps the "
        "gradient all-reduce with the backward; the gradients are tens of MB against NVLink's "
        "hundreds of GB/s). That holds for SimCLR, whose per-GPU batch stays >= 512. **For CPC "
        "it is an upper bound on the speed-up**: the paper's global batch 32 leaves 16, 8 or 4 "
        "records per GPU, and the LSTM runs 1000 sequential steps whose time hardly shrinks "
        "with the batch on a GPU. `bench_data_parallel.py --batch-scaling cuda` (in "
        "gpu_check.sh) measures the step at batch 32 / N; until it has run, the CPC GPU columns "
        "for N > 1 are optimistic. A faster CPC needs a larger global batch (32 x N, learning "
        "rate re-tuned): no longer the paper's recipe.",
    ]
    measured = (
        "Records per second (medians over interleaved rounds); 1x1 = one process with 1 thread, "
        "1x2 = one process with 2 threads, 2x1 = two gloo processes of 1 thread; efficiency = "
        "2x1 / (2 x 1x1). The machine was shared with other jobs during the runs "
        f"({load_note}, on 2 cores). Under that load the table measures scheduler shares more "
        "than parallel efficiency: a job of 2 processes gets about twice the CPU time of a job "
        "of 1 process from the kernel's fair scheduler, hence efficiencies above 1; and 1x2 "
        "(two OpenMP threads that wait for each other while other processes hold the cores) "
        "collapsed. Two things are established: DDP runs the 2 processes concurrently (each "
        "does half the batches) and gives the single-process result (tests/ssl/"
        "test_distributed.py); the efficiency on an idle machine is not measured here."
    )
    closing = (
        "The CPU rows rule this machine out for paper-scale pretraining; one GPU runs SimCLR's "
        "2000 epochs in about an hour and CPC's 1000 epochs in about a day, so CPC dominates, "
        "and at the paper's batch it gains the least from data parallelism."
    )
    return "\n".join([
        "# Projection: paper-scale pretraining time",
        "",
        "Generated by `python benchmarks/bench_data_parallel.py --projection` from the committed "
        "measurements; nothing here was run at paper scale.",
        "",
        "## Assumptions",
        *(textwrap.fill(a, 96, initial_indent="* ", subsequent_indent="  ")
          for a in assumptions),
        "",
        "## Measured data-parallel efficiency on this CPU (`bench_data_parallel.txt`)",
        textwrap.fill(measured, 96),
        "",
        "| config | 1x1 | 1x2 | 2x1 | 2x1 / 1x2 | efficiency |",
        "|---|---|---|---|---|---|",
        *eff_lines,
        "",
        "## Projected pretraining time",
        "",
        *rows,
        "",
        textwrap.fill(closing, 96),
        "",
    ])


def run(config: str, mode: str, records: int, epochs: int, timeout: float) -> dict:
    processes, threads = MODES[mode]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONWARNINGS": "ignore"}
    script = [str(Path(__file__).resolve()), "--worker", config, "--records", str(records),
              "--epochs", str(epochs)]
    if processes > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={processes}", *script]
    else:
        cmd = [sys.executable, *script]
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False,
                              timeout=timeout)
    except subprocess.TimeoutExpired:  # a contended run: recorded as missing, not dropped
        return {"throughput": float("nan"), "dur": [], "timed_out": True}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise RuntimeError(f"{config} {mode} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    result = json.loads(lines[-1])
    assert result["world"] == processes, result
    result["throughput"] = result["records"] / float(np.median(result["dur"][1:]))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--records", type=int, default=1024)
    parser.add_argument("--only", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument("--timeout", type=float, default=600, help="seconds per fit")
    parser.add_argument("--batch-scaling", metavar="DEVICE",
                        help="time paper-config steps at per-process batches (see above)")
    parser.add_argument("--precision", default="32", choices=["32", "bf16", "fp16"])
    parser.add_argument("--quick", action="store_true", help="--batch-scaling smoke run")
    parser.add_argument("--projection", action="store_true",
                        help="write results/projection.md from the committed results")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.projection:
        text = projection()
        (RESULTS.parent / "projection.md").write_text(text)
        print(text)
        return None
    if args.worker:
        return worker(args.worker, args.records, args.epochs)
    if args.batch_scaling:
        lines = [header("random input, 12 leads x 1000 samples"), ""]
        print("\n".join(lines), flush=True)
        lines += batch_scaling(args.batch_scaling, args.precision, args.quick)
        Path(args.output).write_text("\n".join(lines) + "\n")
        return None

    lines = [header(f"{args.records} random records, 12 leads x 1000 samples; "
                    f"{args.epochs} epochs per fit, epoch 1 dropped"), ""]
    print("\n".join(lines), flush=True)
    throughputs = {(c, m): [] for c in args.only for m in MODES}
    for r in range(args.rounds):
        for config in args.only:
            for mode in MODES:
                res = run(config, mode, args.records, args.epochs, args.timeout)
                throughputs[config, mode].append(res["throughput"])
                line = (f"round {r + 1} {config:13s} {mode}: {res['throughput']:7.1f} records/s "
                        f"(epoch s: {', '.join(f'{d:.2f}' for d in res['dur'])}; "
                        f"load {os.getloadavg()[0]:.2f})")
                if res.get("timed_out"):
                    line += f" TIMED OUT after {args.timeout:.0f} s"
                print(line, flush=True)
                lines.append(line)
    lines += ["", "median over rounds (records/s); efficiency = 2x1 / (2 * 1x1)",
              f"{'config':13s} {'1x1':>8s} {'1x2':>8s} {'2x1':>8s} {'2x1/1x2':>8s} "
              f"{'efficiency':>10s}"]
    for config in args.only:
        med = {m: float(np.nanmedian(throughputs[config, m])) for m in MODES}
        lines.append(f"{config:13s} {med['1x1']:8.1f} {med['1x2']:8.1f} {med['2x1']:8.1f} "
                     f"{med['2x1'] / med['1x2']:8.2f} {med['2x1'] / (2 * med['1x1']):10.2f}")
    print("\n".join(lines[-len(args.only) - 2:]))
    Path(args.output).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
