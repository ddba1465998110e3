"""ECGClassifier: training regimes, validation-based model selection and scikit-learn behaviour."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import Callback
from skorch.dataset import Dataset
from skorch.helper import predefined_split as skorch_predefined_split

from skecg.classifier import ECGClassifier
from skecg.datasets import make_synthetic_ecg, predefined_split
from skecg.metrics import macro_auc, macro_auc_scorer
from skecg.preprocessing import LeadStandardizer
from skecg.ssl import CPCEncoder

TINY = dict(encoder="xresnet1d18", width=16, max_epochs=5, batch_size=16, lr=3e-3,
            random_state=0)
TINY_CPC_ENCODER = dict(encoder_width=16, context_width=16, steps=2, n_negatives=4,
                        crop_length=100, batch_size=16, max_epochs=1, random_state=0)

# scikit-learn's checks feed 2-D (n_samples, n_features) arrays, read here as single-lead
# records of n_features samples: one-sample windows through a tiny CPC network fit any length.
CHECKS = dict(encoder="cpc", width=4, crop_length=None, window=1, stride=1, batch_size=32,
              max_epochs=3, lr=1e-2, random_state=0)
EXPECTED_FAILED_CHECKS = {
    "check_no_attributes_set_in_init": "skorch's NeuralNet.__init__ sets history_, "
    "initialized_ and virtual_params_",
    "check_n_features_in": "n_features_in_ has no meaning for (n, leads, samples) input; "
    "n_leads_in_ is set instead",
    "check_n_features_in_after_fitting": "records of any length are accepted; only the lead "
    "count is fixed (checked with its own error)",
    "check_estimators_partial_fit_n_features": "records of any length are accepted; only the "
    "lead count is fixed",
    "check_classifiers_train": "toy blobs read as 2-sample records, predicted one 1-sample "
    "window at a time and averaged: not separable by design of the tiny configuration",
}


# skorch's set_params initialises callbacks eagerly, so check_set_params' fuzz values for
# `callbacks` raise and sklearn warns; sklearn's own y=inf check warns about a cast.
@pytest.mark.filterwarnings("ignore:TypeError occurred during set_params:UserWarning")
@pytest.mark.filterwarnings("ignore:Estimator's parameters changed:UserWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
@parametrize_with_checks([ECGClassifier(**CHECKS)],
                         expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def ecg():
    """120 synthetic 5 s records (12 leads, 100 Hz), 4 labels, with strat_fold 1-10."""
    return make_synthetic_ecg(120, duration=5, n_classes=4, random_state=0)


@pytest.fixture(scope="module")
def split(ecg):
    train = ecg.meta["strat_fold"].to_numpy() <= 8
    return train, ~train


@pytest.fixture(scope="module")
def fitted(ecg, split):
    train, _ = split
    return ECGClassifier(**TINY).fit(ecg.X[train], ecg.y[train])


@pytest.fixture(scope="module")
def cpc(ecg):
    return CPCEncoder(**TINY_CPC_ENCODER).fit(ecg.X[:32])


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


def test_multilabel_learns(ecg, split, fitted):
    _, test = split
    proba = fitted.predict_proba(ecg.X[test])
    assert proba.shape == (test.sum(), 4) and proba.dtype == np.float32
    assert fitted.multilabel_ and fitted.n_outputs_ == 4 and fitted.n_leads_in_ == 12
    np.testing.assert_array_equal(fitted.classes_, np.arange(4))
    assert macro_auc(ecg.y[test], proba) > 0.8
    pred = fitted.predict(ecg.X[test])
    np.testing.assert_array_equal(pred, (proba > 0.5).astype(int))
    assert len(fitted.history_) == TINY["max_epochs"]
    assert fitted.get_params()["encoder"] == "xresnet1d18"  # shapes never written into params


def test_window_aggregation(ecg, fitted):
    x = ecg.X[:3]
    windows = np.stack([x[:, :, s:s + 250] for s in (0, 125, 250)], axis=1)  # 500 samples
    window_proba = fitted.predict_proba(windows.reshape(-1, 12, 250)).reshape(3, 3, -1)
    np.testing.assert_allclose(fitted.predict_proba(x), window_proba.mean(1), atol=1e-6)
    by_max = pickle.loads(pickle.dumps(fitted)).set_params(aggregate="max")
    np.testing.assert_allclose(by_max.predict_proba(x), window_proba.max(1), atol=1e-6)


def test_single_label_with_string_classes(ecg, split):
    train, test = split
    y = np.where(ecg.y[:, 0] == 1, "tachy", "other")  # label 0 is TACHY: heart rate
    clf = ECGClassifier(**TINY).fit(ecg.X[train], y[train])
    assert not clf.multilabel_
    np.testing.assert_array_equal(clf.classes_, ["other", "tachy"])
    proba = clf.predict_proba(ecg.X[test])
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)
    assert macro_auc(y[test] == "tachy", proba[:, 1]) > 0.8
    assert set(clf.predict(ecg.X[test])) <= {"other", "tachy"}
    proba_max = clf.set_params(aggregate="max").predict_proba(ecg.X[test])
    np.testing.assert_allclose(proba_max.sum(1), 1, rtol=1e-5)


def test_linear_evaluation_freezes_backbone_and_batchnorm(ecg, cpc):
    before = _state(cpc.module_)
    clf = ECGClassifier(cpc, freeze_encoder=True, max_epochs=2, batch_size=16, lr=1e-2,
                        random_state=0).fit(ecg.X[:48], ecg.y[:48])
    # weights and BatchNorm running statistics of the copied backbone are untouched
    _assert_same_state(_state(clf.module_.backbone), _state(cpc.module_.backbone))
    assert clf.history_[:, "encoder_frozen"] == [True, True]
    names = {group["name"] for group in clf.optimizer_.param_groups}
    assert names == {"head", "head_no_decay"}
    # the encoder passed in is neither modified nor shared
    _assert_same_state(_state(cpc.module_), before)
    assert clf.module_.backbone is not cpc.module_.backbone
    head = ECGClassifier(cpc, freeze_encoder=True, max_epochs=1, batch_size=16,
                         random_state=0).fit(ecg.X[:48], ecg.y[:48]).module_.head
    assert not torch.equal(head.linear.weight, clf.module_.head.linear.weight)


def test_discriminative_learning_rates(ecg, cpc):
    def group_lrs(clf):
        return {g["name"].removesuffix("_no_decay"): g["lr"] for g in clf.optimizer_.param_groups}

    data = ecg.X[:32], ecg.y[:32]
    finetuned = ECGClassifier(cpc, head="paper", lr=1e-3, max_epochs=1, batch_size=16).fit(*data)
    assert group_lrs(finetuned) == pytest.approx({"encoder": 1e-5, "context": 1e-4, "head": 1e-3})
    custom = ECGClassifier(cpc, discriminative_lr=(0.5, 0.25), lr=1e-3, max_epochs=1,
                           batch_size=16).fit(*data)
    assert group_lrs(custom) == pytest.approx({"encoder": 5e-4, "context": 2.5e-4, "head": 1e-3})
    scratch = ECGClassifier("cpc", width=8, lr=1e-3, max_epochs=1, batch_size=16).fit(*data)
    assert group_lrs(scratch) == pytest.approx({"encoder": 1e-3, "context": 1e-3, "head": 1e-3})
    optimised = {id(p) for g in finetuned.optimizer_.param_groups for p in g["params"]}
    assert optimised == {id(p) for p in finetuned.module_.parameters()}


def test_head_epochs_then_all_layers(ecg, cpc):
    clf = ECGClassifier(cpc, head="paper", head_epochs=2, max_epochs=2, batch_size=16,
                        random_state=0).fit(ecg.X[:48], ecg.y[:48])
    _assert_same_state(_state(clf.module_.backbone), _state(cpc.module_.backbone))
    head_after_2 = _state(clf.module_.head)
    clf.set_params(max_epochs=1).partial_fit(ecg.X[:48], ecg.y[:48])
    assert clf.history_[:, "encoder_frozen"] == [True, True, False]
    changed = _state(clf.module_.backbone)
    assert any(not torch.equal(changed[k], v) for k, v in _state(cpc.module_.backbone).items())
    assert any(not torch.equal(v, head_after_2[k]) for k, v in _state(clf.module_.head).items())


class _FlipHeadInLastValidation(Callback):
    """Negates the head before the last epoch's validation, making that epoch the worst."""

    def initialize(self):
        self.done_ = False
        return self

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training and len(net.history) == net.max_epochs and not self.done_:
            with torch.no_grad():
                for p in net.module_.head.parameters():
                    p.neg_()
            self.done_ = True


