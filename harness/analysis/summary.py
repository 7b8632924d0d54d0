"""The run summary: everything a report, a pipeline or a human needs, as one typed model.

``Summary.model_dump_json(indent=2)`` is ``summary.json``: per probe the attempt counts,
each outage (ISO-8601 UTC times, duration, error breakdown), downtime, latency and
schedule lag, and the audit of the writes. The probes' kind, mode, endpoint and interval
come from the run's metadata when the caller has it (:class:`ProbeInfo`); otherwise they
are derived from the history, which is enough to analyse a journal found on its own.

Times are reported to the millisecond, truncated: the probes' resolution is their
interval (10 ms by default), so more digits would claim a precision the run does not have.
Durations keep microseconds, since they are differences of monotonic nanoseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, computed_field

from harness.analysis.audit import AuditResult, audit_writes
from harness.analysis.latency import Percentiles, ProbeLatency, latency_from_arrays
from harness.analysis.outages import (
    MISSING,
    UNCLASSIFIED,
    Outage,
    ProbeArrays,
    count_by_group,
    outages_from_arrays,
    probe_arrays,
)

#: Bump when a field of ``summary.json`` changes meaning or type.
SUMMARY_FORMAT: Final = 1

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_WALL_COLUMNS: Final = ("intended_ns", "start_ns", "end_ns")


def iso_ms(epoch_ns: int) -> str:
    """Epoch nanoseconds as ISO-8601 UTC to the millisecond: ``2026-12-03T13:02:12.345Z``.

    Truncates (never rounds up), so a reported start is never later than the event, and
    uses integer arithmetic, so no float rounding creeps in at nanosecond epoch values.
    """
    ms = epoch_ns // 1_000_000
    moment = _EPOCH + timedelta(milliseconds=ms)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def iso_ms_many(epoch_ns: Sequence[int]) -> list[str]:
    """:func:`iso_ms` of many values at once (numpy's datetime formatting, same truncation)."""
    ms = np.asarray(epoch_ns, dtype=np.int64) // 1_000_000
    text: list[str] = np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms").tolist()
    return [t + "Z" for t in text]


class ProbeInfo(BaseModel):
    """What the run's metadata says about a probe; every field may be unknown.

    Extra fields are ignored so that metadata written by a newer harness still loads.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: str | None = None
    mode: str | None = None
    endpoint: str | None = None
    interval_ms: float | None = Field(default=None, gt=0)


class OutageSummary(BaseModel):
    """One outage as written to ``summary.json`` (see :class:`~harness.analysis.Outage`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: str
    end: str
    start_ns: int
    end_ns: int
    duration_ms: float
    attempts: int
    failed: int
    indeterminate: int
    first_seq: int
    last_seq: int
    errors: dict[str, int]
    #: False when the run ended while down: the outage lasted at least ``duration_ms``.
    recovered: bool

    @classmethod
    def many(cls, outages: Sequence[Outage]) -> list[OutageSummary]:
        """Summaries of ``outages``, built in bulk: a flapping probe can have 10^5 of them.

        One validation of the whole list runs in pydantic's core, several times faster
        than constructing (or even ``model_construct``-ing) each model from Python.
        """
        starts = iso_ms_many([o.start_ns for o in outages])
        ends = iso_ms_many([o.end_ns for o in outages])
        rows = [
            {
                "start": start, "end": end, "start_ns": o.start_ns, "end_ns": o.end_ns,
                "duration_ms": round(o.duration_ms, 3), "attempts": o.attempts,
                "failed": o.failed, "indeterminate": o.indeterminate,
                "first_seq": o.first_seq, "last_seq": o.last_seq,
                "errors": o.errors, "recovered": o.recovered,
            }
            for o, start, end in zip(outages, starts, ends, strict=True)
        ]  # fmt: skip
        return _OUTAGE_LIST.validate_python(rows)


_OUTAGE_LIST: Final = TypeAdapter(list[OutageSummary])


class LatencyMs(BaseModel):
    """Latency of ok attempts, from the intended start and from the actual start."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    from_intended: Percentiles
    from_start: Percentiles


class ProbeSummary(BaseModel):
    """One probe over the whole run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str | None
    mode: str | None
    endpoint: str | None
    #: The probe's interval: no outage shorter than this can be seen, none is measured
    #: more precisely. None only when neither metadata nor history tells.
    resolution_ms: float | None
    ops: int
    ok: int
    fail: int
    info: int
    downtime_ms: float
    longest_outage_ms: float
    #: True when the run ended during an outage (the last outage has ``recovered=False``).
    down_at_end: bool
    outages: list[OutageSummary]
    #: error_class → count over the whole run (non-ok attempts only).
    errors: dict[str, int]
    #: server → ok attempts it answered: shows a failover as a change of hands.
    servers: dict[str, int]
    latency_ms: LatencyMs
    schedule_lag_ms: Percentiles


class ThresholdResult(BaseModel):
    """One scenario threshold checked against this summary (k6 style)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str  # a dotted path into summary.json, e.g. probes.write.downtime_ms
    condition: str  # e.g. "probes.write.downtime_ms ≤ 20000"
    value: float | None
    verdict: Literal["pass", "fail", "unknown"]
    description: str | None = None


class Summary(BaseModel):
    """The analysis of one run; ``model_dump_json(indent=2)`` is ``summary.json``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    format: Literal[1] = SUMMARY_FORMAT
    run_id: str
    target: str | None = None
    #: Earliest and latest wall time in the history (ISO-8601 UTC); None if it is empty.
    started: str | None
    ended: str | None
    duration_ms: float | None
    #: The smallest probe interval: the finest time resolution anywhere in this run.
    resolution_ms: float | None
    #: Rows in the history (probe attempts, actions, checks).
    ops: int
    probes: dict[str, ProbeSummary]
    audit: AuditResult
    #: Things a reader must know to trust the numbers (open outages, audit anomalies...).
    notes: list[str] = []
    #: The scenario that was run (None for ``harness probe``) and its thresholds' verdicts.
    scenario: str | None = None
    thresholds: list[ThresholdResult] = []

    @computed_field  # type: ignore[prop-decorator]
    @property
    def thresholds_passed(self) -> bool:
        """Every threshold passed (an ``unknown`` value fails) and the audit passed."""
        return self.audit.passed and all(t.verdict == "pass" for t in self.thresholds)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def audit_passed(self) -> bool:
        """Whether the audit allows the run to pass (see :attr:`AuditResult.passed`).

        Downtime thresholds are the scenario's business; this only says that no
        acknowledged write was lost, and that the run could check (an ``unknown`` audit
        does not pass; a run without writes does).
        """
        return self.audit.passed


def _derived_interval_ms(arrays: ProbeArrays, rows: slice) -> float | None:
    """(intended[k] − intended[j]) / (k − j) over the lowest and highest seq seen."""
    seq = arrays.seq[rows]
    intended = arrays.intended_mono[rows]
    valid = (seq != MISSING) & (intended != MISSING)
    if valid.sum() < 2:
        return None
    seq, intended = seq[valid], intended[valid]
    lo, hi = int(np.argmin(seq)), int(np.argmax(seq))
    if seq[hi] == seq[lo]:
        return None
    interval_ns = (int(intended[hi]) - int(intended[lo])) / (int(seq[hi]) - int(seq[lo]))
    return round(interval_ns / 1e6, 6)


def _most_common(counts: dict[str, int]) -> str | None:
    return max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0] if counts else None


def _wall_bounds(history: pd.DataFrame) -> tuple[int, int] | None:
    lows: list[int] = []
    highs: list[int] = []
    for column in _WALL_COLUMNS:
        values = history[column]
        low, high = values.min(), values.max()
        if not pd.isna(low):
            lows.append(int(low))
            highs.append(int(high))
    return (min(lows), max(highs)) if lows else None


def _empty_probe(info: ProbeInfo) -> ProbeSummary:
    none = Percentiles(count=0)
    return ProbeSummary(
        kind=info.kind, mode=info.mode, endpoint=info.endpoint, resolution_ms=info.interval_ms,
        ops=0, ok=0, fail=0, info=0, downtime_ms=0.0, longest_outage_ms=0.0, down_at_end=False,
        outages=[], errors={}, servers={},
        latency_ms=LatencyMs(from_intended=none, from_start=none), schedule_lag_ms=none,
    )  # fmt: skip


def _probe_summaries(
    arrays: ProbeArrays, probe_info: Mapping[str, ProbeInfo], notes: list[str]
) -> dict[str, ProbeSummary]:
    n_probes = len(arrays.names)
    code = arrays.code
    ok = np.bincount(code, weights=arrays.ok, minlength=n_probes).astype(int).tolist()
    info = np.bincount(code, weights=arrays.info, minlength=n_probes).astype(int).tolist()
    ops = np.bincount(code, minlength=n_probes).tolist()
    bad = np.flatnonzero(~arrays.ok)
    errors = count_by_group(arrays.column("error_class", bad), code[bad], n_probes, UNCLASSIFIED)
    good = np.flatnonzero(arrays.ok)
    servers = count_by_group(arrays.column("server", good), code[good], n_probes, None)
    kinds = count_by_group(arrays.column("f"), code, n_probes, None)
    endpoints = count_by_group(arrays.column("endpoint"), code, n_probes, None)
    latency = latency_from_arrays(arrays)
    by_probe: dict[str, list[Outage]] = {name: [] for name in arrays.names}
    for outage in outages_from_arrays(arrays):
        by_probe[outage.process].append(outage)

    out: dict[str, ProbeSummary] = {}
    for i, name in enumerate(arrays.names):
        meta = probe_info.get(name, ProbeInfo())
        outages = by_probe[name]
        interval = meta.interval_ms or _derived_interval_ms(arrays, arrays.segment(name))
        lat: ProbeLatency = latency[name]
        still_down = [o for o in outages if not o.recovered]  # at most one
        down_at_end = bool(still_down)
        if still_down:
            last = still_down[-1]
            notes.append(
                f"{name}: still down when the run ended (since {iso_ms(last.start_ns)}, "
                f"at least {last.duration_ms:.0f} ms)"
            )
        out[name] = ProbeSummary(
            kind=meta.kind or _most_common(kinds[i]),
            mode=meta.mode,
            endpoint=meta.endpoint or _most_common(endpoints[i]),
            resolution_ms=interval,
            ops=ops[i],
            ok=ok[i],
            fail=ops[i] - ok[i] - info[i],
            info=info[i],
            downtime_ms=round(sum(o.duration_ms for o in outages), 3),
            longest_outage_ms=round(max((o.duration_ms for o in outages), default=0.0), 3),
            down_at_end=down_at_end,
            outages=OutageSummary.many(outages),
            errors=errors[i],
            servers=servers[i],
            latency_ms=LatencyMs(from_intended=lat.from_intended, from_start=lat.from_start),
            schedule_lag_ms=lat.schedule_lag,
        )
    return out


def summarize(
    history: pd.DataFrame,
    *,
    run_id: str,
    probe_info: Mapping[str, ProbeInfo] | None = None,
    target: str | None = None,
) -> Summary:
    """Analyse a run's history (as from :func:`harness.history.load_history`).

    Probes named in ``probe_info`` appear in the summary even if they recorded nothing
    (which is itself worth knowing), in the metadata's order; probes found only in the
    history follow, sorted by name.
    """
    info = dict(probe_info or {})
    notes: list[str] = []
    arrays = probe_arrays(history)
    measured = _probe_summaries(arrays, info, notes)
    probes: dict[str, ProbeSummary] = {}
    for name, meta in info.items():
        if name in measured:
            probes[name] = measured[name]
        else:
            probes[name] = _empty_probe(meta)
            notes.append(f"{name}: no attempt recorded")
    for name in sorted(measured):
        probes.setdefault(name, measured[name])
    audit = audit_writes(history)
    notes.extend(audit.notes)
    bounds = _wall_bounds(history)
    intervals = [p.resolution_ms for p in probes.values() if p.resolution_ms is not None]
    return Summary(
        run_id=run_id,
        target=target,
        started=iso_ms(bounds[0]) if bounds else None,
        ended=iso_ms(bounds[1]) if bounds else None,
        duration_ms=round((bounds[1] - bounds[0]) / 1e6, 3) if bounds else None,
        resolution_ms=min(intervals) if intervals else None,
        ops=len(history),
        probes=probes,
        audit=audit,
        notes=notes,
    )
