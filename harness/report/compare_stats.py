"""The numbers of a method comparison: spreads across repetitions, and extra instance time.

A capacity review asks two things of each method: how long were clients down (not once,
but across repetitions, because one run of a failover can be lucky) and what did it cost.
This module answers both from what runs leave behind, and nothing else:

- :func:`spread` gives median, p95 and max of one probe's downtime across the runs of a
  group. With a handful of repetitions any percentile is an interpolation; it uses the
  linear rule (Hyndman & Fan type 7, numpy's and spreadsheets' default) and the report
  says so, so a reader can recompute every number from the runs' ``summary.json``.
- :func:`extra_instances` reads the scenario's actions and the target's events in the
  history: a temporary reader is billed from the moment it is requested, so its time
  counts from the ``create_reader`` invoke until it is seen deleted, or until an instance
  that existed before the run is deleted in its place (the failover method's reader
  *replaces* the old writer: from then on the cluster is back to its size), else until
  the end of the run.

Pure functions over plain values and DataFrames: no files, no database.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from harness.analysis import ProbeSummary, Summary

#: ``f`` of the history rows :func:`extra_instances` looks at (everything else is ignored).
INSTANCE_FUNCTIONS: Final = ("create_reader", "delete_instance", "event", "milestone")
#: The watcher's milestone when an instance disappears from ``describe()``.
GONE_SUFFIX: Final = " is gone"


@dataclass(frozen=True)
class Spread:
    """One quantity across the runs of a group (e.g. write downtime, in ms)."""

    values: tuple[float, ...]
    median: float
    p95: float
    max: float
    min: float

    @property
    def n(self) -> int:
        return len(self.values)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) by linear interpolation between closest ranks.

    Hyndman & Fan type 7: numpy's default, and what ``PERCENTILE.INC`` in a spreadsheet
    gives, so a reader can check the report with the tool at hand.
    """
    if not values:
        raise ValueError("percentile of no values")
    return float(np.percentile(np.asarray(values, dtype=np.float64), q, method="linear"))


def spread(values: Sequence[float]) -> Spread:
    """Median, p95, max and min of ``values`` (at least one), rounded to the µs."""
    data = tuple(float(v) for v in values)
    return Spread(
        values=data,
        median=round(percentile(data, 50), 3),
        p95=round(percentile(data, 95), 3),
        max=round(max(data), 3),
        min=round(min(data), 3),
    )


@dataclass(frozen=True)
class ExtraInstances:
    """The instance time a run added on top of the cluster it started with."""

    ms: float
    #: Instances the run asked to create, in order.
    created: list[str] = field(default_factory=list)
    #: Created instances still counted when the run ended (neither deleted nor replacing a
    #: deleted one): their time runs to the end of the run, and beyond it on the bill.
    open_at_end: list[str] = field(default_factory=list)


def _value(text: object) -> dict[str, object]:
    if not isinstance(text, str):
        return {}
    try:
        decoded = json.loads(text)
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _ns(value: object) -> int | None:
    """An epoch-ns cell as int; None for a missing one (``pd.NA``, NaN, None)."""
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return None


def _deletion(row: Mapping[Hashable, object]) -> tuple[str, int] | None:
    """(instance, epoch ns) if this row shows an instance deleted, else None.

    Three kinds of evidence, because the runner deletes in two ways: a ``delete_instance``
    step that completed without a note (a note means it deleted nothing: the instance was
    absent, or is the writer now and was kept); a target event in the ``deletion``
    category (AWS's "DB instance deleted", which the emulation mirrors); the watcher's
    "<instance> is gone" milestone (the rollback's own clean-up records no action).
    """
    f, kind = row.get("f"), row.get("type")
    value = _value(row.get("value"))
    if f == "delete_instance" and kind == "ok" and "note" not in value:
        name, when = value.get("instance"), _ns(row.get("end_ns"))
    elif f == "event":
        categories = value.get("categories")
        if not isinstance(categories, list) or "deletion" not in categories:
            return None
        name, when = row.get("server"), _ns(row.get("start_ns"))
    elif f == "milestone":
        message = row.get("message")
        if not isinstance(message, str) or not message.endswith(GONE_SUFFIX):
            return None
        name, when = message[: -len(GONE_SUFFIX)], _ns(row.get("end_ns"))
    else:
        return None
    if not isinstance(name, str) or not name or when is None:
        return None
    return name.lower(), when


