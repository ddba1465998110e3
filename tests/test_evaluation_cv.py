"""Recipes as estimators, cross-validated protocols and linear layers that are trained."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import KFold, cross_validate

from skecg._linear_eval import PTBXL_TRAIN_RECORDS, crops_at, paper_linear_steps
from skecg.classifier import ECGClassifier
from skecg.datasets import fold_rotation, make_synthetic_ecg
from skecg.evaluation import (
    REGIMES,
    finetune_evaluation,
    fit_classifier,
    label_efficiency,
    linear_evaluation,
    paper_recipe,
    pretrain_per_split,
)
from skecg.metrics import macro_auc, macro_auc_scorer
from skecg.ssl import BYOLEncoder, CPCEncoder, SimCLREncoder, SwAVEncoder

TINY = {
    "cpc": (CPCEncoder, dict(encoder_width=8, context_width=8, crop_length=250, batch_size=16,
                             max_epochs=1, random_state=0)),
    "simclr": (SimCLREncoder, dict(backbone="xresnet1d18", width=4, projection_hidden=8,
                                   projection_dim=4, batch_size=16, max_epochs=1,
                                   random_state=0)),
    "byol": (BYOLEncoder, dict(backbone="xresnet1d18", width=4, projection_hidden=8,
                               projection_dim=4, batch_size=16, max_epochs=1, random_state=0)),
    "swav": (SwAVEncoder, dict(backbone="xresnet1d18", width=4, projection_hidden=8,
                               projection_dim=4, n_prototypes=5, batch_size=16, max_epochs=1,
                               random_state=0)),
}


@pytest.fixture(scope="module")
def data():
    return make_synthetic_ecg(n_records=100, duration=5, random_state=0)


@pytest.fixture(scope="module")
def encoders(data):
    return {m: cls(**params).fit(data.X[:32]) for m, (cls, params) in TINY.items()}


@pytest.mark.parametrize("regime", REGIMES)
@pytest.mark.parametrize("method", list(TINY))  # the paper's four
def test_paper_recipe_is_an_estimator_in_cross_validate(data, encoders, method, regime):
    recipe = paper_recipe(encoders[method], regime, epoch_scale=0.02, batch_size=16)
    clf = ECGClassifier(**recipe, random_state=0)
    assert clone(clf).get_params()["input_scaling"] == recipe["input_scaling"]
    if regime != "supervised":
        assert clone(clf).encoder is encoders[method]  # fitted encoder kept, not re-pretrained
    X, y = data.X[:40], data.y[:40]
    result = cross_validate(clf, X, y, cv=KFold(2), scoring=macro_auc_scorer,
                            return_estimator=True)
    assert np.isfinite(result["test_score"]).all()
    fitted = result["estimator"][0]
    expected = "standardize" if method == "cpc" else "mV"
    assert fitted.input_scaling == expected
    assert fitted.input_mean_.any() == (expected == "standardize")


def test_cpc_finetune_recipe_keeps_both_phases_at_any_scale():
    for scale in (0.001, 0.02, 0.4, 1.0):
        recipe = paper_recipe("cpc", "finetune", epoch_scale=scale)
        assert 1 <= recipe["head_epochs"] < recipe["max_epochs"]
    assert paper_recipe("cpc", "finetune")["max_epochs"] == 70


def test_optimizer_and_criterion_arguments_reach_torch(data):
    X, y = data.X[:16], data.y[:16]
    clf = ECGClassifier("xresnet1d18", width=4, optimizer="sgd", optimizer__momentum=0.9,
                        optimizer__param_groups=[("head.*", {"lr": 0.5})],
                        criterion__pos_weight=torch.full((y.shape[1],), 3.0), max_epochs=1,
                        batch_size=8, random_state=0).fit(X, y)
    groups = clf.optimizer_.param_groups
    assert all(g["momentum"] == 0.9 for g in groups)
    head = [g for g in groups if g["name"].startswith("head")]
    assert head and all(g["lr"] == 0.5 for g in head)
    assert all(g["lr"] == pytest.approx(1e-3) for g in groups
               if not g["name"].startswith("head"))
    head_ids = {id(p) for p in clf.module_.head.parameters()}
    assert {id(p) for g in head for p in g["params"]} == head_ids
    torch.testing.assert_close(clf.criterion_.pos_weight, torch.full((y.shape[1],), 3.0))
    with pytest.raises(ValueError, match="optimzer__momentum"):
        ECGClassifier(optimzer__momentum=0.9).fit(X, y)


def test_frozen_estimator_reuses_a_pretrained_encoder(data, encoders):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    encoder = encoders["simclr"]
    before = encoder.transform(data.X[:4])
    pipe = make_pipeline(FrozenEstimator(encoder), StandardScaler())
    fitted = clone(pipe).fit(data.X[40:60])
    np.testing.assert_array_equal(fitted[0].transform(data.X[:4]), before)


class _RecordingCPC(CPCEncoder):
    """CPCEncoder remembering the records each pretraining (max_epochs > 0) saw."""

    seen: list = []

    def fit(self, X, y=None):
        if self.max_epochs > 0:
            type(self).seen.append(np.asarray(X).reshape(len(X), -1)[:, :50].copy())
        return super().fit(X, y)


def test_cross_validated_protocol_pretrains_per_rotation_never_on_test(data):
    cv = fold_rotation(data.meta, n_splits=5)
    _RecordingCPC.seen = []
    template = _RecordingCPC(**TINY["cpc"][1])
    table = linear_evaluation(template, data, cv=cv, protocol="probe", n_bootstraps=50)
    assert len(_RecordingCPC.seen) == 5  # once per rotation
    signature = data.X.reshape(len(data.X), -1)[:, :50]
    for split, seen in zip(cv, _RecordingCPC.seen, strict=True):
        assert len(seen) == len(split.train) + len(split.valid)
        tested = {signature[i].tobytes() for i in split.test}
        assert not tested & {row.tobytes() for row in seen}  # no test record pretrained on
    labelled = int(np.isin(data.meta["strat_fold"], range(1, 11)).sum())
    assert list(table["n_test"]) == [labelled, labelled]
    assert list(table["n_splits"]) == [5, 5]
    assert table["pretraining"].iloc[0].endswith("(per split, on its train+valid records)")
    first = table.iloc[0]
    assert first["delta"] == pytest.approx(first["test_auc"] - first["baseline"])
    assert first["delta_low"] <= first["delta"] <= first["delta_high"]
    assert first["split_auc_std"] > 0


def test_cv_protocol_pools_scores_of_all_rotations(data, encoders):
    cv = fold_rotation(data.meta, n_splits=5)
    fitted = pretrain_per_split(CPCEncoder(**TINY["cpc"][1]), data, cv)
    table = finetune_evaluation(fitted, data, cv=cv, n_bootstraps=50, epoch_scale=0.02,
                                batch_size=16)
    finetuned = table.iloc[0]
    # the pooled AUC is one AUC over every tested record, recomputed from the protocol's path
    scores = np.zeros_like(data.y, dtype=float)
    for enc, split in zip(fitted, cv, strict=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model, _ = fit_classifier(enc, data, regime="finetune", splits=split,
                                      epoch_scale=0.02, batch_size=16)
        scores[split.test] = model.predict_proba(data.X[split.test])
    assert finetuned["test_auc"] == pytest.approx(macro_auc(data.y, scores))
    assert finetuned["n_test"] == len(data.X)
    assert finetuned["pretraining"] == "CPC (one given per split)"
    with pytest.raises(ValueError, match="one fitted encoder per split"):
        finetune_evaluation(fitted[:2], data, cv=cv)
    with pytest.raises(ValueError, match="not both"):
        linear_evaluation(fitted[0], data, cv=cv, splits=cv[0])


def test_cv_rejects_splits_that_test_a_record_twice(data, encoders):
    cv = fold_rotation(data.meta, n_splits=5)
    with pytest.raises(ValueError, match="more than once"):
        linear_evaluation(encoders["cpc"], data, cv=[cv[0], cv[0]], protocol="probe")


def test_crops_at_matches_a_loop():
    x = torch.randn(3, 2, 40)
    starts = np.array([0, 7, 15])
    crops = crops_at(x, starts, 25)
    expected = torch.stack([x[r, :, s:s + 25] for r in range(3) for s in starts])
    torch.testing.assert_close(crops, expected)


def test_paper_linear_steps_count_epochs_of_the_full_ptbxl():
    assert paper_linear_steps(50, 128, 352) == 50 * 137  # about 6,800, as the paper
    assert paper_linear_steps(50, 128, 352) == paper_linear_steps(50, 128, PTBXL_TRAIN_RECORDS)
    assert paper_linear_steps(2, 100, 100_000) == 2000  # more data than PTB-XL: its epochs


def test_linear_layer_is_trained_and_scored_on_the_prediction_path(data, encoders):
    encoder = encoders["simclr"]
    model, info = fit_classifier(encoder, data, regime="linear", epoch_scale=0.04)
    assert info.steps == paper_linear_steps(2, 128, 80)  # 2 PTB-XL epochs = 274 steps
    assert 0 < info.best_step <= info.steps
    split_valid = np.flatnonzero(data.meta["strat_fold"] == 9)
    # the validation AUC of the chosen step equals the one predict_proba gives
    assert info.valid_auc == pytest.approx(
        macro_auc(data.y[split_valid], model.predict_proba(data.X[split_valid])), abs=1e-3)
    # a trained layer beats an untrained one on the same frozen features
    untrained = ECGClassifier(**{**paper_recipe(encoder, "linear"), "max_epochs": 0},
                              random_state=0).fit(data.X[:80], data.y[:80])
    assert info.valid_auc > macro_auc(data.y[split_valid],
                                      untrained.predict_proba(data.X[split_valid]))


def test_random_init_linear_row_is_close_to_a_logistic_probe(data, encoders):
    cv = fold_rotation(data.meta, n_splits=5)[:2]
    paper = linear_evaluation(encoders["simclr"], data, cv=cv, n_bootstraps=20,
                              epoch_scale=0.2)
    probe = linear_evaluation(encoders["simclr"], data, cv=cv, n_bootstraps=20,
                              protocol="probe")
    random_paper, random_probe = paper["test_auc"].iloc[1], probe["test_auc"].iloc[1]
    assert abs(random_paper - random_probe) < 0.1
    assert paper["steps"].iloc[1] == paper_linear_steps(10, 128, 60)


def test_probe_with_a_given_encoder_runs_one_seed(data, encoders):
    with pytest.warns(UserWarning, match="deterministic"):
        table = linear_evaluation(encoders["cpc"], data, protocol="probe", n_seeds=3,
                                  n_bootstraps=20)
    assert list(table["n_seeds"]) == [1, 1]


def test_label_efficiency_probe_uses_the_encoders_own_scaling(data, encoders):
    """Probe rows of label_efficiency and linear_evaluation agree at all training folds."""
    efficiency = label_efficiency(encoders["cpc"], data, n_folds=[8], regimes=["linear"],
                                  protocol="probe", n_bootstraps=20)
    linear = linear_evaluation(encoders["cpc"], data, protocol="probe", n_bootstraps=20,
                               random_init_baseline=False)
    assert efficiency["test_auc"].iloc[0] == pytest.approx(linear["test_auc"].iloc[0])


def test_label_efficiency_with_cv_takes_each_splits_first_training_folds(data, encoders):
    cv = fold_rotation(data.meta, n_splits=5)
    table = label_efficiency(encoders["cpc"], data, cv=cv, n_folds=[1, 6], regimes=["linear"],
                             protocol="probe", n_bootstraps=20)
    assert list(table["n_train"]) == [10, 60]
    assert (table["n_test"] == len(data.X)).all()
    with pytest.raises(ValueError, match="trains on 6 folds"):
        label_efficiency(encoders["cpc"], data, cv=cv, n_folds=[8], regimes=["linear"],
                         protocol="probe")


def test_standardised_training_folds_back_into_one_linear_layer():
    from skecg._linear_eval import _feature_moments, _fold_standardisation
    from skecg.models import LinearHead

    torch.manual_seed(0)
    features = torch.randn(30, 4, 16) * torch.logspace(-3, 1, 16) + 2.0
    head = LinearHead(16, 3)
    mean, sd = _feature_moments(features)
    flat = features.reshape(-1, 16)
    on_standardised = head((flat - mean) / sd)
    _fold_standardisation(head, mean, sd)
    torch.testing.assert_close(head(flat), on_standardised, rtol=1e-3, atol=1e-3)
