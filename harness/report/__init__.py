"""Per-run reports: ``report.md`` for change tickets, a self-contained ``report.html``, and
PNG/SVG charts (timeline lanes with outage bands and action markers, latency, errors).

Reports render what :mod:`harness.analysis` returns; they measure nothing themselves, and
they need nothing but the run directory, so ``harness report RUN_DIR`` gives the same
report years later. Entry point: :func:`write_report`.
"""

from harness.report.charts import ERROR_COLORS, error_color
from harness.report.inputs import RunInputs, load_run
from harness.report.render import FORMATS, ReportFiles, write_report

__all__ = [
    "ERROR_COLORS",
    "FORMATS",
    "ReportFiles",
    "RunInputs",
    "error_color",
    "load_run",
    "write_report",
]
