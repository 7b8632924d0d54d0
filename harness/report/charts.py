"""The report's charts: timeline lanes, latency over time, error breakdown (PNG and SVG).

Drawn with matplotlib's object API on an Agg canvas, never through ``pyplot``: a report is
written at the end of a run inside a long-lived process (and in notebooks), so it must
not switch backends, keep figures alive or change ``rcParams`` for anyone else. The style
is applied with ``rc_context`` around drawing *and* saving, and dropped afterwards.

Layout is computed in inches rather than left to ``tight_layout``: the timeline and the
latency chart get the same left and right margins so their time axes line up one above
the other in the HTML page, and marker labels are placed in rows measured with the real
font metrics so they never overlap, however close the actions are.

Colors are fixed per error class (:data:`ERROR_COLORS`) so ``connect_refused`` is the
same purple on every chart of every run; ok attempts are gray; outages are shaded red.
"""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from matplotlib.typing import RcKeyType

from harness.analysis.outages import UNCLASSIFIED
from harness.report.series import ChartData, Lane, Marker, MarkerKind

#: One color per error class of :mod:`harness.probes.taxonomy`, in its order; the same on
#: every chart. Classes a future taxonomy adds get a stable color from :data:`_SPARE`.
ERROR_COLORS: Final[dict[str, str]] = {
    "tls_verify_failed": "#d62728",
    "tls_handshake": "#ff7f0e",
    "tls_not_negotiated": "#8c564b",
    "connect_refused": "#9467bd",
    "connect_timeout": "#e377c2",
    "connection_lost": "#1f77b4",
    "read_only": "#bcbd22",
    "auth_failed": "#17becf",
    "timeout": "#2ca02c",
    "dns_failed": "#393b79",
    "other": "#636363",
    UNCLASSIFIED: "#000000",
}
_SPARE: Final = ("#637939", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354")

#: Probe colors on the latency chart (Dark2: distinct from the error colors' roles).
PROBE_COLORS: Final = (
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666",
)  # fmt: skip

OK_COLOR: Final = "#a3a3a3"
OUTAGE_FACE: Final = "#f4c7c3"
OUTAGE_EDGE: Final = "#c0392b"
OUTAGE_TEXT: Final = "#8b1a10"
MARKER_STYLE: Final[dict[MarkerKind, dict[str, Any]]] = {
    "invoke": {"color": "#1f3b73", "linestyle": "-", "linewidth": 1.3},
    "done": {"color": "#1f3b73", "linestyle": (0, (2, 2)), "linewidth": 1.1},
    "aws": {"color": "#b35900", "linestyle": (0, (5, 2)), "linewidth": 1.1},
}

MARKER_NAMES: Final[dict[MarkerKind, str]] = {
    "invoke": "action invoked (▶)",
    "done": "action done ✓ / failed ✗ / unknown ?; ◆ observed",
    "aws": "cluster event (AWS, or the emulation's RDS-like one)",
}

DPI: Final = 150
#: Title and subtitle above each chart.
TITLE_IN: Final = 0.78
WIDTH_IN: Final = 12.0
RIGHT_IN: Final = 0.4
LANE_IN: Final = 0.9
MARKER_ROW_IN: Final = 0.26
MAX_MARKER_ROWS: Final = 8
#: Outage bands labelled per lane, longest first (the table lists all of them).
MAX_DURATION_LABELS: Final = 40

FONT_SIZE: Final = 11.5
SMALL: Final = 9.5
TITLE_SIZE: Final = 14.0

STYLE: Final[dict[RcKeyType, Any]] = {
    "font.family": "DejaVu Sans",
    "font.size": FONT_SIZE,
    "axes.titlesize": TITLE_SIZE,
    "axes.labelsize": FONT_SIZE,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#555555",
    "xtick.labelsize": 10.5,
    "ytick.labelsize": 10.5,
    "legend.fontsize": 10.5,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "savefig.facecolor": "white",
    "path.simplify": True,
    "agg.path.chunksize": 20_000,
    "svg.hashsalt": "rds-downtime-harness",  # stable ids: the same run gives the same SVG
    "svg.fonttype": "path",  # text as outlines: looks the same on a machine without the font
}


def error_color(error_class: str) -> str:
    """The color of an error class (stable for classes this version does not know)."""
    known = ERROR_COLORS.get(error_class)
    return known or _SPARE[zlib.crc32(error_class.encode()) % len(_SPARE)]


def error_order(classes: set[str]) -> list[str]:
    """Taxonomy order first, then unknown classes by name: legends read the same everywhere."""
    known = [c for c in ERROR_COLORS if c in classes]
    return known + sorted(classes - set(ERROR_COLORS))


@contextmanager
def chart_style() -> Iterator[None]:
    """The report's style for the duration of a ``with`` block only."""
    with mpl.rc_context(STYLE):
        yield


@cache
def _measurer() -> RendererAgg:
    # 72 dpi: one pixel is one point. Agg's metrics (hinted) are what the PNG shows and a
    # little wider than the SVG's outlines, so layouts made with them fit both.
    return RendererAgg(10, 10, 72)  # type: ignore[no-untyped-call]


def text_width_in(text: str, size: float = SMALL, weight: str = "normal") -> float:
    """Width of ``text`` in inches at ``size`` points, from the real font metrics."""
    prop = FontProperties(family=STYLE["font.family"], size=size, weight=weight)
    widest = 0.0
    for line in text.split("\n"):
        width, _, _ = _measurer().get_text_width_height_descent(  # type: ignore[no-untyped-call]
            line or " ", prop, ismath=False
        )
        widest = max(widest, width)
    return widest / 72


def _new_figure(width_in: float, height_in: float) -> Figure:
    figure = Figure(figsize=(width_in, height_in), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def save(figure: Figure, fmt: str) -> bytes:
    """The figure as PNG or SVG bytes (metadata without dates: reproducible output)."""
    buffer = io.BytesIO()
    metadata: dict[str, str | None] = (
        {"Creator": "rds-downtime-harness", "Date": None}
        if fmt == "svg"
        else {"Software": "rds-downtime-harness"}
    )
    figure.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()


@dataclass(frozen=True)
class _Frame:
    """Horizontal geometry shared by the time charts, so their axes line up."""

    left_in: float
    axes_in: float
    window: tuple[float, float]

    def x_in(self, x: float) -> float:
        lo, hi = self.window
        return (x - lo) / (hi - lo) * self.axes_in


def time_frame(data: ChartData) -> _Frame:
    label_in = max((text_width_in(lane.label, 10.5) for lane in data.lanes), default=0.5)
    left = max(1.2, label_in + 0.45)
    return _Frame(left, WIDTH_IN - left - RIGHT_IN, data.window)


def _layout_rows(
    frame: _Frame,
    items: Sequence[tuple[float, str]],
    max_rows: int,
    pad_in: float = 0.08,
    priorities: Sequence[int] | None = None,
) -> list[tuple[int, bool] | None]:
    """Rows for labels anchored at x: (row, flipped-to-the-left) per item, None if left out.

    Items are placed by priority (lowest first), then in x order; each goes into the first
    row where it overlaps no label already there. A label that would run off the right
    edge hangs to the left of its anchor instead. A label that fits in no row is left out
    rather than drawn over another: its line is still drawn, and the report's table lists
    every action and event. A scenario run records dozens of observations around a
    failover; the actions keep their labels, the observations give way.
    """
    ranks = priorities if priorities is not None else [0] * len(items)
    order = sorted(range(len(items)), key=lambda i: (ranks[i], items[i][0]))
    taken: list[list[tuple[float, float]]] = [[] for _ in range(max_rows)]
    out: list[tuple[int, bool] | None] = [None] * len(items)
    for i in order:
        x, text = items[i]
        anchor, width = frame.x_in(x), text_width_in(text) + 0.06
        flipped = anchor + width > frame.axes_in + RIGHT_IN * 0.8
        left = anchor - width if flipped else anchor
        right = anchor if flipped else anchor + width
        for row, spans in enumerate(taken):
            if all(right + pad_in <= a or left >= b + pad_in for a, b in spans):
                spans.append((left, right))
                out[i] = (row, flipped)
                break
    return out


def _marker_lines(
    ax: Any, markers: Sequence[Marker], ymin: float, ymax: float, **kwargs: Any
) -> None:
    for kind, style in MARKER_STYLE.items():
        xs = [m.x for m in markers if m.kind == kind]
        if xs:
            ax.vlines(xs, ymin, ymax, zorder=4, **style, **kwargs)


def _format_duration(ms: float) -> str:
    if ms < 1000:
        return f"{ms:.0f} ms"
    return f"{ms / 1000:.2f} s" if ms < 10_000 else f"{ms / 1000:.1f} s"


def _duration_labels(ax: Any, frame: _Frame, lane: Lane, y: float) -> None:
    """Write each outage's duration on its band; two rows, longest first, never overlapping."""
    ordered = sorted(lane.outages, key=lambda s: -s.duration_ms)[:MAX_DURATION_LABELS]
    taken: list[list[tuple[float, float]]] = [[], []]
    offsets = (-0.27, 0.29)  # y is inverted: negative is above the lane's centre line
    for span in ordered:
        text = ("≥ " if not span.recovered else "") + _format_duration(span.duration_ms)
        centre = frame.x_in((span.start_s + span.end_s) / 2)
        half = text_width_in(text, SMALL, "bold") / 2 + 0.05
        left, right = centre - half, centre + half
        for row, used in enumerate(taken):
            if all(right < a or left > b for a, b in used):
                used.append((left, right))
                ax.text(
                    (span.start_s + span.end_s) / 2, y + offsets[row], text,
                    ha="center", va="center", fontsize=SMALL, fontweight="bold",
                    color=OUTAGE_TEXT, zorder=6, clip_on=True,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
                )  # fmt: skip
                break


def _legend_rows(count: int, columns: int) -> int:
    return max(1, math.ceil(count / columns))


LEGEND_X: Final = 0.012


def _legend_size(handles: Sequence[Any], max_columns: int = 5) -> tuple[int, float]:
    """Columns and height (inches) of a legend below the chart that fits the figure's width.

    Every column is given the widest label's width (matplotlib sizes them one by one, so
    this can only err on the narrow side): no label runs off the figure.
    """
    labels = [str(h.get_label()) for h in handles]
    entry = max((text_width_in(label, STYLE["legend.fontsize"]) for label in labels), default=1.0)
    entry += 0.85  # handle, padding and column spacing
    columns = max(1, min(max_columns, int((WIDTH_IN * (1 - 2 * LEGEND_X)) // entry)))
    return columns, _legend_rows(len(labels), columns) * 0.27 + 0.2


def _add_legend(
    fig: Figure, handles: Sequence[Any], columns: int, legend_in: float, height: float
) -> None:
    fig.legend(
        handles=handles, loc="upper left", ncols=columns, frameon=False,
        bbox_to_anchor=(LEGEND_X, (legend_in - 0.08) / height), borderaxespad=0,
        columnspacing=1.6, handlelength=1.8,
    )  # fmt: skip


def timeline_figure(data: ChartData, title: str) -> Figure:
    """Lanes per probe: ok ticks, failed ticks by error class, outage bands, action markers."""
    frame = time_frame(data)
    lanes = data.lanes or []
    n = max(1, len(lanes))
    labelled = [(m.x, m.label) for m in data.markers]
    priorities = [m.priority for m in data.markers]
    rows = _layout_rows(frame, labelled, MAX_MARKER_ROWS, priorities=priorities)
    placed = [r for r in rows if r is not None]
    n_rows = (max(r for r, _ in placed) + 1) if placed else 0
    left_out = len(rows) - len(placed)
    classes = error_order({c for lane in lanes for c in lane.failed_x})
    kinds = [k for k in MARKER_STYLE if any(m.kind == k for m in data.markers)]
    handles: list[Any] = [
        Line2D([], [], linestyle="none", marker="|", markersize=9, markeredgewidth=1,
               color=OK_COLOR, label="ok attempt"),
        Patch(facecolor=OUTAGE_FACE, edgecolor=OUTAGE_EDGE, label="outage (duration on band)"),
    ]  # fmt: skip
    handles += [
        Line2D([], [], linestyle="none", marker="|", markersize=12, markeredgewidth=1.5,
               color=error_color(c), label=c)
        for c in classes
    ]  # fmt: skip
    handles += [Line2D([], [], label=MARKER_NAMES[k], **MARKER_STYLE[k]) for k in kinds]
    legend_cols, legend_in = _legend_size(handles)
    title_in, top_in = TITLE_IN, n_rows * MARKER_ROW_IN + (0.12 if n_rows else 0.0)
    lanes_in, axis_in = n * LANE_IN, 0.62
    height = title_in + top_in + lanes_in + axis_in + legend_in
    fig = _new_figure(WIDTH_IN, height)
    fx = frame.left_in / WIDTH_IN
    fw = frame.axes_in / WIDTH_IN
    main_bottom = (axis_in + legend_in) / height
    ax = fig.add_axes((fx, main_bottom, fw, lanes_in / height))
    fig.text(
        LEGEND_X, 1 - 0.27 / height, title, fontsize=TITLE_SIZE, fontweight="bold", va="center"
    )
    subtitle = data.reduction
    if left_out:
        subtitle += (
            f"; {left_out} overlapping label{'s' if left_out != 1 else ''} hidden (see the table)"
        )
    fig.text(LEGEND_X, 1 - 0.52 / height, subtitle, fontsize=SMALL, color="#555555", va="center")

    ax.set_xlim(*data.window)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_yticks(range(len(lanes)), [lane.label for lane in lanes])
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.8, zorder=0)
    ax.set_axisbelow(True)
    ax.set_xlabel(data.xlabel)
    for i, lane in enumerate(lanes):
        if i:
            ax.axhline(i - 0.5, color="#d0d0d0", linewidth=0.8, zorder=0)
        if lane.outages:
            ax.broken_barh(
                [(s.start_s, max(s.end_s - s.start_s, 0.0)) for s in lane.outages],
                (i - 0.42, 0.84), facecolors=OUTAGE_FACE, edgecolors=OUTAGE_EDGE,
                linewidth=0.8, zorder=1,
            )  # fmt: skip
        if len(lane.ok_x):
            ax.plot(
                lane.ok_x, np.full(len(lane.ok_x), i), linestyle="none", marker="|",
                markersize=7, markeredgewidth=0.8, color=OK_COLOR, zorder=2,
            )  # fmt: skip
        for cls in error_order(set(lane.failed_x)):
            xs = lane.failed_x[cls]
            ax.plot(
                xs, np.full(len(xs), i), linestyle="none", marker="|", markersize=15,
                markeredgewidth=1.3, color=error_color(cls), zorder=3,
            )  # fmt: skip
        _duration_labels(ax, frame, lane, i)
    if not lanes:
        ax.text(0.5, 0.5, "no probe attempts in this run", transform=ax.transAxes,
                ha="center", va="center", color="#555555")  # fmt: skip
    _marker_lines(ax, data.markers, -0.5, n - 0.5)

    if n_rows:
        top = fig.add_axes(
            (fx, (axis_in + legend_in + lanes_in) / height, fw, top_in / height), sharex=ax
        )
        top.set_ylim(0, n_rows + 0.1)
        top.axis("off")
        for marker, place in zip(data.markers, rows, strict=True):
            if place is None:
                continue
            row, flipped = place
            style = MARKER_STYLE[marker.kind]
            top.vlines(marker.x, 0, row + 0.5, color=style["color"], linewidth=0.7, zorder=1)
            top.text(
                marker.x, row + 0.5, marker.label, ha="right" if flipped else "left",
                va="center", fontsize=SMALL, color=style["color"], zorder=2,
                bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none"},
            )  # fmt: skip

    _add_legend(fig, handles, legend_cols, legend_in, height)
    return fig


def _probe_color(i: int) -> str:
    return PROBE_COLORS[i % len(PROBE_COLORS)]


def _ms_label(value: float, _pos: object) -> str:
    return f"{value:g}"


def _union(spans: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping outages of several probes as one shaded (start, width) each: stacked
    translucent bands would darken where probes agree, which means nothing."""
    merged: list[list[float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, max(b - a, 0.0)) for a, b in merged]


def _decades(lanes: Sequence[Lane]) -> tuple[float, float]:
    """Whole decades around the data: a log axis showing less than one decade has one tick
    label or none, and readers compare runs more easily on round limits."""
    values = [
        array
        for lane in lanes
        for array in (lane.latency.mid, lane.latency.low, lane.latency.high)
        if len(array)
    ]
    data = np.concatenate(values)
    data = data[np.isfinite(data) & (data > 0)]
    if not len(data):
        return 0.1, 1000.0
    low = 10 ** math.floor(math.log10(float(data.min())))
    high = 10 ** math.ceil(math.log10(float(data.max())))
    return low, max(high, low * 10)


def latency_figure(data: ChartData, title: str) -> Figure:
    """Latency of ok attempts from their intended start, log scale, one color per probe."""
    frame = time_frame(data)
    lanes = data.lanes
    binned = any(lane.latency.binned for lane in lanes)
    handles: list[Any] = []
    for i, lane in enumerate(lanes):
        series = lane.latency
        label = (
            f"{lane.name} (median per {series.bin_s:.3g} s)"
            if series.binned
            else f"{lane.name} (each ok attempt)"
        )
        handles.append(Line2D([], [], color=_probe_color(i), linewidth=2, label=label))
    handles.append(Patch(facecolor="#000000", alpha=0.12, label="outage (any probe)"))
    kinds = [k for k in MARKER_STYLE if any(m.kind == k for m in data.markers)]
    handles += [Line2D([], [], label=MARKER_NAMES[k], **MARKER_STYLE[k]) for k in kinds]
    legend_cols, legend_in = _legend_size(handles)
    title_in, plot_in, axis_in = TITLE_IN, 3.6, 0.62
    height = title_in + plot_in + axis_in + legend_in
    fig = _new_figure(WIDTH_IN, height)
    fx, fw = frame.left_in / WIDTH_IN, frame.axes_in / WIDTH_IN
    ax = fig.add_axes((fx, (axis_in + legend_in) / height, fw, plot_in / height))
    fig.text(
        LEGEND_X, 1 - 0.27 / height, title, fontsize=TITLE_SIZE, fontweight="bold", va="center"
    )
    subtitle = (
        "ok attempts only; latency = end − intended start (includes any wait for a slot or "
        "connection)"
        + ("; long series: line = median per bin, band = min–max per bin" if binned else "")
    )
    fig.text(LEGEND_X, 1 - 0.52 / height, subtitle, fontsize=SMALL, color="#555555", va="center")
    ax.set_xlim(*data.window)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(_ms_label))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.grid(axis="both", which="major", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.set_xlabel(data.xlabel)
    ax.set_ylabel("latency (ms, log scale)")
    spans = _union((s.start_s, s.end_s) for ln in lanes for s in ln.outages)
    if spans:
        ax.broken_barh(
            spans, (0, 1), transform=ax.get_xaxis_transform(), facecolors="#000000",
            alpha=0.07, edgecolors="none", zorder=0,
        )  # fmt: skip
    drawn = False
    for i, lane in enumerate(lanes):
        color = _probe_color(i)
        series = lane.latency
        positive = np.maximum(series.mid, 1e-3)  # a log axis has no zero
        if series.binned:
            ax.fill_between(
                series.x, np.maximum(series.low, 1e-3), np.maximum(series.high, 1e-3),
                step="mid", color=color, alpha=0.18, linewidth=0, zorder=1,
            )  # fmt: skip
            ax.plot(series.x, positive, drawstyle="steps-mid", color=color, linewidth=1.2, zorder=2)
        else:
            ax.plot(series.x, positive, linestyle="none", marker=".", markersize=3, alpha=0.75,
                    color=color, zorder=2)  # fmt: skip
        drawn |= len(series.x) > 0
    if drawn:
        ax.set_ylim(*_decades(lanes))
    else:
        ax.text(0.5, 0.5, "no ok attempts: no latency to show", transform=ax.transAxes,
                ha="center", va="center", color="#555555")  # fmt: skip
        ax.set_ylim(0.1, 1000)
    _marker_lines(ax, data.markers, 0, 1, transform=ax.get_xaxis_transform())
    _add_legend(fig, handles, legend_cols, legend_in, height)
    return fig


def _bar_note(lane: Lane, total: int, per_count_in: float) -> tuple[str, set[str]]:
    """The text after a bar, and the classes whose count fits on their own segment."""
    inside = {
        cls
        for cls, count in lane.errors.items()
        if text_width_in(f"{count:,}", SMALL, "bold") + 0.08 < count * per_count_in
    }
    small = [f"{cls} {n:,}" for cls, n in lane.errors.items() if n and cls not in inside]
    extra = [f"of which {', '.join(small)}"] if small and len(small) < len(lane.errors) else []
    if small and len(small) == len(lane.errors):
        extra = [", ".join(small)]
    if lane.indeterminate:
        extra.append(f"{lane.indeterminate:,} indeterminate")
    return f"{total:,}" + (f" ({'; '.join(extra)})" if extra else ""), inside


def errors_figure(data: ChartData, title: str) -> Figure:
    """Failed attempts per probe, stacked by error class, with counts written on the bars."""
    lanes = data.lanes
    classes = error_order({c for lane in lanes for c in lane.errors})
    n = max(1, len(lanes))
    frame = time_frame(data)
    handles = [Patch(facecolor=error_color(c), label=c) for c in classes]
    legend_cols, legend_in = _legend_size(handles) if handles else (1, 0.1)
    title_in, bars_in, axis_in = TITLE_IN, n * 0.55 + 0.2, 0.6
    height = title_in + bars_in + axis_in + legend_in
    fig = _new_figure(WIDTH_IN, height)
    fx, fw = frame.left_in / WIDTH_IN, frame.axes_in / WIDTH_IN
    ax = fig.add_axes((fx, (axis_in + legend_in) / height, fw, bars_in / height))
    fig.text(
        LEGEND_X, 1 - 0.27 / height, title, fontsize=TITLE_SIZE, fontweight="bold", va="center"
    )
    fig.text(
        LEGEND_X, 1 - 0.52 / height,
        "non-ok attempts over the whole run, by error class (indeterminate writes included)",
        fontsize=SMALL, color="#555555", va="center",
    )  # fmt: skip
    totals = [sum(lane.errors.values()) for lane in lanes]
    top = max(totals, default=0)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_yticks(range(len(lanes)), [lane.label for lane in lanes])
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel("failed attempts (count)")
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    if top == 0:
        ax.set_xlim(0, 1)
        ax.text(0.5, 0.5, "no failed attempts in this run", transform=ax.transAxes,
                ha="center", va="center", color="#555555")  # fmt: skip
        return fig
    # Counts that fit go on their segment; the others are named after the bar's total, and
    # the x range is widened so that every such note fits inside the axes.
    fits = top * 1.05
    for _ in range(3):  # the notes depend on the scale, the scale on the notes
        per_count_in = frame.axes_in / fits
        notes = [
            _bar_note(lane, total, per_count_in) for lane, total in zip(lanes, totals, strict=True)
        ]
        need = max(
            total / max(1 - (text_width_in(note) + 0.15) / frame.axes_in, 0.2)
            for (note, _), total in zip(notes, totals, strict=True)
        )
        if need <= fits:
            break
        fits = need
    ax.set_xlim(0, fits)
    for i, (lane, (note, inside)) in enumerate(zip(lanes, notes, strict=True)):
        left = 0
        for cls in classes:
            count = lane.errors.get(cls, 0)
            if not count:
                continue
            ax.barh(i, count, left=left, height=0.6, color=error_color(cls), edgecolor="white",
                    linewidth=0.6)  # fmt: skip
            if cls in inside:
                ax.text(left + count / 2, i, f"{count:,}", ha="center", va="center",
                        fontsize=SMALL, color="white", fontweight="bold")  # fmt: skip
            left += count
        ax.text(totals[i] + fits * 0.006, i, note, ha="left", va="center", fontsize=SMALL)
    _add_legend(fig, handles, legend_cols, legend_in, height)
    return fig


#: Chart name → (file stem, drawing function, title).
CHARTS: Final = {
    "timeline": (timeline_figure, "Timeline: probe attempts, outages and actions"),
    "latency": (latency_figure, "Latency over time"),
    "errors": (errors_figure, "Error breakdown"),
}


def render_charts(data: ChartData, formats: Sequence[str]) -> dict[str, dict[str, bytes]]:
    """Chart name → format → bytes, for each chart in :data:`CHARTS`."""
    out: dict[str, dict[str, bytes]] = {}
    with chart_style():
        for name, (draw, title) in CHARTS.items():
            figure = draw(data, title)
            out[name] = {fmt: save(figure, fmt) for fmt in formats}
            figure.clear()
    return out
