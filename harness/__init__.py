"""rds-downtime-harness: how long could the application not write, read or connect, and why.

The public API is re-exported here; modules starting with an underscore and anything not
listed in ``__all__`` may change without notice.
"""

from harness.errors import HarnessError, UsageError
from harness.history import HISTORY_FORMAT, Clock, HistoryError, HistoryWriter, Op, load_history

__version__ = "0.1.0"

__all__ = [
    "HISTORY_FORMAT",
    "Clock",
    "HarnessError",
    "HistoryError",
    "HistoryWriter",
    "Op",
    "UsageError",
    "__version__",
    "load_history",
]
