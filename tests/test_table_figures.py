"""Results tables as a reader sees them: the printed table and the figure."""

import re

import numpy as np
import pandas as pd
import pytest

from skecg.evaluation import format_table, plot_table

pytest.importorskip("matplotlib")


def _row(model, pretraining, regime, auc, delta=None, n_seeds=1.0):
    row = dict(model=model, pretraining=pretraining, regime=regime,
               protocol=f"{regime} (paper recipe)", recipe=np.nan, n_train=352, n_seeds=n_seeds,
               test_auc=auc, test_auc_low=auc - 0.05, test_auc_high=min(1.0, auc + 0.04),
               baseline=np.nan, delta=np.nan, delta_low=np.nan, delta_high=np.nan)
    if delta is not None:
        row.update(baseline=auc - delta, delta=delta, delta_low=delta - 0.03,
                   delta_high=delta + 0.02)
    return row


@pytest.fixture
def table():
    """The paper table's shape: per method a pretrained row, an identical random-init row, a
    finetuned row and an identical supervised row; one baseline below chance."""
    rows = []
    for method in ("SimCLR", "BYOL", "CPC"):
        rows += [_row(method, method, "linear", 0.75, delta=0.30),
                 _row(method, "none (random init)", "linear", 0.45),
                 _row(method, method, "finetune", 0.83, delta=-0.02),
                 _row(method, "none (supervised)", "supervised", 0.855)]
    rows[9].update(test_auc=0.53, test_auc_low=0.45, test_auc_high=0.6)  # CPC's own result
    return pd.DataFrame(rows)


def _labels(fig):
    return [t.get_text() for t in fig.axes[0].get_yticklabels()]


def test_plot_labels_are_distinct_and_identical_baselines_drawn_once(table, tmp_path):
    fig = plot_table(table, tmp_path / "t.png")
    labels = _labels(fig)
    assert len(labels) == len(set(labels)) == 9  # 12 rows, 3 identical baselines merged
    assert not any(re.search(r"(\w+) / \1\b", label) for label in labels)  # no "CPC / CPC"
    assert "SimCLR pretrained / linear" in labels and "CPC pretrained / finetune" in labels
    assert "random init (SimCLR, BYOL) / linear" in labels
    assert "random init (CPC) / linear" in labels  # a different result is not merged
    assert "supervised (SimCLR, BYOL, CPC)" in labels
    assert (tmp_path / "t.png").stat().st_size > 0


def test_plot_axis_starts_at_chance_or_below_with_a_chance_line(table):
    ax = plot_table(table).axes[0]
    left, right = ax.get_xlim()
    assert left <= 0.40 - 1e-9 and right == 1.0  # the random-init interval reaches 0.40
    assert any(np.allclose(line.get_xdata(), 0.5) for line in ax.get_lines())
    high = table[table["test_auc_low"] > 0.6]
    left, _ = plot_table(high).axes[0].get_xlim()
    assert left == 0.45  # chance in view, even when every result is far above it
    bars = ax.patches
    assert all(np.isclose(bar.get_x(), 0.5) for bar in bars)  # bars measure AUC above chance


def test_plot_draws_paired_deltas_with_intervals_in_a_second_panel(table):
    fig = plot_table(table)
    assert len(fig.axes) == 2
    ax = fig.axes[1]
    assert any(np.allclose(line.get_xdata(), 0.0) for line in ax.get_lines())  # no difference
    from matplotlib.collections import PathCollection

    points = np.concatenate([c.get_offsets() for c in ax.collections
                             if isinstance(c, PathCollection)])
    assert sorted(np.round(points[:, 0], 3)) == sorted([0.30, -0.02] * 3)
    caps = [line for line in ax.get_lines() if line.get_marker() == "|"]
    assert caps  # interval ends drawn
    no_delta = table.drop(columns=["baseline", "delta", "delta_low", "delta_high"])
    assert len(plot_table(no_delta).axes) == 1


def test_plot_title_names_the_regimes(table):
    fig = plot_table(table, title="PTB-XL test macro AUC")
    assert fig._suptitle.get_text() == ("PTB-XL test macro AUC\n"
                                        "regime: linear, finetune, supervised")
    only = plot_table(table[table["regime"] == "linear"])
    assert only._suptitle.get_text().endswith("regime: linear")


def test_printed_table_shows_what_a_reader_needs_without_nan(table):
    text = format_table(table)
    lines = text.splitlines()
    assert lines[0].split() == ["model", "pretraining", "protocol", "test", "AUC", "[95%",
                                "interval]", "delta", "vs", "baseline", "[95%", "interval]",
                                "seeds"]
    assert set(lines[1]) == {"-", " "} and len(lines) == 2 + len(table)
    assert "nan" not in text.lower() and "1.0" not in text
    assert re.search(r"^SimCLR +SimCLR +linear \(paper recipe\) +0\.750 \[0\.700, 0\.790\] "
                     r"+\+0\.300 \[\+0\.270, \+0\.320\] +1$", text, re.M)
    baseline = next(line for line in lines if "none (random init)" in line)
    assert re.search(r"0\.450 \[0\.400, 0\.490\] {30,}1$", baseline)  # delta cell empty


def test_printed_table_keeps_only_columns_that_exist():
    table = pd.DataFrame([dict(model="CPC", pretraining="CPC", protocol="probe",
                               test_auc=0.8, test_auc_low=0.75, test_auc_high=0.85)])
    assert format_table(table).splitlines()[2].split() == ["CPC", "CPC", "probe", "0.800",
                                                          "[0.750,", "0.850]"]
    missing = table.assign(test_auc_low=np.nan, protocol=np.nan, n_seeds=np.nan)
    assert "nan" not in format_table(missing)
