"""The paper's evaluation protocols, each one call returning a tidy table (one row per model).

Every protocol takes ``data``: a Bunch as returned by :func:`skecg.datasets.load_ptbxl` (``X``
in mV, ``y`` multi-hot, ``meta`` with ``strat_fold``) and either one split (``splits=``; default
PTB-XL's folds 1-8 train, 9 validation, 10 test) or several (``cv=``, e.g.
:func:`skecg.datasets.fold_rotation`, so that every labelled record is tested once). Test
scores of all splits are pooled: one record-level macro AUC over all tested records with a
bootstrap interval, the spread over splits (``split_auc_std``), and, for a row with a baseline
(random init, supervised from scratch), the paired bootstrap difference to it (``delta`` with
``delta_low``/``delta_high``) over the same records.

Classifiers are :class:`~skecg.classifier.ECGClassifier` estimators built from
:func:`paper_recipe`: ``ECGClassifier(**paper_recipe(encoder, regime))`` is the paper's model,
input scaling included. An unfitted encoder is a template, pretrained per split on that split's
training and validation signals (never its test records); a fitted encoder is used as given.

The package is split by concern: ``_recipes`` (the reference code's recipes), ``_core`` (splits,
the encoder of each split, the one fit -> score path, pooled rows), ``_protocols`` (the
protocols) and ``_reporting`` (tables and figures); everything public is imported here.
"""

from ._core import (  # noqa: F401 (skecg.baselines and the tests use them)
    CHANCE_AUC,
    PROBE_C_GRID,
    TABLE_COLUMNS,
    _Runs,
    _splits,
    describe_pretraining_data,
    fit_classifier,
    fit_probe,
    logistic_probe,
    pretrain_per_split,
)
from ._protocols import (
    LEAD_ROBUSTNESS_COLUMNS,
    LEAD_SUBSETS,
    _subset_embeddings,  # noqa: F401 (the tests use it)
    finetune_evaluation,
    label_efficiency,
    lead_robustness,
    linear_evaluation,
    noise_robustness,
    supervised_evaluation,
)
from ._recipes import (
    JEPA_LINEAR_EPOCHS,
    METHODS,
    REGIMES,
    describe_recipe,
    method_name,
    paper_recipe,
    supervised_baseline_params,
)
from ._reporting import format_table, markdown_table, plot_lead_robustness, plot_table

__all__ = [
    "CHANCE_AUC",
    "JEPA_LINEAR_EPOCHS",
    "LEAD_ROBUSTNESS_COLUMNS",
    "LEAD_SUBSETS",
    "METHODS",
    "PROBE_C_GRID",
    "REGIMES",
    "TABLE_COLUMNS",
    "describe_pretraining_data",
    "describe_recipe",
    "finetune_evaluation",
    "fit_classifier",
    "fit_probe",
    "format_table",
    "label_efficiency",
    "lead_robustness",
    "linear_evaluation",
    "logistic_probe",
    "markdown_table",
    "method_name",
    "noise_robustness",
    "paper_recipe",
    "plot_lead_robustness",
    "plot_table",
    "pretrain_per_split",
    "supervised_baseline_params",
    "supervised_evaluation",
]
