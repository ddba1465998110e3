"""Shared fixtures of the self-supervised training tests."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def ecg():
    """24 records of 3 leads x 200 samples: a 1.2 Hz rhythm scaled per lead plus noise."""
    rng = np.random.default_rng(0)
    t = np.arange(200) / 100
    base = np.sin(2 * np.pi * 1.2 * t)[None, None] * rng.uniform(0.5, 1.5, (24, 3, 1))
    return (base + 0.05 * rng.standard_normal((24, 3, 200))).astype(np.float32)
