"""Latency per probe, measured from the intended start as well as from the actual start.

Latency from the *intended* start (``end − intended``) is what an application with a fixed
request rate experiences: time spent waiting for a slot or a pooled connection counts.
Latency from the *actual* start (``end − start``) is the network and server alone. The gap
between them is the schedule lag (``start − intended``); a harness whose own lag is large
cannot measure millisecond outages, so it is reported too (benchmarks hold it to p99 ≤ 2 ms).

Percentiles are nearest-rank (numpy's ``inverted_cdf``): each is a latency that was really
observed, the smallest one that at least p % of the attempts did not exceed, as
HdrHistogram reports them. Values are milliseconds rounded to the microsecond.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from harness.analysis.outages import I64, MISSING, ProbeArrays, probe_arrays

#: Percentiles reported, and the field each goes to.
QUANTILES: Final[tuple[tuple[str, float], ...]] = (
    ("p50", 50.0),
    ("p90", 90.0),
    ("p99", 99.0),
    ("p99_9", 99.9),
)


class Percentiles(BaseModel):
    """Nearest-rank percentiles of a set of durations, in milliseconds.

    All values are None when ``count`` is 0 (no attempts of that kind), so a report can
    say "no data" instead of showing a misleading zero.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    #: The 99.9th percentile (a dot would make the JSON key awkward to query).
    p99_9: float | None = None
    max: float | None = None

    @classmethod
    def of_ns(cls, durations_ns: I64) -> Percentiles:
        """Percentiles of durations given in nanoseconds."""
        if len(durations_ns) == 0:
            return cls(count=0)
        qs = [q for _, q in QUANTILES]
        values = np.percentile(durations_ns, qs, method="inverted_cdf")
        ms = [_ms(v) for v in values.tolist()]
        fields = {name: value for (name, _), value in zip(QUANTILES, ms, strict=True)}
        return cls(count=len(durations_ns), max=_ms(float(durations_ns.max())), **fields)


def _ms(ns: float) -> float:
    return round(ns / 1e6, 3)


class ProbeLatency(BaseModel):
    """One probe's latency over its ok attempts, and its schedule lag over all attempts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: ``end − intended`` of ok attempts: what a fixed-rate client saw.
    from_intended: Percentiles
    #: ``end − start`` of ok attempts: the network and server alone.
    from_start: Percentiles
    #: ``start − intended`` of every attempt that started: the harness's own delay.
    schedule_lag: Percentiles


def _latency_of(arrays: ProbeArrays, rows: slice) -> ProbeLatency:
    ok = arrays.ok[rows]
    intended = arrays.intended_mono[rows]
    start = arrays.start_mono[rows]
    end = arrays.end_mono[rows]
    has_end = ok & (end != MISSING)
    has_start = start != MISSING
    from_intended: I64 = (end - intended)[has_end & (intended != MISSING)]
    from_start: I64 = (end - start)[has_end & has_start]
    lag: I64 = (start - intended)[has_start & (intended != MISSING)]
    return ProbeLatency(
        from_intended=Percentiles.of_ns(from_intended),
        from_start=Percentiles.of_ns(from_start),
        schedule_lag=Percentiles.of_ns(lag),
    )


def latency_from_arrays(arrays: ProbeArrays) -> dict[str, ProbeLatency]:
    """:func:`latency_by_probe` over prepared arrays."""
    return {name: _latency_of(arrays, arrays.segment(name)) for name in arrays.names}


def latency_by_probe(history: pd.DataFrame) -> dict[str, ProbeLatency]:
    """Latency and schedule lag of every probe in ``history``, keyed by probe name."""
    return latency_from_arrays(probe_arrays(history))
