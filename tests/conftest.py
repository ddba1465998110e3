"""Shared fixtures: the real ECG data beside the project, skipped cleanly when absent."""

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(os.environ.get("SKECG_SHARED_DATA",
                                  Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(scope="session")
def ptbxl_path() -> Path:
    path = SHARED_DATA / "ptb-xl"
    if not (path / "ptbxl_database.csv").is_file():
        pytest.skip(f"shared PTB-XL data not found at {path}")
    return path


@pytest.fixture(scope="session")
def challenge_path() -> Path:
    path = SHARED_DATA / "physionet-challenge-2021"
    if not path.is_dir():
        pytest.skip(f"shared PhysioNet challenge data not found at {path}")
    return path


@pytest.fixture(scope="session", autouse=True)
def _single_torch_thread():
    """Tiny test models run faster on one thread, and two pytest workers never oversubscribe."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
