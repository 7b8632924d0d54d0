"""Everything a report needs, read from the run directory alone.

A report must be reproducible from the files a run leaves behind, years later and on
another machine: the history, ``run.json`` if it exists, and ``summary.json`` when it is
still the analysis of that history. Anything unusable becomes one
:class:`~harness.errors.UsageError` line (the command line turns it into exit 2); anything
merely imperfect (a torn last line, a stale summary) becomes a warning that the report
itself repeats, so the reader of a ticket sees it too.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from harness.analysis import Summary, summarize
from harness.errors import UsageError
from harness.history import (
    HISTORY_FORMAT,
    JSONL_NAME,
    PARQUET_NAME,
    HistoryError,
    load_history,
)
from harness.rundir import RUN_INFO_NAME, SUMMARY_NAME, RunInfo, read_run_info


@dataclass(frozen=True, eq=False)
class RunInputs:
    """A run as the report sees it. ``summary`` is always the analysis of ``history``."""

    run_dir: Path
    history: pd.DataFrame
    summary: Summary
    run_info: RunInfo | None
    #: True when ``summary.json`` was used as is; False when the history was re-analysed.
    summary_from_file: bool
    #: Things the reader must know (torn history, stale summary), one sentence each.
    warnings: list[str] = field(default_factory=list)


def one_line(text: str) -> str:
    """Collapse whitespace: pyarrow and pydantic messages span lines; errors must not."""
    return " ".join(text.split())


def history_file(run_dir: Path) -> Path | None:
    """The file :func:`load_history` reads (it prefers Parquet)."""
    for name in (PARQUET_NAME, JSONL_NAME):
        if (run_dir / name).exists():
            return run_dir / name
    return None


def read_info(run_dir: Path) -> RunInfo | None:
    try:
        info = read_run_info(run_dir)
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {"msg": str(exc), "loc": ()}
        where = ".".join(str(p) for p in first.get("loc", ())) or "document"
        raise UsageError(
            f"{run_dir / RUN_INFO_NAME} is not readable ({where}: {one_line(str(first['msg']))})"
        ) from None
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"{run_dir / RUN_INFO_NAME} is not readable ({one_line(str(exc))})"
        ) from None
    if info is not None and info.format > HISTORY_FORMAT:
        raise UsageError(
            f"{run_dir} was written with history format {info.format}; this harness reads up "
            f"to {HISTORY_FORMAT}: upgrade rds-downtime-harness"
        )
    if info is not None and info.format < 1:
        raise UsageError(
            f"{run_dir} was written with history format {info.format}, older than any this "
            "harness reads (1)"
        )
    return info


def load_history_noting(run_dir: Path, notes: list[str], *, pass_on: bool = True) -> pd.DataFrame:
    """:func:`load_history`, with its warnings kept in ``notes`` (and, with ``pass_on``,
    warned again); a history that cannot be read is one-line bad input."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            history = load_history(run_dir)
        except HistoryError as exc:
            raise UsageError(one_line(str(exc))) from None
    for item in caught:
        if issubclass(item.category, UserWarning):
            notes.append(one_line(str(item.message)))
        if pass_on:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    return history


def saved_summary(
    run_dir: Path, source: Path, run_id: str | None, notes: list[str]
) -> Summary | None:
    """``summary.json`` if it is the analysis of the current history, else None (+ a note)."""
    path = run_dir / SUMMARY_NAME
    if not path.exists():
        return None
    if path.stat().st_mtime_ns < source.stat().st_mtime_ns:
        notes.append(
            f"{SUMMARY_NAME} is older than {source.name}; this report re-analysed the history"
        )
        return None
    try:
        summary = Summary.model_validate_json(path.read_bytes())
    except (ValidationError, ValueError, OSError) as exc:
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        notes.append(
            f"{SUMMARY_NAME} is not readable by this harness ({one_line(reason)}); this report "
            "re-analysed the history"
        )
        return None
    if run_id is not None and summary.run_id != run_id:
        notes.append(
            f"{SUMMARY_NAME} belongs to run {summary.run_id}, not {run_id}; this report "
            "re-analysed the history"
        )
        return None
    return summary


def load_run(run_dir: Path) -> RunInputs:
    """Read a run directory for reporting; raises :class:`UsageError` if it is unusable."""
    if not run_dir.exists():
        raise UsageError(f"{run_dir} does not exist: pass a run directory (results/<stamp>-...)")
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir} is not a directory: pass a run directory")
    source = history_file(run_dir)
    if source is None:
        raise UsageError(f"{run_dir} has no {JSONL_NAME} or {PARQUET_NAME}: not a run directory")
    info = read_info(run_dir)
    notes: list[str] = []
    history = load_history_noting(run_dir, notes)
    # Without run.json the run id is unknown: the directory's name stands in for it.
    run_id = info.run_id if info is not None else None
    summary = saved_summary(run_dir, source, run_id, notes)
    from_file = summary is not None
    if summary is None:
        summary = summarize(
            history,
            run_id=run_id or run_dir.name,
            probe_info=info.probes if info is not None else None,
            target=info.target if info is not None else None,
        )
    if info is not None:
        notes.extend(f"run.json: {w}" for w in info.warnings)
    return RunInputs(
        run_dir=run_dir,
        history=history,
        summary=summary,
        run_info=info,
        summary_from_file=from_file,
        warnings=notes,
    )
