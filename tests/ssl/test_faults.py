"""Faults during training: Ctrl-C, kills, existing checkpoints, bad parameters, bad model files."""

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest
import torch

from skecg.ssl import BYOLEncoder, CPCEncoder, SimCLREncoder, SwAVEncoder
from skecg.ssl._base import BaseSSLEncoder
from skecg.ssl._checkpoint import (
    TrainingInterrupted,
    checkpoint_folders,
    data_fingerprint,
    lock_run,
    read_checkpoint,
    run_folders,
    unlock_run,
)
from skecg.ssl._training import SSLNet

CPC = dict(encoder_width=16, context_width=16, steps=2, n_negatives=4, crop_length=60,
           window=50, stride=25, batch_size=8, lr=1e-3, random_state=0, max_epochs=4,
           lr_schedule="cosine", warmup_epochs=1)
SWAV = dict(backbone="xresnet1d18", width=8, projection_hidden=16, projection_dim=8,
            n_prototypes=10, crop_length=64, window=64, stride=32, batch_size=8, max_epochs=4,
            queue_length=16, queue_start_epoch=0, random_state=0)


@pytest.fixture
def interrupt_at_step(monkeypatch):
    """Make the n-th training step (counted from 1) raise KeyboardInterrupt, like Ctrl-C."""

    def arm(n):
        original, calls = SSLNet.train_step_single, []

        def step(self, batch, **fit_params):
            calls.append(1)
            if len(calls) == n:
                raise KeyboardInterrupt
            return original(self, batch, **fit_params)

        monkeypatch.setattr(SSLNet, "train_step_single", step)

    return arm


def _losses(history):
    return [row["train_loss"] for row in history]


def _only_run(folder):
    """The single run folder a fit wrote inside ``checkpoint_dir``."""
    runs = run_folders(folder)
    assert len(runs) == 1 and runs[0].parent == folder, runs
    return runs[0]


# ------------------------------------------------------------------------------ interrupts
def test_interrupt_keeps_last_completed_epoch_and_raises(ecg, tmp_path, interrupt_at_step):
    steps_per_epoch = 24 // 8
    interrupt_at_step(2 * steps_per_epoch + 2)  # in the middle of the third epoch
    est = CPCEncoder(**CPC, checkpoint_dir=str(tmp_path / "ckpt"))
    with pytest.raises(TrainingInterrupted, match="after 2 of 4 epochs") as info:
        est.fit(ecg)
    assert isinstance(info.value, KeyboardInterrupt) and info.value.epoch == 2
    assert info.value.checkpoint == _only_run(tmp_path / "ckpt") / "epoch-00002"
    assert est.checkpoint_path_ == info.value.checkpoint.parent
    assert len(est.history_) == 2 and all("train_loss" in row for row in est.history_)
    saved = read_checkpoint(tmp_path / "ckpt")["params"]
    for name, value in est.module_.state_dict().items():  # weights are those of epoch 2
        torch.testing.assert_close(value, saved[name])
    assert est.transform(ecg).shape == (len(ecg), 48)  # the kept model is usable knowingly


def test_interrupt_without_checkpoint_dir_says_memory_only(ecg, interrupt_at_step):
    interrupt_at_step(1)
    est = CPCEncoder(**CPC)
    with pytest.raises(TrainingInterrupted, match="after 0 of 4 epochs.*memory only"):
        est.fit(ecg)
    assert len(est.history_) == 0


def test_interrupted_then_resumed_equals_uninterrupted(ecg, tmp_path, interrupt_at_step):
    uninterrupted = CPCEncoder(**CPC).fit(ecg)
    interrupt_at_step(2 * 3 + 1)
    with pytest.raises(TrainingInterrupted):
        CPCEncoder(**CPC, checkpoint_dir=str(tmp_path)).fit(ecg)
    resumed = CPCEncoder(**CPC, checkpoint_dir=str(tmp_path), resume=True)
    resumed.fit(ecg)  # the patched step only fires once
    assert len(resumed.history_) == 4
    np.testing.assert_allclose(_losses(resumed.history_), _losses(uninterrupted.history_),
                               rtol=1e-5)
    np.testing.assert_allclose(resumed.transform(ecg), uninterrupted.transform(ecg),
                               rtol=1e-4, atol=1e-5)
    run = _only_run(tmp_path)  # resumed in the interrupted fit's own folder, lock released
    assert [p.name for p in run.iterdir()] == ["epoch-00004"]


