"""ECGClassifier.save/load, save_params/load_params, input checks and progress lines in logs."""

import copy
import os
import re

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from skorch.dataset import Dataset
from skorch.exceptions import NotInitializedError
from skorch.helper import predefined_split

from skecg.classifier import CLASSIFIER_FORMAT, CLASSIFIER_FORMAT_VERSION, ECGClassifier
from skecg.datasets import make_synthetic_ecg
from skecg.ssl import CPCEncoder, SimCLREncoder

# tiny: 1 epoch of an 8-wide network on 24 records of 3 s
TINY = dict(encoder="xresnet1d18", width=8, max_epochs=1, batch_size=8, random_state=0,
            input_scaling="standardize")
TINY_ENCODERS = {
    "simclr": lambda: SimCLREncoder(backbone="xresnet1d18", width=8, crop_length=100,
                                    batch_size=8, max_epochs=1, random_state=0),
    "cpc": lambda: CPCEncoder(encoder_width=8, context_width=8, steps=2, n_negatives=4,
                              crop_length=100, batch_size=8, max_epochs=1, random_state=0),
}


def _one_line(info) -> str:
    message = str(info.value)
    assert "\n" not in message and "weights_only" not in message, message
    return message


@pytest.fixture(scope="module")
def ecg():
    """24 synthetic 3 s records (12 leads, 100 Hz) with 3 labels."""
    return make_synthetic_ecg(24, duration=3, n_classes=3, random_state=0)


@pytest.fixture(scope="module")
def encoders(ecg):
    return {name: make().fit(ecg.X) for name, make in TINY_ENCODERS.items()}


@pytest.fixture(scope="module")
def fitted(ecg, encoders):
    """Classifiers on a backbone trained from scratch and on each pretrained encoder."""
    out = {"scratch": ECGClassifier(**TINY).fit(ecg.X, ecg.y)}
    for name, encoder in encoders.items():
        params = {**TINY, "encoder": encoder}
        if name == "cpc":
            params["head"] = "paper"
        out[name] = ECGClassifier(**params).fit(ecg.X, ecg.y)
    return out


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved")
    paths = {}
    for name, clf in fitted.items():
        paths[name] = folder / f"{name}.skecg"
        clf.save(paths[name])
    return paths


@pytest.mark.parametrize("name", ["scratch", "simclr", "cpc"])
def test_load_predicts_as_the_saved_classifier(ecg, fitted, saved, name):
    clf, path = fitted[name], saved[name]
    loaded = ECGClassifier.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(ecg.X), clf.predict_proba(ecg.X))
    np.testing.assert_array_equal(loaded.predict(ecg.X[:5]), clf.predict(ecg.X[:5]))
    for attr in ("n_leads_in_", "multilabel_", "n_outputs_"):
        assert getattr(loaded, attr) == getattr(clf, attr)
    for attr in ("classes_", "input_mean_", "input_scale_"):
        np.testing.assert_array_equal(getattr(loaded, attr), getattr(clf, attr))
        assert getattr(loaded, attr).dtype == getattr(clf, attr).dtype
    assert clf.input_scale_.std() > 0  # "standardize": fitted statistics, not ones
    params, loaded_params = clf.get_params(deep=False), loaded.get_params(deep=False)
    assert {k: v for k, v in loaded_params.items() if k != "encoder"} == {
        k: v for k, v in params.items() if k != "encoder"}
    assert not [f for f in os.listdir(path.parent) if f.startswith(".")]  # no temporary left


