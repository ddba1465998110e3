"""Tables and figures of the protocols' results: Markdown, a printed summary and plots."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._protocols import LEAD_SUBSETS


def markdown_table(table: pd.DataFrame, digits: int = 3) -> str:
    """The table as GitHub Markdown, numbers rounded to ``digits``."""
    table = table.round(digits)
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * table.shape[1]]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def _interval_text(value, low, high, digits: int, signed: bool = False) -> str:
    """``"0.812 [0.781, 0.840]"``; empty when ``value`` is missing."""
    if value is None or pd.isna(value):
        return ""
    sign = "+" if signed else ""
    text = f"{value:{sign}.{digits}f}"
    if low is not None and high is not None and not (pd.isna(low) or pd.isna(high)):
        text += f" [{low:{sign}.{digits}f}, {high:{sign}.{digits}f}]"
    return text


def format_table(table: pd.DataFrame, digits: int = 3) -> str:
    """The columns a reader needs, as aligned plain text (for a terminal or a log).

    Shows ``model``, ``pretraining``, ``protocol``, the test AUC with its interval
    (``0.812 [0.781, 0.840]``), the paired delta to the baseline with its interval and
    ``n_seeds`` as an integer; cells that do not apply are empty, never ``nan``. The full table
    (every column) belongs in files: see :func:`markdown_table` and ``DataFrame.to_csv``.

    Parameters
    ----------
    table : DataFrame
        A results table (:data:`TABLE_COLUMNS`; missing columns are left out).
    digits : int
        Decimals of AUCs and deltas.

    Returns
    -------
    str
        One header line, a rule and one line per row.
    """
    def cell(row, name):
        value = row.get(name)
        return "" if value is None or (not isinstance(value, str) and pd.isna(value)) \
            else str(value)

    columns = {"model": lambda r: cell(r, "model"),
               "pretraining": lambda r: cell(r, "pretraining"),
               "protocol": lambda r: cell(r, "protocol") or cell(r, "regime")}
    if "test_auc" in table:
        columns["test AUC [95% interval]"] = lambda r: _interval_text(
            r.get("test_auc"), r.get("test_auc_low"), r.get("test_auc_high"), digits)
    if "delta" in table:
        columns["delta vs baseline [95% interval]"] = lambda r: _interval_text(
            r.get("delta"), r.get("delta_low"), r.get("delta_high"), digits, signed=True)
    if "n_seeds" in table:
        columns["seeds"] = lambda r: "" if pd.isna(r.get("n_seeds")) else str(int(r["n_seeds"]))
    cells = [[name for name in columns]]
    cells += [[render(row) for render in columns.values()] for _, row in table.iterrows()]
    widths = [max(len(line[j]) for line in cells) for j in range(len(columns))]
    lines = ["  ".join(text.ljust(w) for text, w in zip(line, widths, strict=True)).rstrip()
             for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _short_pretraining(pretraining) -> str:
    """``"none (random init)"`` -> ``"random init"``; empty for a missing value."""
    if not isinstance(pretraining, str):
        return ""
    text = pretraining.strip()
    if text.startswith("none (") and text.endswith(")"):
        return text[len("none ("):-1]
    return text


def _is_baseline_row(row) -> bool:
    return isinstance(row.get("pretraining"), str) and row["pretraining"].startswith("none")


def _bar_label(row) -> str:
    """A label naming what differs between rows: ``"SimCLR pretrained / linear"``,
    ``"random init (SimCLR, BYOL) / linear"``, ``"supervised (CPC)"``."""
    model = str(row["model"])
    pretraining = _short_pretraining(row.get("pretraining"))
    if _is_baseline_row(row):
        label = f"{pretraining} ({model})"
    elif not pretraining or pretraining == model:
        label = f"{model} pretrained"
    elif pretraining.startswith(f"{model} ("):  # "SimCLR (one given per split)"
        label = f"{model} pretrained{pretraining[len(model):].split(',')[0]}"
        label = label if label.endswith(")") else label + ")"
    else:
        label = f"{model} ({pretraining})"
    regime = row.get("regime")
    if isinstance(regime, str) and regime and regime not in label:
        label += f" / {regime}"
    return label


def _plot_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Rows to draw, with a ``label``: identical baseline rows (the same random-init or
    supervised result repeated once per method) are drawn once, naming every model."""
    rows = table.reset_index(drop=True).copy()
    rows["label"] = [_bar_label(row) for _, row in rows.iterrows()]
    key_columns = [c for c in ("pretraining", "regime", "protocol", "test_auc", "test_auc_low",
                               "test_auc_high") if c in rows]
    keep, merged = [], {}
    for i, row in rows.iterrows():
        if not _is_baseline_row(row):
            keep.append(i)
            continue
        key = tuple(str(row[c]) for c in key_columns)
        if key in merged:
            merged[key][1].append(str(row["model"]))
            continue
        merged[key] = (i, [str(row["model"])])
        keep.append(i)
    for first, models in merged.values():
        if len(models) > 1:
            rows.loc[first, "label"] = _bar_label({**rows.loc[first].to_dict(),
                                                   "model": ", ".join(dict.fromkeys(models))})
    return rows.loc[keep].reset_index(drop=True)


