"""ECG data sets: WFDB records, PTB-XL, PhysioNet/CinC challenges, CODE, synthetic ECG, splits.

Every loader returns a :class:`sklearn.utils.Bunch` with ``X`` (float32, shape
(n_records, n_leads, n_samples), millivolts, leads in ``skecg.LEAD_NAMES`` order by default),
``y``, ``label_names``, ``meta`` (a DataFrame, one row per record), ``fs``, ``lead_names`` and what
was left out and why (``missing``, ``skipped``, ``dropped_no_label``).

Corpora larger than RAM go into an :class:`ECGStore` (:func:`build_ecg_store`, source by source,
resumable); its ``X`` is read batch by batch by every skecg estimator. :func:`find_overlap`
finds the recordings two corpora share by signal content (leakage checks).
"""

from ._wfdb import load_wfdb
from .challenge import load_physionet_challenge
from .code import (
    code15_sources,
    load_code15,
    load_code_test,
    load_paper_corpus,
    paper_corpus_sources,
)
from .overlap import find_overlap
from .ptbxl import load_ptbxl
from .splits import (
    first_k_folds,
    fold_rotation,
    patient_split,
    predefined_split,
    ptbxl_split,
)
from .store import ECGStore, StoredECGArray, build_ecg_store, load_ecg_store
from .synthetic import make_synthetic_ecg

__all__ = [
    "ECGStore",
    "StoredECGArray",
    "build_ecg_store",
    "code15_sources",
    "find_overlap",
    "first_k_folds",
    "fold_rotation",
    "load_code15",
    "load_code_test",
    "load_ecg_store",
    "load_paper_corpus",
    "load_physionet_challenge",
    "load_ptbxl",
    "load_wfdb",
    "make_synthetic_ecg",
    "paper_corpus_sources",
    "patient_split",
    "predefined_split",
    "ptbxl_split",
]
