"""Evaluation protocols and the paper's recipes, on synthetic labelled ECG with tiny encoders."""

import numpy as np
import pytest
import torch
from sklearn.utils import Bunch, check_random_state

from skecg.classifier import ECGClassifier
from skecg.datasets import make_synthetic_ecg, ptbxl_split
from skecg.evaluation import (
    TABLE_COLUMNS,
    _Runs,
    finetune_evaluation,
    fit_classifier,
    label_efficiency,
    linear_evaluation,
    noise_robustness,
    paper_recipe,
    plot_table,
)
from skecg.metrics import macro_auc
from skecg.preprocessing import LeadStandardizer
from skecg.ssl import CPCEncoder, SimCLREncoder

TINY_CPC = dict(encoder_width=16, context_width=16, crop_length=250, batch_size=32,
                max_epochs=1, lr=1e-3, random_state=0)
TINY_SIMCLR = dict(backbone="xresnet1d18", width=8, projection_hidden=16, crop_length=250,
                   batch_size=32, max_epochs=1, random_state=0)
SHORT = dict(epoch_scale=0.04)  # 50 -> 2 epochs; CPC finetuning 50 + 20 -> 2 + 1

# The reference code's recipes (paper.md, "Evaluation recipes of the reference code"), written
# out independently of skecg: per method and regime, the (lr, weight decay) of each optimiser
# group once all phases have started, and whether the encoder is frozen.
XRESNET_LINEAR = {"head": (4e-3, 0.1), "head_no_decay": (4e-3, 0.0)}
XRESNET_FINETUNE = {"encoder": (1e-2, 0.1), "encoder_no_decay": (1e-2, 0.0),
                    "head": (1e-2, 0.1), "head_no_decay": (1e-2, 0.0)}
REFERENCE_GROUPS = {
    ("simclr", "linear"): XRESNET_LINEAR, ("byol", "linear"): XRESNET_LINEAR,
    ("swav", "linear"): XRESNET_LINEAR,
    ("simclr", "finetune"): XRESNET_FINETUNE, ("byol", "finetune"): XRESNET_FINETUNE,
    ("swav", "finetune"): XRESNET_FINETUNE,
    ("cpc", "linear"): {"head": (1e-3, 1e-3), "head_no_decay": (1e-3, 0.0)},
    ("cpc", "finetune"): {  # after 50 head-only epochs at 1e-3: lr 1e-4, encoder x0.01, LSTM x0.1
        "encoder": (1e-6, 1e-3), "encoder_no_decay": (1e-6, 0.0),
        "context": (1e-5, 1e-3), "context_no_decay": (1e-5, 0.0),
        "head": (1e-4, 1e-3), "head_no_decay": (1e-4, 0.0)},
}


@pytest.fixture(scope="module")
def data():
    return make_synthetic_ecg(n_records=200, random_state=0)


@pytest.fixture(scope="module")
def cpc(data):
    return CPCEncoder(**TINY_CPC).fit(data.X)