def extra_instances(ops: pd.DataFrame, run_end_ns: int | None) -> ExtraInstances:
    """Extra instance time of one run, from its history's instance-related rows.

    ``ops`` needs the columns ``f``, ``type``, ``start_ns``, ``end_ns``, ``server``,
    ``message`` and ``value`` (other rows than :data:`INSTANCE_FUNCTIONS` are ignored).
    At any moment the run pays for ``max(0, instances requested so far − instances seen
    deleted so far)`` extra instances, whichever instance was deleted (a temporary reader,
    or the old writer it replaced); the result is that count integrated over time, from
    the first ``create_reader`` invoke to ``run_end_ns``.
    Instance names compare case-insensitively, as RDS identifiers do. 0 when the run
    created nothing.
    """
    if ops.empty:
        return ExtraInstances(0.0)
    rows = ops[ops["f"].isin(INSTANCE_FUNCTIONS)].to_dict("records")
    created_at: dict[str, int] = {}
    created_names: list[str] = []
    for row in rows:
        if row["f"] == "create_reader" and row["type"] == "invoke":
            name = _value(row.get("value")).get("instance")
            when = _ns(row.get("start_ns"))
            if isinstance(name, str) and when is not None and name.lower() not in created_at:
                created_at[name.lower()] = when
                created_names.append(name)
    if not created_at:
        return ExtraInstances(0.0)
    deleted_at: dict[str, int] = {}
    for row in rows:
        found = _deletion(row)
        if found is not None:
            name, when = found
            deleted_at[name] = min(when, deleted_at.get(name, when))

    # The cluster's size relative to the start: +1 per creation, -1 per deletion (of a
    # created instance or of one it replaced); the run pays for max(0, that) instances.
    changes = sorted(
        [(when, +1) for when in created_at.values()] + [(when, -1) for when in deleted_at.values()]
    )
    end_ns = run_end_ns if run_end_ns is not None else changes[-1][0]
    net = 0
    total_ns = 0
    previous = min(changes[0][0], end_ns)
    for when, delta in changes:
        clipped = min(max(when, previous), end_ns)
        total_ns += max(0, net) * (clipped - previous)
        previous = clipped
        net += delta
    total_ns += max(0, net) * max(0, end_ns - previous)
    open_at_end = [n for n in created_names if n.lower() not in deleted_at][: max(0, net)]
    return ExtraInstances(round(total_ns / 1e6, 3), created_names, open_at_end)


#: The group of runs made by ``harness probe`` (no scenario: the change was made by hand).
OBSERVE_ONLY: Final = "observe-only"


@dataclass(frozen=True)
class RunRecord:
    """One run as the comparison sees it (built by :mod:`harness.report.compare_inputs`)."""

    run_dir: Path
    #: The scenario's name, or :data:`OBSERVE_ONLY`.
    group: str
    summary: Summary
    #: What the run measured, as the reader must see it: ``local emulation (timing
    #: 'aurora')``, ``AWS``, ``not recorded``. Runs with different labels do not compare.
    target: str
    #: The scenario's parameters as text, without those that name the run itself.
    parameters: dict[str, str]
    extra: ExtraInstances
    #: False when ``summary.json`` had to be re-analysed: the thresholds' verdicts, which
    #: only the scenario run computes, are then unknown for this run.
    thresholds_known: bool
    #: Things the reader must know about this run (torn history, stale summary...).
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ProbeSpread:
    """One probe's downtime across the runs of a group that ran it."""

    probe: str
    #: Kind, mode and interval as the report's lanes name them (from the first run).
    detail: str
    downtime_ms: Spread
    #: Runs that ended while this probe was down: their downtime is a lower bound.
    down_at_end: int
    #: The probe's interval in each run that ran it (the resolution of every outage).
    resolutions_ms: tuple[float, ...]


@dataclass(frozen=True)
class GroupStats:
    """Every number the comparison shows for one group (one scenario)."""

    name: str
    runs: list[RunRecord]
    probes: dict[str, ProbeSpread]
    #: Extra instance time per run, ms.
    extra_ms: Spread
    #: Distinct target labels, in run order.
    targets: list[str]
    #: Acknowledged writes lost, summed over the runs whose audit could count them.
    lost: int
    #: Runs with writes whose audit could not count losses (no usable final read).
    lost_unknown: int
    audit_passed: int
    #: Runs that carry threshold verdicts, and how many of those passed all of them.
    threshold_runs: int
    thresholds_passed: int
    #: Runs whose thresholds are unknown (their summary was re-analysed).
    threshold_unknown: int