def test_early_stopping_is_not_an_interrupt(ecg, monkeypatch):
    losses = iter([5.0, 4.0, 4.5, 4.6, 4.7, 4.8])
    original = SSLNet.ssl_loss

    def fake(self, batch):  # epoch losses 5, 4, then only worse: stops after epoch 4
        return original(self, batch) * 0 + next(losses) if self.module_.training else \
            original(self, batch)

    monkeypatch.setattr(SSLNet, "ssl_loss", fake)
    est = CPCEncoder(**{**CPC, "batch_size": 24, "max_epochs": 6, "early_stopping_patience": 2})
    est.fit(ecg)
    assert len(est.history_) == 4 < est.max_epochs


# --------------------------------------------------------------------- checkpoints, resume
def test_existing_checkpoint_is_never_overwritten_nor_continued(ecg, tmp_path):
    """A fresh fit trains from scratch in a folder of its own, beside the runs already there."""
    first = CPCEncoder(**{**CPC, "max_epochs": 2}, checkpoint_dir=str(tmp_path)).fit(ecg)
    ckpt = first.checkpoint_path_ / "epoch-00002"
    before = {p: p.read_bytes() for p in ckpt.iterdir()}
    (tmp_path / "notes.txt").write_text("x")  # other files are left alone too
    with pytest.warns(UserWarning, match="already holds a run of this same fit.*resume=True"):
        second = CPCEncoder(**{**CPC, "max_epochs": 2}, checkpoint_dir=str(tmp_path)).fit(ecg)
    assert second.checkpoint_path_ == first.checkpoint_path_.with_name(
        first.checkpoint_path_.name + "-2")
    assert {p: p.read_bytes() for p in ckpt.iterdir()} == before
    assert (tmp_path / "notes.txt").read_text() == "x"
    # from scratch: the same seed gives the same losses, not a continuation
    assert _losses(second.history_) == pytest.approx(_losses(first.history_), rel=1e-5)
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir"):
        CPCEncoder(**CPC, resume=True).fit(ecg)


def test_resume_refuses_other_parameters_and_estimators(ecg, tmp_path):
    CPCEncoder(**{**CPC, "max_epochs": 1}, checkpoint_dir=str(tmp_path)).fit(ecg)
    with pytest.raises(ValueError, match=r"trained with encoder_width=16 \(this fit has "
                                         r"encoder_width=8\)"):
        CPCEncoder(**{**CPC, "encoder_width": 8}, checkpoint_dir=str(tmp_path),
                   resume=True).fit(ecg)
    with pytest.raises(ValueError, match="written by a CPCEncoder, not a SimCLREncoder"):
        SimCLREncoder(crop_length=64, checkpoint_dir=str(tmp_path), resume=True).fit(ecg)
    with pytest.raises(ValueError, match="trained on 3 leads; X has 2"):
        CPCEncoder(**CPC, checkpoint_dir=str(tmp_path), resume=True).fit(ecg[:, :2])
    assert len(run_folders(tmp_path)) == 1  # refusals create nothing


