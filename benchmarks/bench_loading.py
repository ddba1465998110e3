"""Benchmark: load_ptbxl (first and cached load) against a plain loop of wfdb.rdsamp.

Run from the repository root::

    python benchmarks/bench_loading.py [PTBXL_FOLDER] [--n-jobs 2] [--repeat 3]

All three are measured in one run over the same records (the shared 500-record PTB-XL extract at
100 Hz by default). Times are the best of ``--repeat`` runs; each first load uses a fresh cache
folder. The OS file cache is warm for all three (the rdsamp loop runs first and reads every file).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import wfdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from skecg.datasets import load_ptbxl  # noqa: E402

FULL_PTBXL = 21_837
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "shared" / "data" / "ptb-xl"


def rdsamp_loop(path: Path, filenames: list[str]) -> np.ndarray:
    """The baseline: read each record with wfdb.rdsamp into a preallocated float32 array."""
    X = None
    for i, name in enumerate(filenames):
        signal, _ = wfdb.rdsamp(str(path / name))
        if X is None:
            X = np.empty((len(filenames),) + signal.T.shape, dtype=np.float32)
        X[i] = signal.T
    return X


def best_of(repeat: int, func):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=str(DEFAULT_PATH))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = Path(args.path)

    print("command:", "python " + shlex.join(sys.argv))
    print(f"python {platform.python_version()}, numpy {np.__version__}, wfdb {wfdb.__version__}, "
          f"pandas {pd.__version__}; {os.cpu_count()} CPU cores; {platform.platform()}")
    filenames = pd.read_csv(path / "ptbxl_database.csv")["filename_lr"].tolist()
    n = len(filenames)
    shown = os.path.relpath(path, Path(__file__).resolve().parents[1])
    print(f"records: {n} PTB-XL records at 100 Hz from {shown} (relative to the project root)")
    print(f"machine load (uptime): {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f}\n")

    t_loop, X_loop = best_of(args.repeat, lambda: rdsamp_loop(path, filenames))

    def first_load():
        with tempfile.TemporaryDirectory() as cache:
            return load_ptbxl(path, n_jobs=args.n_jobs, cache_dir=cache).X.shape

    t_first, shape = best_of(args.repeat, first_load)
    t_nocache, bunch = best_of(args.repeat, lambda: load_ptbxl(path, n_jobs=args.n_jobs))
    assert np.array_equal(bunch.X, X_loop), "load_ptbxl and rdsamp disagree"
    with tempfile.TemporaryDirectory() as cache:
        load_ptbxl(path, n_jobs=args.n_jobs, cache_dir=cache)
        t_cached, cached = best_of(args.repeat, lambda: load_ptbxl(path, cache_dir=cache))
        assert isinstance(cached.X, np.memmap) and np.array_equal(cached.X, X_loop)
        t_touch = best_of(args.repeat, lambda: float(np.asarray(cached.X).sum()))[0]

    rows = [("wfdb.rdsamp loop (baseline)", t_loop),
            (f"load_ptbxl first load (fresh cache, n_jobs={args.n_jobs})", t_first),
            (f"load_ptbxl without cache (n_jobs={args.n_jobs})", t_nocache),
            ("load_ptbxl cached (memmap)", t_cached)]
    print(f"{'':55s} {'time [s]':>9s} {'records/s':>10s} {'speed-up':>9s} "
          f"{'full PTB-XL [s]':>15s}")
    for label, t in rows:
        print(f"{label:55s} {t:9.3f} {n / t:10.0f} {t_loop / t:8.1f}x {t * FULL_PTBXL / n:15.1f}")
    print(f"\nX: {shape}, float32; reading every cached value once afterwards: {t_touch:.3f} s")
    first_ok, cached_ok = t_loop / t_first >= 2, t_loop / t_cached >= 20
    print(f"target first load >= 2x rdsamp loop: {t_loop / t_first:.1f}x "
          f"({'met' if first_ok else 'NOT met'})")
    print(f"target cached load >= 20x rdsamp loop: {t_loop / t_cached:.1f}x "
          f"({'met' if cached_ok else 'NOT met'})")
    print(f"projection for the full PTB-XL ({FULL_PTBXL} records, linear in records; the first "
          f"load also writes {FULL_PTBXL * 12 * 1000 * 4 / 1e9:.2f} GB of cache): rdsamp loop "
          f"{t_loop * FULL_PTBXL / n:.0f} s, first load {t_first * FULL_PTBXL / n:.0f} s, "
          f"cached {t_cached * FULL_PTBXL / n:.1f} s")


if __name__ == "__main__":
    main()
