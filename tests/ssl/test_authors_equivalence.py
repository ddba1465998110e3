"""Equivalence of skecg's ST-MEM, ECG-JEPA and CMSC pieces with the authors' own code.

The pure-function parts of the three methods are run on small random tensors, once through
skecg and once through the authors' code, and compared:

- CMSC: ``prepare_miscellaneous.obtain_contrastive_loss`` of danikiyasseh/CLOCS@e58fb4f
  against :func:`skecg.ssl.losses.cmsc_loss` (value and gradients with distinct patients; the
  measured difference with shared patients, whose positives the authors' loss treats
  asymmetrically).
- ST-MEM: ``ST_MEM.patchify``, ``get_1d_sincos_pos_embed``, ``ST_MEM.random_masking`` (under
  one torch seed) and ``ST_MEM.forward_loss`` of bakqui/ST-MEM@69ec702 (``models/st_mem.py``)
  against :func:`skecg.models.patchify`, :func:`skecg.models.sincos_positions`,
  :func:`skecg.ssl.stmem.random_patch_mask` and :func:`skecg.ssl.losses.masked_patch_mse`.
- ECG-JEPA: ``models/utils.get_1d_pos_embed`` and ``apply_mask``, the L1 loss and the EMA
  update of ``models/JEPA.JEPA``, ``utils/schedules.linear_schedule`` and
  ``data/masks.MaskCollator`` of kweimann/ECG-JEPA@504b4e5 against
  :func:`skecg.models.sincos_positions`, :func:`skecg.ssl.losses.jepa_loss` and
  :class:`skecg.ssl.jepa.JEPAModule` (its momentum schedule driven by skecg's training hooks)
  and :func:`skecg.ssl.jepa.block_time_mask`. Where skecg differs on purpose (the position
  table's column order, the masking algorithm), the test asserts the measured difference.

The authors' code is not part of skecg (its licences: CC BY-NC-SA 4.0, CC BY-NC 4.0, MIT). The
tests read it from the folder named by the environment variable ``SKECG_AUTHORS_CODE``, which
holds the checkouts ``CLOCS``, ``ST-MEM`` and ``ECG-JEPA``, and are skipped when it is unset.
Modules that import cleanly (``models/utils.py``, ``utils/schedules.py``, ``data/masks.py`` of
ECG-JEPA) are imported from their files; from modules whose imports fail here for reasons
unrelated to the code under test (``tabulate``, ``einops``, the authors' package layout, and
``np.object``, removed in numpy 1.24), only the needed function or method definitions are
parsed with :mod:`ast` and executed, with the names they use supplied.

Run them with::

    bash benchmarks/authors_checkout.sh /tmp/authors_code
    SKECG_AUTHORS_CODE=/tmp/authors_code python -m pytest tests/ssl/test_authors_equivalence.py

``ST_MEM.patchify`` needs ``einops`` (its test is skipped without it).
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import itertools
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skecg.models import ECGTransformer, patchify, sincos_positions
from skecg.ssl._training import ModuleHooks
from skecg.ssl.jepa import JEPAModule, _gather_steps, block_time_mask
from skecg.ssl.losses import cmsc_loss, jepa_loss, masked_patch_mse
from skecg.ssl.stmem import random_patch_mask

ENV = "SKECG_AUTHORS_CODE"


# ------------------------------------------------------------------------------ loading helpers


def _authors_dir(name: str) -> Path:
    """The checkout ``$SKECG_AUTHORS_CODE/name``; skip the test when it is not there."""
    root = os.environ.get(ENV)
    if not root:
        pytest.skip(f"{ENV} is not set (a folder with the authors' CLOCS, ST-MEM and ECG-JEPA; "
                    "see benchmarks/authors_checkout.sh)")
    path = Path(root) / name
    if not path.is_dir():
        pytest.skip(f"{ENV}={root} has no {name} folder (see benchmarks/authors_checkout.sh)")
    return path


def _exec_defs(path: Path, names: list[str], namespace: dict, cls: str | None = None) -> dict:
    """Execute only the definitions ``names`` of ``path`` (methods of ``cls`` if given).

    The module itself is not imported; ``namespace`` supplies the names the definitions use.
    Methods come back as plain functions taking ``self`` first.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    body = tree.body
    if cls is not None:
        body = next(n for n in body if isinstance(n, ast.ClassDef) and n.name == cls).body
    nodes = [n for n in body if isinstance(n, ast.FunctionDef) and n.name in names]
    found = {n.name for n in nodes}
    assert found == set(names), f"{path} lacks {set(names) - found}"
    exec(compile(ast.Module(body=nodes, type_ignores=[]), str(path), "exec"), namespace)
    return {name: namespace[name] for name in names}