def plot_table(table: pd.DataFrame, path=None, title: str = "PTB-XL test macro AUC"):
    """Chart of ``test_auc`` with its bootstrap interval, and the paired deltas; saved if ``path``.

    Each row is a bar from chance (AUC 0.5, a dashed line) to its test AUC, with the 95%
    interval; the axis starts just below chance (0.45), or lower when an interval reaches below.
    Pretrained models are blue, baselines grey. Labels name the model, its pretraining (when it
    is not the model itself) and the regime; identical baseline rows (the same random-init or
    supervised result repeated for each method) are drawn once. When the table has a ``delta``
    column, a second panel draws each paired difference to its baseline with its interval
    (``delta_low``, ``delta_high``) around a line at 0: compare models by these, not by
    overlapping intervals. The title names the regimes shown.

    Parameters
    ----------
    table : DataFrame
        A results table (:data:`TABLE_COLUMNS`; ``model``, ``test_auc``, ``test_auc_low`` and
        ``test_auc_high`` are required).
    path : path or None
        Where to save the figure (PNG, PDF, ... by extension).
    title : str
        Title; the regimes in the table are added below it.

    Returns
    -------
    matplotlib.figure.Figure
        Needs matplotlib (``pip install skecg[plot]``).
    """
    plt = _pyplot()
    rows = _plot_rows(table)
    auc = rows["test_auc"].to_numpy(dtype=float)
    low = rows["test_auc_low"].to_numpy(dtype=float)
    high = rows["test_auc_high"].to_numpy(dtype=float)
    has_delta = "delta" in rows and rows["delta"].notna().any()
    y = np.arange(len(rows))
    fig, axes = plt.subplots(1, 2 if has_delta else 1, sharey=True, squeeze=False,
                             figsize=(12 if has_delta else 8, 0.42 * len(rows) + 1.9),
                             gridspec_kw={"width_ratios": [3, 2]} if has_delta else None)
    ax = axes[0, 0]
    baseline = np.array([_is_baseline_row(row) for _, row in rows.iterrows()])
    ax.barh(y, auc - 0.5, left=0.5, height=0.65,
            color=np.where(baseline, "#a6a6a6", "#4c72b0"),
            xerr=np.clip(np.vstack([auc - low, high - auc]), 0, None), capsize=3,
            ecolor="black")
    left = min(0.45, np.nanmin(low) - 0.03) if len(rows) else 0.45  # chance line in view
    ax.set_xlim(max(0.0, np.floor(left * 20) / 20), 1.0)
    ax.axvline(0.5, color="#555555", linestyle="--", linewidth=1)
    ax.set_yticks(y, rows["label"])
    ax.set_ylim(len(rows) - 0.5, -0.8)
    ax.set_xlabel("test macro AUC (95% bootstrap interval)")
    if has_delta:
        ax_delta = axes[0, 1]
        delta = rows["delta"].to_numpy(dtype=float)
        d_low = rows["delta_low"].to_numpy(dtype=float)
        d_high = rows["delta_high"].to_numpy(dtype=float)
        shown = ~np.isnan(delta)
        colors = np.where(d_low[shown] > 0, "#2a9d4a", np.where(d_high[shown] < 0, "#c44e52",
                                                                "#4c72b0"))
        ax_delta.errorbar(delta[shown], y[shown], fmt="none",
                          xerr=np.clip(np.vstack([delta - d_low, d_high - delta])[:, shown],
                                       0, None),
                          ecolor="black", capsize=3)
        ax_delta.scatter(delta[shown], y[shown], c=colors, zorder=3)
        ax_delta.axvline(0.0, color="#555555", linestyle="--", linewidth=1)
        for yi, d in zip(y[shown], delta[shown], strict=True):
            ax_delta.annotate(f"{d:+.3f}", (d, yi), textcoords="offset points", xytext=(0, 6),
                              ha="center", fontsize=8)
        span = np.nanmax(np.abs(np.concatenate([d_low[shown], d_high[shown]])))
        ax_delta.set_xlim(-1.15 * span, 1.15 * span)
        ax_delta.set_xlabel("paired AUC difference to its baseline\n(95% bootstrap interval)")
        ax_delta.tick_params(axis="y", left=False)
    regimes = [r for r in dict.fromkeys(table["regime"]) if isinstance(r, str)] \
        if "regime" in table else []
    heading = title if not regimes else f"{title}\nregime: {', '.join(regimes)}"
    fig.suptitle(heading, fontsize=11)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(color="#4c72b0", label="pretrained"), Patch(color="#a6a6a6",
                                                               label="baseline"),
               Line2D([], [], color="#555555", linestyle="--", label="chance (AUC 0.5)")]
    if has_delta:
        handles += [Line2D([], [], marker="o", linestyle="", color=c, label=text)
                    for c, text in (("#2a9d4a", "delta > 0"), ("#c44e52", "delta < 0"),
                                    ("#4c72b0", "delta interval includes 0"))]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8,
               frameon=False, handlelength=1.5, columnspacing=1.2)
    fig.tight_layout(rect=(0, 0.35 / fig.get_figheight(), 1, 1))
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def plot_lead_robustness(table: pd.DataFrame, path=None,
                         title: str = "Test macro AUC on subsets of leads"):
    """Chart of a :func:`lead_robustness` table: AUC per subset, and the paired deltas.

    Left: each subset's test macro AUC with its 95% bootstrap interval (one marker per model,
    side by side), the chance line at AUC 0.5. Right: the paired difference to all leads with
    its interval, around a line at 0. Subsets run along the x axis from fewest to most leads.

    Parameters
    ----------
    table : DataFrame
        One or more concatenated :func:`lead_robustness` tables (``model``, ``subset``,
        ``n_leads``, ``test_auc``, ``test_auc_low``, ``test_auc_high``, ``delta``,
        ``delta_low``, ``delta_high``).
    path : path or None
        Where to save the figure (PNG, PDF, ... by extension).
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        Needs matplotlib (``pip install skecg[plot]``).
    """
    plt = _pyplot()
    table = table.reset_index(drop=True)
    subsets = list(dict.fromkeys(table.sort_values("n_leads", kind="stable")["subset"]))
    n_leads = dict(zip(table["subset"], table["n_leads"], strict=True))
    limb = "+".join(LEAD_SUBSETS[2])
    labels = [s if n_leads[s] <= 2 else "limb leads (6)" if s == limb else f"{n_leads[s]} leads"
              for s in subsets]
    models = list(dict.fromkeys(table["model"]))
    x = np.arange(len(subsets))
    offsets = (np.arange(len(models)) - (len(models) - 1) / 2) * min(0.25, 0.8 / len(models))
    fig, (ax, ax_delta) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, model in enumerate(models):
        rows = table[table["model"] == model].set_index("subset").reindex(subsets)
        color = colors[k % len(colors)]
        auc = rows["test_auc"].to_numpy(dtype=float)
        err = np.clip(np.vstack([auc - rows["test_auc_low"].to_numpy(dtype=float),
                                 rows["test_auc_high"].to_numpy(dtype=float) - auc]), 0, None)
        ax.errorbar(x + offsets[k], auc, yerr=err, fmt="o", color=color, capsize=3,
                    label=model)
        delta = rows["delta"].to_numpy(dtype=float)
        d_err = np.clip(np.vstack([delta - rows["delta_low"].to_numpy(dtype=float),
                                   rows["delta_high"].to_numpy(dtype=float) - delta]), 0, None)
        ax_delta.errorbar(x + offsets[k], delta, yerr=d_err, fmt="o", color=color, capsize=3,
                          label=model)
    ax.axhline(0.5, color="#555555", linestyle="--", linewidth=1, label="chance (AUC 0.5)")
    low = np.nanmin(table["test_auc_low"].to_numpy(dtype=float))
    ax.set_ylim(max(0.0, min(0.45, np.floor((low - 0.03) * 20) / 20)), 1.0)
    ax.set_ylabel("test macro AUC (95% bootstrap interval)")
    ax_delta.axhline(0.0, color="#555555", linestyle="--", linewidth=1)
    ax_delta.set_ylabel("paired AUC difference to all leads\n(95% bootstrap interval)")
    for axis in (ax, ax_delta):
        axis.set_xticks(x, labels)
        axis.set_xlim(-0.5, len(subsets) - 0.5)
        axis.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def _pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend (the ``plot`` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'skecg[plot]'") from exc
    return plt
