"""Bad input to the encoders, each class of fault: one line naming what is wrong and the fix."""

import math
import os

import numpy as np
import pytest
import torch

from skecg._validation import check_ecg_array, check_label_array, check_n_leads
from skecg.ssl import CPCEncoder, SimCLREncoder
from skecg.ssl._base import BaseSSLEncoder

CPC = dict(encoder_width=8, context_width=8, steps=1, n_negatives=2, crop_length=60,
           window=50, stride=50, batch_size=8, max_epochs=1, random_state=0)


def _one_line(info) -> str:
    message = str(info.value)
    assert "\n" not in message and "inhomogeneous" not in message, message
    return message


@pytest.fixture(scope="module")
def fitted(ecg):
    return CPCEncoder(**CPC).fit(ecg)


# --------------------------------------------------------------------- ragged records and y
@pytest.mark.parametrize("records, odd, expected", [
    ([(3, 200), (3, 150)], 1, "(3, 150)"),          # one record shorter
    ([(3, 200), (3, 200), (2, 200)], 2, "(2, 200)"),  # one record with fewer leads
    ([(3, 200), (200,)], 1, "(200,)"),              # a lead-less vector among records
    ([(200,), (150,)], 1, "(150,)"),                # single-lead records of two lengths
])
@pytest.mark.parametrize("container", [list, tuple])
def test_ragged_records_name_the_odd_record(ecg, records, odd, expected, container):
    X = container(np.zeros(shape, dtype=np.float32) for shape in records)
    for call in (lambda: CPCEncoder(**CPC).fit(X), lambda: check_ecg_array(X)):
        with pytest.raises(ValueError, match="ragged list of records") as info:
            call()
        message = _one_line(info)
        assert f"record {odd} has shape {expected}" in message and "duration=" in message


def test_record_with_leads_of_different_lengths_is_named(ecg):
    X = [list(ecg[0]), [ecg[1, 0], ecg[1, 1, :150], ecg[1, 2]]]
    with pytest.raises(ValueError, match="record 1 has leads of different lengths") as info:
        check_ecg_array(X)
    _one_line(info)


def test_ragged_records_to_a_fitted_encoder(fitted, ecg):
    with pytest.raises(ValueError, match=r"record 1 has shape \(3, 100\)") as info:
        fitted.transform([ecg[0], ecg[1, :, :100]])
    _one_line(info)


@pytest.mark.parametrize("y, odd, what", [
    ([[0, 1], [1], [0, 1, 1]], 1, "1 value(s)"),          # multi-hot rows of different lengths
    ([["NORM"], ["MI", "STTC"], []], 1, "2 value(s)"),    # lists of label names per record
    ([0, [1, 2], 1], 1, "2 value(s)"),                   # a label and a list mixed
    ((np.array([1, 0]), np.array([1]), np.array([0, 1])), 1, "1 value(s)"),
])
def test_ragged_labels_say_one_label_or_matrix(y, odd, what):
    with pytest.raises(ValueError, match="y is a ragged list") as info:
        check_label_array(y, n_records=3)
    message = _one_line(info)
    assert f"entry {odd} has {what}" in message and "MultiLabelBinarizer" in message


@pytest.mark.parametrize("y", [[[0, 1], [1], [0, 1, 1]], [["NORM"], ["MI", "STTC"], []]])
def test_ragged_labels_to_an_estimator_are_one_line(ecg, y):
    from skecg.baselines import MiniRocketClassifier

    with pytest.raises(ValueError, match="y is a ragged list: entry 1") as info:
        MiniRocketClassifier().fit(ecg[:3], y)
    _one_line(info)
    with pytest.raises(ValueError, match="y has 2 entries for 3 records"):
        MiniRocketClassifier().fit(ecg[:3], [0, 1])


def test_label_count_must_match_records():
    with pytest.raises(ValueError, match="y has 2 entries for 3 records"):
        check_label_array([0, 1], n_records=3)
    assert check_label_array([[0, 1], [1, 0], [1, 1]], n_records=3).shape == (3, 2)


# ------------------------------------------------------------------------- shapes of X
def test_one_record_alone_suggests_x_none(fitted, ecg):
    for method in ("transform", "transform_windows", "partial_fit"):
        with pytest.raises(ValueError, match=r"looks like ONE record of 3 leads") as info:
            getattr(fitted, method)(ecg[0])
        assert "pass X[None]" in _one_line(info)
    assert fitted.transform(ecg[0][None]).shape == (1, fitted.transform(ecg[:1]).shape[1])


def test_leads_last_suggests_transpose(fitted, ecg):
    leads_last = ecg.transpose(0, 2, 1)
    with pytest.raises(ValueError, match="looks leads-last") as info:
        fitted.transform(leads_last)
    assert "X.transpose(0, 2, 1)" in _one_line(info)
    with pytest.raises(ValueError, match="ONE record with leads last") as info:
        fitted.transform(ecg[0].T)  # one record, leads last
    assert "X.T[None]" in _one_line(info)
    with pytest.raises(ValueError, match="more leads than samples.*transpose") as info:
        CPCEncoder(**CPC).fit(leads_last[:, :40])  # fit: 40 "leads" of 3 samples
    _one_line(info)


