"""skecg: scikit-learn compatible self-supervised representation learning for 12-lead ECG.

Implements Mehari & Strodthoff, "Self-supervised representation learning from 12-lead ECG data"
(Comput. Biol. Med. 141, 2022) as scikit-learn transformers and skorch classifiers.
The estimators below are imported lazily, so ``import skecg`` (and the CLI) start fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

LEAD_NAMES = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")

_LAZY = {
    "CPCEncoder": "skecg.ssl",
    "SimCLREncoder": "skecg.ssl",
    "BYOLEncoder": "skecg.ssl",
    "SwAVEncoder": "skecg.ssl",
    "ECGClassifier": "skecg.classifier",
    "load_ptbxl": "skecg.datasets",
    "load_physionet_challenge": "skecg.datasets",
    "load_wfdb": "skecg.datasets",
    "make_synthetic_ecg": "skecg.datasets",
}

__all__ = ["LEAD_NAMES", "__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'skecg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