@pytest.mark.parametrize("name", ["simclr", "cpc"])
def test_a_pretrained_encoder_comes_back_as_its_configuration(ecg, fitted, encoders, saved,
                                                              name, tmp_path):
    loaded = ECGClassifier.load(saved[name])
    encoder = loaded.encoder
    assert type(encoder) is type(encoders[name])
    assert not hasattr(encoder, "module_")  # unfitted: the weights are the network's
    expected = {**encoders[name].get_params(), "callbacks": None, "checkpoint_dir": None}
    assert encoder.get_params() == expected
    # the same network: the same parameter names and shapes as the original classifier's
    shapes = {k: v.shape for k, v in fitted[name].module_.state_dict().items()}
    assert {k: v.shape for k, v in loaded.module_.state_dict().items()} == shapes
    # the learning-rate factors of a pretrained backbone are kept
    assert loaded.optimizer_.param_groups[0]["lr"] == fitted[name].optimizer_.param_groups[0]["lr"]
    loaded.partial_fit(ecg.X, ecg.y)  # continuing training works
    assert len(loaded.history) == 1
    loaded.save(tmp_path / "again.skecg")  # and a loaded classifier saves again
    again = ECGClassifier.load(tmp_path / "again.skecg")
    np.testing.assert_array_equal(again.predict_proba(ecg.X), loaded.predict_proba(ecg.X))
    with pytest.raises(ValueError, match="FITTED.*ECGClassifier.load keeps its encoder"):
        clone(loaded).fit(ecg.X, ecg.y)  # a new fit needs the pretrained weights


def test_file_holds_only_plain_values(saved):
    payload = torch.load(saved["simclr"], weights_only=True)
    assert payload["format"] == CLASSIFIER_FORMAT
    assert payload["format_version"] == CLASSIFIER_FORMAT_VERSION
    assert payload["estimator"] == "ECGClassifier" and payload["skecg_version"]
    assert payload["params"]["encoder"] is None
    assert payload["encoder"]["estimator"] == "SimCLREncoder"
    assert set(payload["fitted"]) >= {"n_leads_in_", "multilabel_", "classes_", "n_outputs_",
                                      "input_mean_", "input_scale_"}


def test_single_label_string_classes_and_frozen_encoder(ecg, encoders, tmp_path):
    y = np.array(["AFIB", "NORM", "STTC"])[ecg.y.argmax(axis=1)]
    clf = ECGClassifier(**{**TINY, "encoder": FrozenEstimator(encoders["simclr"]),
                           "classes": np.array(["AFIB", "NORM", "STTC"])}).fit(ecg.X, y)
    clf.save(tmp_path / "c.skecg")
    loaded = ECGClassifier.load(tmp_path / "c.skecg", device="cpu")
    np.testing.assert_array_equal(loaded.predict_proba(ecg.X), clf.predict_proba(ecg.X))
    np.testing.assert_array_equal(loaded.predict(ecg.X), clf.predict(ecg.X))
    assert loaded.classes_.dtype == clf.classes_.dtype and not loaded.multilabel_
    assert isinstance(loaded.encoder, SimCLREncoder)


def test_save_refuses_targets_in_one_line(fitted, tmp_path):
    clf = fitted["scratch"]
    with pytest.raises(FileNotFoundError) as info:
        clf.save(tmp_path / "missing" / "c.skecg")
    assert str(tmp_path / "missing" / "c.skecg") in _one_line(info)
    with pytest.raises(IsADirectoryError) as info:
        clf.save(tmp_path)
    assert str(tmp_path) in _one_line(info)
    target = tmp_path / "ro.skecg"
    target.write_bytes(b"keep")
    target.chmod(0o444)
    with pytest.raises(PermissionError) as info:
        clf.save(target)
    assert str(target) in _one_line(info) and target.read_bytes() == b"keep"
    assert sorted(os.listdir(tmp_path)) == ["ro.skecg"]
    with pytest.raises(NotInitializedError, match="fit before save"):
        ECGClassifier(**TINY).save(tmp_path / "unfitted.skecg")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_save_into_read_only_folder(fitted, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError) as info:
            fitted["scratch"].save(folder / "c.skecg")
        assert str(folder / "c.skecg") in _one_line(info)
        assert os.listdir(folder) == []
    finally:
        folder.chmod(0o755)