def test_resume_refuses_other_data_by_name(ecg, tmp_path):
    CPCEncoder(**{**CPC, "max_epochs": 1}, checkpoint_dir=str(tmp_path)).fit(ecg[:12])
    with pytest.raises(ValueError, match=r"trained on other data \(12 x 3 x 200 float32, "
                                         r"fingerprint [0-9a-f]{8}; X here is 12 x 3 x 200 "
                                         r"float32, fingerprint [0-9a-f]{8}\)") as info:
        CPCEncoder(**CPC, checkpoint_dir=str(tmp_path), resume=True).fit(ecg[12:])
    message = str(info.value)
    assert "\n" not in message and "resume=False, fit trains from scratch" in message
    # a second run (other data) present: the nearest one is named, with what differs
    CPCEncoder(**{**CPC, "max_epochs": 1}, checkpoint_dir=str(tmp_path)).fit(ecg[12:])
    with pytest.raises(ValueError, match="none of the 2 runs .* was trained with these "
                                         "parameters and data; the nearest, cpcencoder-.*, was "
                                         "trained on other data"):
        CPCEncoder(**CPC, checkpoint_dir=str(tmp_path), resume=True).fit(ecg[6:18])
    with pytest.raises(ValueError, match="none of the 2 runs.*trained with lr=0.001"):
        CPCEncoder(**{**CPC, "lr": 0.01}, checkpoint_dir=str(tmp_path), resume=True).fit(ecg[12:])
    # the same parameters and data continue their own run, whichever order the runs are in
    resumed = CPCEncoder(**{**CPC, "max_epochs": 2}, checkpoint_dir=str(tmp_path),
                         resume=True).fit(ecg[:12])
    assert len(resumed.history_) == 2
    assert read_checkpoint(resumed.checkpoint_path_)["meta"]["data"]["shape"] == [12, 3, 200]


def test_different_data_get_different_folders_and_folds_train_from_scratch(ecg, tmp_path):
    a = CPCEncoder(**{**CPC, "max_epochs": 1}, checkpoint_dir=str(tmp_path)).fit(ecg[:12])
    b = CPCEncoder(**{**CPC, "max_epochs": 1}, checkpoint_dir=str(tmp_path)).fit(ecg[12:])
    c = CPCEncoder(**{**CPC, "max_epochs": 1, "lr": 0.01},
                   checkpoint_dir=str(tmp_path)).fit(ecg[:12])
    names = [e.checkpoint_path_.name for e in (a, b, c)]
    assert len(set(names)) == 3 and all(n.startswith("cpcencoder-") for n in names)
    estimator_a, params_a, data_a = names[0].split("-")
    assert names[1].split("-")[:2] == [estimator_a, params_a] and names[1].split("-")[2] != data_a
    assert names[2].split("-")[2] == data_a and names[2].split("-")[1] != params_a
    assert sorted(run_folders(tmp_path)) == sorted(e.checkpoint_path_ for e in (a, b, c))
    assert not any((e.checkpoint_path_ / ".lock").exists() for e in (a, b, c))