def _probe_detail(name: str, probe: ProbeSummary) -> str:
    """``pooled · every 10 ms`` (the kind too, when the name does not already say it)."""
    parts = [p for p in (probe.kind if probe.kind != name else None, probe.mode) if p]
    if probe.resolution_ms is not None:
        parts.append(f"every {probe.resolution_ms:g} ms")
    return " · ".join(parts)


def _probe_spreads(runs: Sequence[RunRecord]) -> dict[str, ProbeSpread]:
    """Probes in first-seen order; a run counts for a probe only if the probe attempted
    something in it (a probe that recorded nothing measured no downtime, not zero)."""
    names: list[str] = []
    for run in runs:
        names += [n for n, p in run.summary.probes.items() if p.ops and n not in names]
    out: dict[str, ProbeSpread] = {}
    for name in names:
        measured = [
            run.summary.probes[name]
            for run in runs
            if name in run.summary.probes and run.summary.probes[name].ops
        ]
        out[name] = ProbeSpread(
            probe=name,
            detail=_probe_detail(name, measured[0]),
            downtime_ms=spread([p.downtime_ms for p in measured]),
            down_at_end=sum(p.down_at_end for p in measured),
            resolutions_ms=tuple(p.resolution_ms for p in measured if p.resolution_ms is not None),
        )
    return out


def group_runs(runs: Sequence[RunRecord]) -> list[GroupStats]:
    """Runs grouped by scenario, groups in the order their first run was given."""
    by_group: dict[str, list[RunRecord]] = {}
    for run in runs:
        by_group.setdefault(run.group, []).append(run)
    groups = []
    for name, members in by_group.items():
        audits = [r.summary.audit for r in members]
        with_thresholds = [r for r in members if r.thresholds_known and r.summary.thresholds]
        groups.append(
            GroupStats(
                name=name,
                runs=members,
                probes=_probe_spreads(members),
                extra_ms=spread([r.extra.ms for r in members]),
                targets=list(dict.fromkeys(r.target for r in members)),
                lost=sum(a.lost or 0 for a in audits),
                lost_unknown=sum(a.lost is None and a.status != "not_applicable" for a in audits),
                audit_passed=sum(a.passed for a in audits),
                threshold_runs=len(with_thresholds),
                thresholds_passed=sum(r.summary.thresholds_passed for r in with_thresholds),
                threshold_unknown=sum(not r.thresholds_known for r in members),
            )
        )
    return groups


def _counted(values: Sequence[str]) -> str:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return ", ".join(f"{v} ×{n}" for v, n in counts.items())


def comparison_warnings(groups: Sequence[GroupStats]) -> list[str]:
    """What makes the comparison misleading, one sentence each (empty when nothing does).

    Runs of one group measured on different targets or timings (an emulation next to
    AWS), groups measured on different targets, probes with different intervals (their
    resolutions differ), and parameters that differ within a group (the runs may not be
    the same method).
    """
    warnings: list[str] = []
    for group in groups:
        if len(group.targets) > 1:
            warnings.append(
                f"{group.name}: its runs were measured on different targets "
                f"({_counted([r.target for r in group.runs])}); their spread mixes the "
                "targets' behaviour (comparing an emulation with AWS is misleading)"
            )
        for probe in group.probes.values():
            if len(set(probe.resolutions_ms)) > 1:
                shown = _counted([f"{v:g} ms" for v in probe.resolutions_ms])
                warnings.append(
                    f"{group.name}, probe {probe.probe}: the runs probed at different "
                    f"intervals ({shown}), so their downtimes have different resolutions"
                )
        keys = list(dict.fromkeys(k for r in group.runs for k in r.parameters))
        differing = [
            k for k in keys if len({r.parameters.get(k, "(unset)") for r in group.runs}) > 1
        ]
        if differing:
            detail = "; ".join(
                f"{k}: {_counted([r.parameters.get(k, '(unset)') for r in group.runs])}"
                for k in differing
            )
            warnings.append(
                f"{group.name}: the runs used different parameters ({detail}); they may "
                "not measure the same method"
            )
    single = {tuple(g.targets) for g in groups if len(g.targets) == 1}
    if len(groups) > 1 and len(single) > 1:
        detail = "; ".join(f"{g.name}: {', '.join(g.targets)}" for g in groups)
        warnings.append(
            f"the groups were measured on different targets ({detail}): a difference "
            "between them may be the targets', not the methods' (comparing an emulation "
            "with AWS is misleading)"
        )
    return warnings
