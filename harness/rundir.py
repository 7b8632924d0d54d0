"""Run directories: where a run's files live, and how a run is closed.

A run directory holds ``history.jsonl`` (the journal), ``run.json`` (what was run, never
a secret), and after the run ``history.parquet`` and ``summary.json``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from harness.analysis import ProbeInfo, Summary, summarize
from harness.errors import UsageError
from harness.history import HISTORY_FORMAT, JSONL_NAME, convert_to_parquet, load_history

RUN_INFO_NAME = "run.json"
SUMMARY_NAME = "summary.json"


class RunInfo(BaseModel):
    """``run.json``: enough to understand and reproduce a run. Holds no password."""

    format: int = HISTORY_FORMAT
    run_id: str
    command: str
    started: str
    tool_version: str
    target: str | None = None
    #: What was run and against what; None for fields a command does not know (``harness
    #: probe`` runs no scenario). Reports print them and say "not recorded" otherwise.
    scenario: str | None = None
    #: Local target: the timing profile (``instant``, ``aurora``); None on AWS.
    emulation: str | None = None
    cluster: str | None = None
    #: The CA in force before the change and the one the scenario rotates to.
    ca_from: str | None = None
    ca_to: str | None = None
    #: ``harness run``: the scenario file and its parameters after ``--set`` (no secrets).
    scenario_file: str | None = None
    parameters: dict[str, str | int | float | bool | None] = {}
    writer_endpoint: str | None = None
    reader_endpoint: str | None = None
    user: str | None = None
    database: str | None = None
    ca_bundle: str | None = None
    connect_timeout_ms: float | None = None
    query_timeout_ms: float | None = None
    probes: dict[str, ProbeInfo] = {}
    warnings: list[str] = []


def utc_stamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def new_run_id() -> str:
    """Sortable and unique enough to share one table across runs: ``20261203T130212Z-3f9a1c``."""
    return f"{utc_stamp()}-{secrets.token_hex(3)}"


def default_run_dir(label: str, root: Path = Path("results")) -> Path:
    return root / f"{utc_stamp()}-{label}"


def check_run_dir(path: Path) -> None:
    """Refuse a directory that holds anything: a run must never overwrite another."""
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"--out {path} exists and is not a directory: choose another path")
        if any(path.iterdir()):
            raise UsageError(
                f"--out {path} exists and is not empty: choose a new directory (runs are "
                "never overwritten)"
            )


def create_run_dir(path: Path, info: RunInfo) -> Path:
    check_run_dir(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / RUN_INFO_NAME).write_text(info.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path / JSONL_NAME


def read_run_info(run_dir: Path) -> RunInfo | None:
    path = run_dir / RUN_INFO_NAME
    if not path.exists():
        return None
    return RunInfo.model_validate_json(path.read_text(encoding="utf-8"))


def finish_run(
    run_dir: Path,
    run_id: str,
    probe_info: Mapping[str, ProbeInfo] | None = None,
    target: str | None = None,
) -> Summary:
    """Convert the journal to Parquet, analyse it and write ``summary.json``."""
    convert_to_parquet(run_dir)
    summary = summarize(load_history(run_dir), run_id=run_id, probe_info=probe_info, target=target)
    write_summary(run_dir, summary)
    return summary


def write_summary(run_dir: Path, summary: Summary) -> Path:
    path = run_dir / SUMMARY_NAME
    path.write_text(summary.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path
