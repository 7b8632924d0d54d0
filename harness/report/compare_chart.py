"""The comparison chart: each probe's downtime across runs, one row per method.

One panel per probe (and one for the extra instance time when a method created any),
stacked so every panel has the same left edge: the method names line up down the page.
In a panel each method is a row: one dot per run, a dark tick at the median, and, from
three runs on, a box from the 25th to the 75th percentile with whiskers to the minimum
and maximum (with fewer runs a box would draw quartiles nobody measured). The numbers
the reader needs (median, p95, max, runs) are written at the end of each row, so the
chart stands on its own in a slide.

Each panel has its own x axis in seconds, linear from zero unless the values span two
decades or more (then log): a write outage of 30 s and a read outage of 40 ms do not fit
one linear axis. Drawn with the report's style and helpers (:mod:`harness.report.charts`):
no ``pyplot``, layout in inches from real font metrics, colors that do not change
between runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from matplotlib.transforms import blended_transform_factory

from harness.report.charts import (
    LEGEND_X,
    PROBE_COLORS,
    SMALL,
    STYLE,
    TITLE_IN,
    TITLE_SIZE,
    WIDTH_IN,
    _add_legend,
    _format_duration,
    _legend_size,
    _new_figure,
    chart_style,
    save,
    text_width_in,
)
from harness.report.compare_stats import GroupStats, Spread

TITLE: Final = "Downtime per probe across runs"
ROW_IN: Final = 0.5
PANEL_TITLE_IN: Final = 0.42
AXIS_IN: Final = 0.62
PANEL_GAP_IN: Final = 0.12
#: From this many runs on a row gets a box (quartiles) and whiskers (min–max).
BOX_FROM_RUNS: Final = 3
#: A panel switches to a log axis when its largest value is this many times its smallest.
LOG_RATIO: Final = 100.0
MEDIAN_COLOR: Final = "#1d1d1f"
MISSING_COLOR: Final = "#777777"
LOWER_BOUND_LABEL: Final = (
    "the run ended first (still down, or the instance still there): a lower bound"
)


def group_color(index: int) -> str:
    """The color of the ``index``-th group: the same method has the same color everywhere."""
    return PROBE_COLORS[index % len(PROBE_COLORS)]


@dataclass(frozen=True)
class Row:
    """One method in one panel: the per-run values (seconds) and their spread."""

    group: str
    color: str
    seconds: tuple[float, ...]
    #: Per run: True when the value is a lower bound (the run ended while down).
    lower_bound: tuple[bool, ...]
    spread: Spread | None


@dataclass(frozen=True)
class Panel:
    title: str
    xlabel: str
    rows: list[Row]


def panels(groups: Sequence[GroupStats]) -> list[Panel]:
    """What the chart draws: a panel per probe (first-seen order), then instance time."""
    probes: list[str] = []
    for group in groups:
        probes += [p for p in group.probes if p not in probes]
    out = []
    for probe in probes:
        rows = []
        detail = ""
        for i, group in enumerate(groups):
            stats = group.probes.get(probe)
            if stats is None:
                rows.append(Row(group.name, group_color(i), (), (), None))
                continue
            detail = detail or stats.detail
            runs = [
                r.summary.probes[probe]
                for r in group.runs
                if probe in r.summary.probes and r.summary.probes[probe].ops
            ]
            rows.append(
                Row(
                    group.name, group_color(i),
                    tuple(p.downtime_ms / 1000 for p in runs),
                    tuple(p.down_at_end for p in runs),
                    stats.downtime_ms,
                )
            )  # fmt: skip
        title = f"Probe {probe}" + (f" ({detail})" if detail else "") + ": downtime per run"
        out.append(Panel(title, "downtime (s)", rows))
    if any(g.extra_ms.max > 0 for g in groups):
        rows = [
            Row(
                g.name, group_color(i), tuple(v / 1000 for v in g.extra_ms.values),
                tuple(bool(r.extra.open_at_end) for r in g.runs), g.extra_ms,
            )
            for i, g in enumerate(groups)
        ]  # fmt: skip
        out.append(
            Panel(
                "Extra instance time per run (a temporary instance is billed while it exists)",
                "instance time beyond the cluster's starting size (s)",
                rows,
            )
        )
    return out


def _stats_text(row: Row) -> str:
    if row.spread is None:
        return "not measured"
    s = row.spread
    ge = "≥ " if any(row.lower_bound) else ""
    runs = f"{s.n} run" + ("s" if s.n != 1 else "")
    if s.n == 1:
        return f"{ge}{_format_duration(s.median)} · {runs}"
    return (
        f"median {ge}{_format_duration(s.median)} · p95 {_format_duration(s.p95)} · "
        f"max {_format_duration(s.max)} · {runs}"
    )


def _is_log(values: Sequence[float]) -> bool:
    if not values or min(values) <= 0:
        return False
    return max(values) / min(values) >= LOG_RATIO


def _limits(values: Sequence[float], log: bool) -> tuple[float, float]:
    if not values:
        return 0.0, 1.0
    if log:
        return 10 ** math.floor(math.log10(min(values))), 10 ** math.ceil(math.log10(max(values)))
    top = max(values) * 1.08 if max(values) > 0 else 1.0
    return -0.012 * top, top  # a little room left of 0, so a dot at 0 is whole


def _seconds_label(value: float, _pos: object) -> str:
    return f"{value:g}"


def _offsets(n: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Vertical offsets of a row's dots, in run order: spread, never random (the same runs
    give the same chart)."""
    if n <= 1:
        return np.zeros(n)
    return np.linspace(-0.2, 0.2, n)


