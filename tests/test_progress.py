"""Training progress: one plain line per epoch in a log file, a progress bar on a terminal."""

import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from skorch.callbacks import EarlyStopping

from skecg._progress import EpochProgress, format_epoch
from skecg.ssl import SimCLREncoder

TINY = dict(backbone="xresnet1d18", width=4, crop_length=50, window=50, stride=25,
            batch_size=4, augmentations=[], projection_hidden=8, projection_dim=4,
            random_state=0)
LINE = re.compile(r"^\[SimCLREncoder\] epoch +(\d+)/(\d+)  train_loss -?\d+\.\d{4}  \d+\.\d s$")


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).standard_normal((8, 2, 100)).astype(np.float32)


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_format_epoch_is_one_plain_line():
    row = {"epoch": 3, "train_loss": 4.12345, "valid_loss": 1e-5, "train_loss_best": True,
           "dur": 12.34, "batches": [{}], "train_batch_count": 4, "event_lr": 0.1}
    assert format_epoch(row, total=170, prefix="CPCEncoder") == (
        "[CPCEncoder] epoch   3/170  train_loss 4.1235  valid_loss 1.000e-05  12.3 s")
    assert format_epoch({"epoch": 1, "dur": 0.04}) == "epoch 1  0.0 s"


def test_encoder_logs_one_line_per_epoch_to_a_file_like_stderr(X, capsys):
    est = SimCLREncoder(**TINY, max_epochs=3, verbose=1).fit(X)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 3 and "\r" not in err and "\x1b" not in err, err  # no bars, no colours
    assert [LINE.match(line).groups() for line in lines] == [("1", "3"), ("2", "3"), ("3", "3")]
    assert est.history_[-1, "train_loss"] == pytest.approx(float(lines[-1].split()[4]), abs=1e-4)
    SimCLREncoder(**TINY, max_epochs=2).fit(X)  # verbose=0: nothing
    assert capsys.readouterr() == ("", "")


def test_terminal_gets_the_progress_bar_too(X, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)  # checked when the fit begins, not at import
    SimCLREncoder(**TINY, max_epochs=2, verbose=1).fit(X)
    out = terminal.getvalue()
    assert "\r" in out  # tqdm drew (and erased) a bar
    assert len(re.findall(r"\[SimCLREncoder\] epoch \d/2", out)) == 2


def test_resumed_and_early_stopped_fits_count_right(X, tmp_path, capsys):
    SimCLREncoder(**TINY, max_epochs=2, checkpoint_dir=str(tmp_path)).fit(X)
    SimCLREncoder(**TINY, max_epochs=4, checkpoint_dir=str(tmp_path), resume=True,
                  verbose=1).fit(X)
    lines = capsys.readouterr().err.splitlines()
    assert [LINE.match(line).groups() for line in lines] == [("3", "4"), ("4", "4")]
    # early stopping raises inside on_epoch_end, before this callback: its epoch is written
    # when training ends (threshold=10: only the first epoch counts as an improvement)
    est = SimCLREncoder(**TINY, max_epochs=50, verbose=1, callbacks=[
        EarlyStopping(monitor="train_loss", patience=1, threshold=10.0)]).fit(X)
    out, err = capsys.readouterr()
    n = len(est.history_)
    assert n < 50 and "Stopping since train_loss has not improved" in out
    assert [LINE.match(line).groups() for line in err.splitlines()] == [
        (str(i), "50") for i in range(1, n + 1)]


def test_epoch_progress_replaces_print_log_in_any_skorch_net(capsys):
    import torch
    from skorch import NeuralNetRegressor

    net = NeuralNetRegressor(torch.nn.Linear(2, 1), max_epochs=2, train_split=None,
                             callbacks__print_log=EpochProgress(prefix="net"))
    net.fit(np.zeros((8, 2), np.float32), np.zeros((8, 1), np.float32))
    out, err = capsys.readouterr()
    assert out == "" and re.fullmatch(r"(\[net\] epoch \d/2  train_loss \S+  \d\.\d s\n){2}", err)


def test_skecg_pretrain_into_a_log_file_writes_one_line_per_epoch(tmp_path):
    """Issue 19: ``skecg pretrain ... > log 2>&1`` printed no line in 170 epochs."""
    code = ("import sys, skecg.cli as c; c.CPU_PRESETS['simclr'] = dict(backbone='xresnet1d18', "
            "width=4, crop_length=100, batch_size=100, projection_hidden=8, projection_dim=4, "
            "max_epochs=3); sys.exit(c.main(sys.argv[1:]))")
    log = tmp_path / "log"
    with open(log, "w") as f:
        done = subprocess.run(
            [sys.executable, "-c", code, "pretrain", "--synthetic", "--method", "simclr",
             "--output", str(tmp_path / "m.skecg")],
            stdout=f, stderr=subprocess.STDOUT, timeout=300, cwd=tmp_path,
            env={**os.environ, "OMP_NUM_THREADS": "1", "HOME": str(tmp_path)})
    text = log.read_text()
    assert done.returncode == 0, text
    epochs = [line for line in text.splitlines() if "epoch" in line and "train_loss" in line]
    assert [re.match(r"\[SimCLREncoder\] epoch (\d)/3  train_loss \S+  \d+\.\d s$", line)
            .group(1) for line in epochs] == ["1", "2", "3"], text
    assert "\r" not in text and "\x1b" not in text
    assert "saved " in text
