"""The journal: crash-safe JSON Lines, Parquet at the end, load_history. No database."""

from __future__ import annotations

import asyncio
import json
import warnings
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harness.history import (
    COLUMNS,
    FLUSH_INTERVAL_S,
    HISTORY_FORMAT,
    JSONL_NAME,
    HistoryError,
    HistoryWriter,
    Op,
    convert_to_parquet,
    load_history,
    ops_from_frame,
)


def _op(seq: int, kind: str = "ok") -> Op:
    return Op(
        process="write", f="write", type=kind, seq=seq,  # type: ignore[arg-type]
        intended_ns=1_700_000_000_000_000_000 + seq, start_ns=1_700_000_000_000_000_100 + seq,
        end_ns=1_700_000_000_000_001_000 + seq, read_only=False, server="db-1",
    )  # fmt: skip


def test_indexes_follow_append_order_and_nulls_are_left_out(tmp_path: Path) -> None:
    with HistoryWriter(tmp_path / JSONL_NAME) as writer:
        for seq in range(3):
            writer.append(_op(seq))
    lines = (tmp_path / JSONL_NAME).read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["index"] for r in records] == [0, 1, 2]
    assert "error_class" not in records[0]
    assert records[2]["seq"] == 2


def test_flushes_within_interval_while_loop_runs(tmp_path: Path) -> None:
    path = tmp_path / JSONL_NAME

    async def scenario() -> tuple[int, int]:
        writer = HistoryWriter(path)
        writer.append(_op(0))
        before = path.stat().st_size  # buffered, not yet flushed
        await asyncio.sleep(FLUSH_INTERVAL_S * 2)
        after = path.stat().st_size
        writer.close()
        return before, after

    before, after = asyncio.run(scenario())
    assert before == 0
    assert after > 0


def test_existing_journal_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / JSONL_NAME).write_text("precious\n")
    with pytest.raises(FileExistsError):
        HistoryWriter(tmp_path / JSONL_NAME)
    assert (tmp_path / JSONL_NAME).read_text() == "precious\n"


def test_torn_last_line_is_skipped_with_warning(tmp_path: Path) -> None:
    with HistoryWriter(tmp_path / JSONL_NAME) as writer:
        for seq in range(5):
            writer.append(_op(seq, "fail" if seq == 2 else "ok"))
    with (tmp_path / JSONL_NAME).open("a") as f:
        f.write('{"process":"write","f":"wri')
    with pytest.warns(UserWarning, match="torn last line"):
        frame = load_history(tmp_path)
    assert list(frame["seq"]) == [0, 1, 2, 3, 4]
    assert list(frame["type"]) == ["ok", "ok", "fail", "ok", "ok"]


def test_corrupt_middle_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / JSONL_NAME
    path.write_text(_op(0).to_json() + "\nnot json\n" + _op(1).to_json() + "\n")
    with pytest.raises(HistoryError, match="not a readable history"):
        load_history(tmp_path)


def test_parquet_round_trip_keeps_types_and_values(tmp_path: Path) -> None:
    with HistoryWriter(tmp_path / JSONL_NAME) as writer:
        writer.append(_op(0))
        writer.append(
            Op(process="write", f="write", type="info", seq=1, error_class="timeout", errno=None)
        )
    convert_to_parquet(tmp_path)
    meta = pq.read_schema(tmp_path / "history.parquet").metadata
    assert meta[b"harness.history_format"] == str(HISTORY_FORMAT).encode()
    frame = load_history(tmp_path)  # now from Parquet
    assert tuple(frame.columns) == COLUMNS
    assert str(frame["seq"].dtype) == "Int64"
    assert str(frame["read_only"].dtype) == "boolean"
    assert frame.loc[0, "end_ns"] == 1_700_000_000_000_001_000
    ops = list(ops_from_frame(frame))
    assert ops[1].type == "info" and ops[1].error_class == "timeout" and ops[1].server is None


def test_newer_format_is_refused(tmp_path: Path) -> None:
    with HistoryWriter(tmp_path / JSONL_NAME) as writer:
        writer.append(_op(0))
    convert_to_parquet(tmp_path)
    table = pq.read_table(tmp_path / "history.parquet")
    table = table.replace_schema_metadata({"harness.history_format": str(HISTORY_FORMAT + 1)})
    pq.write_table(table, tmp_path / "history.parquet")
    with pytest.raises(HistoryError, match="upgrade"):
        load_history(tmp_path)


def test_missing_history_names_the_directory(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="is this a run directory"):
        load_history(tmp_path)


def test_append_is_cheap(tmp_path: Path) -> None:
    """Not a timing assertion: checks appends are buffered (no write per op) in a loop."""

    async def scenario() -> int:
        writer = HistoryWriter(tmp_path / JSONL_NAME)
        for seq in range(1000):
            writer.append(_op(seq))
        size = (tmp_path / JSONL_NAME).stat().st_size
        writer.close()
        return size

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert asyncio.run(scenario()) == 0
    assert len((tmp_path / JSONL_NAME).read_text().splitlines()) == 1000