def test_grid_search_with_a_fixed_checkpoint_dir_trains_every_fit_from_scratch(ecg, tmp_path):
    """Issue 19: the second fit of a search failed; following the advice continued fold 1."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.pipeline import Pipeline
    from skorch.callbacks import Callback

    class RecordStart(Callback):
        starts = []  # class attribute: shared by the clones GridSearchCV makes

        def on_train_begin(self, net, **kwargs):  # after the encoder's own (a restore)
            RecordStart.starts.append(len(net.history))

    y = (ecg[:, 0].std(axis=1) > np.median(ecg[:, 0].std(axis=1))).astype(int)
    encoder = CPCEncoder(**{**CPC, "max_epochs": 2}, checkpoint_dir=str(tmp_path),
                         callbacks=[("start", RecordStart())])
    pipeline = Pipeline([("ssl", encoder), ("clf", LogisticRegression())])
    search = GridSearchCV(pipeline, {"ssl__encoder_width": [8, 16]},
                          cv=KFold(2, shuffle=True, random_state=0), error_score="raise")
    search.fit(ecg, y)
    assert RecordStart.starts == [0] * 5  # 2 candidates x 2 folds, then the refit
    runs = run_folders(tmp_path)
    assert len(runs) == 5
    metas = [read_checkpoint(run)["meta"] for run in runs]
    assert all(m["epoch"] == 2 for m in metas)
    assert len({(m["params"]["encoder_width"], m["data"]["sha256"]) for m in metas}) == 5
    assert len({m["data"]["sha256"] for m in metas}) == 3  # two folds and the whole data
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_resume_restores_swav_queue_and_schedule_position(ecg, tmp_path):
    first = SwAVEncoder(**{**SWAV, "max_epochs": 2}, checkpoint_dir=str(tmp_path)).fit(ecg)
    queue = first.module_.queue.clone()
    state = read_checkpoint(tmp_path)["training_state"]
    torch.testing.assert_close(state["module"]["queue"], queue)
    assert state["module"]["queue_filled"] == 16 and state["step"] == 6
    seen = []
    original = SSLNet.train_step_single

    def record(self, batch, **fit_params):
        seen.append((self.module_.queue_filled, self.optimizer_.param_groups[0]["lr"]))
        return original(self, batch, **fit_params)

    SSLNet.train_step_single = record
    try:
        SwAVEncoder(**{**SWAV, "max_epochs": 3}, checkpoint_dir=str(tmp_path),
                    resume=True).fit(ecg)
    finally:
        SSLNet.train_step_single = original
    assert len(seen) == 3 and seen[0][0] == 16  # one more epoch, with the queue full
    # cosine over 3 epochs x 3 steps, continued at step 6 (no warm-up): 0.5 (1 + cos(pi 6/9))
    assert seen[0][1] == pytest.approx(1e-3 * 0.5 * (1 + np.cos(np.pi * 6 / 9)))


def test_a_run_in_training_is_locked_and_a_dead_process_lock_is_taken_over(ecg, tmp_path):
    run = CPCEncoder(**{**CPC, "max_epochs": 1}, checkpoint_dir=str(tmp_path)).fit(
        ecg).checkpoint_path_
    lock = run / ".lock"
    resume = CPCEncoder(**{**CPC, "max_epochs": 2}, checkpoint_dir=str(tmp_path), resume=True)
    host = socket.gethostname()
    lock.write_text(json.dumps({"pid": os.getppid(), "host": host, "time": 0}))  # alive
    with pytest.raises(ValueError, match=f"is being trained by process {os.getppid()} on "
                                         f"{host} .lock file {lock}.; two fits never train"):
        resume.fit(ecg)
    assert len(read_checkpoint(run)["history"]) == 1  # untouched
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid no longer runs: the lock is stale (a killed training)
    lock.write_text(json.dumps({"pid": dead.pid, "host": host, "time": 0}))
    assert len(resume.fit(ecg).history_) == 2 and not lock.exists()


def test_lock_is_exclusive_within_a_process_too(tmp_path):
    """Two estimators of one process (threads) never train into one run either."""
    first = lock_run(tmp_path)
    with pytest.raises(ValueError, match="is being trained by this process"):
        lock_run(tmp_path)
    unlock_run(first)
    unlock_run(lock_run(tmp_path))
    assert not (tmp_path / ".lock").exists()


def test_data_fingerprint_reads_a_bounded_sample(ecg):
    """A 100 GB memmap must not be read whole: at most 256 records are indexed."""

    class Huge:
        shape, dtype, reads = (10**6, 12, 5000), np.dtype(np.float32), []

        def __getitem__(self, rows):
            Huge.reads.append(len(rows))
            return np.ones((len(rows), 12, 5000), dtype=np.float32) * rows[:, None, None]

    fingerprint = data_fingerprint(Huge())
    assert Huge.reads == [256] and fingerprint["shape"] == [10**6, 12, 5000]
    assert data_fingerprint(ecg) == data_fingerprint(ecg.copy())  # deterministic
    changed = ecg.copy()
    changed[-1, 0, 0] += 1
    assert data_fingerprint(changed) != data_fingerprint(ecg)  # small data: every value
    assert data_fingerprint(ecg[::-1]) != data_fingerprint(ecg)  # order matters (folds)


KILL_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import torch
    from skecg.ssl import CPCEncoder
    torch.set_num_threads(1)
    X = np.random.default_rng(0).standard_normal((16, 2, 80)).astype(np.float32)
    params = dict(encoder_width=8, context_width=8, steps=2, n_negatives=2, crop_length=40,
                  window=40, stride=40, batch_size=8, max_epochs=int(sys.argv[2]),
                  random_state=0, checkpoint_dir=sys.argv[1], resume=True)
    print("ready", flush=True)
    CPCEncoder(**params).fit(X)
""")


