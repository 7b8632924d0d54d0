"""Synthetic run directories, as ``harness run`` leaves them, for report-side tests.

A run here is a real history written with :class:`~harness.HistoryWriter`, a ``run.json``
and a ``summary.json`` made by :func:`harness.rundir.finish_run` (the analysis the real
runner uses), with threshold verdicts added the way the runner adds them. Nothing talks
to a database: the comparison and the notebook only ever read these files.

Times are whole milliseconds on purpose, so a test can predict instants exactly (the
summary's ISO times are truncated to the millisecond).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness import HistoryWriter, Op
from harness.analysis import ProbeInfo, Summary, ThresholdResult
from harness.ranges import to_ranges
from harness.rundir import RunInfo, finish_run, write_summary

MS = 1_000_000
#: Monotonic start of every synthetic run, and wall = mono + WALL.
T0 = 10_000 * MS
WALL = 1_796_302_932_000 * MS
#: name → (kind, mode, interval ms)
PROBES: dict[str, tuple[str, str, float]] = {
    "write": ("write", "pooled", 10.0),
    "connect": ("connect", "fresh", 50.0),
}


def wall_ns(at_s: float) -> int:
    """Epoch ns of ``at_s`` seconds into a synthetic run."""
    return T0 + round(at_s * 1000) * MS + WALL


@dataclass
class RunSpec:
    """What one synthetic run looks like; see :func:`write_synthetic_run`."""

    run_id: str
    scenario: str | None = "direct-ca-change"
    seconds: float = 20.0
    #: probe → [(from_s, to_s)] windows in which its attempts fail.
    down: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    #: Scenario ops as (f, type, at_s, value) or (f, type, at_s, value, process).
    actions: list[tuple[object, ...]] = field(default_factory=list)
    target: str | None = "local"
    emulation: str | None = "aurora"
    parameters: dict[str, str | int | float | bool | None] = field(default_factory=dict)
    probes: dict[str, tuple[str, str, float]] = field(default_factory=lambda: dict(PROBES))
    #: Threshold on write downtime (ms); None: no thresholds (an observe-only run).
    max_write_downtime_ms: float | None = 40_000.0
    #: Acknowledged writes the final read does not find (lost writes).
    lose_writes: int = 0
    command: str = "run"


def _attempts(name: str, kind: str, interval: float, spec: RunSpec) -> list[Op]:
    ops = []
    windows = spec.down.get(name, [])
    for k in range(round(spec.seconds * 1000 / interval)):
        at_ms = k * interval
        due = T0 + round(at_ms * MS)
        start, end = due + 200_000, due + 2 * MS
        t = at_ms / 1000
        failed = any(lo <= t < hi for lo, hi in windows)
        ops.append(
            Op(
                process=name, f=kind, type="fail" if failed else "ok", seq=k,
                intended_mono_ns=due, start_mono_ns=start, end_mono_ns=end,
                intended_ns=due + WALL, start_ns=start + WALL, end_ns=end + WALL,
                endpoint="127.0.0.1:3307", server=None if failed else "instance-1",
                error_class="connect_refused" if failed else None,
                message="(2003) connect refused" if failed else None,
            )
        )  # fmt: skip
    return ops


def _action(f: str, type_: str, at_s: float, value: object, process: str = "scenario") -> Op:
    mono = T0 + round(at_s * 1000) * MS
    return Op(
        process=process, f=f, type=type_,  # type: ignore[arg-type]
        start_mono_ns=mono, end_mono_ns=mono, start_ns=mono + WALL, end_ns=mono + WALL,
        value=json.dumps(value) if value is not None else None,
        message=value.get("message") if isinstance(value, dict) else None,  # type: ignore[arg-type]
        server=value.get("server") if isinstance(value, dict) else None,  # type: ignore[arg-type]
    )  # fmt: skip


def run_info(spec: RunSpec) -> RunInfo:
    return RunInfo(
        run_id=spec.run_id, command=spec.command, started="2026-12-03T13:02:12.000Z",
        tool_version="0.1.0", target=spec.target, emulation=spec.emulation,
        scenario=spec.scenario, cluster="harness-local", parameters=dict(spec.parameters),
        writer_endpoint="127.0.0.1:3307", ca_from="rds-ca-2019", ca_to="rds-ca-rsa2048-g1",
        probes={
            name: ProbeInfo(kind=kind, mode=mode, endpoint="127.0.0.1:3307", interval_ms=iv)
            for name, (kind, mode, iv) in spec.probes.items()
        },
    )  # fmt: skip


def write_synthetic_run(run_dir: Path, spec: RunSpec) -> Summary:
    """Write the run directory; returns its summary (as written to ``summary.json``).

    The final read ends exactly 500 ms after the last attempt was due, on a whole
    millisecond: that is the end of the run.
    """
    ops: list[Op] = []
    for name, (kind, _, interval) in spec.probes.items():
        ops += _attempts(name, kind, interval, spec)
    for item in spec.actions:
        f, type_, at_s, value, *rest = item
        ops.append(_action(str(f), str(type_), float(at_s), value, *(str(r) for r in rest)))  # type: ignore[arg-type]
    acked = [op.seq for op in ops if op.f == "write" and op.type == "ok" and op.seq is not None]
    found = acked[spec.lose_writes :]
    end = T0 + round(spec.seconds * 1000 + 500) * MS
    ops.append(
        Op(process="audit", f="final_read", type="ok",
           value=json.dumps({"writer": "instance-1", "found": {"write": to_ranges(found)}}),
           start_mono_ns=end - 5 * MS, end_mono_ns=end, start_ns=end - 5 * MS + WALL,
           end_ns=end + WALL)
    )  # fmt: skip
    ops.sort(key=lambda op: op.end_mono_ns or op.start_mono_ns or 0)
    run_dir.mkdir(parents=True)
    info = run_info(spec)
    (run_dir / "run.json").write_text(info.model_dump_json(indent=2))
    with HistoryWriter(run_dir / "history.jsonl") as writer:
        for op in ops:
            writer.append(op)
    target = f"local emulation ({spec.emulation} timing)" if spec.target == "local" else None
    summary = finish_run(run_dir, spec.run_id, info.probes, target=target)
    if spec.max_write_downtime_ms is not None:
        value = summary.probes["write"].downtime_ms
        lost = summary.audit.lost
        results = [
            ThresholdResult(
                metric="probes.write.downtime_ms",
                condition=f"probes.write.downtime_ms ≤ {spec.max_write_downtime_ms:g}",
                value=value,
                verdict="pass" if value <= spec.max_write_downtime_ms else "fail",
            ),
            ThresholdResult(
                metric="audit.lost", condition="audit.lost ≤ 0", value=lost,
                verdict="unknown" if lost is None else "pass" if lost <= 0 else "fail",
            ),
        ]  # fmt: skip
        summary = summary.model_copy(update={"scenario": spec.scenario, "thresholds": results})
        write_summary(run_dir, summary)
    return summary


def reader_actions(
    reader: str, create_s: float, delete_s: float | None, *, deleted: str = "instance-1"
) -> list[tuple[object, ...]]:
    """The failover method's instance ops: create ``reader`` at ``create_s``; at
    ``delete_s`` (if given) the old writer ``deleted`` is deleted and the rollback keeps
    the reader (it is the writer now)."""
    actions: list[tuple[object, ...]] = [
        ("create_reader", "invoke", create_s, {"instance": reader, "ca": "rds-ca-2019"}),
        ("create_reader", "ok", create_s + 3, {"instance": reader, "ca": "rds-ca-2019"}),
    ]
    if delete_s is not None:
        actions += [
            ("delete_instance", "invoke", delete_s - 1, {"instance": deleted}),
            ("delete_instance", "ok", delete_s, {"instance": deleted, "if_exists": False}),
            (
                "delete_instance", "ok", delete_s + 0.5,
                {"instance": reader, "if_exists": True, "note": f"{reader} is the writer: kept"},
            ),
        ]  # fmt: skip
    return actions


def downtime_windows(
    seconds: Sequence[float], start_s: float = 5.0, probes: Sequence[str] = ("write", "connect")
) -> list[dict[str, list[tuple[float, float]]]]:
    """One ``down`` mapping per run: every probe down from ``start_s`` for that long."""
    return [{p: [(start_s, start_s + s)] for p in probes} for s in seconds]
