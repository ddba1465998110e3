"""paper_recipe of ST-MEM, JEPA and CMSC: estimators in cross_validate, the authors' settings,
and the same architecture from scratch for the supervised regime."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import KFold, cross_validate

from skecg.classifier import ECGClassifier
from skecg.datasets import make_synthetic_ecg
from skecg.evaluation import (
    METHODS,
    REGIMES,
    describe_recipe,
    fit_classifier,
    method_name,
    paper_recipe,
    supervised_baseline_params,
)
from skecg.metrics import macro_auc_scorer
from skecg.ssl import CMSCEncoder, JEPAEncoder, STMEMEncoder

TRAINING = dict(batch_size=16, max_epochs=1, lr=1e-3, random_state=0)
TINY = {
    "stmem": (STMEMEncoder, dict(size="tiny", patch_length=25, decoder_width=16,
                                 decoder_depth=1, decoder_heads=2, crop_length=250, window=250,
                                 stride=250, **TRAINING)),
    "jepa": (JEPAEncoder, dict(size="tiny", patch_length=25, mask_block=2, crop_length=250,
                               window=250, stride=250, **TRAINING)),
    "cmsc": (CMSCEncoder, dict(backbone="xresnet1d18", width=8, crop_length=500, window=250,
                               stride=250, **TRAINING)),
}
NEW = tuple(TINY)


@pytest.fixture(scope="module")
def data():
    return make_synthetic_ecg(n_records=60, duration=5, random_state=0)


@pytest.fixture(scope="module")
def encoders(data):
    return {m: cls(**params).fit(data.X[:32]) for m, (cls, params) in TINY.items()}


def _shapes(module):
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_new_methods_are_named():
    assert set(NEW) <= set(METHODS)
    for name, (cls, params) in TINY.items():
        assert method_name(cls(**params)) == name
        assert method_name(name.upper()) == name


@pytest.mark.parametrize("regime", REGIMES)
@pytest.mark.parametrize("method", NEW)
def test_paper_recipe_is_an_estimator_in_cross_validate(data, encoders, method, regime):
    encoder = encoders[method]
    recipe = paper_recipe(encoder, regime, epoch_scale=0.02, batch_size=16)
    assert recipe["input_scaling"] == encoder.input_scaling == "mV"
    clf = ECGClassifier(**recipe, random_state=0)
    if regime != "supervised":
        assert clone(clf).encoder is encoder  # fitted encoder kept, not re-pretrained
    X, y = data.X[:40], data.y[:40]
    result = cross_validate(clf, X, y, cv=KFold(2), scoring=macro_auc_scorer,
                            return_estimator=True)
    assert np.isfinite(result["test_score"]).all()
    fitted = result["estimator"][0]
    if regime == "supervised":  # the encoder's backbone, randomly initialised
        assert isinstance(fitted.encoder, str)
        assert _shapes(fitted.module_.backbone) == _shapes(encoder.module_.backbone)
    else:
        assert fitted.encoder is encoder


def test_supervised_from_scratch_matches_token_architectures(data):
    X, y = data.X[:20], data.y[:20]
    encoders = [
        STMEMEncoder(size="tiny", width=48, patch_length=50, decoder_width=16, decoder_depth=1,
                     decoder_heads=2, crop_length=250, window=250, **TRAINING),
        JEPAEncoder(size="tiny", depth=1, n_heads=4, patch_length=25, mask_block=2,
                    crop_length=250, window=250, **TRAINING),
        CMSCEncoder(backbone="transformer", width=32, patch_length=25, crop_length=500,
                    window=250, **TRAINING),
        CMSCEncoder(backbone="cpc", width=8, crop_length=500, window=250, **TRAINING),
    ]
    for encoder in encoders:
        encoder.fit(X)
        params = supervised_baseline_params(encoder)
        clf = ECGClassifier(**params, max_epochs=0, random_state=0).fit(X, y)
        assert _shapes(clf.module_.backbone) == _shapes(encoder.module_.backbone)
    subset = STMEMEncoder(**dict(TINY["stmem"][1], leads=["I", "II"])).fit(X[:, :2])
    clf = ECGClassifier(**paper_recipe(subset, "supervised", epoch_scale=0.02, batch_size=16),
                        random_state=0).fit(X[:, :2], y)
    assert clf.module_.backbone.input_leads == (0, 1)
    with pytest.raises(ValueError, match="leads"):  # the subset's names, not twelve leads
        ECGClassifier(**supervised_baseline_params(subset), max_epochs=0).fit(X, y)


def test_recipes_follow_the_authors_settings():
    stmem = paper_recipe("stmem", "finetune")
    assert (stmem["optimizer"], stmem["lr"], stmem["weight_decay"]) == ("adamw", 5e-4, 0.05)
    assert (stmem["crop_length"], stmem["window"], stmem["stride"]) == (900, 900, 50)
    assert paper_recipe("stmem", "linear")["freeze_encoder"]
    jepa_linear, jepa = paper_recipe("jepa", "linear"), paper_recipe("jepa", "finetune")
    assert (jepa_linear["lr"], jepa_linear["weight_decay"]) == (1e-3, 0.1)
    assert (jepa["finetune_lr"], jepa["weight_decay"], jepa["head_epochs"]) == (1e-4, 0.0, 37)
    assert jepa["max_epochs"] == 74 and jepa["crop_length"] == jepa["window"] == 250
    for regime in REGIMES:
        cmsc = paper_recipe("cmsc", regime)
        assert (cmsc["optimizer"], cmsc["lr"], cmsc["weight_decay"]) == ("adam", 1e-4, 0.0)
        assert cmsc["window"] == cmsc["crop_length"] == 1000  # the whole 10-s record
    assert paper_recipe("cmsc", "supervised")["encoder"] == "xresnet1d50"
    token = paper_recipe("stmem", "supervised")
    assert token["encoder"] == "transformer" and token["width"] == 128
    assert token["backbone_params"] == {"depth": 4, "n_heads": 4, "patch_length": 30}
    assert "head-only" in describe_recipe(jepa)


def test_epoch_scale_keeps_each_recipes_shape():
    for scale in (0.001, 0.02, 0.4, 1.0):
        jepa = paper_recipe("jepa", "finetune", epoch_scale=scale)
        assert 1 <= jepa["head_epochs"] < jepa["max_epochs"]
        assert jepa["finetune_lr"] < jepa["lr"]
        for method in NEW:
            for regime in REGIMES:
                assert paper_recipe(method, regime, epoch_scale=scale)["max_epochs"] >= 1
    assert paper_recipe("cmsc", "finetune", epoch_scale=0.4)["max_epochs"] == 20


def test_linear_fit_of_a_token_encoder(data, encoders):
    model, info = fit_classifier(encoders["stmem"], data, regime="linear", epoch_scale=0.02,
                                 random_state=0)
    assert info.steps >= 1 and np.isfinite(info.valid_auc)
    assert np.isfinite(model.predict_proba(data.X[:5])).all()
