"""The on-disk ECG store: exact round trip, atomic and resumable appends, batch-wise reads."""

import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import Bunch

from skecg._validation import check_ecg_array
from skecg.datasets import ECGStore, StoredECGArray, build_ecg_store, load_ecg_store


def _source(n, seed, n_samples=50, labels=("A", "B")):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3, n_samples)).astype(np.float32)
    y = rng.integers(0, 2, size=(n, len(labels))).astype(np.float32)
    meta = pd.DataFrame({"record": [f"{seed}_{i:03d}" for i in range(n)], "age": rng.random(n)})
    return Bunch(X=X, y=y, label_names=list(labels), meta=meta, fs=100.0,
                 lead_names=("I", "II", "V1"), excluded=[f"HR{seed}"])


def test_round_trip_indexing_meta_and_labels(tmp_path):
    a, b = _source(7, 1), _source(5, 2, labels=("B", "C"))
    store = build_ecg_store(tmp_path / "s", {"a": a, "b": lambda: b}, verbose=False)
    ref = np.concatenate([a.X, b.X])
    X = store.X
    assert isinstance(X, StoredECGArray) and X.shape == (12, 3, 50) and len(X) == 12
    np.testing.assert_array_equal(np.asarray(X), ref)
    for key in (3, -1, slice(2, 9), slice(None, None, -3), [11, 0, 6, 7, 6],
                np.arange(12) % 2 == 0, (slice(5, 8), 1), (4, slice(None), slice(10, 20)),
                (Ellipsis, 7), (np.array([8, 2]), [0, 2])):
        np.testing.assert_array_equal(X[key], ref[key], err_msg=str(key))
    with pytest.raises(IndexError):
        X[12]
    meta = store.meta
    assert meta["source"].tolist() == ["a"] * 7 + ["b"] * 5
    assert meta["record"].tolist() == list(a.meta["record"]) + list(b.meta["record"])
    y, names = store.labels()
    assert names == ["A", "B", "C"]
    np.testing.assert_array_equal(y[:7, :2], a.y)
    np.testing.assert_array_equal(y[7:, 1:], b.y)
    bunch = load_ecg_store(tmp_path / "s")
    assert bunch.fs == 100.0 and bunch.lead_names == ("I", "II", "V1")
    assert bunch.excluded == ["HR1", "HR2"]
    assert check_ecg_array(X) is X  # passed through, never copied


def test_pickled_and_forked_arrays_read_their_own_files(tmp_path):
    a = _source(9, 3)
    X = build_ecg_store(tmp_path / "s", {"a": a}, verbose=False).X
    np.testing.assert_array_equal(X[[1, 2]], a.X[[1, 2]])  # opens a descriptor
    clone = pickle.loads(pickle.dumps(X))
    np.testing.assert_array_equal(clone[4:8], a.X[4:8])
    if hasattr(os, "fork"):
        pid = os.fork()
        if pid == 0:  # the child reopens the shard rather than sharing the parent's descriptor
            os._exit(0 if np.array_equal(X[-1], a.X[-1]) else 1)
        assert os.waitpid(pid, 0)[1] == 0


def test_append_is_checked_and_all_or_nothing(tmp_path):
    store = ECGStore(tmp_path / "s")
    store.append(_source(4, 1), source="a")
    assert not store.append(_source(4, 1), source="a")  # already committed: nothing to do
    bad = _source(6, 2)
    bad.X[4, 1, 7] = np.nan
    with pytest.raises(ValueError, match=r"source 'bad': record 2_004 \(row 4\) holds NaN"):
        store.append(bad, source="bad")
    with pytest.raises(ValueError, match="source 'slow'.*50 Hz.*100 Hz"):
        store.append(dict(_source(3, 3), fs=50.0), source="slow")
    with pytest.raises(ValueError, match="source 'short' has 40 samples.*holds 50"):
        store.append(_source(3, 3, n_samples=40), source="short")
    with pytest.raises(ValueError, match="source 'leads' has leads"):
        store.append(dict(_source(3, 3), lead_names=("I", "II", "III")), source="leads")
    assert store.sources == ("a",) and len(store) == 4
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
        ".lock", "manifest.json", "shard-00000.csv", "shard-00000.f32"]


