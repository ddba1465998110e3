"""Evaluation protocols on synthetic labelled ECG (fast) with tiny encoders."""

import numpy as np
import pytest
import torch

from skecg.datasets import make_synthetic_ecg, ptbxl_split
from skecg.evaluation import (
    TABLE_COLUMNS,
    finetune_evaluation,
    label_efficiency,
    linear_evaluation,
    noise_robustness,
    plot_table,
)
from skecg.metrics import macro_auc
from skecg.ssl import CPCEncoder

TINY_CPC = dict(encoder_width=16, context_width=16, crop_length=250, batch_size=32,
                max_epochs=1, lr=1e-3, random_state=0)


@pytest.fixture(scope="module")
def data():
    return make_synthetic_ecg(n_records=200, random_state=0)


def test_linear_evaluation_table(data):
    table = linear_evaluation(CPCEncoder(**TINY_CPC), data, n_bootstraps=50)
    assert list(table.columns) == TABLE_COLUMNS
    assert list(table["pretraining"]) == ["CPC", "none (random init)"]
    assert (table["test_auc_low"] <= table["test_auc"]).all()
    assert (table["test_auc"] <= table["test_auc_high"]).all()
    assert table["n_train"].iloc[0] == len(ptbxl_split(data.meta).train)


def test_label_efficiency_uses_first_k_folds(data):
    encoder = CPCEncoder(**TINY_CPC).fit(data.X)
    table = label_efficiency(encoder, data, n_folds=[2, 8], n_bootstraps=20)
    folds = data.meta["strat_fold"].to_numpy()
    assert list(table["n_folds"]) == [2, 8]
    assert list(table["n_train"]) == [int(np.isin(folds, [1, 2]).sum()),
                                      int((folds <= 8).sum())]


class _SignalSizeModel:
    """A fixed model scoring each record by its signal size, so added noise changes scores."""

    def __init__(self, n_labels):
        self.n_labels = n_labels

    def predict_proba(self, X):
        return np.repeat(X.std(axis=(1, 2))[:, None], self.n_labels, axis=1)


def test_noise_robustness_levels_change_scores(data):
    split = ptbxl_split(data.meta)
    model = _SignalSizeModel(data.y.shape[1])
    table = noise_robustness(model, data, levels=[0, 1, 6], n_bootstraps=20)
    assert list(table["level"]) == [0, 1, 6]
    clean = macro_auc(data.y[split.test], model.predict_proba(data.X[split.test]))
    assert table["test_auc"].iloc[0] == pytest.approx(clean)
    assert table["test_auc"].iloc[2] != pytest.approx(clean)


def test_plot_table(tmp_path, data):
    table = linear_evaluation(CPCEncoder(**TINY_CPC), data, n_bootstraps=20,
                              random_init_baseline=False)
    plot_table(table, tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 1000


def test_finetune_evaluation_rows_and_encoder_untouched(data):
    encoder = CPCEncoder(**TINY_CPC).fit(data.X)
    before = {k: v.clone() for k, v in encoder.module_.state_dict().items()}
    table = finetune_evaluation(encoder, data, head="linear", head_epochs=1, max_epochs=2,
                                batch_size=32, n_bootstraps=20)
    assert list(table["pretraining"]) == ["CPC", "none (supervised)"]
    assert table["test_auc"].between(0, 1).all()
    after = encoder.module_.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_table_states_what_pretraining_excluded(data, challenge_path):
    from skecg.datasets import load_physionet_challenge

    cinc = load_physionet_challenge(challenge_path, exclude_prefixes=("HR",))
    encoder = CPCEncoder(**TINY_CPC).fit(cinc.X)
    table = linear_evaluation(encoder, data, pretrained_on=cinc, n_bootstraps=20)
    assert table.loc[0, "pretrained_on"].startswith("41 records; 10 excluded (HR06000")
    assert table.loc[1, "pretrained_on"] == ""  # the random-init row saw nothing
