"""Benchmark: LeadStandardizer + CPCEncoder fitted out of core on ECG stores of N and 10N records.

Run from the repository root::

    python benchmarks/bench_out_of_core.py [--n 1200] [--repeat 3] [--margin-mb 512]

Builds two :class:`skecg.datasets.ECGStore` folders (N and 10N records of 12 leads x 5000
samples, 10 s at 500 Hz, float32: 240 KB per record) in a temporary folder, then fits
``Pipeline([LeadStandardizer(),
CPCEncoder(small config, 1 epoch)])`` in child processes:

- ``store N`` and ``store 10N``: on ``store.X`` under an address-space limit (``RLIMIT_AS``) of
  the baseline + ``--margin-mb``. The baseline is the peak virtual size (VmPeak) of the same fit
  on a 256-record store; torch alone reserves about 1 GB of address space. The 10N store is
  larger than the whole limit, so it can be neither loaded nor memory-mapped by that process.
- ``RAM N``: the same fit on the N records loaded into an ndarray (no limit): the throughput
  reference.
- ``RAM 10N (limited)``: loading the 10N store into RAM under the same limit, which must fail.

Runs are interleaved (RAM N, store N, store 10N per round) and repeated; each child uses one
torch thread and first runs the same fit on 256 random in-RAM records (untimed warm-up). The
verdicts use each variant's best round (the least disturbed by other jobs on this shared
machine); medians are printed too. Records are copies of 400 ``make_synthetic_ecg`` records,
each copy shifted in time and scaled by its own random amount. Records of 500 Hz make the data
path per trained crop five times heavier than at 100 Hz (a harder test of the overhead) and keep
10N larger than the limit at a few thousand records, so a round takes two to three minutes on
this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "bench_out_of_core.txt"
BASE_RECORDS = 400
FS, DURATION = 500, 10
CPC_PARAMS = dict(encoder="strided", encoder_width=64, context_width=64, n_encoder_layers=4,
                  n_context_layers=1, steps=2, n_negatives=8, crop_length=250, batch_size=128,
                  max_epochs=1, random_state=0)


# ------------------------------------------------------------------------------ child process
def child(mode: str, store: str, limit: int) -> None:
    """Fit the pipeline (or try to load the store) and print one JSON line of measurements."""
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import numpy as np
    import torch
    from sklearn.pipeline import Pipeline

    sys.path.insert(0, str(ROOT))
    from skecg.datasets import ECGStore
    from skecg.preprocessing import LeadStandardizer
    from skecg.ssl import CPCEncoder

    torch.set_num_threads(1)
    # warm-up (torch's first-call set-up takes seconds here): the same fit on 256 random records
    warm = np.random.default_rng(0).normal(size=(256, 12, FS * DURATION)).astype(np.float32)
    CPCEncoder(**CPC_PARAMS).fit(LeadStandardizer().fit_transform(warm))
    del warm
    X = ECGStore(store).X
    result = {"mode": mode, "records": len(X), "store_bytes": X.nbytes}
    if mode.startswith("ram"):
        try:
            start = time.perf_counter()
            X = np.asarray(X)
            result["load_s"] = time.perf_counter() - start
        except MemoryError as exc:
            result["error"] = f"MemoryError: {exc}"
            print(json.dumps(result))
            return
    pipe = Pipeline([("standardize", LeadStandardizer()), ("cpc", CPCEncoder(**CPC_PARAMS))])
    start, cpu_start = time.perf_counter(), time.process_time()
    pipe.named_steps["standardize"].fit(X)
    standardized = pipe.named_steps["standardize"].transform(X)
    mid = time.perf_counter()
    pipe.named_steps["cpc"].fit(standardized)
    end, cpu_end = time.perf_counter(), time.process_time()
    result.update(standardize_s=mid - start, encoder_s=end - mid, total_s=end - start,
                  cpu_s=cpu_end - cpu_start,
                  lazy=type(standardized).__name__,
                  train_loss=float(pipe.named_steps["cpc"].history_[-1, "train_loss"]),
                  maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  vmpeak_mb=_vmpeak_mb())
    print(json.dumps(result))


def _vmpeak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmPeak:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ------------------------------------------------------------------------------ parent
def build_stores(work: Path, n: int) -> tuple[Path, Path]:
    import numpy as np

    from skecg.datasets import build_ecg_store, make_synthetic_ecg

    base = make_synthetic_ecg(BASE_RECORDS, fs=FS, duration=DURATION, random_state=0)

    def copy(k: int):
        rng = np.random.default_rng(k)
        shift = rng.integers(0, base.X.shape[2], size=len(base.X))
        index = (np.arange(base.X.shape[2])[None, :] + shift[:, None]) % base.X.shape[2]
        X = np.take_along_axis(base.X, index[:, None, :], axis=2)
        X *= rng.uniform(0.8, 1.2, size=(len(X), 1, 1)).astype(np.float32)
        meta = base.meta.assign(record=[f"copy{k}_{r}" for r in base.meta["record"]])
        return dict(base, X=X, meta=meta)

    paths = []
    for size in (n, 10 * n):
        path = work / f"store_{size}"
        sources = {f"copy-{k}": (lambda k=k: copy(k)) for k in range(size // BASE_RECORDS)}
        build_ecg_store(path, sources, verbose=False)
        paths.append(path)
    return paths[0], paths[1]


def run_child(mode: str, store: Path, limit: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, __file__, "--child", mode, str(store), str(limit)],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        last = (proc.stderr.strip().splitlines() or [""])[-1]
        return {"mode": mode, "error": f"exit {proc.returncode}: {last[:300]}"}
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--margin-mb", type=int, default=512)
    parser.add_argument("--workdir", default=None, help="where the stores go (default: a temp)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    if args.n % BASE_RECORDS:
        parser.error(f"--n must be a multiple of {BASE_RECORDS}")

    sys.path.insert(0, str(ROOT))
    from _report import header

    work = Path(args.workdir or tempfile.mkdtemp(prefix="skecg-ooc-"))
    lines = [header(f"synthetic stores of N={args.n} and 10N={10 * args.n} records, 12 leads x "
                    f"{FS * DURATION} samples ({DURATION} s at {FS} Hz) float32 (copies of "
                    f"{BASE_RECORDS} make_synthetic_ecg records)")]
    try:
        start = time.perf_counter()
        small, large = build_stores(work, args.n)
        build_s = time.perf_counter() - start
        probe_store = work / "store_probe"
        from skecg.datasets import ECGStore

        ECGStore(probe_store).append(
            dict(ECGStore(small).to_bunch(), X=ECGStore(small).X[:256],
                 meta=ECGStore(small).meta.iloc[:256], y=None), source="probe")
        probe = run_child("store", probe_store, 0)
        limit = int((probe["vmpeak_mb"] + args.margin_mb) * 2**20)
        large_bytes = ECGStore(large).X.nbytes
        lines.append(f"stores built in {build_s:.1f} s: N {ECGStore(small).X.nbytes / 2**30:.2f} "
                     f"GiB, 10N {large_bytes / 2**30:.2f} GiB on disk")
        lines.append(f"address-space limit (RLIMIT_AS) of the store runs: {limit / 2**30:.2f} GiB "
                     f"= baseline VmPeak {probe['vmpeak_mb']:.0f} MiB (same fit on 256 records) "
                     f"+ {args.margin_mb} MiB; the 10N store is {large_bytes / limit:.2f}x the "
                     "whole limit")
        lines.append(f"CPCEncoder{CPC_PARAMS}; 1 torch thread per child")
        runs = []
        for round_ in range(args.repeat):
            for mode, store, lim in (("ram", small, 0), ("store", small, limit),
                                     ("store", large, limit)):
                result = run_child(mode, store, lim)
                result["label"] = f"{'RAM' if mode == 'ram' else 'store'} " + (
                    "N" if store == small else "10N")
                result["round"] = round_ + 1
                runs.append(result)
                print(json.dumps(result), flush=True)
        refused = run_child("ram", large, limit)
        refused["label"] = "RAM 10N (limited)"
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lines.append("")
    lines.append(f"{'run':<12} {'round':>5} {'records':>8} {'standardize s':>14} "
                 f"{'encoder s':>10} {'records/s':>10} {'rec/CPU-s':>10} {'peak RSS MiB':>13} "
                 f"{'VmPeak MiB':>11}  X seen by the encoder")
    for r in runs:
        if "error" in r:
            lines.append(f"{r['label']:<12} {r['round']:>5} FAILED: {r['error']}")
            continue
        lines.append(f"{r['label']:<12} {r['round']:>5} {r['records']:>8} "
                     f"{r['standardize_s']:>14.2f} {r['encoder_s']:>10.2f} "
                     f"{r['records'] / r['total_s']:>10.1f} {r['records'] / r['cpu_s']:>10.1f} "
                     f"{r['maxrss_mb']:>13.0f} "
                     f"{r['vmpeak_mb']:>11.0f}  {r['lazy']}")
    lines.append(f"{refused['label']}: " + (refused.get("error", "loaded (limit not binding!)")
                                            .split("\n")[0][:160]))
    lines.append("")
    lines.extend(summary(runs))
    lines.append(f"load average at the end {os.getloadavg()[0]:.2f} (2 cores shared with other "
                 "jobs: timings are noisy; rounds interleave the variants)")
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.write_text(text)


def summary(runs: list[dict]) -> list[str]:
    ok = [r for r in runs if "error" not in r]

    def rates(label, clock):  # records per second of the whole pipeline fit, per round
        return [r["records"] / r[clock] for r in ok if r["label"] == label]

    def peak_rss(label):
        values = [r["maxrss_mb"] for r in ok if r["label"] == label]
        return max(values) if values else float("nan")

    rss_n, rss_10n = peak_rss("store N"), peak_rss("store 10N")
    rss_ratio = rss_10n / rss_n
    verdict = "met" if abs(rss_ratio - 1) <= 0.10 else "NOT met"
    out = [f"peak RSS store 10N / store N (highest of the rounds): {rss_10n:.0f} / {rss_n:.0f} "
           f"MiB = {rss_ratio:.3f} (target within 10%: {verdict})"]
    for clock, name in (("cpu_s", "CPU time"), ("total_s", "wall time")):
        ram = rates("RAM N", clock)
        for label in ("store N", "store 10N"):
            values = rates(label, clock)
            if not values or not ram:
                out.append(f"throughput {label}: no successful run")
                continue
            best = max(values) / max(ram)
            median = statistics.median(values) / statistics.median(ram)
            out.append(f"throughput by {name}, {label} / RAM N (records per second of the "
                       f"pipeline fit): best {max(values):.1f} / {max(ram):.1f} = {best:.3f} "
                       f"(target >= 0.95: {'met' if best >= 0.95 else 'NOT met'}); median "
                       f"{median:.3f}")
    out.append("CPU time (user + sys of the single-threaded child) is the verdict's clock: other "
               "jobs on this machine inflate wall time by whatever CPU share the scheduler "
               "leaves; reads served from the page cache are counted in CPU time (pressure "
               f"stall information at the end, avg300: {_pressure()})")
    return out


def _pressure() -> str:
    parts = []
    for kind in ("cpu", "io"):
        try:
            line = Path(f"/proc/pressure/{kind}").read_text().splitlines()[0]
        except OSError:
            return "not available"
        parts.append(f"{kind} some {line.split('avg300=')[1].split()[0]}%")
    return ", ".join(parts)


if __name__ == "__main__":
    main()
