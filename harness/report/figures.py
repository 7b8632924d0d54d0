"""The report's charts of one run as matplotlib Figures, for notebooks and scripts.

``harness report`` writes the charts to files; someone exploring a run in a notebook
wants the same pictures as objects they can show, resize or save, drawn from a history
they may have filtered. These functions take what :func:`harness.load_history` returns
(and optionally the :class:`~harness.analysis.Summary`, else they analyse the history)
and return a :class:`~matplotlib.figure.Figure` drawn exactly as in the report: same
lanes, colors, outage bands and action markers.

The figures are not registered with ``pyplot``; in Jupyter, ``%matplotlib inline`` makes
a Figure that ends a cell show itself, and ``fig.savefig(...)`` works anywhere.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from matplotlib.figure import Figure

from harness.analysis import Summary, summarize
from harness.analysis.outages import probe_arrays
from harness.report.charts import CHARTS, chart_style
from harness.report.series import ChartData, chart_data
from harness.report.timeline import find_events, find_origin


def run_chart_data(history: pd.DataFrame, summary: Summary | None = None) -> ChartData:
    """What the charts draw for this history (x = 0 at the method's first action)."""
    if summary is None:
        summary = summarize(history, run_id="notebook")
    names = list(summary.probes)
    arrays = probe_arrays(history)
    events, _ = find_events(history, names)
    origin = find_origin(events, arrays)
    return chart_data(arrays, dict(summary.probes), events, origin)


def _draw(name: str) -> Callable[[pd.DataFrame, Summary | None], Figure]:
    draw, title = CHARTS[name]

    def chart(history: pd.DataFrame, summary: Summary | None = None) -> Figure:
        data = run_chart_data(history, summary)
        with chart_style():
            return draw(data, title)

    return chart


def timeline_chart(history: pd.DataFrame, summary: Summary | None = None) -> Figure:
    """One lane per probe: attempts, failed ones by error class, outage bands, actions."""
    return _draw("timeline")(history, summary)


def latency_chart(history: pd.DataFrame, summary: Summary | None = None) -> Figure:
    """Latency of ok attempts from their intended start, log scale, outages shaded."""
    return _draw("latency")(history, summary)


def errors_chart(history: pd.DataFrame, summary: Summary | None = None) -> Figure:
    """Failed attempts per probe, stacked by error class."""
    return _draw("errors")(history, summary)