@pytest.mark.parametrize("load_best", [True, False])
def test_valid_auc_and_best_weights(ecg, split, load_best):
    train, valid = split
    clf = ECGClassifier(**{**TINY, "max_epochs": 3}, load_best=load_best,
                        callbacks=[("flip", _FlipHeadInLastValidation())],
                        train_split=skorch_predefined_split(Dataset(ecg.X[valid],
                                                                    ecg.y[valid])))
    clf.fit(ecg.X[train], ecg.y[train])
    scores = clf.history_[:, "valid_auc"]
    assert len(scores) == 3 and all("valid_loss" in row for row in clf.history_)
    assert scores[-1] < max(scores)
    final = macro_auc(ecg.y[valid], clf.predict_proba(ecg.X[valid]))
    assert final == pytest.approx(max(scores) if load_best else scores[-1], abs=1e-6)


def test_clone_pickle_and_rng(ecg, fitted, cpc):
    params = clone(fitted).get_params(deep=False)
    assert params == fitted.get_params(deep=False)
    assert not hasattr(clone(fitted), "module_")
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(ecg.X[:8]),
                                  fitted.predict_proba(ecg.X[:8]))
    assert clone(ECGClassifier(cpc)).encoder is cpc  # a pretrained encoder stays fitted
    torch.manual_seed(1)
    expected_next = torch.rand(1)
    torch.manual_seed(1)
    again = ECGClassifier(**{**TINY, "max_epochs": 1}, device="auto")
    a = again.fit(ecg.X[:32], ecg.y[:32]).predict_proba(ecg.X[:4])
    assert torch.rand(1) == expected_next  # fit leaves the global torch RNG as it was
    assert again.device == "auto" and again.device_ in ("cpu", "cuda")
    np.testing.assert_array_equal(a, clone(again).fit(ecg.X[:32], ecg.y[:32])
                                  .predict_proba(ecg.X[:4]))
    np.testing.assert_array_equal(a, pickle.loads(pickle.dumps(again)).predict_proba(ecg.X[:4]))


