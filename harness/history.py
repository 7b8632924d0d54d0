"""The history: one append-only record of everything that happened in a run.

Probes, scenario actions and checks meet only here (Jepsen's history of ops). Writers
append :class:`Op` records as JSON Lines while the run goes on, so a crash loses at most
the last flush interval; readers (analysis, reports, notebooks) only ever load files.
The record format is documented for users in ``docs/history.md``; keep the two in step.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq

if TYPE_CHECKING:  # pandas loads on first use: writers (probes, the daemon) never need it
    import pandas as pd

#: Bump when a field changes meaning or type; readers refuse newer formats.
HISTORY_FORMAT = 1

JSONL_NAME = "history.jsonl"
PARQUET_NAME = "history.parquet"

#: A flush is scheduled this long after the first unflushed record (the issue asks ≤ 200 ms).
FLUSH_INTERVAL_S = 0.1

OpType = Literal["invoke", "ok", "fail", "info"]


class HistoryError(Exception):
    """A history that cannot be read: missing, corrupt in the middle, or from a newer format."""


@dataclass(slots=True)
class Op:
    """One operation: a probe attempt, a scenario action (or milestone), or a check.

    Probe attempts are written once, when they complete; ``type`` is their outcome and the
    invocation is implied by ``intended_ns``/``start_ns``. Actions are written twice
    (``invoke`` then ``ok``/``fail``/``info``) because they are few and slow, and a crash
    between the two must leave a trace.

    Times are epoch nanoseconds (``*_ns``) with monotonic twins (``*_mono_ns``); see
    :class:`Clock` for how they relate.
    """

    process: str
    f: str
    type: OpType
    index: int = -1
    seq: int | None = None
    intended_ns: int | None = None
    start_ns: int | None = None
    end_ns: int | None = None
    intended_mono_ns: int | None = None
    start_mono_ns: int | None = None
    end_mono_ns: int | None = None
    endpoint: str | None = None
    peer_ip: str | None = None
    server: str | None = None
    read_only: bool | None = None
    new_conn: bool | None = None
    tls_version: str | None = None
    tls_cipher: str | None = None
    peer_issuer_cn: str | None = None
    peer_not_after: str | None = None
    error_class: str | None = None
    errno: int | None = None
    message: str | None = None
    value: str | None = None

    def to_json(self) -> str:
        """One JSON line; null fields are left out to keep the journal small.

        On the probes' hot path: no ``dataclasses.asdict`` (it deep-copies every value).
        """
        return _dumps({k: v for k in _FIELD_NAMES if (v := getattr(self, k)) is not None})


_FIELD_NAMES = tuple(f.name for f in fields(Op))
_dumps = json.JSONEncoder(separators=(",", ":")).encode


_INT_FIELDS = {
    "index", "seq", "intended_ns", "start_ns", "end_ns",
    "intended_mono_ns", "start_mono_ns", "end_mono_ns", "errno",
}  # fmt: skip
_BOOL_FIELDS = {"read_only", "new_conn"}


def _arrow_type(name: str) -> pa.DataType:
    if name in _INT_FIELDS:
        return pa.int64()
    if name in _BOOL_FIELDS:
        return pa.bool_()
    return pa.string()


#: The Arrow schema of a history, in :class:`Op` field order.
SCHEMA = pa.schema([pa.field(f.name, _arrow_type(f.name)) for f in fields(Op)])
COLUMNS = tuple(SCHEMA.names)


class Clock:
    """Wall and monotonic time from one source.

    Wall times are the monotonic clock plus an offset sampled once when the clock is made,
    so an NTP step during a run cannot reorder or stretch measurements, while the values
    still line up with AWS event times (which are wall clock).
    """

    __slots__ = ("offset_ns",)

    def __init__(self) -> None:
        self.offset_ns = time.time_ns() - time.monotonic_ns()

    def mono_ns(self) -> int:
        return time.monotonic_ns()

    def wall(self, mono_ns: int) -> int:
        return mono_ns + self.offset_ns


class HistoryWriter:
    """Appends ops to ``history.jsonl`` and flushes at most ``FLUSH_INTERVAL_S`` later.

    Designed for one asyncio event loop: :meth:`append` is cheap (serialize, buffer) and
    arms a timer for the flush, so a SIGKILL loses at most ~100 ms of records and the
    probes' hot path never waits on the disk. Without a running loop it flushes at once.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("x", encoding="utf-8")
        self._buffer: list[str] = []
        self._next_index = 0
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False

    @property
    def count(self) -> int:
        """How many ops were appended so far."""
        return self._next_index

    def append(self, op: Op) -> Op:
        """Give ``op`` the next index and queue it for writing; returns it."""
        if self.closed:
            raise HistoryError(f"{self.path} is closed; cannot append {op.f}")
        op.index = self._next_index
        self._next_index += 1
        self._buffer.append(op.to_json())
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
            else:
                self._timer = loop.call_later(FLUSH_INTERVAL_S, self.flush)
        return op

    def flush(self) -> None:
        """Write buffered lines to the OS (survives SIGKILL, not a power cut)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._buffer and not self.closed:
            self._buffer.append("")
            self._file.write("\n".join(self._buffer))
            self._file.flush()
            self._buffer.clear()

    def close(self) -> None:
        """Flush, fsync and close; safe to call twice."""
        if self.closed:
            return
        self.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self.closed = True

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_jsonl_table(path: Path) -> pa.Table:
    """Parse a JSON Lines history, skipping a torn last line with a warning."""
    data = path.read_bytes().rstrip(b"\n")
    cut = data.rfind(b"\n") + 1  # start of the last line
    try:
        json.loads(data[cut:] or b"{}")
    except ValueError:
        warnings.warn(
            f"{path}: skipped a torn last line ({len(data) - cut} bytes); "
            "the run was probably killed while writing",
            stacklevel=3,
        )
        data = data[:cut]
    if not data.strip():
        return SCHEMA.empty_table()
    try:
        return pa_json.read_json(
            io.BytesIO(data),
            parse_options=pa_json.ParseOptions(
                explicit_schema=SCHEMA, unexpected_field_behavior="ignore"
            ),
            read_options=pa_json.ReadOptions(block_size=16 << 20),
        )
    except pa.ArrowInvalid as exc:
        raise HistoryError(f"{path}: not a readable history ({exc})") from exc


def convert_to_parquet(run_dir: Path) -> Path:
    """Write ``history.parquet`` next to ``history.jsonl``; returns its path."""
    table = _read_jsonl_table(run_dir / JSONL_NAME)
    table = table.replace_schema_metadata({"harness.history_format": str(HISTORY_FORMAT)})
    out = run_dir / PARQUET_NAME
    partial = out.with_suffix(".parquet.partial")
    pq.write_table(table, partial, compression="zstd")
    partial.replace(out)  # never a half-written file that readers would prefer
    return out


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    import pandas as pd

    mapping = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    frame: pd.DataFrame = table.select(list(COLUMNS)).to_pandas(types_mapper=mapping.get)
    return frame


def load_history(run_dir: str | Path) -> pd.DataFrame:
    """Load a run's history as a DataFrame with one row per op, in ``index`` order.

    Reads ``history.parquet`` when the run ended cleanly, else the JSON Lines journal
    (tolerating a torn last line). Integer columns are nullable ``Int64``.
    """
    run = Path(run_dir)
    parquet, jsonl = run / PARQUET_NAME, run / JSONL_NAME
    if parquet.exists():
        try:
            table = pq.read_table(parquet)
        except (OSError, pa.ArrowInvalid) as exc:
            raise HistoryError(f"{parquet} is not a readable Parquet history ({exc})") from exc
        meta = table.schema.metadata or {}
        fmt = int(meta.get(b"harness.history_format", b"0"))
        if fmt > HISTORY_FORMAT:
            raise HistoryError(
                f"{parquet} is history format {fmt}; this harness reads up to "
                f"{HISTORY_FORMAT}: upgrade rds-downtime-harness"
            )
        missing = set(COLUMNS) - set(table.column_names)
        if missing:
            raise HistoryError(f"{parquet} lacks columns {sorted(missing)}: not a history")
    elif jsonl.exists():
        table = _read_jsonl_table(jsonl)
    else:
        raise HistoryError(f"{run}: no {JSONL_NAME} or {PARQUET_NAME}; is this a run directory?")
    frame = _to_pandas(table)
    return frame.sort_values("index", kind="stable").reset_index(drop=True)


def ops_from_frame(frame: pd.DataFrame) -> Iterable[Op]:
    """Turn rows back into :class:`Op` objects (handy in notebooks and tests)."""
    import pandas as pd

    for row in frame.to_dict("records"):
        values: dict[str, Any] = {
            str(k): (None if pd.isna(v) else v) for k, v in row.items() if k in COLUMNS
        }
        yield Op(**values)


def op_value(op_value_json: str | None) -> Any:
    """Decode an op's ``value`` (JSON text, or None)."""
    return None if op_value_json is None else json.loads(op_value_json)
