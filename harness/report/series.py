"""What the charts draw, reduced to what a reader can see: a few thousand points per probe.

A run at 10 ms per probe for an hour is over a million attempts; drawing each one would
take minutes and produce SVGs of hundreds of megabytes, yet a chart 2,000 pixels wide
cannot show more than one mark per pixel column. So:

- ok attempts are thinned to one mark per bin of :data:`PLOT_BINS` bins across the window
  (finer than a pixel of the rendered chart): a gap in the ok marks is a real gap;
- failed attempts are all drawn, each at its own time, unless a probe has more than
  :data:`FAIL_EXACT_LIMIT` of them (a pathological run); then they are binned per error
  class four times finer than the ok marks, so every failure still has a mark at its place;
- latency is drawn point by point up to :data:`LATENCY_RAW_LIMIT` ok attempts per probe,
  else as the median, minimum and maximum per bin, so spikes survive the reduction;
- a long run whose outages and actions take a small part of it is shown around them
  (see :func:`_window`); the caption says so, and every attempt left out succeeded.

Nothing here measures downtime: outages come from the summary (the analysis), and times
are only shifted to seconds from the origin chosen in :mod:`harness.report.timeline`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from harness.analysis import ProbeSummary
from harness.analysis.outages import MISSING, UNCLASSIFIED, ProbeArrays
from harness.report.timeline import MILESTONE, Event, Origin

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: Bins across the time window for thinning ok marks (a 13-inch chart at 150 dpi is
#: ~1,700 pixels of plot area, so one bin is below a pixel).
PLOT_BINS: Final = 2400
#: Above this many failed attempts in one probe, failures are binned (see module doc).
FAIL_EXACT_LIMIT: Final = 20_000
#: Above this many ok attempts in one probe, latency is drawn per bin.
LATENCY_RAW_LIMIT: Final = 5_000
#: Bins across the window for the latency median/min/max.
LATENCY_BINS: Final = 600
#: The charts zoom on the outages and actions when those span less than this fraction of
#: the run, keeping at least ZOOM_MARGIN_S (or 15 % of their span) on each side.
ZOOM_BELOW: Final = 0.6
ZOOM_MARGIN_S: Final = 10.0

MarkerKind = Literal["invoke", "done", "aws"]


@dataclass(frozen=True)
class OutageSpan:
    """An outage on the chart's axis (seconds from the origin)."""

    start_s: float
    end_s: float
    duration_ms: float
    recovered: bool


@dataclass(frozen=True)
class LatencySeries:
    """Latency of ok attempts from their intended start, in ms, against seconds.

    Raw (``binned`` False): ``x``/``mid`` are each attempt; ``low``/``high`` are empty.
    Binned: ``x`` are bin centres, ``mid`` the median, ``low``/``high`` the min and max
    (NaN where a bin has no ok attempt, so gaps stay gaps).
    """

    x: F64
    mid: F64
    low: F64
    high: F64
    binned: bool
    bin_s: float = 0.0


@dataclass(frozen=True)
class Lane:
    """One probe's row on the timeline and its series on the latency chart."""

    name: str
    label: str
    ok_x: F64
    #: error class → x of each failed (or indeterminate) attempt with that class.
    failed_x: dict[str, F64]
    failed_binned: bool
    outages: list[OutageSpan]
    latency: LatencySeries
    #: error class → count over the run (the summary's numbers).
    errors: dict[str, int]
    indeterminate: int


@dataclass(frozen=True)
class Marker:
    """A vertical line on the charts for an action, a milestone or an AWS event."""

    x: float
    label: str
    kind: MarkerKind
    #: Whose label gives way when labels would overlap: 0 actions invoked, 1 actions
    #: completed, 2 the target's events, 3 what the runner observed (milestones).
    priority: int = 0


@dataclass(frozen=True)
class ChartData:
    """Everything the three charts draw, already reduced."""

    lanes: list[Lane]
    markers: list[Marker]
    window: tuple[float, float]
    xlabel: str
    #: One sentence on what was thinned, for the chart captions.
    reduction: str