def test_grid_search_over_lr_with_predefined_folds(ecg):
    folds = ecg.meta["strat_fold"].to_numpy()
    search = GridSearchCV(ECGClassifier(**{**TINY, "max_epochs": 3}), {"lr": [1e-7, 3e-3]},
                          scoring=macro_auc_scorer,
                          cv=predefined_split(folds, test_folds=(9, 10)))
    search.fit(ecg.X, ecg.y)
    assert search.best_params_ == {"lr": 3e-3}
    assert search.best_estimator_.predict_proba(ecg.X[:2]).shape == (2, 4)


def test_pipeline(ecg, split):
    train, test = split
    pipe = make_pipeline(LeadStandardizer(), ECGClassifier(**TINY))
    pipe.fit(ecg.X[train], ecg.y[train])
    assert macro_auc_scorer(pipe, ecg.X[test], ecg.y[test]) > 0.8


def test_bad_params_and_inputs(ecg, fitted):
    X, y = ecg.X[:8], ecg.y[:8]
    with pytest.raises(ValueError, match="head"):
        ECGClassifier(head="mlp").fit(X, y)
    with pytest.raises(ValueError, match="FITTED"):
        ECGClassifier(CPCEncoder()).fit(X, y)
    with pytest.raises(ValueError, match="crop_length=600"):
        ECGClassifier(**{**TINY, "crop_length": 600}).fit(X, y)
    with pytest.raises(ValueError, match="requires y"):
        ECGClassifier(**TINY).fit(X, None)
    with pytest.raises(ValueError, match="module must be None"):
        ECGClassifier(module=torch.nn.Linear).fit(X, y)
    with pytest.raises(ValueError, match="fitted on 12 leads"):
        fitted.predict_proba(X[:, :3])
    with pytest.raises(TypeError, match="sample_weight"):
        ECGClassifier(**TINY).fit(X, y, sample_weight=np.ones(8))