def test_sigkill_at_any_moment_leaves_loadable_checkpoints_and_resume_completes(tmp_path):
    """Killed three times while writing checkpoints every few milliseconds, then resumed."""
    folder, max_epochs = tmp_path / "ckpt", 400
    script = tmp_path / "train.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    def epochs():  # the epoch folders of the one run the restarts continue
        return [c for run in run_folders(folder) for c in checkpoint_folders(run)]

    for delay in (0.0, 0.13, 0.37):  # after the child wrote its first new checkpoint
        before = epochs()
        child = subprocess.Popen([sys.executable, str(script), str(folder), str(max_epochs)],
                                 stdout=subprocess.PIPE, env=env)
        assert child.stdout.readline().strip() == b"ready"
        deadline = time.monotonic() + 60
        while epochs() == before and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert len(run_folders(folder)) == 1  # killed runs leave stale locks, taken over
        for ckpt in epochs():  # whatever the kill left loads and agrees
            loaded = read_checkpoint(ckpt)
            epoch = int(ckpt.name.split("-")[1])
            assert loaded["meta"]["epoch"] == epoch == len(loaded["history"])
            assert [row["epoch"] for row in loaded["history"]] == list(range(1, epoch + 1))
    done = read_checkpoint(folder)
    kept = [row["train_loss"] for row in done["history"]]
    assert 0 < len(kept) < max_epochs
    X = np.random.default_rng(0).standard_normal((16, 2, 80)).astype(np.float32)
    target = len(kept) + 3
    est = CPCEncoder(encoder_width=8, context_width=8, steps=2, n_negatives=2, crop_length=40,
                     window=40, stride=40, batch_size=8, max_epochs=target, random_state=0,
                     checkpoint_dir=str(folder), resume=True).fit(X)
    assert len(est.history_) == target
    assert _losses(est.history_)[:len(kept)] == kept  # the history is intact
    run = _only_run(folder)  # every restart continued the one run, taking over stale locks
    assert [p.name for p in run.iterdir()] == [f"epoch-{target:05d}"]


# ------------------------------------------------------------------------------ parameters
@pytest.mark.parametrize("cls, name, value, allowed", [
    (SimCLREncoder, "temperature", 0, r"float in the range \(0.0, inf\)"),
    (SimCLREncoder, "temperature", -1.0, r"float in the range \(0.0, inf\)"),
    (SwAVEncoder, "temperature", 0.0, r"float in the range \(0.0, inf\)"),
    (CPCEncoder, "n_negatives", 0, r"int in the range \[1, inf\)"),
    (SwAVEncoder, "n_prototypes", 0, r"int in the range \[1, inf\)"),
    (BYOLEncoder, "base_momentum", 2.0, r"float in the range \[0.0, 1.0\]"),
    (BYOLEncoder, "base_momentum", -0.1, r"float in the range \[0.0, 1.0\]"),
    (SimCLREncoder, "projection_dim", 0, r"int in the range \[1, inf\)"),
    (SimCLREncoder, "width", 0, r"int in the range \[1, inf\)"),
    (CPCEncoder, "encoder_width", 0, r"int in the range \[1, inf\)"),
    (CPCEncoder, "lr", -1.0, r"float in the range \(0.0, inf\)"),
    (CPCEncoder, "lr", "fast", r"float in the range \(0.0, inf\)"),
    (CPCEncoder, "weight_decay", -1.0, r"float in the range \[0.0, inf\)"),
    (CPCEncoder, "warmup_epochs", -2, r"int in the range \[0, inf\)"),
    (CPCEncoder, "batch_size", 0, r"int in the range \[1, inf\)"),
    (CPCEncoder, "precision", "fp8", "str among .*'bf16'.* or a int among"),
    (SwAVEncoder, "n_views", 1, r"int in the range \[2, inf\)"),
])
def test_bad_parameters_name_parameter_and_range(ecg, cls, name, value, allowed):
    with pytest.raises(ValueError, match=rf"'{name}' parameter of {cls.__name__} must be .*"
                                         rf"{allowed}"):
        cls(**{name: value}).fit(ecg)


def test_simclr_temperature_zero_is_an_error_not_nan_embeddings(ecg):
    """Issue case 9: ``SimCLREncoder(temperature=0).fit(X)`` trained to NaN silently."""
    with pytest.raises(ValueError, match="temperature"):
        SimCLREncoder(backbone="xresnet1d18", width=8, temperature=0, max_epochs=1).fit(ecg)