def _seconds(wall: I64, origin_ns: int) -> F64:
    """Epoch ns → float seconds from the origin (integer subtraction first: no rounding)."""
    out: F64 = (wall - origin_ns).astype(np.float64) / 1e9
    return out


def _first_per_bin(x: F64, x0: float, width: float, bins: int) -> F64:
    """The first x in each occupied bin: what a chart of ``bins`` columns can show."""
    if len(x) == 0:
        return x
    index = np.floor((x - x0) / width * bins).astype(np.int64)
    _, first = np.unique(index, return_index=True)
    kept: F64 = x[np.sort(first)]
    return kept


def _latency(x: F64, ms: F64, window: tuple[float, float]) -> LatencySeries:
    empty: F64 = np.empty(0)
    if len(x) <= LATENCY_RAW_LIMIT:
        return LatencySeries(x=x, mid=ms, low=empty, high=empty, binned=False)
    x0, x1 = window
    bin_s = (x1 - x0) / LATENCY_BINS
    index = np.clip(np.floor((x - x0) / bin_s).astype(np.int64), 0, LATENCY_BINS - 1)
    order = np.lexsort((ms, index))
    index = index[order]
    ordered: F64 = ms[order]
    present, starts, counts = np.unique(index, return_index=True, return_counts=True)
    mid: F64 = np.full(LATENCY_BINS, np.nan)
    low, high = mid.copy(), mid.copy()
    mid[present] = ordered[starts + (counts - 1) // 2]
    low[present] = ordered[starts]
    high[present] = ordered[starts + counts - 1]
    centres: F64 = (np.arange(LATENCY_BINS, dtype=np.float64) + 0.5) * bin_s + x0
    return LatencySeries(x=centres, mid=mid, low=low, high=high, binned=True, bin_s=bin_s)


def _window(everything: list[float], focus: list[float]) -> tuple[tuple[float, float], bool]:
    """The time window of the charts, and whether it leaves part of the run out.

    Normally the whole run. When the outages and actions occupy a small part of a long
    run (an hour of steady state around a 30 s failover), the window closes in on them
    with a margin, so a 15 s outage is not a one-pixel sliver: nothing left out failed.
    """
    if not everything:
        return (-0.5, 0.5), False
    lo, hi = min(everything), max(everything)
    zoomed = False
    if focus:
        f_lo, f_hi = min(focus), max(focus)
        margin = max(ZOOM_MARGIN_S, (f_hi - f_lo) * 0.15)
        z_lo, z_hi = max(lo, f_lo - margin), min(hi, f_hi + margin)
        if z_hi - z_lo < ZOOM_BELOW * (hi - lo):
            lo, hi, zoomed = z_lo, z_hi, True
    if hi - lo < 1.0:
        lo, hi = lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.015
    return (lo - pad, hi + pad), zoomed


def _probe_label(name: str, probe: ProbeSummary) -> str:
    detail = [d for d in (probe.kind if probe.kind != name else None, probe.mode) if d]
    if probe.resolution_ms is not None:
        detail.append(f"every {probe.resolution_ms:g} ms")
    return name + ("\n" + " · ".join(detail) if detail else "")


def _marker_kind(event: Event) -> MarkerKind:
    if event.is_aws:
        return "aws"
    return "invoke" if event.type == "invoke" else "done"


def _marker_priority(event: Event) -> int:
    if event.f == MILESTONE:
        return 3
    if event.is_aws:
        return 2
    return 0 if event.type == "invoke" else 1


def chart_data(
    arrays: ProbeArrays,
    probes: dict[str, ProbeSummary],
    events: list[Event],
    origin: Origin,
) -> ChartData:
    """Reduce the probe attempts, outages and events to what the charts draw."""
    o = origin.wall_ns
    attempt_ns = np.where(arrays.start_wall == MISSING, arrays.intended_wall, arrays.start_wall)
    timed = attempt_ns != MISSING
    xs = np.full(len(attempt_ns), np.nan)
    xs[timed] = _seconds(attempt_ns[timed], o)
    marker_list = [
        Marker(
            x=float((e.wall_ns - o) / 1e9),
            label=e.label,
            kind=_marker_kind(e),
            priority=_marker_priority(e),
        )
        for e in events
        if e.wall_ns is not None
    ]
    spans = {
        name: [
            OutageSpan(
                start_s=(out.start_ns - o) / 1e9,
                end_s=(out.end_ns - o) / 1e9,
                duration_ms=out.duration_ms,
                recovered=out.recovered,
            )
            for out in probe.outages
        ]
        for name, probe in probes.items()
    }
    focus = [m.x for m in marker_list]
    focus += [x for lane in spans.values() for s in lane for x in (s.start_s, s.end_s)]
    extent = [float(np.nanmin(xs)), float(np.nanmax(xs))] if timed.any() else []
    window, zoomed = _window(extent + focus, focus)
    width = window[1] - window[0]

    bad_rows = np.flatnonzero(~arrays.ok)
    classes = arrays.column("error_class", bad_rows).fillna(UNCLASSIFIED).to_numpy(dtype=object)
    class_of_row = np.empty(len(arrays), dtype=object)
    class_of_row[bad_rows] = classes

    lanes: list[Lane] = []
    any_thinned = False
    any_binned_fail = False
    for name, probe in probes.items():
        rows = arrays.segment(name)
        x = xs[rows]
        ok = arrays.ok[rows] & ~np.isnan(x)
        ok_all = x[ok & (x >= window[0]) & (x <= window[1])]
        ok_x = _first_per_bin(ok_all, window[0], width, PLOT_BINS)
        any_thinned |= len(ok_x) < len(ok_all)
        bad = ~arrays.ok[rows] & ~np.isnan(x)
        bad_x, bad_cls = x[bad], class_of_row[rows][bad]
        binned = len(bad_x) > FAIL_EXACT_LIMIT
        any_binned_fail |= binned
        failed: dict[str, F64] = {}
        for cls in sorted({str(c) for c in bad_cls}):
            cls_x = bad_x[bad_cls == cls]
            failed[cls] = (
                _first_per_bin(cls_x, window[0], width, 4 * PLOT_BINS) if binned else cls_x
            )
        intended = arrays.intended_wall[rows]
        end, due = arrays.end_mono[rows], arrays.intended_mono[rows]
        has = arrays.ok[rows] & (intended != MISSING) & (end != MISSING) & (due != MISSING)
        lat_x = _seconds(intended[has], o)
        lat_ms: F64 = (end[has] - due[has]).astype(np.float64) / 1e6
        inside = (lat_x >= window[0]) & (lat_x <= window[1])
        lat_x, lat_ms = lat_x[inside], lat_ms[inside]
        lanes.append(
            Lane(
                name=name,
                label=_probe_label(name, probe),
                ok_x=ok_x,
                failed_x=failed,
                failed_binned=binned,
                outages=spans[name],
                latency=_latency(lat_x, lat_ms, window),
                errors=dict(probe.errors),
                indeterminate=probe.info,
            )
        )
    notes = []
    if zoomed:
        lo, hi = extent
        notes.append(
            f"the window shows {window[0]:+,.0f} s to {window[1]:+,.0f} s of a run from "
            f"{lo:+,.0f} s to {hi:+,.0f} s: every probe attempt outside it succeeded"
        )
    if any_thinned:
        notes.append(f"ok attempts are thinned to one mark per 1/{PLOT_BINS} of the time axis")
    notes.append(
        "failed attempts are binned per error class to 1/"
        f"{4 * PLOT_BINS} of the axis (over {FAIL_EXACT_LIMIT:,} in one probe)"
        if any_binned_fail
        else "every failed attempt is drawn"
    )
    return ChartData(
        lanes=lanes,
        markers=marker_list,
        window=window,
        xlabel=f"seconds from the start of the {origin.of} (0 s = {origin.detail})",
        reduction="; ".join(notes),
    )
