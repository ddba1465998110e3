"""Header lines every benchmark prints: command, versions, machine, data."""

from __future__ import annotations

import os
import platform
import shlex
import sys
from pathlib import Path

import sklearn
import skorch
import torch

import skecg

# results name paths relative to the project root, never this machine's absolute ones
PROJECT_PARENT = str(Path(__file__).resolve().parents[2])


def header(data_line: str) -> str:
    """Multi-line header: the exact command, library versions, machine and data."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    # absolute paths outside the project (a scratch folder of encoders) are written as SCRATCH
    argv = [f"SCRATCH/{Path(a).name}" if os.path.isabs(a) and not a.startswith(PROJECT_PARENT)
            else a for a in sys.argv]
    return "\n".join([
        f"command: python {shlex.join(argv)}",
        f"python {platform.python_version()}, torch {torch.__version__}, skecg "
        f"{skecg.__version__}, scikit-learn {sklearn.__version__}, skorch {skorch.__version__}",
        f"machine: {platform.platform()}; {os.cpu_count()} CPU cores, torch threads "
        f"{torch.get_num_threads()}, GPU: "
        f"{torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}; "
        f"load average at start {load:.2f}",
        f"data: {data_line}",
    ]).replace(PROJECT_PARENT + os.sep, ".." + os.sep)


def load_standardized_ptbxl(path, task: str):
    """PTB-XL with the paper's folds, standardised per lead on the training folds.

    Returns
    -------
    data : Bunch
        As from ``load_ptbxl``, with ``X`` standardised.
    split : Bunch
        ``train``, ``valid``, ``test`` indices (folds 1-8, 9, 10).
    """
    from skecg.datasets import load_ptbxl, ptbxl_split
    from skecg.preprocessing import LeadStandardizer

    data = load_ptbxl(path, task=task, n_jobs=2)
    split = ptbxl_split(data.meta)
    data.X = LeadStandardizer().fit(data.X[split.train]).transform(data.X)
    return data, split


def line_plot(table, x: str, group: str, path, xlabel: str, title: str,
              band: bool = True) -> None:
    """One line of ``test_auc`` over ``x`` per ``group`` (with its bootstrap band), saved."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, rows in table.groupby(group, sort=False):
        ax.plot(rows[x], rows["test_auc"], marker="o", label=label)
        if band:
            ax.fill_between(rows[x], rows["test_auc_low"], rows["test_auc_high"], alpha=0.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test macro AUC")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def encoders_per_split(method: str, data, cv, params: dict, cache=None) -> tuple[list, str]:
    """One encoder per split of ``cv``: loaded from ``cache/method/split{i}.skecg`` when there
    (as ``paper_table.py --cache`` writes them), else pretrained per split (train + valid).

    Returns the encoders and a line saying which.
    """
    from skecg.evaluation import pretrain_per_split
    from skecg.ssl import ENCODERS, BaseSSLEncoder

    files = [Path(cache) / method / f"split{i}.skecg" for i in range(len(cv))] if cache else []
    if files and all(f.is_file() for f in files):
        encoders = [BaseSSLEncoder.load(f) for f in files]
        return encoders, (f"encoders: the {len(cv)} per-split {method} encoders pretrained by "
                          f"paper_table.py (loaded from its --cache), {encoders[0].get_params()}")
    encoders = pretrain_per_split(ENCODERS[method](**params), data, cv)
    return encoders, f"encoders: {method} pretrained per split on train+valid, {params}"
