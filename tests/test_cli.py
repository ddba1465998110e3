"""The ``skecg`` command: quickstart end to end on synthetic data, and its one-line errors."""

import re

import pandas as pd
import pytest

from skecg.cli import SYNTHETIC_BANNER, main, synthetic_banner


def test_quickstart_synthetic_writes_table_and_plot(tmp_path, capsys):
    status = main(["quickstart", "--synthetic", "--methods", "cpc", "--epochs", "1",
                   "--output", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0
    assert "SYNTHETIC DATA" in out
    table = pd.read_csv(tmp_path / "results.csv")
    assert list(table["pretraining"]) == ["CPC (fitted, as given)", "none (random init)",
                                          "none (supervised)"]
    assert (table["n_test"] == table["n_test"][0]).all()  # every row on the same test records
    header = next(line for line in out.splitlines() if "test AUC [95% interval]" in line)
    printed = out[out.index(header):]  # the final table
    assert "nan" not in printed.lower() and "1.0 " not in printed  # n_seeds printed as 1
    for column in ("model", "pretraining", "protocol", "delta vs baseline"):
        assert column in header
    assert re.search(r"CPC .* 0\.\d{3} \[0\.\d{3}, [01]\.\d{3}\] +[+-]0\.\d{3} \[", printed)
    assert {"test_auc_low", "delta_high", "n_seeds", "recipe"} <= set(table.columns)  # files
    assert table["test_auc"].between(0, 1).all()
    assert "Synthetic data" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "results.png").stat().st_size > 0


def test_not_a_ptbxl_folder_is_one_line(tmp_path, capsys):
    status = main(["quickstart", "--data", str(tmp_path), "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1 and "not a PTB-XL folder" in err


def test_unknown_method_is_rejected(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["quickstart", "--methods", "moco"])
    assert exc.value.code == 2
    assert "invalid choice: 'moco'" in capsys.readouterr().err


def test_pretrain_embed_evaluate_roundtrip(tmp_path, ptbxl_path, capsys):
    model = tmp_path / "cpc.skecg"
    assert main(["pretrain", "--method", "cpc", "--epochs", "1", "--data", str(ptbxl_path),
                 "--output", str(model)]) == 0
    emb = tmp_path / "emb.npy"
    assert main(["embed", "--model", str(model), "--data", str(ptbxl_path),
                 "--output", str(emb)]) == 0
    assert f"wrote {emb}.npz:" in capsys.readouterr().out  # the real file name
    assert (tmp_path / "emb.npy.npz").is_file() and not emb.exists()
    assert main(["evaluate", "--model", str(tmp_path / "missing.skecg"),
                 "--data", str(ptbxl_path)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_offline_without_data_falls_back_to_synthetic(tmp_path, monkeypatch, capsys):
    import skecg.cli as cli

    monkeypatch.delenv("SKECG_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr("wfdb.dl_files", offline)
    status = cli.main(["quickstart", "--methods", "cpc", "--epochs", "1", "--no-supervised",
                       "--output", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert status == 0
    assert "could not download PTB-XL (ConnectionError)" in out and "SYNTHETIC DATA" in out


# ------------------------------------------------------------------- interrupts and resume
def _interrupt_at_step(monkeypatch, n):
    from skecg.ssl._training import SSLNet

    original, calls = SSLNet.train_step_single, []

    def step(self, batch, **fit_params):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return original(self, batch, **fit_params)

    monkeypatch.setattr(SSLNet, "train_step_single", step)


TINY_SIMCLR = dict(backbone="xresnet1d18", width=4, crop_length=100, batch_size=100, lr=1e-3,
                   projection_hidden=8, projection_dim=4)


@pytest.fixture
def tiny_presets(monkeypatch):
    import skecg.cli as cli

    monkeypatch.setitem(cli.CPU_PRESETS, "simclr", dict(TINY_SIMCLR, max_epochs=3))


def test_ctrl_c_in_pretrain_exits_130_keeps_epoch_and_resumes(tmp_path, monkeypatch, capsys,
                                                              tiny_presets):
    model = tmp_path / "simclr.skecg"
    command = ["pretrain", "--synthetic", "--method", "simclr", "--output", str(model)]
    _interrupt_at_step(monkeypatch, 4 + 2)  # 400 records, batch 100: in the second epoch
    assert main(command) == 130
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar
    checkpoints = tmp_path / "simclr.skecg.checkpoints"
    assert err.startswith("skecg pretrain: interrupted")
    assert f"interrupted after 1 of 3 epochs; epoch 1 is kept in {checkpoints}" in err
    assert f"nothing was written to {model}" in err and "--resume" in err
    (run,) = checkpoints.iterdir()  # the fit's own run folder
    assert not model.exists() and [p.name for p in run.iterdir()] == ["epoch-00001"]
    assert main(command) == 2  # never restarts over the kept checkpoint
    assert "add --resume" in capsys.readouterr().err
    assert main([*command, "--resume"]) == 0
    from skecg.ssl import BaseSSLEncoder

    assert BaseSSLEncoder.load(model).max_epochs == 3 and not checkpoints.exists()


@pytest.mark.slow  # a fresh interpreter and synthetic data (the in-process test is fast)
def test_sigint_to_skecg_pretrain_exits_130(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    model = tmp_path / "m.skecg"
    checkpoints = tmp_path / "m.skecg.checkpoints"
    code = ("import sys, skecg.cli as c; c.CPU_PRESETS['simclr'] = dict(" + repr(TINY_SIMCLR)
            + ", max_epochs=10000); sys.exit(c.main(sys.argv[1:]))")
    child = subprocess.Popen(
        [sys.executable, "-c", code, "pretrain", "--synthetic", "--method", "simclr",
         "--output", str(model)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (checkpoints.is_dir() and any(checkpoints.glob("*/epoch-*"))):
        assert time.monotonic() < deadline and child.poll() is None
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    err = child.communicate(timeout=60)[1].decode()
    assert child.returncode == 130, err
    assert "interrupted after" in err and "is kept in" in err and not model.exists(), err


# ----------------------------------------------------------------------- one-line errors
def _one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_damaged_model_file_is_one_line(tmp_path, capsys):
    damaged = tmp_path / "damaged.skecg"
    damaged.write_bytes(b"\x00garbage" * 50)
    for command in (["embed", "--output", str(tmp_path / "e.npy")], ["evaluate"]):
        err = _one_line_error(capsys, [*command, "--synthetic", "--model", str(damaged)])
        assert str(damaged) in err and "not a skecg encoder file" in err
        assert "weights_only" not in err


def test_impossible_cache_dir_is_one_line_before_loading(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    err = _one_line_error(capsys, ["pretrain", "--method", "simclr", "--data", str(tmp_path),
                                   "--cache-dir", str(blocker / "cache"),
                                   "--output", str(tmp_path / "m.skecg")])
    assert f"--cache-dir {blocker / 'cache'} is not a writable folder" in err


def test_output_into_missing_folder_is_checked_before_training(tmp_path, capsys, monkeypatch):
    import skecg.cli as cli

    def no_data(args):
        raise AssertionError("data were loaded before the output was checked")

    monkeypatch.setattr(cli, "_load_data", no_data)
    missing = tmp_path / "missing" / "m.skecg"
    err = _one_line_error(capsys, ["pretrain", "--synthetic", "--method", "cpc",
                                   "--output", str(missing)])
    assert f"folder {missing.parent} does not exist" in err
    err = _one_line_error(capsys, ["embed", "--synthetic", "--model", "x.skecg",
                                   "--output", str(missing)])
    assert f"folder {missing.parent} does not exist" in err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    err = _one_line_error(capsys, ["quickstart", "--synthetic", "--output", str(blocker / "o")])
    assert f"--output folder {blocker / 'o'} cannot be created" in err


def test_synthetic_banner_in_every_subcommand_and_outputs_marked(tmp_path, capsys,
                                                                 tiny_presets):
    import json

    import numpy as np

    model = tmp_path / "m.skecg"
    assert main(["pretrain", "--synthetic", "--method", "simclr", "--epochs", "1",
                 "--output", str(model)]) == 0
    out = capsys.readouterr().out
    assert synthetic_banner("pretrain", forced=True) in out and "numbers below" not in out
    sidecar = json.loads((tmp_path / "m.skecg.json").read_text())
    assert sidecar["synthetic"] is True and sidecar["data"].startswith("synthetic ECG")
    assert main(["embed", "--synthetic", "--model", str(model),
                 "--output", str(tmp_path / "e.npz")]) == 0
    out = capsys.readouterr().out
    assert synthetic_banner("embed", forced=True) in out and "numbers below" not in out
    with np.load(tmp_path / "e.npz") as saved:
        assert bool(saved["synthetic"]) and str(saved["data"]).startswith("synthetic ECG")
        assert saved["record_ids"][0] == "synthetic-0000"
    for command in ("quickstart", "evaluate"):
        assert "The numbers below come from simulated ECGs" in synthetic_banner(command)
    assert SYNTHETIC_BANNER == synthetic_banner("quickstart")


def test_evaluate_on_a_one_class_test_set_says_so(tmp_path, capsys, monkeypatch):
    import numpy as np
    from sklearn.utils import Bunch

    import skecg.cli as cli
    from skecg.ssl import CPCEncoder

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3, 120)).astype(np.float32)
    model = tmp_path / "m.skecg"
    CPCEncoder(encoder_width=4, context_width=4, steps=1, n_negatives=2, crop_length=60,
               window=60, stride=60, batch_size=20, max_epochs=1).fit(X).save(model)
    meta = pd.DataFrame({"strat_fold": np.repeat(np.arange(1, 11), 4)})
    data = Bunch(X=X, y=np.zeros((40, 2), dtype=np.int64), meta=meta)
    monkeypatch.setattr(cli, "_load_data", lambda args: (data, "test data", False))
    err = _one_line_error(capsys, ["evaluate", "--model", str(model)])
    assert "holds a single class for every label, so no AUC can be measured" in err


# ------------------------------------------------------------------------------- embed
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny 12-lead CPC model at 100 Hz, saved."""
    import numpy as np

    from skecg.ssl import CPCEncoder

    X = np.random.default_rng(0).standard_normal((16, 12, 300)).astype(np.float32)
    path = tmp_path_factory.mktemp("model") / "cpc.skecg"
    CPCEncoder(encoder_width=8, context_width=8, steps=1, n_negatives=2, crop_length=100,
               batch_size=8, max_epochs=1, random_state=0).fit(X).save(path)
    return path


def _embedded(path):
    import numpy as np

    with np.load(path) as npz:
        return {name: npz[name] for name in npz.files}


@pytest.mark.parametrize("fmt", ["auto", "wfdb", "challenge"])
def test_embed_shared_challenge_folder_keeps_every_record_with_ids(tmp_path, challenge_path,
                                                                   tiny_model, capsys, fmt):
    import numpy as np

    from skecg.datasets import load_wfdb
    from skecg.ssl import BaseSSLEncoder

    assert main(["embed", "--model", str(tiny_model), "--data", str(challenge_path),
                 "--format", fmt, "--output", str(tmp_path / "emb")]) == 0
    out = capsys.readouterr().out
    written = tmp_path / "emb.npz"
    assert f"wrote {written}:" in out and "51 records" in out
    saved = _embedded(written)
    names = sorted(p.stem for p in challenge_path.glob("*.hea"))
    assert len(names) == 51 and saved["embeddings"].shape[0] == 51
    assert list(saved["record_ids"]) == names  # JS00001 (#Age: no space), HR* (unit mv) too
    assert not saved["synthetic"] and str(challenge_path) in str(saved["data"])
    model = BaseSSLEncoder.load(tiny_model)  # rows equal the encoder's own transform
    X = load_wfdb(challenge_path, fs=model.fs, duration=10 if fmt == "challenge" else None).X
    np.testing.assert_allclose(saved["embeddings"], model.transform(X), rtol=1e-5, atol=1e-6)


def _write_records(folder, specs):
    import numpy as np
    import wfdb

    from skecg import LEAD_NAMES

    for sub, name, fs, seconds, comments in specs:
        (folder / sub).mkdir(parents=True, exist_ok=True)
        n = int(fs * seconds)
        signal = np.sin(np.arange(n)[:, None] / fs * np.arange(1, 13)) * 0.5
        wfdb.wrsamp(name, fs=fs, units=["mV"] * 12, sig_name=list(LEAD_NAMES), p_signal=signal,
                    fmt=["16"] * 12, comments=comments, write_dir=str(folder / sub))


def test_embed_any_wfdb_folder_keeps_unlabelled_records_and_names_rows(tmp_path, tiny_model,
                                                                       capsys):
    folder = tmp_path / "records"
    _write_records(folder, [("a", "r1", 500, 10, ["Dx: 426783006"]),
                            ("a", "r2", 250, 10, []),  # another rate, no label
                            ("b/c", "r1", 100, 10, ["Dx: "])])  # same name, other folder
    for fmt in ("auto", "challenge"):
        with pytest.warns(UserWarning, match="r1 in .*records/a, .*records/b/c"):
            assert main(["embed", "--model", str(tiny_model), "--data", str(folder), "--format",
                         fmt, "--output", str(tmp_path / f"{fmt}.npz")]) == 0
    ids = {fmt: list(_embedded(tmp_path / f"{fmt}.npz")["record_ids"])
           for fmt in ("auto", "challenge")}
    assert ids["auto"] == ["a/r1", "a/r2", "b/c/r1"]  # unique: path under --data
    assert ids["challenge"] == ["r1", "r2", "r1"]
    assert _embedded(tmp_path / "auto.npz")["embeddings"].shape[0] == 3
    _write_records(folder, [("d", "long", 100, 30, [])])  # another length
    with pytest.warns(UserWarning, match="more than one folder"):
        err = _one_line_error(capsys, ["embed", "--model", str(tiny_model), "--data",
                                       str(folder), "--output", str(tmp_path / "x")])
        assert "long.hea has 3000 samples" in err and "duration" in err
        assert main(["embed", "--model", str(tiny_model), "--data", str(folder), "--duration",
                     "10", "--output", str(tmp_path / "x")]) == 0
    assert len(_embedded(tmp_path / "x.npz")["record_ids"]) == 4


def test_embed_ptbxl_keeps_records_without_a_task_label(tmp_path, ptbxl_path, tiny_model):
    from skecg.datasets import load_ptbxl

    labelled = load_ptbxl(ptbxl_path, task="rhythm", folds=[10])
    assert labelled.dropped_no_label > 0  # the rhythm task leaves records out
    with pytest.raises(SystemExit):  # embed takes no --task: it keeps every record
        main(["embed", "--model", str(tiny_model), "--data", str(ptbxl_path), "--task",
              "rhythm", "--output", str(tmp_path / "p.npz")])
    assert main(["embed", "--model", str(tiny_model), "--data", str(ptbxl_path),
                 "--output", str(tmp_path / "p.npz")]) == 0
    ids = _embedded(tmp_path / "p.npz")["record_ids"]
    assert list(ids) == [str(i) for i in range(1, 501)]  # every ecg_id, in the CSV's order


def test_embed_usage_errors_are_one_line(tmp_path, tiny_model, capsys, monkeypatch):
    monkeypatch.delenv("SKECG_DATA", raising=False)
    base = ["embed", "--model", str(tiny_model), "--output", str(tmp_path / "e")]
    assert "pass --data FOLDER" in _one_line_error(capsys, base)
    assert "does not exist" in _one_line_error(capsys, [*base, "--data", str(tmp_path / "no")])
    err = _one_line_error(capsys, [*base, "--data", str(tmp_path), "--leads", "I", "II"])
    assert "--leads names 2; the model takes 12 leads" in err
    assert not list(tmp_path.glob("*.npz")) and not list(tmp_path.glob(".*"))
