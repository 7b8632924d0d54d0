"""rds-downtime-harness: how long could the application not write, read or connect, and why.

The public API is re-exported here; modules starting with an underscore and anything not
listed in ``__all__`` may change without notice. Names are imported on first use, so
``import harness`` stays cheap (pandas, matplotlib and boto3 load only when asked for):
the CLI and the local cluster's daemon start faster for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name → the module that defines it.
_EXPORTS = {
    "HarnessError": "harness.errors",
    "UsageError": "harness.errors",
    "HISTORY_FORMAT": "harness.history",
    "Clock": "harness.history",
    "HistoryError": "harness.history",
    "HistoryWriter": "harness.history",
    "Op": "harness.history",
    "load_history": "harness.history",
    "Summary": "harness.analysis",
    "audit_writes": "harness.analysis",
    "find_outages": "harness.analysis",
    "latency_by_probe": "harness.analysis",
    "summarize": "harness.analysis",
    "write_report": "harness.report",
    "write_comparison": "harness.report",
    "load_scenario": "harness.scenario",
    "Cluster": "harness.targets.base",
    "ClusterView": "harness.targets.base",
}

if TYPE_CHECKING:
    from harness.analysis import (
        Summary,
        audit_writes,
        find_outages,
        latency_by_probe,
        summarize,
    )
    from harness.errors import HarnessError, UsageError
    from harness.history import (
        HISTORY_FORMAT,
        Clock,
        HistoryError,
        HistoryWriter,
        Op,
        load_history,
    )
    from harness.report import write_comparison, write_report
    from harness.scenario import load_scenario
    from harness.targets.base import Cluster, ClusterView


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "HISTORY_FORMAT",
    "Clock",
    "Cluster",
    "ClusterView",
    "HarnessError",
    "HistoryError",
    "HistoryWriter",
    "Op",
    "Summary",
    "UsageError",
    "__version__",
    "audit_writes",
    "find_outages",
    "latency_by_probe",
    "load_history",
    "load_scenario",
    "summarize",
    "write_comparison",
    "write_report",
]
