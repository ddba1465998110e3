"""Header lines every benchmark prints: command, versions, machine, data."""

from __future__ import annotations

import os
import platform
import shlex
import sys

import sklearn
import skorch
import torch

import skecg


def header(data_line: str) -> str:
    """Multi-line header: the exact command, library versions, machine and data."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return "\n".join([
        f"command: python {shlex.join(sys.argv)}",
        f"python {platform.python_version()}, torch {torch.__version__}, skecg "
        f"{skecg.__version__}, scikit-learn {sklearn.__version__}, skorch {skorch.__version__}",
        f"machine: {platform.platform()}; {os.cpu_count()} CPU cores, torch threads "
        f"{torch.get_num_threads()}, GPU: "
        f"{torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}; "
        f"load average at start {load:.2f}",
        f"data: {data_line}",
    ])
