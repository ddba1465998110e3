"""The main job end to end on the shared PTB-XL records (slow: about 3 minutes on 2 cores)."""

import pandas as pd
import pytest

from skecg.cli import main


@pytest.mark.slow
def test_quickstart_ssl_rows_beat_random_init(ptbxl_path, tmp_path):
    assert main(["quickstart", "--data", str(ptbxl_path), "--output", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "results.csv")
    for model, rows in table[table["pretraining"] != "none (supervised)"].groupby("model"):
        pretrained = rows.loc[rows["pretraining"] != "none (random init)", "test_auc"].item()
        random_init = rows.loc[rows["pretraining"] == "none (random init)", "test_auc"].item()
        assert pretrained > random_init, model
