"""Pure functions over a run's history: outages, latency, the write audit, the summary.

Nothing here talks to a database, to AWS or to the network; everything takes the
DataFrame that :func:`harness.history.load_history` returns, so a run can be re-analysed
from its files alone, in a notebook or years later.
"""

from harness.analysis.audit import AuditResult, AuditStatus, ProbeAudit, audit_writes
from harness.analysis.latency import Percentiles, ProbeLatency, latency_by_probe
from harness.analysis.outages import PROBE_FUNCTIONS, Outage, find_outages, probe_ops
from harness.analysis.summary import (
    SUMMARY_FORMAT,
    LatencyMs,
    OutageSummary,
    ProbeInfo,
    ProbeSummary,
    Summary,
    ThresholdResult,
    iso_ms,
    summarize,
)

__all__ = [
    "PROBE_FUNCTIONS",
    "SUMMARY_FORMAT",
    "AuditResult",
    "AuditStatus",
    "LatencyMs",
    "Outage",
    "OutageSummary",
    "Percentiles",
    "ProbeAudit",
    "ProbeInfo",
    "ProbeLatency",
    "ProbeSummary",
    "Summary",
    "ThresholdResult",
    "audit_writes",
    "find_outages",
    "iso_ms",
    "latency_by_probe",
    "probe_ops",
    "summarize",
]
