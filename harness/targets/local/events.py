"""The local cluster's event log, in RDS's words.

A scenario waits on events as it would on AWS (``describe_events`` has no event ID, so
identity is the message), hence the texts below are RDS's own wherever RDS has one for
the step; the few without an RDS counterpart are marked as local. Dates are UTC and keep
milliseconds (RDS rounds to the second), which lines events up with probe histories.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final, Literal

from harness.targets.base import ClusterEvent

SourceType = Literal["db-instance", "db-cluster"]

# RDS's own texts (see FACTS.md, "Useful messages").
SHUTDOWN: Final = "DB instance shutdown."
RESTARTED: Final = "DB instance restarted."
CREATED: Final = "DB instance created."
DELETED: Final = "DB instance deleted."
FAILOVER_STARTED: Final = "Started cross AZ failover to DB instance: {target}"
FAILOVER_COMPLETED: Final = "Completed failover to DB instance: {target}"
# Modelled on RDS's "Applying modification to ..." / "Finished applying modification to ...".
CA_APPLYING: Final = "Applying modification to CA certificate: {ca}."
CA_APPLIED: Final = "Finished applying modification to CA certificate: {ca}."
# Local only: RDS says nothing distinct for these.
CA_ROTATED_NO_RESTART: Final = (
    "Finished applying modification to CA certificate: {ca}. The server certificate was "
    "rotated without a restart; open connections keep the previous certificate."
)
DATA_DISCARDED: Final = (
    "Discarded writes this DB instance accepted that the writer never had (split brain); "
    "the instance was rebuilt from the writer."
)
OPERATION_FAILED: Final = "The local emulation could not complete {operation}: {reason}"

AVAILABILITY: Final = ("availability",)
FAILOVER: Final = ("failover",)
CONFIGURATION: Final = ("configuration change",)


def now_ms() -> datetime:
    """Now, UTC, truncated to the millisecond (the resolution events promise)."""
    return _truncate_ms(datetime.now(UTC))


def _truncate_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


class EventLog:
    """Append-only, in order of emission (dates can tie at millisecond resolution)."""

    def __init__(self) -> None:
        self._events: list[ClusterEvent] = []

    def emit(
        self,
        source: str,
        source_type: SourceType,
        message: str,
        categories: Sequence[str] = (),
    ) -> ClusterEvent:
        event = ClusterEvent(
            date=now_ms(), source_identifier=source, source_type=source_type,
            message=message, categories=tuple(categories),
        )  # fmt: skip
        self._events.append(event)
        return event

    def since(self, since: datetime) -> list[ClusterEvent]:
        """Events dated at or after ``since`` (RDS's StartTime); a naive time means UTC.

        Compared at the events' millisecond resolution, so that an event emitted in the
        same millisecond as ``since`` (its date truncated below it) is not missed.
        """
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        since = _truncate_ms(since)
        return [event for event in self._events if event.date >= since]

    def __len__(self) -> int:
        return len(self._events)