def test_save_refuses_parameters_that_are_not_plain(fitted, tmp_path):
    clf = copy.deepcopy(fitted["scratch"])
    clf.random_state = np.random.RandomState(0)
    with pytest.raises(ValueError, match="random_state=RandomState") as info:
        clf.save(tmp_path / "c.skecg")
    _one_line(info)
    clf.random_state, clf.optimizer = 0, torch.optim.SGD
    with pytest.raises(ValueError, match="Cannot save parameter optimizer=.*SGD"):
        clf.save(tmp_path / "c.skecg")
    assert os.listdir(tmp_path) == []
    # numpy numbers and tensors are stored as plain values
    clf.optimizer, clf.lr = "adamw", np.float64(1e-3)
    clf.criterion__pos_weight = torch.ones(3)
    clf.save(tmp_path / "c.skecg")
    loaded = ECGClassifier.load(tmp_path / "c.skecg")
    assert type(loaded.lr) is float and torch.equal(loaded.criterion__pos_weight, torch.ones(3))


def _edited(path, tmp_path, edit):
    payload = torch.load(path, weights_only=True)
    edit(payload)
    out = tmp_path / "edited.skecg"
    torch.save(payload, out)
    return out


def test_load_errors_name_the_file_in_one_line(saved, encoders, tmp_path):
    encoder_file = tmp_path / "encoder.skecg"
    encoders["simclr"].save(encoder_file)
    with pytest.raises(ValueError, match="is an encoder file.*BaseSSLEncoder.load") as info:
        ECGClassifier.load(encoder_file)
    assert str(encoder_file) in _one_line(info)

    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.ones(2)}, foreign)
    pickled = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), pickled)  # a whole object: weights_only refuses it
    damaged = tmp_path / "damaged.skecg"
    damaged.write_bytes(saved["scratch"].read_bytes()[:2000])
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    cases = {foreign: "not a skecg classifier file", pickled: "not a readable skecg",
             damaged: "not a readable skecg", text: "not a readable skecg",
             tmp_path: "is a folder"}
    for path, expected in cases.items():
        with pytest.raises(ValueError, match=expected) as info:
            ECGClassifier.load(path)
        assert str(path) in _one_line(info)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ECGClassifier.load(tmp_path / "nothing.skecg")

    edits = {
        "stores invalid parameters.*head": lambda p: p["params"].update(head="mlp"),
        "stores invalid parameters.*bogus": lambda p: p["params"].update(bogus=1),
        "stores invalid parameters.*temperature": lambda p: p["encoder"]["params"].update(
            temperature="hot"),
        "has format version 2.*Upgrade skecg": lambda p: p.update(format_version=2),
        "damaged.*missing state_dict": lambda p: p.pop("state_dict"),
        "damaged.*n_leads_in_": lambda p: p["fitted"].update(n_leads_in_="12"),
        "damaged.*input scaling": lambda p: p["fitted"].update(input_mean_=[0.0] * 3),
        "damaged.*classes_": lambda p: p["fitted"].update(classes_=[0, 1]),
        "damaged.*Missing key": lambda p: p["state_dict"].pop(next(iter(p["state_dict"]))),
        "holds a SimCLREncoder; ECGClassifier.load reads only": lambda p: p.update(
            estimator="SimCLREncoder"),
    }
    for expected, edit in edits.items():
        path = _edited(saved["simclr"], tmp_path, edit)
        with pytest.raises(ValueError, match=expected) as info:
            ECGClassifier.load(path)
        assert str(path) in _one_line(info)

    if not torch.cuda.is_available():  # a model saved on a GPU machine, loaded on a CPU one
        path = _edited(saved["scratch"], tmp_path, lambda p: p["params"].update(device="cuda"))
        with pytest.raises(ValueError, match=r"device='cuda'.*load\(path, device='cpu'\)"):
            ECGClassifier.load(path)
        assert ECGClassifier.load(path, device="cpu").device_ == "cpu"


