"""ST-MEM, JEPA and CMSC: masking and losses against loop references; the encoders on PTB-XL."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from skecg.datasets import load_ptbxl, predefined_split
from skecg.metrics import macro_auc_scorer
from skecg.preprocessing import LeadStandardizer
from skecg.ssl import ENCODERS, CMSCEncoder, JEPAEncoder, STMEMEncoder
from skecg.ssl._base import BaseSSLEncoder
from skecg.ssl.cmsc import adjacent_segments
from skecg.ssl.jepa import block_keep_indices, block_time_mask
from skecg.ssl.losses import cmsc_loss, jepa_loss, masked_patch_mse
from skecg.ssl.stmem import keep_smallest, random_patch_mask

TRAINING = dict(batch_size=16, max_epochs=1, lr=1e-3, random_state=0)
TINY = {
    STMEMEncoder: dict(size="tiny", patch_length=25, decoder_width=16, decoder_depth=1,
                       decoder_heads=2, crop_length=250, window=250, stride=250, **TRAINING),
    JEPAEncoder: dict(size="tiny", patch_length=25, mask_block=2, crop_length=250, window=250,
                      stride=250, **TRAINING),
    CMSCEncoder: dict(backbone="xresnet1d18", width=8, crop_length=500, window=250, stride=250,
                      **TRAINING),
}
TOKEN_TINY = {**TINY, CMSCEncoder: dict(TINY[CMSCEncoder], backbone="transformer", width=32)}


# ------------------------------------------------------------------------------ masking
def test_keep_smallest_matches_loop():
    noise = torch.rand(3, 4, 10, generator=torch.Generator().manual_seed(0))
    keep, mask = keep_smallest(noise, 3)
    for b in range(3):
        for lead in range(4):
            row = noise[b, lead].tolist()
            expected = sorted(sorted(range(10), key=lambda i: row[i])[:3])
            assert keep[b, lead].tolist() == expected
            assert mask[b, lead].tolist() == [i not in expected for i in range(10)]


def test_random_patch_mask_per_record_and_lead():
    keep, mask = random_patch_mask((8, 12, 30), 0.75, torch.Generator().manual_seed(1))
    assert keep.shape == (8, 12, 7)  # ST-MEM keeps int(30 * 0.25) = 7 patches per lead
    assert (mask.sum(-1) == 23).all()
    assert len({tuple(k.tolist()) for k in keep.flatten(0, 1)}) > 50  # not shared
    _, single = random_patch_mask((2, 1, 1), 0.75)
    assert not single.any()  # one patch: kept, nothing to reconstruct
    _, two = random_patch_mask((2, 1, 2), 0.01)
    assert (two.sum(-1) == 1).all()  # at least one masked


def _block_keep_loop(shift, chunk_noise, n_patches, n_keep, block):
    keeps, maskeds = [], []
    for b in range(len(shift)):
        blocks = {}
        for t in range(n_patches):
            blocks.setdefault((t + int(shift[b])) // block, []).append(t)
        order = sorted(blocks, key=lambda c: float(chunk_noise[b, c]))
        visited = [t for c in order for t in blocks[c]]
        keeps.append(sorted(visited[:n_keep]))
        maskeds.append(sorted(visited[n_keep:]))
    return keeps, maskeds


@pytest.mark.parametrize(("n_patches", "n_keep", "block"), [(50, 10, 5), (13, 4, 3), (7, 6, 7)])
def test_block_keep_indices_match_loop(n_patches, n_keep, block):
    gen = torch.Generator().manual_seed(n_patches)
    shift = torch.randint(block, (6,), generator=gen)
    noise = torch.rand(6, n_patches // block + 2, generator=gen)
    keep, masked = block_keep_indices(shift, noise, n_patches, n_keep, block)
    expected_keep, expected_masked = _block_keep_loop(shift, noise, n_patches, n_keep, block)
    assert keep.tolist() == expected_keep and masked.tolist() == expected_masked


def test_block_time_mask_counts_and_runs():
    keep, masked = block_time_mask(16, 50, (0.15, 0.25), 5, torch.Generator().manual_seed(0))
    n_keep = keep.shape[1]
    assert 7 <= n_keep <= 13 and masked.shape == (16, 50 - n_keep)
    together = torch.cat([keep, masked], 1).sort(1).values
    assert (together == torch.arange(50)).all()  # a partition of the time steps
    assert len({tuple(k.tolist()) for k in keep}) > 1  # per record


# ------------------------------------------------------------------------------- losses
def test_masked_patch_mse_matches_loop():
    gen = torch.Generator().manual_seed(0)
    pred, target = torch.randn(2, 3, 5, 4, generator=gen), torch.randn(2, 3, 5, 4, generator=gen)
    mask = torch.rand(2, 3, 5, generator=gen) < 0.6
    total, count = 0.0, 0
    for idx in np.ndindex(2, 3, 5):
        if mask[idx]:
            t = target[idx]
            t_hat = (t - t.mean()) / (t.var(unbiased=True) + 1e-6) ** 0.5
            total += float(((pred[idx] - t_hat) ** 2).mean())
            count += 1
    torch.testing.assert_close(masked_patch_mse(pred, target, mask),
                               torch.tensor(total / count), rtol=1e-5, atol=1e-6)
    raw = masked_patch_mse(pred, target, mask, normalize_target=False)
    expected_raw = ((pred - target) ** 2).mean(-1)[mask].mean()
    torch.testing.assert_close(raw, expected_raw)
    assert masked_patch_mse(pred, target, torch.zeros_like(mask)) == 0


def test_jepa_loss_matches_loop_and_stops_target_gradient():
    pred = torch.randn(3, 4, requires_grad=True)
    target = torch.randn(3, 4, requires_grad=True)
    p, t = pred.detach(), target.detach()
    expected = sum(abs(float(p[i, j] - t[i, j])) for i in range(3) for j in range(4)) / 12
    loss = jepa_loss(pred, target)
    torch.testing.assert_close(loss, torch.tensor(expected))
    loss.backward()
    assert target.grad is None and pred.grad is not None
    d = (pred - target).detach().abs()
    smooth = torch.where(d < 1, 0.5 * d**2, d - 0.5).mean()
    torch.testing.assert_close(jepa_loss(pred, target, "smooth_l1"), smooth)


def _cmsc_loop(a, b, temperature, groups):
    n = len(a)
    s = [[float(torch.nn.functional.cosine_similarity(a[i], b[j], dim=0)) / temperature
          for j in range(n)] for i in range(n)]
    pos = [(i, j) for i in range(n) for j in range(n) if groups[i] == groups[j]]
    rows = [s[i][j] - np.log(sum(np.exp(s[i][k]) for k in range(n))) for i, j in pos]
    cols = [s[i][j] - np.log(sum(np.exp(s[k][j]) for k in range(n))) for i, j in pos]
    return -0.5 * (np.mean(rows) + np.mean(cols))


def test_cmsc_loss_matches_loop():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 5, generator=gen), torch.randn(6, 5, generator=gen)
    expected = _cmsc_loop(a, b, 0.1, list(range(6)))
    torch.testing.assert_close(cmsc_loss(a, b, 0.1), torch.tensor(expected, dtype=torch.float32),
                               rtol=1e-4, atol=1e-4)
    groups = torch.tensor([0, 0, 1, 2, 2, 2])
    torch.testing.assert_close(cmsc_loss(a, b, 0.5, groups),
                               torch.tensor(_cmsc_loop(a, b, 0.5, groups.tolist()),
                                            dtype=torch.float32), rtol=1e-4, atol=1e-4)


def test_adjacent_segments_do_not_overlap():
    x = torch.arange(2 * 3 * 11, dtype=torch.float32).view(2, 3, 11)
    first, second = adjacent_segments(x)
    torch.testing.assert_close(first, x[..., :5])
    torch.testing.assert_close(second, x[..., 5:10])


# ------------------------------------------------------------------------- sklearn checks
CHECKS = {
    STMEMEncoder: dict(size="tiny", width=8, n_heads=2, patch_length=1, decoder_width=4,
                       decoder_depth=1, decoder_heads=1),
    JEPAEncoder: dict(size="tiny", width=8, n_heads=2, patch_length=1, mask_block=1),
    CMSCEncoder: dict(backbone="transformer", width=8, patch_length=1),
}


def _checks_estimators():
    return [cls(**params, crop_length=None, window=1, stride=1, batch_size=16, max_epochs=1,
                random_state=0) for cls, params in CHECKS.items()]


def _expected_failed_checks(estimator):
    failing = {
        "check_n_features_in_after_fitting": "records of any length are accepted; only the "
        "lead count is fixed (checked with its own error)",
        "check_n_features_in": "n_features_in_ has no meaning for (n, leads, samples) input; "
        "n_leads_in_ is set instead",
        "check_transformer_general": "its last step expects an error for records of another "
        "length, which skecg embeds by design",
    }
    if isinstance(estimator, CMSCEncoder):
        failing["check_fit2d_1feature"] = "two segments need at least two samples"
    return failing


@parametrize_with_checks(_checks_estimators(), expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# --------------------------------------------------------------------- encoders on PTB-XL
@pytest.fixture(scope="module")
def ptbxl_small(ptbxl_path):
    data = load_ptbxl(ptbxl_path, task="superdiagnostic", folds=[10])
    return data.X[:32]


def test_registered():
    assert ENCODERS["stmem"] is STMEMEncoder and ENCODERS["jepa"] is JEPAEncoder
    assert ENCODERS["cmsc"] is CMSCEncoder


@pytest.mark.parametrize("cls", list(TINY))
def test_fit_transform_clone_pickle_save_load(cls, ptbxl_small, tmp_path):
    X = ptbxl_small
    est = cls(**TINY[cls])
    assert clone(est).get_params() == est.get_params()
    est.fit(X)
    emb = est.transform(X)
    assert emb.shape == (len(X), est.module_.backbone.out_features) and emb.dtype == np.float32
    assert np.isfinite(emb).all() and np.isfinite(est.history_[-1, "train_loss"])
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.transform(X), emb)
    path = tmp_path / "model.skecg"
    est.save(path)
    for loaded in (cls.load(path), BaseSSLEncoder.load(path)):
        assert type(loaded) is cls
        np.testing.assert_array_equal(loaded.transform(X), emb)
    assert not hasattr(clone(est), "module_")


@pytest.mark.parametrize("cls", list(TOKEN_TINY))
def test_token_models_read_named_lead_subsets(cls, ptbxl_small):
    X = ptbxl_small[:8]
    est = cls(**TOKEN_TINY[cls]).fit(ptbxl_small)
    full = est.transform(X)
    two = est.set_params(leads=["I", "II"]).transform(X[:, :2])
    assert two.shape == full.shape and np.isfinite(two).all() and not np.allclose(two, full)
    # the names, not the positions, choose the lead embeddings: reordering both is a no-op
    swapped = est.set_params(leads=["II", "I"]).transform(X[:, [1, 0]])
    np.testing.assert_allclose(swapped, two, rtol=1e-4, atol=1e-5)
    lead_two = est.set_params(leads=["II"]).transform(X[:, 1:2])
    lead_one = est.set_params(leads=["I"]).transform(X[:, 1:2])
    assert not np.allclose(lead_two, lead_one)  # lead II is not read as lead I
    with pytest.raises(ValueError, match="leads names 1 leads"):
        est.transform(X[:, :3])
    est.set_params(leads=None)
    np.testing.assert_array_equal(est.transform(X), full)  # nothing left behind
    assert est.module_.backbone.input_leads == tuple(range(12))


def test_bad_leads_and_conv_subsets(ptbxl_small):
    with pytest.raises(ValueError, match="unknown lead 'V7'"):
        STMEMEncoder(**{**TINY[STMEMEncoder], "leads": ["I", "V7"]}).fit(ptbxl_small[:, :2])
    with pytest.raises(ValueError, match="leads names 2 leads"):
        JEPAEncoder(**{**TINY[JEPAEncoder], "leads": ["I", "II"]}).fit(ptbxl_small)
    conv = CMSCEncoder(**TINY[CMSCEncoder]).fit(ptbxl_small)
    with pytest.raises(ValueError, match="convolutional backbone"):
        conv.set_params(leads=["I"]).transform(ptbxl_small[:, :1])


def test_fit_on_named_subset_trains_those_embeddings(ptbxl_small):
    est = STMEMEncoder(**{**TINY[STMEMEncoder], "leads": ["V1", "V2"]}).fit(ptbxl_small[:, 6:8])
    assert est.module_.backbone.input_leads == (6, 7) and est.n_leads_in_ == 2
    assert est.transform(ptbxl_small[:, 6:8]).shape == (32, 32)


def test_jepa_target_outside_optimiser_and_moves(ptbxl_small):
    est = JEPAEncoder(**{**TINY[JEPAEncoder], "max_epochs": 2}).fit(ptbxl_small)
    module = est.module_
    optimised = {id(p) for g in est.net_.optimizer_.param_groups for p in g["params"]}
    target = {id(p) for p in module.backbone.parameters()}
    online = {id(p) for p in module.context_encoder.parameters()}
    assert target.isdisjoint(optimised) and online <= optimised
    name = "patch_embed.1.weight"
    t, o = (dict(m.named_parameters())[name] for m in (module.backbone, module.context_encoder))
    initial = JEPAEncoder(**{**TINY[JEPAEncoder], "max_epochs": 0}).fit(ptbxl_small)
    t0 = dict(initial.module_.backbone.named_parameters())[name]
    assert not torch.equal(t, o) and not torch.equal(t, t0)
    assert module.momentum_range[0] < module.momentum <= module.momentum_range[1]


def test_stmem_checkpoint_resume(ptbxl_small, tmp_path):
    params = {**TINY[STMEMEncoder], "max_epochs": 2, "checkpoint_dir": str(tmp_path)}
    STMEMEncoder(**{**params, "max_epochs": 1}).fit(ptbxl_small)
    resumed = STMEMEncoder(**params, resume=True).fit(ptbxl_small)
    assert len(resumed.history_) == 2
    straight = STMEMEncoder(**{**params, "checkpoint_dir": None}).fit(ptbxl_small)
    np.testing.assert_allclose(resumed.transform(ptbxl_small), straight.transform(ptbxl_small),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("cls", "grid"), [
    (STMEMEncoder, {"ssl__mask_ratio": [0.5, 0.75]}),
    (JEPAEncoder, {"ssl__mask_block": [1, 2]}),
    (CMSCEncoder, {"ssl__temperature": [0.1, 0.5]}),
])
def test_pipeline_grid_search(cls, grid, ptbxl_path):
    data = load_ptbxl(ptbxl_path, task="superdiagnostic", folds=[9, 10])
    folds = data.meta["strat_fold"].to_numpy()
    pipeline = Pipeline([
        ("standardize", LeadStandardizer()),
        ("ssl", cls(**{**TINY[cls], "batch_size": 32})),
        ("clf", OneVsRestClassifier(LogisticRegression(max_iter=500))),
    ])
    search = GridSearchCV(pipeline, grid, scoring=macro_auc_scorer,
                          cv=predefined_split(folds, test_folds=(10,)), error_score="raise")
    search.fit(data.X, data.y)
    scores = search.cv_results_["mean_test_score"]
    assert np.all((scores > 0) & (scores <= 1))
    assert search.predict_proba(data.X[:3]).shape == (3, data.y.shape[1])


def test_standardize_statistics_follow_the_lead_names(ptbxl_small):
    X = ptbxl_small
    est = JEPAEncoder(**{**TINY[JEPAEncoder], "input_scaling": "standardize"}).fit(X)
    one = est.set_params(leads=["V1"]).transform(X[:, 6:7])
    scaled = (X[:, 6:7] - est.input_mean_[6]) / est.input_scale_[6]
    with torch.no_grad():
        windows = torch.as_tensor(scaled).unfold(-1, 250, 250)  # (n, 1, 4 windows, 250)
        per_window = [est.module_.backbone.forward_features(windows[:, :, w], leads=["V1"])
                      for w in range(4)]
        expected = torch.stack(per_window).mean(0).numpy()
    np.testing.assert_allclose(one, expected, rtol=1e-4, atol=1e-5)
    assert est.input_mean_.shape == (12,)  # restored after the subset
    subset = JEPAEncoder(**{**TINY[JEPAEncoder], "input_scaling": "standardize",
                            "leads": ["V1", "V2"]}).fit(X[:, 6:8])
    with pytest.raises(ValueError, match="statistics of the fitted leads"):
        subset.set_params(leads=["I"]).transform(X[:, :1])
