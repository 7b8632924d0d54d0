"""Per-run reports: ``report.md`` for change tickets, a self-contained ``report.html``, and
PNG/SVG charts (timeline lanes with outage bands and action markers, latency, errors).

Reports render what :mod:`harness.analysis` returns; they measure nothing themselves, and
they need nothing but the run directory, so ``harness report RUN_DIR`` gives the same
report years later. Entry points: :func:`write_report` for one run,
:func:`write_comparison` for several (``harness compare``), and :func:`timeline_chart`,
:func:`latency_chart`, :func:`errors_chart` for the same charts as Figures in a notebook.
"""

from harness.report.charts import ERROR_COLORS, error_color
from harness.report.compare import ComparisonFiles, write_comparison
from harness.report.figures import errors_chart, latency_chart, run_chart_data, timeline_chart
from harness.report.inputs import RunInputs, load_run
from harness.report.render import FORMATS, ReportFiles, write_report

__all__ = [
    "ERROR_COLORS",
    "FORMATS",
    "ComparisonFiles",
    "ReportFiles",
    "RunInputs",
    "error_color",
    "errors_chart",
    "latency_chart",
    "load_run",
    "run_chart_data",
    "timeline_chart",
    "write_comparison",
    "write_report",
]