def test_forward_predict_proba_and_valid_auc_share_one_path(ecg, split):
    train, valid = split
    X_valid, y_valid = ecg.X[valid], ecg.y[valid]
    clf = ECGClassifier(**{**TINY, "max_epochs": 2, "batch_size": 7}, load_best=False,
                        train_split=skorch_predefined_split(Dataset(X_valid, y_valid)))
    clf.fit(ecg.X[train], ecg.y[train])
    proba = clf.predict_proba(X_valid)
    np.testing.assert_allclose(clf.forward(X_valid).numpy(), proba, rtol=0, atol=1e-6)
    # the epoch's record-level valid_auc (skorch EpochScoring, cached validation outputs)
    assert clf.history_[-1, "valid_auc"] == pytest.approx(macro_auc(y_valid, proba), abs=1e-6)
    assert macro_auc_scorer(clf, X_valid, y_valid) == pytest.approx(
        clf.history_[-1, "valid_auc"], abs=1e-6)
    # slow reference: every window through the network, sigmoid, mean per record
    network = clf.module_.eval()
    expected = []
    with torch.no_grad():
        for record in X_valid:
            windows = [record[:, s:s + 250] for s in range(0, record.shape[1] - 249, 125)]
            logits = network(torch.as_tensor(np.stack(windows)))
            expected.append(torch.sigmoid(logits).mean(0).numpy())
    np.testing.assert_allclose(proba, np.stack(expected), rtol=0, atol=1e-6)


class _BackboneModes(Callback):
    def initialize(self):
        self.modes_ = []
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.modes_.append(net.module_.backbone.training)