@pytest.fixture(scope="module")
def simclr(data):
    return SimCLREncoder(**TINY_SIMCLR).fit(data.X[:64])


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _assert_bit_identical(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_paper_recipe_values_and_epoch_scaling():
    linear = paper_recipe("simclr", "linear")
    assert linear["lr"] == pytest.approx(4e-3) and linear["weight_decay"] == 0.1
    assert (linear["freeze_encoder"], linear["head"], linear["max_epochs"]) == (True, "linear",
                                                                                 50)
    assert linear["input_scaling"] == "mV" and linear["batch_size"] == 128
    assert (linear["crop_length"], linear["window"], linear["stride"]) == (250, 250, 125)
    finetune = paper_recipe("byol", "finetune")
    assert (finetune["lr"], finetune["weight_decay"], finetune["head_epochs"],
            finetune["max_epochs"], finetune["discriminative_lr"]) == (1e-2, 0.1, 0, 50,
                                                                       (1.0, 1.0))
    cpc = paper_recipe("cpc", "finetune")
    assert (cpc["head"], cpc["head_dropout"], cpc["head_epochs"], cpc["max_epochs"],
            cpc["lr"], cpc["finetune_lr"], cpc["discriminative_lr"]) == (
        "paper", (0.25, 0.5), 50, 70, 1e-3, 1e-4, (0.01, 0.1))
    assert cpc["input_scaling"] == "standardize"
    assert paper_recipe("cpc", "linear")["lr"] == 1e-3
    supervised = paper_recipe("swav", "supervised")
    assert (supervised["encoder"], supervised["width"], supervised["lr"]) == ("xresnet1d50", 64,
                                                                              1e-2)
    assert paper_recipe("cpc", "supervised")["head_epochs"] == 0
    # a CPU preset scales the length only: same shape, same rates
    short = paper_recipe("cpc", "finetune", epoch_scale=0.1)
    assert (short["head_epochs"], short["max_epochs"]) == (5, 7)
    assert {k: v for k, v in short.items() if "epochs" not in k} == {
        k: v for k, v in cpc.items() if "epochs" not in k}
    assert paper_recipe("cpc", "linear", max_epochs=3, lr=1.0)["max_epochs"] == 3
    with pytest.raises(ValueError, match="unknown method"):
        paper_recipe("mae", "linear")
    with pytest.raises(ValueError, match="regime"):
        paper_recipe("cpc", "probe")


@pytest.mark.parametrize("method, regime", sorted(REFERENCE_GROUPS))
def test_recipe_optimizer_groups_equal_reference_table(data, cpc, simclr, method, regime):
    encoder = cpc if method == "cpc" else simclr
    params = paper_recipe(method, regime, encoder=encoder, batch_size=16)
    params.pop("input_scaling")
    frozen_epochs = params["head_epochs"]
    params.update(max_epochs=frozen_epochs and 1, head_epochs=frozen_epochs and 1)
    clf = ECGClassifier(**params, random_state=0)
    if params["max_epochs"]:  # train into the all-layers phase
        clf.set_params(max_epochs=2)
    clf.fit(data.X[:32], data.y[:32])
    groups = {g["name"]: (g["lr"], g["weight_decay"]) for g in clf.optimizer_.param_groups}
    expected = REFERENCE_GROUPS[method, regime]
    assert groups.keys() == expected.keys()
    for name, (lr, decay) in expected.items():
        assert groups[name] == (pytest.approx(lr), decay), name
    optimised = {id(p) for g in clf.optimizer_.param_groups for p in g["params"]}
    head = {id(p) for p in clf.module_.head.parameters()}
    assert optimised == (head if regime == "linear" else {id(p) for p in
                                                          clf.module_.parameters()})
    if regime == "linear":
        assert clf.module_.head.linear.in_features == encoder.module_.backbone.out_features


def test_linear_evaluation_leaves_encoder_bit_identical(data, cpc):
    before = _state(cpc.module_)
    model, _ = fit_classifier(cpc, data, regime="linear", max_epochs=2, batch_size=32)
    # the trained copy's backbone: weights and BatchNorm running statistics untouched
    _assert_bit_identical(_state(model.module_.backbone), _state(cpc.module_.backbone))
    table = linear_evaluation(cpc, data, max_epochs=2, n_bootstraps=20)
    _assert_bit_identical(_state(cpc.module_), before)
    assert list(table["pretraining"]) == ["CPC (fitted, as given)", "none (random init)"]


def test_linear_evaluation_table_has_paired_delta(data):
    table = linear_evaluation(CPCEncoder(**TINY_CPC), data, n_bootstraps=50, **SHORT)
    assert list(table.columns) == TABLE_COLUMNS
    assert list(table["pretraining"]) == ["CPC (per split, on its train+valid records)",
                                          "none (random init)"]
    assert table["protocol"].str.startswith("paper").all()
    assert table["recipe"].str.contains("frozen encoder").all()
    assert (table["test_auc_low"] <= table["test_auc"]).all()
    assert (table["test_auc"] <= table["test_auc_high"]).all()
    assert table["n_train"].iloc[0] == len(ptbxl_split(data.meta).train)
    first, baseline = table.iloc[0], table.iloc[1]
    assert first["baseline"] == pytest.approx(baseline["test_auc"])
    assert first["delta"] == pytest.approx(first["test_auc"] - baseline["test_auc"])
    assert first["delta_low"] <= first["delta"] <= first["delta_high"]
    assert np.isnan(baseline["delta"])


def test_linear_probe_protocol(data, cpc):
    table = linear_evaluation(cpc, data, protocol="probe", n_bootstraps=20)
    assert table["protocol"].str.startswith("probe").all()
    assert table["regime"].iloc[0] == "linear (logistic probe)"
    assert table["delta"].iloc[0] == pytest.approx(table["test_auc"].diff(-1).iloc[0])
    with pytest.raises(ValueError, match="protocol"):
        linear_evaluation(cpc, data, protocol="knn")


def _slow_auc_interval(y, scores, random_state, n_bootstraps, skip_single_class):
    """Mean over seeds of each resample's macro AUC (or of a difference), looped."""
    indices = check_random_state(random_state).randint(0, len(y), (n_bootstraps, len(y)))
    both = (y.sum(0) > 0) & (y.sum(0) < len(y))
    values = []
    for idx in indices:
        if skip_single_class and not all(0 < y[idx, j].sum() < len(idx)
                                         for j in np.flatnonzero(both)):
            continue
        values.append(np.mean([score(y[idx], idx) for score in scores]))
    return np.quantile(values, [0.025, 0.975])


def test_seed_summary_against_slow_loop():
    rng = np.random.default_rng(0)
    y = (rng.random((40, 3)) < 0.3).astype(int)
    a = [y + rng.normal(0, s, y.shape) for s in (0.6, 0.8)]
    b = [y + rng.normal(0, s, y.shape) for s in (1.0, 1.2)]
    runs, baseline = _Runs(model="m"), _Runs(model="m")
    info = Bunch(valid_auc=0.5, n_train=10, steps=3, note="")
    for seed, (sa, sb) in enumerate(zip(a, b, strict=True)):
        runs.add(seed, np.arange(len(y)), sa, info)
        baseline.add(seed, np.arange(len(y)), sb, info)
    row = runs.row(y, 200, 3, baseline)
    aucs = [macro_auc(y, s) for s in a]
    assert row["n_seeds"] == 2
    assert row["test_auc"] == pytest.approx(np.mean(aucs))
    assert row["test_auc_std"] == pytest.approx(np.std(aucs, ddof=1))
    assert row["baseline"] == pytest.approx(np.mean([macro_auc(y, s) for s in b]))
    assert row["delta"] == pytest.approx(row["test_auc"] - row["baseline"])
    auc_scores = [lambda yy, idx, s=s: macro_auc(yy, s[idx]) for s in a]
    np.testing.assert_allclose([row["test_auc_low"], row["test_auc_high"]],
                               _slow_auc_interval(y, auc_scores, 3, 200, False))
    diff_scores = [lambda yy, idx, sa=sa, sb=sb: macro_auc(yy, sa[idx]) - macro_auc(yy, sb[idx])
                   for sa, sb in zip(a, b, strict=True)]
    np.testing.assert_allclose([row["delta_low"], row["delta_high"]],
                               _slow_auc_interval(y, diff_scores, 3, 200, True))


def test_input_scaling_per_method(data, cpc, simclr):
    split = ptbxl_split(data.meta)
    standardized, info = fit_classifier(cpc, data, regime="finetune", **SHORT)
    assert isinstance(standardized, ECGClassifier) and info.params["input_scaling"] == \
        "standardize"
    reference = LeadStandardizer().fit(data.X[split.train])  # fitted inside fit, on train
    np.testing.assert_allclose(standardized.input_mean_, reference.mean_, rtol=1e-5)
    np.testing.assert_allclose(standardized.input_scale_, reference.scale_, rtol=1e-5)
    assert standardized.predict_proba(data.X[:3]).shape == (3, data.y.shape[1])
    raw, info = fit_classifier(simclr, data, regime="finetune", **SHORT)
    assert isinstance(raw, ECGClassifier) and info.params["input_scaling"] == "mV"
    assert not raw.input_mean_.any() and (raw.input_scale_ == 1).all()


def test_finetune_evaluation_rows_seeds_and_encoder_untouched(data, cpc):
    before = _state(cpc.module_)
    table = finetune_evaluation(cpc, data, n_seeds=2, n_bootstraps=20, batch_size=32, **SHORT)
    assert list(table["pretraining"]) == ["CPC (fitted, as given)", "none (supervised)"]
    assert list(table["regime"]) == ["finetune", "supervised"]
    assert list(table["n_seeds"]) == [2, 2]
    assert table["test_auc"].between(0, 1).all() and (table["test_auc_std"] >= 0).all()
    assert table["recipe"].iloc[0].startswith("paper head; 2 head-only epochs")
    assert table["delta"].iloc[0] == pytest.approx(table["test_auc"].diff(-1).iloc[0])
    _assert_bit_identical(_state(cpc.module_), before)


def test_label_efficiency_curves_use_first_k_folds(data, cpc):
    table = label_efficiency(cpc, data, n_folds=[2, 8], n_bootstraps=20, batch_size=32,
                             **SHORT)
    folds = data.meta["strat_fold"].to_numpy()
    assert list(table["n_folds"]) == [2, 2, 2, 8, 8, 8]
    assert list(table["regime"]) == ["finetune", "linear", "supervised"] * 2
    n_train = [int(np.isin(folds, [1, 2]).sum())] * 3 + [int((folds <= 8).sum())] * 3
    assert list(table["n_train"]) == n_train
    finetuned = table[table["regime"] == "finetune"]
    supervised = table[table["regime"] == "supervised"]
    np.testing.assert_allclose(finetuned["baseline"], supervised["test_auc"])
    probe = label_efficiency(cpc, data, n_folds=[8], regimes=["linear"], protocol="probe",
                             n_bootstraps=20)
    assert probe["protocol"].iloc[0].startswith("probe")


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
    # level 0: window scores (250 samples, stride 125) averaged per record, by a slow loop
    X_test = data.X[split.test]
    clean = np.array([[np.mean([X_test[r, :, s:s + 250].std()
                                for s in range(0, X_test.shape[2] - 250 + 1, 125)])]
                      * data.y.shape[1] for r in range(len(X_test))])
    assert table["test_auc"].iloc[0] == pytest.approx(macro_auc(data.y[split.test], clean))
    assert table["test_auc"].iloc[2] != pytest.approx(table["test_auc"].iloc[0])


class _RecordingModel(_SignalSizeModel):
    def predict_proba(self, X):
        self.seen_ = X
        return super().predict_proba(X)


def test_noise_is_drawn_per_window_and_paired_with_a_baseline(data):
    """As the reference: independent noise in each 2.5 s window; a baseline sees the same."""
    model, baseline = _RecordingModel(data.y.shape[1]), _RecordingModel(data.y.shape[1])
    table = noise_robustness(model, data, levels=[0, 3], baseline=baseline, n_bootstraps=20)
    windows = model.seen_  # level 3, (n_test * 7 windows, 12, 250)
    n_test = len(ptbxl_split(data.meta).test)
    assert windows.shape == (n_test * 7, data.X.shape[1], 250)
    # consecutive windows overlap by 125 samples: equal signal, different noise
    assert not np.allclose(windows[0, :, 125:], windows[1, :, :125])
    np.testing.assert_array_equal(baseline.seen_, windows)
    assert (table["delta"] == 0).all() and (table["baseline"] == table["test_auc"]).all()
    clean = noise_robustness(model, data, levels=[0], n_bootstraps=5)
    np.testing.assert_allclose(model.seen_[0, :, 125:], model.seen_[1, :, :125])
    assert "delta" not in clean


def test_plot_table(tmp_path, data, cpc):
    table = linear_evaluation(cpc, data, protocol="probe", n_bootstraps=20,
                              random_init_baseline=False)
    plot_table(table, tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 1000


def test_table_states_what_pretraining_excluded(data, challenge_path):
    from skecg.datasets import load_physionet_challenge

    cinc = load_physionet_challenge(challenge_path, exclude_prefixes=("HR",))
    encoder = CPCEncoder(**TINY_CPC).fit(cinc.X)
    table = linear_evaluation(encoder, data, protocol="probe", pretrained_on=cinc,
                              n_bootstraps=20)
    assert table.loc[0, "pretrained_on"].startswith("41 records; 10 excluded (HR06000")
    assert table.loc[1, "pretrained_on"] == ""  # the random-init row saw nothing


def test_pretraining_column_reports_recordings_shared_by_content(data, cpc):
    """A corpus that holds evaluated records (rescaled, another rate) is caught by content."""
    from scipy.signal import resample_poly

    leaked = resample_poly(data.X[:5] * 1000.0, 5, 1, axis=-1)  # µV at 500 Hz
    corpus = Bunch(X=np.concatenate([leaked, leaked[:0]]), fs=500.0)
    with pytest.warns(UserWarning, match="holds 5 recordings of the evaluated"):
        table = linear_evaluation(cpc, data, protocol="probe", pretrained_on=corpus,
                                  n_bootstraps=20)
    assert "5 recordings shared with the evaluated records" in table.loc[0, "pretrained_on"]