def test_killed_append_leaves_the_store_valid_and_the_build_resumes(tmp_path):
    path = tmp_path / "s"
    build_ecg_store(path, {"a": _source(5, 1)}, verbose=False)
    # a writer killed after its shard is in place but before the manifest commit
    script = textwrap.dedent(f"""
        import os, sys
        import numpy as np
        from sklearn.utils import Bunch
        import skecg.datasets.store as store
        real = store._atomic_write_text
        def die_on_manifest(path, text):
            if path.name == "manifest.json":
                os._exit(9)
            real(path, text)
        store._atomic_write_text = die_on_manifest
        X = np.ones((4, 3, 50), dtype=np.float32)
        store.ECGStore({str(path)!r}).append(Bunch(X=X, fs=100.0, lead_names=("I", "II", "V1")),
                                             source="b")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    assert (path / "shard-00001.f32").exists()  # orphan: written, never committed
    assert ECGStore(path).sources == ("a",) and len(ECGStore(path).X) == 5
    calls = []

    def load_b():
        calls.append("b")
        return _source(4, 2)

    store = build_ecg_store(path, {"a": lambda: calls.append("a"), "b": load_b}, verbose=False)
    assert calls == ["b"]  # the committed source is not loaded again
    assert store.sources == ("a", "b") and len(store) == 9
    np.testing.assert_array_equal(store.X[5:], _source(4, 2).X)
    assert not [p for p in path.iterdir() if p.name.startswith(".tmp-")]
    manifest = json.loads((path / "manifest.json").read_text())
    assert [s["n_records"] for s in manifest["shards"]] == [5, 4]


def test_truncated_shard_is_reported(tmp_path):
    store = build_ecg_store(tmp_path / "s", {"a": _source(4, 1)}, verbose=False)
    with open(tmp_path / "s" / "shard-00000.f32", "r+b") as f:
        f.truncate(3 * 3 * 50 * 4)
    with pytest.raises(OSError, match="shorter than its manifest"):
        store.X[3]


def test_pipeline_fits_on_a_store_without_materialising_it(tmp_path, monkeypatch):
    from sklearn.pipeline import Pipeline

    from skecg.preprocessing import LeadStandardizer, StandardizedECG
    from skecg.ssl import CPCEncoder

    source = _source(24, 5, n_samples=120)
    X = build_ecg_store(tmp_path / "s", {"a": source}, verbose=False).X

    def refuse(*args, **kwargs):
        raise AssertionError("the store was materialised")

    monkeypatch.setattr(StoredECGArray, "__array__", refuse)
    monkeypatch.setattr(StandardizedECG, "__array__", refuse)
    pipe = Pipeline([("std", LeadStandardizer()), ("cpc", CPCEncoder(
        encoder_width=8, context_width=8, n_encoder_layers=1, n_context_layers=1, steps=2,
        n_negatives=4, crop_length=100, window=100, stride=50, batch_size=8, max_epochs=1,
        random_state=0))])
    embeddings = pipe.fit_transform(X)
    assert embeddings.shape == (24, 24) and np.isfinite(embeddings).all()
    assert isinstance(pipe.named_steps["std"].transform(X), StandardizedECG)
    monkeypatch.undo()
    in_ram = Pipeline([("std", LeadStandardizer()), ("cpc", pipe.named_steps["cpc"])])
    in_ram.named_steps["std"].fit(source.X)
    np.testing.assert_allclose(in_ram.transform(source.X), embeddings, atol=1e-5)


def test_encoder_reads_a_store_in_dataloader_workers(tmp_path):
    from skecg.ssl import CPCEncoder

    X = build_ecg_store(tmp_path / "s", {"a": _source(16, 6, n_samples=100)}, verbose=False).X
    params = dict(encoder_width=8, context_width=8, n_encoder_layers=1, n_context_layers=1,
                  steps=2, n_negatives=4, crop_length=100, window=100, stride=50, batch_size=8,
                  max_epochs=1, random_state=0)
    workers = CPCEncoder(num_workers=2, **params).fit(X)
    assert workers.net_.get_params()["iterator_train__num_workers"] == 2
    alone = CPCEncoder(**params).fit(X)
    np.testing.assert_allclose(workers.history_[-1, "train_loss"],
                               alone.history_[-1, "train_loss"], rtol=1e-5)
