"""ECG data sets: WFDB records, PTB-XL, PhysioNet/CinC challenges, synthetic ECG and splits.

Every loader returns a :class:`sklearn.utils.Bunch` with ``X`` (float32, shape
(n_records, n_leads, n_samples), millivolts, leads in ``skecg.LEAD_NAMES`` order by default),
``y``, ``label_names``, ``meta`` (a DataFrame, one row per record), ``fs``, ``lead_names`` and what
was left out and why (``missing``, ``skipped``, ``dropped_no_label``).
"""

from ._wfdb import load_wfdb
from .challenge import load_physionet_challenge
from .ptbxl import load_ptbxl
from .splits import first_k_folds, predefined_split, ptbxl_split
from .synthetic import make_synthetic_ecg

__all__ = [
    "first_k_folds",
    "load_physionet_challenge",
    "load_ptbxl",
    "load_wfdb",
    "make_synthetic_ecg",
    "predefined_split",
    "ptbxl_split",
]