def test_head_only_phase_keeps_backbone_in_eval_mode_then_switches_lr(ecg, cpc):
    modes = _BackboneModes()
    clf = ECGClassifier(cpc, head="paper", head_epochs=1, finetune_lr=1e-4,
                        discriminative_lr=(0.01, 0.1), lr=1e-3, max_epochs=2, batch_size=16,
                        callbacks=[("modes", modes)], random_state=0)
    clf.fit(ecg.X[:48], ecg.y[:48])
    assert clf.history_[:, "encoder_frozen"] == [True, False]
    assert modes.modes_ == [False] * 3 + [True] * 3  # 48 records, batch 16
    lrs = {g["name"]: g["lr"] for g in clf.optimizer_.param_groups}
    assert lrs == pytest.approx({"encoder": 1e-6, "encoder_no_decay": 1e-6, "context": 1e-5,
                                 "context_no_decay": 1e-5, "head": 1e-4,
                                 "head_no_decay": 1e-4})
    dropouts = [m.p for m in clf.module_.head.modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts == [0.25, 0.5]


def test_partial_fit_builds_an_unfitted_net_and_refit_reinfers_shapes(ecg):
    X, y = ecg.X[:32], ecg.y[:32]
    clf = ECGClassifier(**{**TINY, "max_epochs": 1}).partial_fit(X, y)
    assert clf.n_outputs_ == 4 and len(clf.history_) == 1
    clf.partial_fit(X, y)
    assert len(clf.history_) == 2
    clf.fit(X[:, :3], y[:, :2])  # a fresh fit infers the shapes again
    assert (clf.n_leads_in_, clf.n_outputs_, len(clf.history_)) == (3, 2, 1)


@pytest.mark.parametrize("params, match", [
    ({"head": "mlp"}, "'head' parameter of ECGClassifier"),
    ({"window": 0}, "'window' parameter"),
    ({"lr": -1.0}, "'lr' parameter"),
    ({"head_dropout": (0.2,)}, "head_dropout must be a pair"),
    ({"head_dropout": 1.0}, "'head_dropout' parameter"),
    ({"head_dropout": (0.3, 1.0)}, "head_dropout must be in"),
    ({"discriminative_lr": (0.1, -1)}, "discriminative_lr must be a pair"),
    ({"precision": "fp8"}, "'precision' parameter"),
])
def test_parameter_constraints_name_the_parameter(ecg, params, match):
    with pytest.raises(ValueError, match=match):
        ECGClassifier(**{**TINY, **params}).fit(ecg.X[:8], ecg.y[:8])


def test_ctrl_c_raises_training_interrupted_with_completed_epochs():
    """skorch swallows KeyboardInterrupt; the classifier reports it and keeps whole epochs."""
    from skorch.callbacks import Callback, EarlyStopping

    from skecg.ssl import TrainingInterrupted

    class CtrlCAtEpoch(Callback):
        def on_epoch_begin(self, net, **kwargs):
            if len(net.history) == 3:
                raise KeyboardInterrupt

    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 2, 100)).astype(np.float32)
    y = np.array([0, 1] * 6)
    params = dict(encoder="xresnet1d18", width=4, crop_length=50, window=50, stride=25,
                  batch_size=4, max_epochs=6, random_state=0)
    clf = ECGClassifier(**params, callbacks=[("ctrl_c", CtrlCAtEpoch())])
    with pytest.raises(TrainingInterrupted, match="after 2 of 6 epochs") as info:
        clf.fit(X, y)
    assert info.value.epoch == 2 and len(clf.history) == 2
    assert clf.predict_proba(X).shape == (12, 2)  # usable, at its last completed epoch
    # a finished fit and an early-stopped one do not raise
    assert len(ECGClassifier(**params).fit(X, y).history) == 6
    stopper = EarlyStopping(monitor="train_loss", patience=1, threshold=1e9)
    assert len(ECGClassifier(**params, callbacks=[stopper]).fit(X, y).history) < 6


class _TrainingInputs(Callback):
    """Records the first sample of lead 0 of every training input of the network."""

    def on_train_begin(self, net, **kwargs):
        self.firsts_ = []

        def hook(module, args):
            if module.training:
                self.firsts_.append(args[0][:, 0, 0].detach().clone())

        net.module_.register_forward_pre_hook(hook)