def test_other_lead_counts_get_no_misleading_hint(fitted, ecg):
    with pytest.raises(ValueError) as info:
        fitted.transform(ecg[:, :2])
    assert _one_line(info) == "X has 2 leads, but CPCEncoder was fitted on 3 leads."


def test_shape_helper_is_shared_for_other_estimators():
    with pytest.raises(ValueError, match="ECGClassifier was fitted on 12 leads.*X_valid\\[None\\]"):
        check_n_leads(np.zeros((12, 1, 1000)), 12, fitted_by="ECGClassifier", name="X_valid")


# ------------------------------------------------------------------ validation_fraction
@pytest.mark.parametrize("n_records, fraction", [(2, 0.5), (3, 0.5), (10, 0.9), (24, 0.95)])
def test_validation_fraction_leaving_too_few_training_records(ecg, n_records, fraction):
    n_valid = math.ceil(n_records * fraction)
    with pytest.raises(ValueError, match="validation_fraction") as info:
        SimCLREncoder(backbone="xresnet1d18", width=4, crop_length=60, batch_size=4,
                      max_epochs=1, validation_fraction=fraction).fit(ecg[:n_records])
    message = _one_line(info)
    assert f"holds out {n_valid} of the {n_records} records" in message
    assert f"leaving {n_records - n_valid} to train on" in message and "at least 2" in message
    assert "aforementioned" not in message


def test_validation_fraction_checked_on_partial_fit(fitted, tmp_path, ecg):
    fitted.save(tmp_path / "m.skecg")
    model = BaseSSLEncoder.load(tmp_path / "m.skecg").set_params(validation_fraction=0.5)
    with pytest.raises(ValueError, match="leaving 1 to train on"):
        model.partial_fit(ecg[:3])


# ------------------------------------------------------------------------ save and load
@pytest.mark.parametrize("make_target", [
    lambda tmp: tmp / "missing" / "m.skecg",                            # folder missing
    lambda tmp: tmp / "deeper" / "still" / "missing" / "m.skecg",
    lambda tmp: (tmp / "file").write_text("x") and tmp / "file" / "m.skecg",  # parent a file
])
def test_save_into_a_missing_folder_names_the_folder(fitted, tmp_path, make_target):
    target = make_target(tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        fitted.save(target)
    message = _one_line(info)
    assert f"cannot save the model to {target}: folder {target.parent}" in message
    assert ".tmp" not in message
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]


def test_save_onto_a_folder_is_refused(fitted, tmp_path):
    with pytest.raises(IsADirectoryError, match=f"{tmp_path}: it is a folder"):
        fitted.save(tmp_path)


def test_save_never_replaces_a_read_only_model_file(fitted, ecg, tmp_path):
    path = tmp_path / "m.skecg"
    fitted.save(path)
    before = path.read_bytes()
    path.chmod(0o444)
    try:
        with pytest.raises(PermissionError, match=f"{path} is read-only; it was not replaced"):
            CPCEncoder(**{**CPC, "random_state": 1}).fit(ecg).save(path)
        assert path.read_bytes() == before
    finally:
        path.chmod(0o644)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_save_into_a_read_only_folder_names_the_model_file(fitted, tmp_path):
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(PermissionError, match=f"cannot save the model to {tmp_path}"):
            fitted.save(tmp_path / "m.skecg")
    finally:
        tmp_path.chmod(0o755)


@pytest.mark.parametrize("edit, expected", [
    (lambda p: p["params"].update(window=-5), "stores invalid parameters.*'window'"),
    (lambda p: p["params"].update(aggregate="median"), "stores invalid parameters.*'aggregate'"),
    (lambda p: p["params"].update(transform_batch_size=0),
     "stores invalid parameters.*'transform_batch_size'"),
    (lambda p: p["params"].update(bogus=1), "stores invalid parameters.*bogus"),
    (lambda p: p.update(params=["window", 50]), "params is a list, not a dict"),
    (lambda p: p["fitted"].update(n_leads_in_=0), "n_leads_in_ is 0; expected a positive int"),
    (lambda p: p["fitted"].update(n_leads_in_="3"), "n_leads_in_ is '3'"),
    (lambda p: p["fitted"].update(n_leads_in_=5), "damaged skecg encoder file"),  # weights: 3
    (lambda p: p["params"].update(encoder_width=9), "damaged skecg encoder file"),
])
def test_load_validates_stored_parameters_and_names_the_file(fitted, tmp_path, edit, expected):
    path = tmp_path / "edited.skecg"
    fitted.save(path)
    payload = torch.load(path, weights_only=True)
    edit(payload)
    torch.save(payload, path)
    with pytest.raises(ValueError, match=expected) as info:
        BaseSSLEncoder.load(path)
    assert str(path) in _one_line(info)


# --------------------------------------------------------- a batch without negatives
@pytest.mark.parametrize("name", ["SimCLREncoder", "CMSCEncoder"])
def test_contrastive_encoders_refuse_a_batch_of_one_record(ecg, name):
    from skecg import ssl

    cls = getattr(ssl, name)
    with pytest.raises(ValueError, match="needs batch_size >= 2: the other records") as info:
        cls(batch_size=1, max_epochs=1).fit(ecg)
    assert name in _one_line(info)
    for ok in (BaseSSLEncoder, ssl.BYOLEncoder, ssl.STMEMEncoder):  # no negatives needed
        assert not ok._negatives_from_batch