def _draw_row(ax: Any, y: float, row: Row) -> None:
    values = np.asarray(row.seconds, dtype=np.float64)
    s = row.spread
    if s is None or not len(values):
        ax.text(0.01, y, "not measured by this method", transform=_blend(ax), va="center",
                ha="left", fontsize=SMALL, color=MISSING_COLOR, style="italic")  # fmt: skip
        return
    if len(values) >= BOX_FROM_RUNS:
        q1, q3 = np.percentile(values, [25, 75])
        ax.hlines(y, values.min(), values.max(), color=row.color, linewidth=1.4, zorder=2)
        ax.vlines([values.min(), values.max()], y - 0.13, y + 0.13, color=row.color,
                  linewidth=1.4, zorder=2)  # fmt: skip
        ax.broken_barh([(q1, max(q3 - q1, 0.0))], (y - 0.26, 0.52), facecolors=row.color,
                       alpha=0.22, edgecolors=row.color, linewidth=1.2, zorder=2)  # fmt: skip
    ax.vlines(s.median / 1000, y - 0.34, y + 0.34, color=MEDIAN_COLOR, linewidth=2.4, zorder=4)
    ys = y + _offsets(len(values))
    bound = np.asarray(row.lower_bound, dtype=bool)
    if (~bound).any():
        ax.scatter(values[~bound], ys[~bound], s=46, color=row.color, edgecolors="white",
                   linewidths=0.8, zorder=5)  # fmt: skip
    if bound.any():
        ax.scatter(values[bound], ys[bound], s=58, marker=">", facecolors="white",
                   edgecolors=row.color, linewidths=1.4, zorder=5)  # fmt: skip


def _blend(ax: Any) -> Any:
    return blended_transform_factory(ax.transAxes, ax.transData)