def test_non_finite_loss_names_the_epoch(ecg, tmp_path, monkeypatch):
    original, calls = SSLNet.ssl_loss, []

    def diverging(self, batch):
        calls.append(1)
        loss = original(self, batch)
        return loss * float("nan") if len(calls) > 3 else loss  # from the 2nd epoch on

    monkeypatch.setattr(SSLNet, "ssl_loss", diverging)
    with pytest.raises(ValueError, match="training loss became nan in epoch 2"):
        CPCEncoder(**CPC, checkpoint_dir=str(tmp_path)).fit(ecg)
    run = _only_run(tmp_path)
    assert [p.name for p in run.iterdir()] == ["epoch-00001"]  # the last finite epoch, unlocked


# ----------------------------------------------------------------------------- model files
def _not_skecg_files(tmp_path):
    (tmp_path / "random.skecg").write_bytes(np.random.default_rng(0).bytes(300))
    (tmp_path / "empty.skecg").write_bytes(b"")
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp_path / "torch.pt")
    with zipfile.ZipFile(tmp_path / "archive.zip", "w") as z:
        z.writestr("readme.txt", "hello")
    (tmp_path / "pickle.pkl").write_bytes(pickle.dumps({"a": 1}))
    (tmp_path / "truncated.skecg").write_bytes(b"")
    return ["random.skecg", "empty.skecg", "torch.pt", "archive.zip", "pickle.pkl"]


def test_load_of_other_files_is_one_line_naming_the_file(ecg, tmp_path):
    names = _not_skecg_files(tmp_path)
    model = CPCEncoder(**{**CPC, "max_epochs": 1}).fit(ecg)
    model.save(tmp_path / "good.skecg")
    data = (tmp_path / "good.skecg").read_bytes()
    (tmp_path / "truncated.skecg").write_bytes(data[: len(data) // 2])
    for name in [*names, "truncated.skecg"]:
        with pytest.raises(ValueError) as info:
            BaseSSLEncoder.load(tmp_path / name)
        message = str(info.value)
        assert str(tmp_path / name) in message and "\n" not in message, message
        assert "not a skecg" in message and "weights_only" not in message, message


def test_load_tells_checkpoints_from_model_files(ecg, tmp_path):
    CPCEncoder(**{**CPC, "max_epochs": 1}, checkpoint_dir=str(tmp_path / "ckpt")).fit(ecg)
    run = _only_run(tmp_path / "ckpt")
    for path in (tmp_path / "ckpt", run, run / "epoch-00001"):
        with pytest.raises(ValueError, match="is a training checkpoint folder.*resume=True"):
            CPCEncoder.load(path)
    with pytest.raises(ValueError, match=f"is a training checkpoint file.*checkpoint_dir='{run}'"
                                         ", resume=True"):
        CPCEncoder.load(run / "epoch-00001" / "params.pt")
    with pytest.raises(ValueError, match="is a folder, not a skecg model file"):
        CPCEncoder.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing.skecg"):
        CPCEncoder.load(tmp_path / "missing.skecg")


@pytest.mark.parametrize("transformer, name, value, allowed", [
    ("Resample", "fs_in", 0, r"float in the range \(0.0, inf\)"),
    ("Resample", "fs_out", float("inf"), r"float in the range \(0.0, inf\)"),
    ("BandpassFilter", "order", 0, r"int in the range \[1, inf\)"),
    ("BandpassFilter", "fs", -100.0, r"float in the range \(0.0, inf\)"),
    ("SlidingWindows", "window", 0, r"int in the range \[1, inf\)"),
    ("SlidingWindows", "stride", 2.5, r"int in the range \[1, inf\)"),
    ("RandomCrop", "length", -1, r"int in the range \[1, inf\)"),
    ("RandomCrop", "random_state", "seed", "RandomState"),
])
def test_bad_transformer_parameters_name_parameter_and_range(ecg, transformer, name, value,
                                                             allowed):
    import skecg.preprocessing as preprocessing

    cls = getattr(preprocessing, transformer)
    with pytest.raises(ValueError, match=rf"'{name}' parameter of {transformer} must be .*"
                                         rf"{allowed}"):
        cls(**{name: value}).fit(ecg)