def test_save_params_and_load_params(ecg, fitted, saved, tmp_path):
    with pytest.raises(NotInitializedError, match=r"clf.save\(path\).*ECGClassifier.load") as info:
        ECGClassifier(**TINY).save_params(f_params=tmp_path / "w.pt")
    _one_line(info)
    with pytest.raises(NotInitializedError,
                       match=r"not fitted.*ECGClassifier.load\(path\)") as info:
        ECGClassifier(**TINY).load_params(f_params=tmp_path / "w.pt")
    _one_line(info)
    # on a fitted classifier of the same shapes, skorch's save_params/load_params work
    fitted["scratch"].save_params(f_params=tmp_path / "w.pt", f_history=tmp_path / "h.json")
    other = ECGClassifier.load(saved["scratch"])
    with torch.no_grad():
        for param in other.module_.head.parameters():
            param.zero_()
    other.load_params(f_params=tmp_path / "w.pt", f_history=tmp_path / "h.json")
    np.testing.assert_array_equal(other.predict_proba(ecg.X),
                                  fitted["scratch"].predict_proba(ecg.X))
    assert len(other.history) == 1
    pickled = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), pickled)
    with pytest.raises(ValueError, match="not a state dict written by save_params") as info:
        other.load_params(f_params=pickled)
    _one_line(info)


def test_ragged_label_lists_are_one_line(ecg):
    with pytest.raises(ValueError, match="y is a ragged list.*MultiLabelBinarizer") as info:
        ECGClassifier(**TINY).fit(ecg.X[:3], [[0, 1], [1], [2]])
    _one_line(info)
    with pytest.raises(ValueError, match="y has 2 entries for 3 records") as info:
        ECGClassifier(**TINY).fit(ecg.X[:3], [0, 1])
    _one_line(info)
    with pytest.raises(ValueError, match="y is a ragged list") as info:  # class labels too
        ECGClassifier(**TINY).fit(ecg.X[:3], ["NORM", ["MI", "STTC"], "NORM"])
    _one_line(info)


def test_shape_hints_at_predict(ecg, fitted):
    clf = fitted["scratch"]
    with pytest.raises(ValueError, match=r"ONE record of 12 leads \(e.g. X\[0\]\); pass X\[None\]"):
        clf.predict_proba(ecg.X[0])
    assert clf.predict_proba(ecg.X[0][None]).shape == (1, 3)
    with pytest.raises(ValueError, match=r"looks leads-last.*X.transpose\(0, 2, 1\)") as info:
        clf.predict(ecg.X.transpose(0, 2, 1))
    _one_line(info)
    with pytest.raises(ValueError, match=r"X.transpose\(0, 2, 1\)"):  # at fit as well
        ECGClassifier(**TINY).fit(ecg.X.transpose(0, 2, 1), ecg.y)


def test_verbose_fit_writes_one_plain_line_per_epoch(ecg, capfd):
    valid = predefined_split(Dataset(ecg.X[:8], ecg.y[:8]))
    ECGClassifier(**{**TINY, "max_epochs": 2}, train_split=valid, verbose=1).fit(ecg.X, ecg.y)
    out, err = capfd.readouterr()
    assert out == ""  # no skorch table, no "Re-initializing" notes
    assert "\r" not in err and "\x1b" not in err  # no progress bar or colours in a log
    lines = err.splitlines()
    assert len(lines) == 2, err
    for epoch, line in enumerate(lines, 1):
        assert re.fullmatch(rf"\[ECGClassifier\] epoch {epoch}/2  train_loss \d+\.\d{{4}}  "
                            r"valid_auc \d\.\d{4}  valid_loss \d+\.\d{4}  \d+\.\d s", line), line
    ECGClassifier(**TINY).fit(ecg.X, ecg.y)  # verbose=0: nothing
    assert capfd.readouterr() == ("", "")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(fitted, tmp_path, monkeypatch):
    target = tmp_path / "c.skecg"
    target.write_bytes(b"old model")

    def full_disk(obj, f, *args, **kwargs):
        with open(f, "wb") as handle:
            handle.write(b"half")
        raise RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed\n"
                           "more torch detail")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="cannot save the classifier.*nothing was written") as info:
        fitted["scratch"].save(target)
    assert str(target) in _one_line(info)
    assert target.read_bytes() == b"old model" and os.listdir(tmp_path) == ["c.skecg"]

    def read_only_folder(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", read_only_folder)
    with pytest.raises(PermissionError, match="Permission denied") as info:
        fitted["scratch"].save(tmp_path / "new.skecg")
    assert str(tmp_path / "new.skecg") in _one_line(info)
    assert os.listdir(tmp_path) == ["c.skecg"]
