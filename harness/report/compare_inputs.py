"""The runs a comparison reads: which directories, and what each one holds.

``harness compare`` takes run directories, or a parent holding ``run-NN`` directories
(what ``harness run --repeat N`` writes), in any mix. Each run is read as the per-run
report reads it (:mod:`harness.report.inputs`: same format checks, same trust in
``summary.json`` only while it is the analysis of the history), except that the probe
attempts are not loaded when the summary can be trusted: a comparison of ten one-hour
runs needs their summaries and a few hundred action rows, not ten million attempts.

Everything is checked before anything is written: one unusable directory is a one-line
:class:`~harness.errors.UsageError` and the comparison is not made, because a comparison
silently missing a repetition would show a spread that was never measured.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pandas as pd
import pyarrow.parquet as pq

from harness.analysis import SUMMARY_FORMAT, Summary, summarize
from harness.errors import UsageError
from harness.history import HISTORY_FORMAT, JSONL_NAME, PARQUET_NAME
from harness.report.compare_stats import (
    INSTANCE_FUNCTIONS,
    OBSERVE_ONLY,
    RunRecord,
    extra_instances,
)
from harness.report.inputs import (
    history_file,
    load_history_noting,
    one_line,
    read_info,
    saved_summary,
)
from harness.rundir import SUMMARY_NAME, RunInfo

#: Subdirectories ``harness run --repeat N`` writes.
REPEAT_DIR: Final = re.compile(r"run-\d+")
_OP_COLUMNS: Final = ["f", "type", "start_ns", "end_ns", "server", "message", "value"]


def expand_run_dirs(paths: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """Run directories in the order given, a parent's ``run-NN`` in numeric order.

    Returns the directories and notes (a run named twice is compared once). Raises
    :class:`UsageError` for a path that is neither a run nor a parent of runs.
    """
    found: list[Path] = []
    notes: list[str] = []
    seen: set[Path] = set()
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path} does not exist: pass run directories (results/<stamp>-...)")
        if not path.is_dir():
            raise UsageError(f"{path} is not a directory: pass run directories")
        if history_file(path) is not None:
            runs = [path]
        else:
            runs = sorted(
                (p for p in path.iterdir() if p.is_dir() and REPEAT_DIR.fullmatch(p.name)),
                key=lambda p: int(p.name.split("-")[1]),
            )
            if not runs:
                raise UsageError(
                    f"{path} has no {JSONL_NAME} or {PARQUET_NAME} and no run-NN "
                    "subdirectories: not a run directory"
                )
        for run in runs:
            key = run.resolve()
            if key in seen:
                notes.append(f"{run} was given more than once; it is compared once")
                continue
            seen.add(key)
            found.append(run)
    if not found:
        raise UsageError("no run directories given: pass at least one")
    return found, notes


def _check_summary_format(run_dir: Path) -> None:
    """A ``summary.json`` from a newer harness is refused, not silently re-analysed: its
    history may hold what this version cannot read correctly either."""
    path = run_dir / SUMMARY_NAME
    if not path.exists():
        return
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return  # unreadable: saved_summary says so and the history is re-analysed
    fmt = data.get("format") if isinstance(data, dict) else None
    if isinstance(fmt, int) and fmt > SUMMARY_FORMAT:
        raise UsageError(
            f"{path} is summary format {fmt}; this harness reads up to {SUMMARY_FORMAT}: "
            "upgrade rds-downtime-harness"
        )


def _instance_ops(run_dir: Path) -> pd.DataFrame:
    """Only the rows extra instance time needs, read from Parquet without the attempts.

    Checks the file's format as :func:`~harness.history.load_history` would, since that
    is skipped here: a history from a newer harness is refused, not half-understood.
    """
    path = run_dir / PARQUET_NAME
    try:
        meta = pq.read_schema(path).metadata or {}
        fmt = int(meta.get(b"harness.history_format", b"0"))
        table = pq.read_table(
            path,
            columns=_OP_COLUMNS,
            filters=[("f", "in", list(INSTANCE_FUNCTIONS))],
        )
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise UsageError(
            f"{path} is not a readable Parquet history ({one_line(str(exc))})"
        ) from None
    if fmt > HISTORY_FORMAT:
        raise UsageError(
            f"{path} is history format {fmt}; this harness reads up to {HISTORY_FORMAT}: "
            "upgrade rds-downtime-harness"
        )
    frame: pd.DataFrame = table.to_pandas()
    return frame


def _epoch_ns(iso: str | None) -> int | None:
    """``summary.json``'s ``ended`` (ISO-8601 UTC, ms) as epoch ns, exactly."""
    if iso is None:
        return None
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def group_name(info: RunInfo | None) -> str:
    """The scenario a run measured; runs of ``harness probe`` (or without ``run.json``,
    which only a probe run can lack) are observe-only: the change was made by hand."""
    if info is not None and info.scenario:
        return info.scenario
    if info is None or info.command == "probe":
        return OBSERVE_ONLY
    return f"harness {info.command} (no scenario recorded)"


