"""Parsing --probes: kinds, modes, roles, intervals, and the errors users get."""

from __future__ import annotations

import pytest

from harness.errors import UsageError
from harness.probes.spec import ProbeKind, ProbeMode, Role, default_max_in_flight, parse_probes


def _parse(text: str, has_reader: bool = True) -> list:  # type: ignore[type-arg]
    return parse_probes(text, interval_ms=10, attempt_deadline_s=2.0, has_reader=has_reader)


def test_defaults_follow_the_issue() -> None:
    write, read, connect = _parse("write,read,connect")
    assert (write.kind, write.mode, write.role) == (ProbeKind.WRITE, ProbeMode.POOLED, Role.WRITER)
    assert (read.mode, read.role) == (ProbeMode.POOLED, Role.READER)
    assert (connect.mode, connect.role, connect.interval_ms) == (ProbeMode.FRESH, Role.WRITER, 50)
    assert write.interval_ms == 10


def test_reads_go_to_the_writer_without_a_reader_endpoint() -> None:
    (read,) = _parse("read", has_reader=False)
    assert read.role is Role.WRITER


def test_modifiers_and_names() -> None:
    specs = _parse("write,read,read@writer,read:fresh,connect/20ms,write:fresh/0.5s")
    assert [s.name for s in specs][:5] == ["write", "read", "read@writer", "read:fresh", "connect"]
    assert specs[4].interval_ms == 20
    assert specs[2].role is Role.WRITER
    assert (specs[5].name, specs[5].interval_ms) == ("write:fresh", 500)


def test_duplicate_is_refused() -> None:
    with pytest.raises(UsageError, match="twice"):
        _parse("write,write")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("delete", "unknown probe kind 'delete'"),
        ("connect:pooled", "always fresh"),
        ("read@primary", "primary"),
        ("read:sticky", "sticky"),
        ("write/0ms", "greater than zero"),
        ("write/fast", "cannot read"),
        ("", "empty"),
    ],
)
def test_bad_specs_explain_themselves(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _parse(text)


def test_reader_role_needs_a_reader_endpoint() -> None:
    with pytest.raises(UsageError, match="--reader-endpoint"):
        _parse("read@reader", has_reader=False)


def test_in_flight_bound_covers_the_deadline() -> None:
    assert default_max_in_flight(10, 2.0) == 201
    assert default_max_in_flight(1000, 0.5) == 2
    assert default_max_in_flight(0.01, 2.0) == 1024