def _import_file(path: Path, name: str):
    """Import one module from its file, without its package's ``__init__``."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _NumpyWithObject:
    """numpy plus the alias ``np.object`` (removed in numpy 1.24) that CLOCS uses."""

    object = object

    def __getattr__(self, name):
        return getattr(np, name)


# ---------------------------------------------------------------------------------------- CMSC


@pytest.fixture(scope="module")
def clocs_loss():
    """CLOCS's ``obtain_contrastive_loss(latent_embeddings (B, E, 2), pids, trial)``."""
    path = _authors_dir("CLOCS") / "prepare_miscellaneous.py"
    namespace = {"np": _NumpyWithObject(), "torch": torch,
                 "combinations": itertools.combinations}
    return _exec_defs(path, ["obtain_contrastive_loss"], namespace)["obtain_contrastive_loss"]


def _views(batch: int, dim: int, seed: int, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(batch, dim, generator=g, dtype=dtype, requires_grad=True)
    b = torch.randn(batch, dim, generator=g, dtype=dtype, requires_grad=True)
    return a, b


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_cmsc_distinct_patients_equals_clocs(clocs_loss, dtype, tol):
    # one instance per patient: the authors' loss is (row term + column term) / 2, as skecg's
    a, b = _views(16, 8, seed=0, dtype=dtype)
    pids = [f"p{i}" for i in range(16)]
    theirs = clocs_loss(torch.stack([a, b], dim=2), pids, "CMSC")
    ours = cmsc_loss(a, b, temperature=0.1)
    assert abs(theirs.item() - ours.item()) < tol * max(1.0, abs(ours.item()))
    grads_theirs = torch.autograd.grad(theirs, (a, b))
    grads_ours = torch.autograd.grad(ours, (a, b))
    for g_theirs, g_ours in zip(grads_theirs, grads_ours, strict=True):
        torch.testing.assert_close(g_ours, g_theirs, rtol=tol * 10, atol=tol * 10)


def _log_softmaxes(a, b, temperature=0.1):
    sim = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / temperature
    return F.log_softmax(sim, dim=1), F.log_softmax(sim, dim=0)


SHARED_PIDS = ["p0", "p0", "p1", "p1", "p1", "p2", "p3", "p3", "p4", "p5"]


def test_cmsc_shared_patients_differs_from_clocs(clocs_loss):
    a, b = _views(len(SHARED_PIDS), 8, seed=1)
    theirs = clocs_loss(torch.stack([a, b], dim=2), SHARED_PIDS, "CMSC").item()
    rows, cols = _log_softmaxes(a, b)
    n = len(SHARED_PIDS)
    same = [(i, j) for i in range(n) for j in range(n) if SHARED_PIDS[i] == SHARED_PIDS[j]]
    # the authors' form, read from their code: four terms averaged; off-diagonal positives
    # enter through the row softmax above the diagonal and the column softmax below it only
    upper = [-rows[i, j] for i, j in same if i < j]
    lower = [-cols[i, j] for i, j in same if i > j]
    terms = [-rows.diagonal().mean(), -cols.diagonal().mean(),
             torch.stack(upper).mean(), torch.stack(lower).mean()]
    assert theirs == pytest.approx(torch.stack(terms).mean().item(), abs=1e-12)
    # skecg's groups= form: all positives (diagonal included) in both softmaxes, halves averaged
    symmetric = 0.5 * (torch.stack([-rows[i, j] for i, j in same]).mean()
                       + torch.stack([-cols[i, j] for i, j in same]).mean())
    ours = cmsc_loss(a, b, 0.1, groups=torch.tensor([int(p[1:]) for p in SHARED_PIDS]))
    assert ours.item() == pytest.approx(symmetric.item(), abs=1e-12)
    # measured (seed 1, float64, 10 rows, 6 patients, 8 dims): authors 6.08537, skecg groups=
    # 5.81954 (0.26582 lower); skecg without groups (what CMSCEncoder trains with) 6.39149
    assert theirs == pytest.approx(6.08537, abs=1e-5)
    assert ours.item() == pytest.approx(5.81954, abs=1e-5)
    assert cmsc_loss(a, b, 0.1).item() == pytest.approx(6.39149, abs=1e-5)


# -------------------------------------------------------------------------------------- ST-MEM


@pytest.fixture(scope="module")
def stmem():
    """ST-MEM's ``get_1d_sincos_pos_embed`` and ``ST_MEM`` methods, as plain functions."""
    path = _authors_dir("ST-MEM") / "models" / "st_mem.py"
    namespace = {"torch": torch}
    try:
        from einops import rearrange
    except ImportError:
        rearrange = None
    namespace["rearrange"] = rearrange
    funcs = _exec_defs(path, ["get_1d_sincos_pos_embed"], namespace)
    funcs.update(_exec_defs(path, ["patchify", "random_masking", "forward_loss"], namespace,
                            cls="ST_MEM"))
    funcs["einops"] = rearrange is not None
    return funcs


def test_stmem_patchify_equals(stmem):
    if not stmem["einops"]:
        pytest.skip("ST-MEM's patchify needs einops")
    x = torch.randn(2, 12, 2250)
    theirs = stmem["patchify"](SimpleNamespace(patch_size=75), x)
    assert torch.equal(patchify(x, 75), theirs)


@pytest.mark.parametrize("dim, n", [(768, 30), (384, 30), (256, 30), (64, 100)])
def test_stmem_sincos_table_equals(stmem, dim, n):
    theirs = stmem["get_1d_sincos_pos_embed"](dim, n, sep_embed=True)
    assert theirs.shape == (n + 2, dim)
    # skecg has no SEP tokens: its table is the authors' rows 1..n; their SEP rows are zero
    assert not theirs[0].any() and not theirs[-1].any()
    torch.testing.assert_close(sincos_positions(n, dim), theirs[1:-1], rtol=0, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stmem_masking_same_seed_same_patches(stmem, seed):
    b, n_leads, n, d = 3, 12, 30, 4
    x = torch.randn(b, n_leads, n, d)
    torch.manual_seed(seed)
    x_masked, mask, ids_restore = stmem["random_masking"](None, x, 0.75)
    torch.manual_seed(seed)
    keep, ours_mask = random_patch_mask((b, n_leads, n), 0.75)
    keep_g, mask_g = random_patch_mask((b, n_leads, n), 0.75,
                                       generator=torch.Generator().manual_seed(seed))
    assert torch.equal(keep, keep_g) and torch.equal(ours_mask, mask_g)
    assert torch.equal(ours_mask, mask.bool())  # same masked patches, 22 of 30 per lead
    assert (~ours_mask).sum(-1).eq(7).all()
    # same kept patches; skecg keeps them in time order, the authors in noise order (the
    # encoder is permutation-equivariant and positions are added before masking)
    ids_keep = ids_restore.argsort(-1)[..., :7]
    assert torch.equal(keep, ids_keep.sort(-1).values)
    assert not torch.equal(keep, ids_keep)
    ours_tokens = x.gather(2, keep[..., None].expand(-1, -1, -1, d))
    order = ids_keep.sort(-1).indices
    assert torch.equal(ours_tokens, x_masked.gather(2, order[..., None].expand(-1, -1, -1, d)))


def test_stmem_keep_count_matches_except_degenerate():
    # authors: int(n * (1 - ratio)) kept; skecg the same, clamped to [1, n - 1]
    differ = []
    for n in range(1, 61):
        for ratio in (0.5, 0.6, 0.75, 0.8, 0.9):
            authors = int(n * (1 - ratio))
            ours = (~random_patch_mask((1, 1, n), ratio)[1]).sum().item()
            if authors != ours:
                differ.append((n, ratio, authors, ours))
    # they differ only where the authors keep nothing (n * (1 - ratio) < 1): skecg keeps one
    assert differ and all(a == 0 and o == 1 for _, _, a, o in differ)
    assert {(n, r) for n, r, *_ in differ} == {
        (n, r) for n in range(1, 61) for r in (0.5, 0.6, 0.75, 0.8, 0.9) if int(n * (1 - r)) == 0}
    assert (3, 0.75, 0, 1) in differ and (10, 0.9, 0, 1) in differ  # 10 * 0.1 rounds below 1


@pytest.mark.parametrize("norm", [True, False])
def test_stmem_forward_loss_equals(stmem, norm):
    g = torch.Generator().manual_seed(3)
    series = torch.randn(2, 12, 750, generator=g)
    pred = torch.randn(2, 12, 10, 75, generator=g)
    mask = (torch.rand(2, 12, 10, generator=g) < 0.75).float()
    # the authors' loss arithmetic; its patchify is the reshape compared above
    fake = SimpleNamespace(norm_pix_loss=norm, patchify=lambda s: patchify(s, 75))
    theirs = stmem["forward_loss"](fake, series, pred, mask)
    ours = masked_patch_mse(pred, patchify(series, 75), mask.bool(), normalize_target=norm)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------------------ ECG-JEPA


@pytest.fixture(scope="module")
def jepa():
    """kweimann/ECG-JEPA's utils, schedules, mask sampler and JEPA methods."""
    root = _authors_dir("ECG-JEPA")
    utils = _import_file(root / "models" / "utils.py", "_authors_jepa_utils")
    schedules = _import_file(root / "utils" / "schedules.py", "_authors_jepa_schedules")
    masks = _import_file(root / "data" / "masks.py", "_authors_jepa_masks")
    namespace = {"torch": torch, "apply_mask": utils.apply_mask}
    methods = _exec_defs(root / "models" / "JEPA.py", ["forward", "update_momentum_encoder"],
                         namespace, cls="JEPA")
    return SimpleNamespace(utils=utils, schedules=schedules, masks=masks, **methods)


@pytest.mark.parametrize("dim, n", [(192, 200), (384, 200), (32, 50)])
def test_jepa_pos_embed_is_a_column_permutation(jepa, dim, n):
    theirs = jepa.utils.get_1d_pos_embed(dim, n)[0]
    ours = sincos_positions(n, dim)
    # the same frequencies 10000^(-i / (dim/2)); authors interleave sin/cos, skecg has halves
    perm = torch.cat([torch.arange(0, dim, 2), torch.arange(1, dim, 2)])
    torch.testing.assert_close(ours, theirs[:, perm], rtol=0, atol=5e-5)
    assert (ours - theirs).abs().max() > 0.5  # not the same layout


def _tiny_jepa(seed: int = 0) -> JEPAModule:
    torch.manual_seed(seed)
    encoder = ECGTransformer(n_leads=2, patch_length=5, width=16, depth=1, n_heads=2)
    module = JEPAModule(encoder, (0.15, 0.25), 2, 8, 1, 2, (0.998, 0.9995), "l1")
    with torch.no_grad():  # online and target apart, as after some training
        for p in module.context_encoder.parameters():
            p.add_(torch.randn_like(p))
    return module


def test_jepa_l1_loss_equals(jepa):
    g = torch.Generator().manual_seed(4)
    b, n, d = 3, 20, 16
    target = torch.randn(b, n, d, generator=g)
    keep, masked = block_time_mask(b, n, (0.15, 0.25), 4, generator=g)
    pred = torch.randn(b, masked.shape[1], d, generator=g)
    fake = SimpleNamespace(update_momentum_encoder=lambda: None,
                           target_encoder=lambda x: target,
                           encoder=lambda x, mask: None,
                           predictor=lambda z, mask_encoder, mask_predictor: pred)
    theirs = jepa.forward(fake, None, keep, masked)
    # skecg's step gather with one lead is the authors' apply_mask
    ours_target = _gather_steps(target[:, None], masked)
    assert torch.equal(ours_target, jepa.utils.apply_mask(target, masked))
    torch.testing.assert_close(jepa_loss(pred, ours_target), theirs, rtol=1e-6, atol=1e-7)


def test_jepa_momentum_schedule_equals_over_the_fit(jepa):
    # authors: linear over config.steps (100k); skecg: linear over the whole fit. Equal when
    # the fit has config.steps optimiser steps; constant at the end value afterwards.
    total = 10
    module = _tiny_jepa()
    hooks = ModuleHooks(total).initialize()
    net = SimpleNamespace(module_=module, history=[])
    theirs = jepa.schedules.linear_schedule(total, 0.998, 0.9995)
    for _ in range(total + 3):
        hooks.on_batch_begin(net, training=True)
        assert module.momentum == pytest.approx(next(theirs), abs=1e-15)
        hooks.step_ += 1


def test_jepa_ema_update_equals(jepa):
    module = _tiny_jepa()
    total, step = 10, 4
    authors_target = copy.deepcopy(module.backbone)
    fake = SimpleNamespace(encoder=module.context_encoder, target_encoder=authors_target,
                           momentum_schedule=jepa.schedules.linear_schedule(
                               total, 0.998, 0.9995, step=step))
    jepa.update_momentum_encoder(fake)
    module.on_batch_begin(0, step / total)
    module.after_optimizer_step()
    for p_theirs, p_ours in zip(authors_target.parameters(), module.backbone.parameters(),
                                strict=True):
        torch.testing.assert_close(p_ours, p_theirs, rtol=0, atol=1e-6)


def _masked_runs(mask_row: np.ndarray) -> list[int]:
    """Lengths of the runs of masked (False) steps in a kept-mask row."""
    runs, length = [], 0
    for kept in mask_row:
        if kept:
            if length:
                runs.append(length)
            length = 0
        else:
            length += 1
    return runs + ([length] if length else [])


def test_jepa_masking_differs_documented(jepa):
    # a different sampler on purpose (torch generator, vectorised); measured on n = 50 steps,
    # keep U(0.15, 0.25), block 10 (the authors' ViT configs), 400 records each
    n, draws = 50, 400
    collator = jepa.masks.MaskCollator(patch_size=1, min_block_size=10, min_keep_ratio=0.15,
                                       max_keep_ratio=0.25)
    np.random.seed(0)  # noqa: NPY002 (the authors' sampler draws from the global np.random)
    authors_keep, authors_runs = set(), []
    for _ in range(draws // 4):
        _, keep, _ = collator([torch.zeros(1, n)] * 4)  # kept steps of 4 records
        for row_keep in keep:
            row = np.zeros(n, bool)
            row[row_keep.numpy()] = True
            authors_keep.add(int(row.sum()))
            authors_runs += _masked_runs(row)
    g = torch.Generator().manual_seed(0)
    ours_keep, ours_runs = set(), []
    for _ in range(draws // 4):
        keep, _ = block_time_mask(4, n, (0.15, 0.25), 10, generator=g)
        for row_keep in keep:
            row = np.zeros(n, bool)
            row[row_keep.numpy()] = True
            ours_keep.add(int(row.sum()))
            ours_runs += _masked_runs(row)
    # kept count: authors ceil(f * n) -> 8..13; skecg round(f * n) -> 8..12
    assert authors_keep == set(range(8, 14))
    assert ours_keep == set(range(8, 13))
    # masked runs: the authors' are never shorter than min_block_size; skecg's can be (runs
    # cut at the record's ends or next to a partly kept block)
    assert min(authors_runs) >= 10
    assert min(ours_runs) < 10
