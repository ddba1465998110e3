"""Time find_overlap at PTB-XL's size and extrapolate to a 100k-record corpus.

The reference corpus has PTB-XL's 21,837 records (100 Hz, 10 s, 12 leads); the query corpus
stands for a large pretraining corpus (100 Hz, 10 s, as load_paper_corpus gives by default) with
1 % planted copies of reference records (resampled through 257 Hz, x1000 as in uV, shifted,
cropped to 8 s and zero-padded to 10 s). Both are derived from the 500 shared PTB-XL records
(or synthetic ECG when they are absent): each derived record is a real record time-warped by
0.8-1.25 (another heart rate), rolled by a random offset, with per-lead gains and noise, so the
records differ as recordings do and no two are copies. Records are generated batch by batch on
the fly (an out-of-core array), never held whole; generation time is measured on its own and
subtracted.

Two runs, a of 22,837 and of n_query records (default 30,000), both larger than b as a 100k
corpus is: the difference gives the cost per record of a, the rest the fixed cost.
Run: OMP_NUM_THREADS=2 python benchmarks/bench_overlap.py [n_query]; writes
benchmarks/results/bench_overlap.txt.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from skecg._lazy import LazyECGArray
from skecg.datasets import find_overlap, load_ptbxl, make_synthetic_ecg

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SKECG_SHARED_DATA", ROOT.parent / "shared" / "data"))
N_REF = 21_837
N_TARGET = 100_000
PLANT_EVERY = 100  # one query record in 100 is a copy of a reference record


def _base_records() -> tuple[np.ndarray, str]:
    path = SHARED / "ptb-xl"
    if (path / "ptbxl_database.csv").is_file():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_ptbxl(path, sampling_rate=100).X, "the 500 shared PTB-XL records"
    return make_synthetic_ecg(500, fs=100, random_state=0).X, "500 SYNTHETIC records"


class DerivedECG(LazyECGArray):
    """n distinct records derived from real ones, generated on demand (seeded by index)."""

    def __init__(self, base: np.ndarray, n: int, seed: int):
        self.base, self.seed = base, seed
        self.shape = (n, base.shape[1], base.shape[2])

    def _take(self, rows: np.ndarray) -> np.ndarray:
        n_samples = self.shape[2]
        out = np.empty((len(rows), self.shape[1], n_samples), dtype=np.float32)
        t = np.arange(n_samples)
        for k, row in enumerate(rows):
            rng = np.random.default_rng((self.seed, int(row)))
            source = self.base[rng.integers(len(self.base))]
            warp = rng.uniform(0.8, 1.25)
            pos = (t * warp + rng.uniform(0, n_samples)) % (n_samples - 1)
            lo = pos.astype(np.int64)
            frac = (pos - lo).astype(np.float32)
            signal = source[:, lo] * (1 - frac) + source[:, lo + 1] * frac
            gains = rng.uniform(0.7, 1.4, (len(signal), 1)).astype(np.float32)
            noise = rng.normal(0, 0.02, signal.shape).astype(np.float32)
            out[k] = signal * gains + noise
        return out


class QueryCorpus(LazyECGArray):
    """Derived records with a planted copy of reference record ``planted[i]`` every 100th."""

    def __init__(self, derived: DerivedECG, reference: DerivedECG, n: int):
        self.derived, self.reference = derived, reference
        self.shape = (n, *derived.shape[1:])
        rng = np.random.default_rng(1)
        self.planted = {i: int(rng.integers(len(reference)))
                        for i in range(0, n, PLANT_EVERY)}

    def _take(self, rows: np.ndarray) -> np.ndarray:
        out = self.derived[rows]
        for k, row in enumerate(rows):
            if int(row) in self.planted:
                out[k] = _copy(self.reference[self.planted[int(row)]], int(row))
        return out


def _copy(signal: np.ndarray, seed: int) -> np.ndarray:
    """Resampled (100 -> 257 -> 100 Hz), x1000, shifted, 8 s kept, zero-padded to 10 s."""
    rng = np.random.default_rng(seed)
    x = resample_poly(resample_poly(signal, 257, 100, axis=-1), 100, 257, axis=-1) * 1000
    start, pad = rng.integers(0, 200), rng.integers(0, 200)
    out = np.zeros_like(signal)
    out[:, pad:pad + 800] = x[:, start:start + 800]
    return out


def _timed(query: QueryCorpus, reference: DerivedECG, gen_ref: float):
    t0 = time.perf_counter()  # generation alone, to subtract
    for start in range(0, len(query), 512):
        query[start:start + 512]
    gen_query = time.perf_counter() - t0
    t0 = time.perf_counter()
    found = find_overlap(query, reference, fs_a=100, fs_b=100)
    return found, time.perf_counter() - t0 - gen_ref - gen_query, gen_query


def main(n_query: int = 30_000) -> str:
    # a larger than b, as for a 100k corpus: b is held, a is streamed in batches
    n_small = N_REF + 1000
    n_query = max(n_query, n_small + 1000)
    base, what = _base_records()
    reference = DerivedECG(base, N_REF, seed=10)
    t0 = time.perf_counter()
    for start in range(0, N_REF, 512):
        reference[start:start + 512]
    gen_ref = time.perf_counter() - t0
    _, small, _ = _timed(QueryCorpus(DerivedECG(base, n_small, seed=20), reference, n_small),
                         reference, gen_ref)
    query = QueryCorpus(DerivedECG(base, n_query, seed=20), reference, n_query)
    found, total, gen_query = _timed(query, reference, gen_ref)
    per_record = (total - small) / (n_query - n_small)
    fixed = max(total - per_record * n_query, 0.0)
    projected = fixed + per_record * N_TARGET

    pairs = set(zip(found["index_a"], found["index_b"], strict=True))
    planted = set(query.planted.items())
    hits = len(pairs & planted)
    lines = [
        "find_overlap benchmark (benchmarks/bench_overlap.py)",
        f"machine: {platform.machine()}, {os.cpu_count()} CPU cores visible "
        f"(shared with other jobs), OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}",
        f"records derived from {what}: 12 leads, 100 Hz, 10 s",
        f"reference corpus b: {N_REF} records (PTB-XL's size); query corpus a: {n_query} "
        f"records, {len(planted)} of them planted copies",
        f"generation time subtracted: {gen_ref:.1f} s (b) + {gen_query:.1f} s (a)",
        "",
        f"measured: a of {n_small} records vs b: {small:.1f} s; a of {n_query} records vs b: "
        f"{total:.1f} s",
        f"per record of a (difference of the two): {per_record * 1e3:.2f} ms; fixed part "
        f"(b reduced, fingerprinted, whitened): {fixed:.1f} s",
        f"planted copies found: {hits} / {len(planted)}; other pairs reported: "
        f"{len(pairs - planted)}",
        "",
        f"extrapolated to a of {N_TARGET} records (linear in a: it is streamed in batches, "
        f"b is fixed): {fixed:.0f} s + {N_TARGET} x {per_record * 1e3:.2f} ms = "
        f"{projected:.0f} s ({projected / 60:.1f} min)",
        "the extrapolation assumes the same share of candidates passing min_similarity as "
        "here; at most n_candidates=16 are verified per record, so the worst case is bounded "
        "(the verification share of the time is what grows).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000
    text = main(n)
    print(text, end="")
    out = ROOT / "benchmarks" / "results" / "bench_overlap.txt"
    out.write_text(text)
