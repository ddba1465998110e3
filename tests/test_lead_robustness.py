"""Any subset of leads: zero-fill for conv models, native subsets for token models, and
``lead_robustness`` rows with paired deltas to all twelve leads."""

import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline

from skecg.classifier import ECGClassifier
from skecg.datasets import fold_rotation, make_synthetic_ecg
from skecg.evaluation import (
    LEAD_ROBUSTNESS_COLUMNS,
    LEAD_SUBSETS,
    fit_probe,
    lead_robustness,
    plot_lead_robustness,
)
from skecg.metrics import bootstrap_macro_auc
from skecg.models import STANDARD_LEADS
from skecg.preprocessing import FillLeads, fill_leads, lead_positions
from skecg.ssl import SimCLREncoder, STMEMEncoder

# the tiny token preset of tests/ssl/test_new_methods.py
STMEM_TINY = dict(size="tiny", patch_length=25, decoder_width=16, decoder_depth=1,
                  decoder_heads=2, crop_length=250, window=250, stride=250, batch_size=16,
                  max_epochs=1, lr=1e-3, random_state=0)
SIMCLR_TINY = dict(backbone="xresnet1d18", width=4, projection_hidden=8, projection_dim=4,
                   crop_length=250, stride=250, batch_size=16, max_epochs=1, random_state=0)
LIMB = ["I", "II", "III", "aVR", "aVL", "aVF"]


@pytest.fixture(scope="module")
def data():
    return make_synthetic_ecg(100, n_classes=3, duration=5, random_state=0)


@pytest.fixture(scope="module")
def conv(data):
    return SimCLREncoder(**SIMCLR_TINY).fit(data.X)


@pytest.fixture(scope="module")
def token(data):
    return STMEMEncoder(**STMEM_TINY).fit(data.X)


def _fill_loop(X, leads, all_leads=STANDARD_LEADS):
    """Slow reference: one output lead at a time, looked up by name."""
    out = np.zeros((X.shape[0], len(all_leads), X.shape[2]), dtype=X.dtype)
    for j, target in enumerate(all_leads):
        for i, name in enumerate(leads):
            if name.lower() == target.lower():
                out[:, j] = X[:, i]
    return out


# ------------------------------------------------------------------------------ zero-fill
@pytest.mark.parametrize("leads", [["I"], ["II", "I"], ["avr", "V6", "III"], LIMB,
                                   list(STANDARD_LEADS)])
def test_fill_leads_matches_loop_reference(leads):
    X = np.random.default_rng(0).normal(size=(3, len(leads), 40)).astype(np.float32)
    expected = _fill_loop(X, leads)
    np.testing.assert_array_equal(fill_leads(X, leads), expected)
    filled = fill_leads(torch.as_tensor(X), leads)  # tensors too, same dtype
    assert isinstance(filled, torch.Tensor) and filled.dtype == torch.float32
    np.testing.assert_array_equal(filled.numpy(), expected)
    np.testing.assert_array_equal(fill_leads(X[0], leads), expected[0])  # one record


def test_fill_leads_custom_layout_and_errors():
    X = np.ones((2, 1, 10), dtype=np.float32)
    assert fill_leads(X, "V2", all_leads=["V1", "V2"])[:, 0].sum() == 0
    for leads, match in ((["V7"], "unknown lead 'V7'; valid names are"),
                         (["I", "i"], "must not repeat a lead"),
                         (["I", "II"], "leads names 2 leads, but X of shape")):
        with pytest.raises(ValueError, match=match) as info:
            fill_leads(X if len(leads) == 2 and match.startswith("leads") else
                       np.ones((2, len(leads), 10)), leads)
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="all_leads must not repeat"):
        lead_positions(["I"], ["I", "I"])
    assert lead_positions(["aVF", 0]) == [5, 0]


def test_fill_leads_adapter_for_fitted_conv_encoder_and_classifier(data, conv):
    pipe = make_pipeline(FillLeads(leads=["I", "II"]), conv)  # no fit: stateless + fitted
    np.testing.assert_allclose(pipe.transform(data.X[:, :2]),
                               conv.transform(_fill_loop(data.X[:, :2], ["I", "II"])))
    clf = ECGClassifier(encoder=conv, freeze_encoder=True, max_epochs=1, batch_size=32,
                        random_state=0)
    with pytest.raises(ValueError, match="FillLeads"):
        clf.fit(data.X[:, :2], data.y)
    model = make_pipeline(FillLeads(leads=["I", "II"]), clf).fit(data.X[:, :2], data.y)
    assert model.predict_proba(data.X[:, :2]).shape == data.y.shape


def test_classifier_reads_a_token_encoders_named_subset(data, token):
    import copy

    view = copy.copy(token).set_params(leads=["II", "V1"])
    clf = ECGClassifier(encoder=view, freeze_encoder=True, max_epochs=1, batch_size=32,
                        random_state=0).fit(data.X[:, [1, 6]], data.y)
    assert clf.n_leads_in_ == 2 and clf.module_.backbone.input_leads == (1, 6)
    assert np.isfinite(clf.predict_proba(data.X[:, [1, 6]])).all()
    assert token.leads is None  # the encoder itself is untouched