def comparison_figure(groups: Sequence[GroupStats]) -> Figure:
    """The chart described in the module docstring."""
    drawn = panels(groups)
    names = [g.name for g in groups]
    size = STYLE["ytick.labelsize"]
    label_in = max((text_width_in(n, size, "bold") for n in names), default=1.0)
    left_in = max(1.3, label_in + 0.45)
    texts = [_stats_text(row) for panel in drawn for row in panel.rows]
    right_in = max((text_width_in(t, SMALL) for t in texts), default=1.0) + 0.5
    axes_in = WIDTH_IN - left_in - right_in
    n = max(1, len(groups))
    panel_in = PANEL_TITLE_IN + n * ROW_IN + 0.1 + AXIS_IN
    any_bound = any(b for p in drawn for r in p.rows for b in r.lower_bound)
    any_box = any(len(r.seconds) >= BOX_FROM_RUNS for p in drawn for r in p.rows)
    handles: list[Any] = [
        Line2D([], [], linestyle="none", marker="o", markersize=7, color="#555555",
               markeredgecolor="white", label="one run"),
        Line2D([], [], linestyle="none", marker="|", markersize=14, markeredgewidth=2.4,
               color=MEDIAN_COLOR, label="median of the runs"),
    ]  # fmt: skip
    if any_box:
        handles.append(
            Patch(facecolor="#555555", alpha=0.25, edgecolor="#555555",
                  label=f"box: 25–75 %, whiskers: min–max ({BOX_FROM_RUNS}+ runs)")
        )  # fmt: skip
    if any_bound:
        handles.append(
            Line2D([], [], linestyle="none", marker=">", markersize=7, color="#555555",
                   markerfacecolor="white", label=LOWER_BOUND_LABEL)
        )  # fmt: skip
    legend_cols, legend_in = _legend_size(handles, max_columns=2)
    body_in = max(1, len(drawn)) * panel_in + max(0, len(drawn) - 1) * PANEL_GAP_IN
    height = TITLE_IN + body_in + legend_in
    fig = _new_figure(WIDTH_IN, height)
    fig.text(LEGEND_X, 1 - 0.27 / height, TITLE, fontsize=TITLE_SIZE, fontweight="bold",
             va="center")  # fmt: skip
    runs = sum(len(g.runs) for g in groups)
    fig.text(
        LEGEND_X, 1 - 0.52 / height,
        f"{runs} run{'s' if runs != 1 else ''} in {len(groups)} group"
        f"{'s' if len(groups) != 1 else ''} (one per scenario); each panel has its own x axis; "
        "p95 by linear interpolation between runs",
        fontsize=SMALL, color="#555555", va="center",
    )  # fmt: skip
    top = height - TITLE_IN
    if not drawn:
        fig.text(0.5, (legend_in + body_in / 2) / height, "no probe recorded an attempt",
                 ha="center", va="center", color="#555555")  # fmt: skip
    for panel in drawn:
        plot_in = n * ROW_IN + 0.1
        bottom = top - PANEL_TITLE_IN - plot_in
        ax = fig.add_axes(
            (left_in / WIDTH_IN, bottom / height, axes_in / WIDTH_IN, plot_in / height)
        )
        fig.text(LEGEND_X, (top - PANEL_TITLE_IN / 2) / height, panel.title, fontsize=12,
                 fontweight="bold", va="center")  # fmt: skip
        values = [v for row in panel.rows for v in row.seconds]
        log = _is_log(values)
        if log:
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.xaxis.set_major_formatter(FuncFormatter(_seconds_label))
        ax.set_xlim(*_limits(values, log))
        ax.set_ylim(n - 0.5, -0.5)
        ax.set_yticks(range(len(panel.rows)), [row.group for row in panel.rows])
        ax.tick_params(axis="y", length=0)
        for tick, row in zip(ax.get_yticklabels(), panel.rows, strict=True):
            tick.set_color(row.color)
            tick.set_fontweight("bold")
        ax.grid(axis="x", which="major", color="#e5e5e5", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.set_xlabel(panel.xlabel + (", log scale" if log else ""))
        if values and max(values) == 0:
            ax.text(0.5, 0.5, "no downtime in any run", transform=ax.transAxes, ha="center",
                    va="center", fontsize=SMALL, color=MISSING_COLOR, style="italic",
                    bbox={"fc": "white", "ec": "none"})  # fmt: skip
        for i, row in enumerate(panel.rows):
            if i:
                ax.axhline(i - 0.5, color="#ececec", linewidth=0.8, zorder=0)
            _draw_row(ax, i, row)
            ax.text(1.0 + 0.12 / axes_in, i, _stats_text(row), transform=_blend(ax),
                    ha="left", va="center", fontsize=SMALL,
                    color=MISSING_COLOR if row.spread is None else "#1d1d1f",
                    clip_on=False)  # fmt: skip
        top = bottom - AXIS_IN - PANEL_GAP_IN
    _add_legend(fig, handles, legend_cols, legend_in, height)
    return fig


def render_comparison_chart(
    groups: Sequence[GroupStats], formats: Sequence[str]
) -> dict[str, bytes]:
    """Format (``png``, ``svg``) → bytes of :func:`comparison_figure`."""
    with chart_style():
        figure = comparison_figure(groups)
        out = {fmt: save(figure, fmt) for fmt in formats}
        figure.clear()
    return out