def test_training_crops_start_at_random_offsets_per_record_and_epoch():
    n_records, n_samples, crop = 24, 300, 50
    ramp = np.arange(n_samples, dtype=np.float32)  # a sample's value is its time index
    X = np.broadcast_to(ramp, (n_records, 12, n_samples)).copy()
    y = np.eye(2, dtype=int)[np.arange(n_records) % 2]
    spy = _TrainingInputs()
    ECGClassifier("xresnet1d18", width=4, crop_length=crop, window=crop, stride=crop,
                  batch_size=8, max_epochs=3, random_state=0, callbacks=[spy]).fit(X, y)
    offsets = torch.cat(spy.firsts_).reshape(3, n_records)  # 3 epochs of 24 crops
    assert offsets.min() >= 0 and offsets.max() <= n_samples - crop
    assert all(len(torch.unique(epoch)) > n_records // 2 for epoch in offsets)  # per record
    assert not torch.equal(torch.sort(offsets[0]).values, torch.sort(offsets[1]).values)


def test_validation_loss_pairs_every_window_with_its_records_labels():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 12, 300)).astype(np.float32)
    y = rng.integers(0, 2, size=(16, 3))
    y[0], y[1] = 1, 0
    X_valid, y_valid = X[10:], y[10:]
    clf = ECGClassifier("xresnet1d18", width=4, crop_length=100, window=100, stride=50,
                        batch_size=64, max_epochs=1, load_best=False, random_state=0,
                        train_split=skorch_predefined_split(Dataset(X_valid, y_valid))).fit(X, y)
    clf.module_.eval()
    losses = []
    with torch.no_grad():  # slow reference: record by record, window by window
        for record, labels in zip(X_valid, y_valid, strict=True):
            for start in range(0, 300 - 100 + 1, 50):
                logits = clf.module_(torch.as_tensor(record[None, :, start:start + 100]))
                losses.append(torch.nn.functional.binary_cross_entropy_with_logits(
                    logits, torch.as_tensor(labels[None], dtype=torch.float32)))
    assert clf.history[-1, "valid_loss"] == pytest.approx(float(torch.stack(losses).mean()),
                                                          rel=1e-5)


def test_numpy_true_load_best_keeps_the_best_weights():
    clf = ECGClassifier("xresnet1d18", width=4, load_best=np.True_,
                        train_split=skorch_predefined_split(Dataset(np.zeros((2, 12, 300)),
                                                             np.eye(2)))).initialize()
    assert "best_valid_auc" in dict(clf.callbacks_)


def test_input_scaling_is_fitted_in_fit_and_shared_by_every_path():
    rng = np.random.default_rng(1)
    X = (rng.normal(size=(12, 12, 300)) * np.arange(1, 13)[None, :, None] + 5).astype(
        np.float32)
    y = np.eye(2, dtype=int)[np.arange(12) % 2]
    clf = ECGClassifier("xresnet1d18", width=4, input_scaling="standardize", max_epochs=1,
                        batch_size=6, random_state=0).fit(X, y)
    np.testing.assert_allclose(clf.input_mean_, X.mean(axis=(0, 2)), rtol=1e-4)
    np.testing.assert_allclose(clf.input_scale_, X.std(axis=(0, 2)), rtol=1e-4)
    # the same network on pre-standardised input, without scaling, predicts the same
    plain = ECGClassifier("xresnet1d18", width=4, max_epochs=0, random_state=0).fit(X, y)
    plain.module_.load_state_dict(clf.module_.state_dict())
    standardized = (X - clf.input_mean_[:, None]) / clf.input_scale_[:, None]
    np.testing.assert_allclose(plain.predict_proba(standardized), clf.predict_proba(X),
                               rtol=1e-4, atol=1e-6)


def test_default_input_scaling_follows_a_pretrained_encoder():
    rng = np.random.default_rng(2)
    X = (rng.normal(size=(12, 12, 300)) * 3 + 1).astype(np.float32)
    y = np.eye(2, dtype=int)[np.arange(12) % 2]
    cpc = CPCEncoder(encoder_width=8, context_width=8, crop_length=250, batch_size=6,
                     max_epochs=1, random_state=0).fit(X)
    assert cpc.input_scaling == "standardize"
    clf = ECGClassifier(cpc, max_epochs=0, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.input_mean_, cpc.input_mean_)  # as it was pretrained
    np.testing.assert_array_equal(clf.input_scale_, cpc.input_scale_)
    scratch = ECGClassifier("xresnet1d18", width=4, max_epochs=0, random_state=0).fit(X, y)
    assert not scratch.input_mean_.any() and (scratch.input_scale_ == 1).all()
    refit = ECGClassifier(cpc, input_scaling="standardize", max_epochs=0).fit(X[:6], y[:6])
    np.testing.assert_allclose(refit.input_mean_, X[:6].mean(axis=(0, 2)), rtol=1e-4)
