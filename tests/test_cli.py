"""The ``skecg`` command: quickstart end to end on synthetic data, and its one-line errors."""

import pandas as pd
import pytest

from skecg.cli import main


def test_quickstart_synthetic_writes_table_and_plot(tmp_path, capsys):
    status = main(["quickstart", "--synthetic", "--methods", "cpc", "--epochs", "1",
                   "--output", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0
    assert "SYNTHETIC DATA" in out
    table = pd.read_csv(tmp_path / "results.csv")
    assert list(table["pretraining"]) == ["CPC", "none (random init)", "none (supervised)"]
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
