"""scikit-learn behaviour of the four self-supervised encoders on tiny configurations."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from skecg.ssl import BYOLEncoder, CPCEncoder, SimCLREncoder, SwAVEncoder
from skecg.ssl._base import BaseSSLEncoder

TRAINING = dict(batch_size=8, max_epochs=2, lr=1e-3, random_state=0)
TINY = {
    CPCEncoder: dict(
        encoder_width=16,
        context_width=16,
        steps=2,
        n_negatives=4,
        crop_length=60,
        window=50,
        stride=25,
        **TRAINING,
    ),
    SimCLREncoder: dict(
        backbone="xresnet1d18",
        width=8,
        projection_hidden=16,
        projection_dim=8,
        crop_length=64,
        window=64,
        stride=32,
        **TRAINING,
    ),
    BYOLEncoder: dict(
        backbone="xresnet1d18",
        width=8,
        projection_hidden=16,
        projection_dim=8,
        crop_length=64,
        window=64,
        stride=32,
        **TRAINING,
    ),
    SwAVEncoder: dict(
        backbone="xresnet1d18",
        width=8,
        projection_hidden=16,
        projection_dim=8,
        n_prototypes=10,
        crop_length=64,
        window=64,
        stride=32,
        **TRAINING,
    ),
}
# For scikit-learn's checks, which feed 2-D (n_samples, n_features) arrays with few features:
# one-sample windows through a tiny CPC network work at any length.
CHECKS = {
    CPCEncoder: dict(
        encoder_width=4,
        context_width=4,
        n_encoder_layers=1,
        n_context_layers=1,
        steps=1,
        n_negatives=2,
        negatives="batch",
        crop_length=None,
    ),
    SimCLREncoder: dict(
        backbone="cpc",
        width=4,
        projection_hidden=4,
        projection_dim=4,
        crop_length=None,
        augmentations=None,
    ),
    BYOLEncoder: dict(
        backbone="cpc",
        width=4,
        projection_hidden=4,
        projection_dim=4,
        crop_length=None,
        augmentations=None,
    ),
    SwAVEncoder: dict(
        backbone="cpc",
        width=4,
        projection_hidden=4,
        projection_dim=4,
        n_prototypes=5,
        crop_length=None,
        augmentations=None,
    ),
}


def _expected_failed_checks(estimator):
    failing = {}
    if isinstance(estimator, CPCEncoder):
        failing["check_fit2d_1feature"] = "CPC predicts future steps: one time step is too few"
    return failing | {
        "check_n_features_in_after_fitting": "records of any length are accepted; only the "
        "lead count is fixed (checked with its own error)",
        "check_n_features_in": "n_features_in_ has no meaning for (n, leads, samples) input; "
        "n_leads_in_ is set instead",
        "check_transformer_general": "its last step expects an error for records of another "
        "length, which skecg embeds by design",
    }


def _tiny_checks_estimators():
    out = []
    for cls in TINY:
        params = dict(CHECKS[cls], window=1, stride=1, batch_size=16, max_epochs=1, random_state=0)
        out.append(cls(**params))
    return out


@parametrize_with_checks(_tiny_checks_estimators(), expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def ecg():
    rng = np.random.default_rng(0)
    t = np.arange(200) / 100
    base = np.sin(2 * np.pi * 1.2 * t)[None, None] * rng.uniform(0.5, 1.5, (24, 3, 1))
    return (base + 0.05 * rng.standard_normal((24, 3, 200))).astype(np.float32)


@pytest.mark.parametrize("cls", list(TINY))
def test_fit_transform_shapes_and_names(cls, ecg):
    est = cls(**TINY[cls]).fit(ecg)
    emb = est.transform(ecg)
    assert emb.dtype == np.float32
    assert emb.shape == (len(ecg), est.module_.backbone.out_features)
    assert np.isfinite(emb).all()
    assert len(est.history_) == 2
    assert all(np.isfinite(row["train_loss"]) for row in est.history_)
    names = est.get_feature_names_out()
    assert names[0] == f"{cls.__name__.lower()}0" and len(names) == emb.shape[1]


@pytest.mark.parametrize("cls", list(TINY))
def test_same_random_state_same_embeddings_and_rng_untouched(cls, ecg):
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = cls(**TINY[cls]).fit(ecg).transform(ecg)
    assert torch.rand(1) == expected_next  # fit leaves the global torch RNG as it was
    b = cls(**TINY[cls]).fit(ecg).transform(ecg)
    np.testing.assert_array_equal(a, b)
    c = cls(**{**TINY[cls], "random_state": 1}).fit(ecg).transform(ecg)
    assert not np.allclose(a, c)


def test_window_aggregation(ecg):
    est = CPCEncoder(**TINY[CPCEncoder]).fit(ecg)
    windows, record_index = est.transform_windows(ecg)
    n_windows = 7  # starts 0, 25, ..., 150 for 200 samples, window 50, stride 25
    assert windows.shape == (len(ecg) * n_windows, est.module_.backbone.out_features)
    np.testing.assert_array_equal(record_index, np.repeat(np.arange(len(ecg)), n_windows))
    mean = est.transform(ecg)
    for r in (0, 5, 23):
        np.testing.assert_allclose(
            mean[r], windows[record_index == r].mean(0), rtol=1e-5, atol=1e-6
        )
    np.testing.assert_allclose(
        est.set_params(aggregate="max").transform(ecg)[3], windows[record_index == 3].max(0)
    )
    assert est.set_params(aggregate=None).transform(ecg).shape == windows.shape


def test_transform_memmap_and_batches_agree(ecg, tmp_path):
    est = CPCEncoder(**TINY[CPCEncoder]).fit(ecg)
    path = tmp_path / "x.npy"
    np.save(path, ecg)
    mm = np.load(path, mmap_mode="r")
    full = est.transform(ecg)
    np.testing.assert_allclose(
        est.set_params(transform_batch_size=7).transform(mm), full, rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("cls", list(TINY))
def test_clone_pickle_roundtrip(cls, ecg):
    est = cls(**TINY[cls])
    assert clone(est).get_params() == est.get_params()
    est.fit(ecg)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(restored.transform(ecg), est.transform(ecg), rtol=1e-6)
    assert not hasattr(clone(est), "module_")


@pytest.mark.parametrize("cls", list(TINY))
def test_save_load_roundtrip(cls, ecg, tmp_path):
    est = cls(**TINY[cls]).fit(ecg)
    path = tmp_path / "model.skecg"
    est.save(path)
    payload = torch.load(path, weights_only=True)  # opening never runs code from the file
    assert payload["estimator"] == cls.__name__ and payload["format_version"] == 2
    np.testing.assert_allclose(payload["fitted"]["input_mean_"], est.input_mean_, rtol=1e-6)
    for loaded in (cls.load(path), BaseSSLEncoder.load(path)):
        assert type(loaded) is cls
        np.testing.assert_allclose(loaded.transform(ecg), est.transform(ecg), rtol=1e-5, atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["model.skecg"]  # no temporary file left


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="not a skecg encoder"):
        CPCEncoder.load(path)


def test_warm_start_and_partial_fit_continue(ecg):
    est = CPCEncoder(**{**TINY[CPCEncoder], "warm_start": True}).fit(ecg)
    first = est.module_
    est.fit(ecg)
    assert est.module_ is first and len(est.history_) == 4
    est.partial_fit(ecg)
    assert len(est.history_) == 6


def test_validation_split_early_stopping_and_checkpoint(ecg, tmp_path):
    est = SimCLREncoder(
        **{
            **TINY[SimCLREncoder],
            "max_epochs": 3,
            "validation_fraction": 0.25,
            "early_stopping_patience": 1,
            "checkpoint_dir": str(tmp_path),
        }
    )
    est.fit(ecg)
    assert all("valid_loss" in row for row in est.history_)
    assert any(p.suffix == ".pt" for p in tmp_path.glob("*/epoch-*/*"))  # in the fit's run


def test_byol_target_network_outside_optimiser_and_ema(ecg):
    est = BYOLEncoder(**TINY[BYOLEncoder]).fit(ecg)
    module = est.module_
    optimised = {id(p) for group in est.net_.optimizer_.param_groups for p in group["params"]}
    target_ids = {id(p) for n, p in module.named_parameters() if n.startswith("target_")}
    online_ids = {id(p) for n, p in module.named_parameters() if not n.startswith("target_")}
    assert target_ids and not target_ids & optimised and online_ids <= optimised
    # the target moved towards the online network, without being equal to it
    online = dict(module.backbone.named_parameters())
    target = dict(module.target_backbone.named_parameters())
    name = next(iter(online))
    assert not torch.equal(online[name], target[name])
    assert module.momentum > module.base_momentum


def test_swav_prototypes_stay_normalised_and_queue_fills(ecg):
    est = SwAVEncoder(
        **{
            **TINY[SwAVEncoder],
            "queue_length": 8,
            "queue_start_epoch": 0,
            "n_small_views": 2,
            "max_epochs": 3,
        }
    )
    est.fit(ecg)
    norms = est.module_.prototypes.weight.norm(dim=1)
    torch.testing.assert_close(norms, torch.ones_like(norms))
    assert est.module_.queue_filled == 8


def test_bad_params_and_inputs(ecg):
    with pytest.raises(ValueError, match="aggregate"):
        CPCEncoder(**{**TINY[CPCEncoder], "aggregate": "median"}).fit(ecg)
    with pytest.raises(ValueError, match="crop_length=500"):
        CPCEncoder(**{**TINY[CPCEncoder], "crop_length": 500}).fit(ecg)
    with pytest.raises(ValueError, match="device"):
        CPCEncoder(**{**TINY[CPCEncoder], "device": "tpu"}).fit(ecg)
    est = CPCEncoder(**TINY[CPCEncoder]).fit(ecg)
    with pytest.raises(ValueError, match="fitted on 3 leads"):
        est.transform(ecg[:, :2])
    with pytest.raises(ValueError, match="NaN"):
        bad = ecg.copy()
        bad[2, 1, 5] = np.nan
        est.transform(bad)


def test_model_saved_by_version_1_still_loads():
    """A tiny CPC model saved by skecg 0.1.0 (format 1) must keep loading and embedding."""
    from pathlib import Path

    fixtures = Path(__file__).parents[1] / "fixtures"
    encoder = BaseSSLEncoder.load(fixtures / "cpc_encoder_v1.skecg")
    assert isinstance(encoder, CPCEncoder)
    X = np.load(fixtures / "cpc_encoder_v1_input.npy")
    expected = np.load(fixtures / "cpc_encoder_v1_embeddings.npy")
    np.testing.assert_allclose(encoder.transform(X), expected, rtol=1e-5, atol=1e-6)


def test_max_epochs_zero_is_the_random_init_baseline(ecg):
    est = CPCEncoder(**{**TINY[CPCEncoder], "max_epochs": 0}).fit(ecg)
    assert len(est.history_) == 0
    trained = CPCEncoder(**TINY[CPCEncoder]).fit(ecg)
    random_init = est.module_.backbone.state_dict()
    # same seed: identical initial weights; training then moved them
    assert any(not torch.equal(v, trained.module_.backbone.state_dict()[k])
               for k, v in random_init.items() if v.is_floating_point())
    assert est.transform(ecg).shape == trained.transform(ecg).shape


def test_partial_fit_restarts_lr_schedule_and_byol_momentum(ecg):
    est = BYOLEncoder(**{**TINY[BYOLEncoder], "lr_schedule": "cosine"}).fit(ecg)
    seen = []
    original = est.module_.on_batch_begin

    def record(epoch, progress):
        original(epoch, progress)
        seen.append((est.net_.optimizer_.param_groups[0]["lr"], est.module_.momentum))

    est.module_.on_batch_begin = record
    est.partial_fit(ecg)
    lrs, momenta = zip(*seen, strict=True)
    assert max(lrs) > 0.5 * est.lr  # the cosine schedule restarted instead of staying at 0
    assert min(momenta) < 1.0  # the target network keeps moving


def test_set_output_pandas_names_columns(ecg):
    est = CPCEncoder(**TINY[CPCEncoder]).fit(ecg)
    frame = est.set_output(transform="pandas").transform(ecg)
    assert list(frame.columns) == list(est.get_feature_names_out())
    assert frame.shape == (len(ecg), est.module_.backbone.out_features)