def target_label(info: RunInfo | None, summary: Summary) -> str:
    """What the run measured: two runs with different labels are not the same experiment."""
    kind = info.target if info is not None else None
    if kind == "local":
        timing = info.emulation if info is not None else None
        return f"local emulation (timing '{timing or 'not recorded'}')"
    if kind == "aws":
        region = (summary.target or "").removeprefix("aws").strip()
        return f"AWS ({region})" if region else "AWS"
    return kind or summary.target or "target not recorded"


def _parameters(info: RunInfo | None) -> dict[str, str]:
    """Parameters as text, without values naming the run (``harness-<run id>``)."""
    if info is None:
        return {}
    run_id = info.run_id.lower()
    shown = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in info.parameters.items()}
    return {k: v for k, v in shown.items() if run_id not in v.lower()}


def load_compared_run(run_dir: Path) -> RunRecord:
    """One run, checked and reduced to what the comparison needs; see the module docstring."""
    source = history_file(run_dir)
    if source is None:
        raise UsageError(f"{run_dir} has no {JSONL_NAME} or {PARQUET_NAME}: not a run directory")
    info = read_info(run_dir)
    _check_summary_format(run_dir)
    notes: list[str] = []
    run_id = info.run_id if info is not None else None
    summary: Summary | None = saved_summary(run_dir, source, run_id, notes)
    thresholds_known = summary is not None or not (info is not None and info.scenario)
    if summary is not None and source.name == PARQUET_NAME:
        ops = _instance_ops(run_dir)
    else:
        history = load_history_noting(run_dir, notes, pass_on=False)
        if summary is None:
            summary = summarize(
                history,
                run_id=run_id or run_dir.name,
                probe_info=info.probes if info is not None else None,
                target=info.target if info is not None else None,
            )
        ops = history.loc[history["f"].isin(INSTANCE_FUNCTIONS), _OP_COLUMNS]
    if not thresholds_known:
        notes.append(
            f"{SUMMARY_NAME} was re-analysed, so the scenario's threshold verdicts are unknown"
        )
    if info is not None:
        notes.extend(f"run.json: {w}" for w in info.warnings)
    return RunRecord(
        run_dir=run_dir,
        group=group_name(info),
        summary=summary,
        target=target_label(info, summary),
        parameters=_parameters(info),
        extra=extra_instances(ops, _epoch_ns(summary.ended)),
        thresholds_known=thresholds_known,
        notes=notes,
    )


def load_runs(paths: Sequence[Path]) -> tuple[list[RunRecord], list[str]]:
    """Every run under ``paths`` (see :func:`expand_run_dirs`), and notes about the input."""
    run_dirs, notes = expand_run_dirs(paths)
    return [load_compared_run(run_dir) for run_dir in run_dirs], notes