# ----------------------------------------------------------------------- lead_robustness
def _check_rows(table, n_test):
    assert list(table.columns) == LEAD_ROBUSTNESS_COLUMNS
    assert table["n_leads"].tolist() == [1, 2, 6, 12]
    assert table["subset"].tolist() == ["+".join(s) for s in LEAD_SUBSETS]
    assert (table["n_test"] == n_test).all()
    full = table.iloc[-1]
    assert full["delta"] == full["delta_low"] == full["delta_high"] == 0.0
    assert table[["test_auc", "delta", "delta_low", "delta_high"]].notna().all().all()
    assert ((table["test_auc_low"] <= table["test_auc"])
            & (table["test_auc"] <= table["test_auc_high"])).all()
    assert ((table["delta_low"] <= table["delta"]) & (table["delta"] <= table["delta_high"])).all()
    # the delta is paired: this row's AUC minus the twelve-lead AUC on the same records
    np.testing.assert_allclose(table["delta"], table["test_auc"] - full["test_auc"], atol=1e-12)


def test_conv_encoder_rows_and_zero_fill_reference(data, conv):
    table = lead_robustness(conv, data, n_bootstraps=50)
    test = np.flatnonzero(data.meta["strat_fold"] == 10)
    _check_rows(table, len(test))
    assert table["model"].iloc[0] == "SimCLR"
    # the limb row, recomputed by hand with the loop reference of the zero-fill
    split = {"train": np.flatnonzero(data.meta["strat_fold"] <= 8),
             "valid": np.flatnonzero(data.meta["strat_fold"] == 9), "test": test}
    feats = {k: conv.transform(_fill_loop(data.X[v][:, :6], LIMB)) for k, v in split.items()}
    probe, _ = fit_probe(feats["train"], data.y[split["train"]], feats["valid"],
                         data.y[split["valid"]])
    ci = bootstrap_macro_auc(data.y[test], probe.predict_proba(feats["test"]), n_bootstraps=50,
                             random_state=0)
    assert table.iloc[2]["test_auc"] == pytest.approx(ci.point)
    assert table.iloc[2]["test_auc_low"] == pytest.approx(ci.low)


def test_token_encoder_reads_subsets_natively(data, token):
    table = lead_robustness(token, data, n_bootstraps=50)
    _check_rows(table, int((data.meta["strat_fold"] == 10).sum()))
    assert table["model"].iloc[0] == "STMEM" and token.leads is None
    from skecg.evaluation import _subset_embeddings

    rows = np.arange(5)
    native = _subset_embeddings(token, data.X, rows, [0, 1], list(STANDARD_LEADS))
    expected = STMEMEncoder(**STMEM_TINY).fit(data.X)  # same seed: the same network
    np.testing.assert_allclose(native, expected.set_params(leads=["I", "II"])
                               .transform(data.X[:5, :2]), rtol=1e-5, atol=1e-6)
    assert not np.allclose(native, token.transform(fill_leads(data.X[:5, :2], ["I", "II"])))


def test_cv_pools_every_record_and_custom_subsets(data, conv):
    cv = fold_rotation(data.meta, n_splits=3)
    table = lead_robustness([conv] * 3, data, cv=cv, subsets=[["V1"], "II"],
                            n_bootstraps=20)
    assert table["subset"].tolist() == ["V1", "II", "+".join(STANDARD_LEADS)]  # all 12 added
    assert (table["n_splits"] == 3).all() and (table["n_test"] == len(data.X)).all()
    assert table.iloc[-1]["delta"] == 0.0


def test_paper_protocol_trains_the_linear_recipe_on_each_subset(data, conv):
    table = lead_robustness(conv, data, subsets=[["I"], list(STANDARD_LEADS)],
                            protocol="paper", n_bootstraps=20, epoch_scale=0.01, batch_size=32)
    assert table["n_leads"].tolist() == [1, 12] and table.iloc[-1]["delta"] == 0.0
    assert table["protocol"].iloc[0].startswith("paper")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(subsets=[["I", "V7"]]), ValueError, "unknown lead 'V7'"),
    (dict(subsets=[["I", "I"]]), ValueError, "must not repeat a lead"),
    (dict(subsets=[["I", "II"], ["II", "I"]]), ValueError, "twice"),
    (dict(protocol="finetune"), ValueError, "protocol must be"),
    (dict(epoch_scale=0.1), TypeError, "no recipe overrides"),
])
def test_clear_errors(data, conv, kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        lead_robustness(conv, data, n_bootstraps=10, **kwargs)
    assert "\n" not in str(info.value)


def test_plot_lead_robustness(tmp_path, data, conv):
    table = lead_robustness(conv, data, n_bootstraps=20)
    both = [table, table.assign(model="other")]
    import pandas as pd

    fig = plot_lead_robustness(pd.concat(both, ignore_index=True), tmp_path / "leads.png")
    assert (tmp_path / "leads.png").stat().st_size > 0
    ax, ax_delta = fig.axes[:2]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["I", "I+II", "limb leads (6)",
                                                            "12 leads"]
    assert any(np.allclose(line.get_ydata(), 0.5) for line in ax.get_lines())  # chance line
