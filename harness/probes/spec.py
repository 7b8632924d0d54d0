"""What a probe is: kind, connection mode, endpoint role and schedule, as a typed model."""

from __future__ import annotations

import math
import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import UsageError


class ProbeKind(StrEnum):
    WRITE = "write"  # INSERT one row per attempt (run id, probe, seq, client time)
    READ = "read"  # SELECT who answered and whether it is read-only
    CONNECT = "connect"  # a fresh TLS connection and a trivial query


class ProbeMode(StrEnum):
    POOLED = "pooled"  # persistent connections, reconnect after an error: what an app pool sees
    FRESH = "fresh"  # a new TLS connection per attempt: what a new client sees


class Role(StrEnum):
    WRITER = "writer"
    READER = "reader"


#: A fresh TLS connection costs ~5 ms and real CPU; connect probes default to this interval.
CONNECT_DEFAULT_INTERVAL_MS = 50.0


class ProbeSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_@:./-]{1,64}$")
    kind: ProbeKind
    mode: ProbeMode
    role: Role
    interval_ms: float = Field(gt=0)
    #: At most this many attempts in flight; later ones wait (and say so in start_ns).
    max_in_flight: int = Field(ge=1, le=4096)

    @property
    def interval_ns(self) -> int:
        return round(self.interval_ms * 1_000_000)


_SPEC = re.compile(
    r"^(?P<kind>[a-z]+)(?::(?P<mode>[a-z]+))?(?:@(?P<role>[a-z]+))?"
    r"(?:/(?P<interval>[0-9.]+)(?P<unit>ms|s))?$"
)
PROBES_HELP = (
    "Comma-separated probes, each KIND[:MODE][@ROLE][/INTERVAL]: KIND write|read|connect, "
    "MODE pooled|fresh (connect is always fresh), ROLE writer|reader (reads default to the "
    "reader endpoint when one is given), INTERVAL like 10ms or 0.5s. "
    "Example: write,read,read@writer,connect/50ms"
)


def default_max_in_flight(interval_ms: float, attempt_deadline_s: float) -> int:
    """Enough slots that attempts hanging until their deadline never delay the schedule."""
    return max(2, min(1024, math.ceil(attempt_deadline_s * 1000 / interval_ms) + 1))


def parse_probes(
    text: str, *, interval_ms: float, attempt_deadline_s: float, has_reader: bool
) -> list[ProbeSpec]:
    """Parse ``--probes``; every mistake is a :class:`UsageError` that shows the syntax."""
    specs: list[ProbeSpec] = []
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise UsageError(f"--probes is empty. {PROBES_HELP}")
    for item in items:
        m = _SPEC.match(item)
        if m is None:
            raise UsageError(f"--probes: cannot read {item!r}. {PROBES_HELP}")
        try:
            kind = ProbeKind(m["kind"])
        except ValueError:
            raise UsageError(
                f"--probes: unknown probe kind {m['kind']!r}; use write, read or connect"
            ) from None
        default_mode = ProbeMode.POOLED if kind is not ProbeKind.CONNECT else ProbeMode.FRESH
        try:
            mode = ProbeMode(m["mode"]) if m["mode"] else default_mode
            default_role = Role.READER if kind is ProbeKind.READ and has_reader else Role.WRITER
            role = Role(m["role"]) if m["role"] else default_role
        except ValueError as exc:
            raise UsageError(f"--probes: {exc} in {item!r}. {PROBES_HELP}") from None
        if kind is ProbeKind.CONNECT and mode is ProbeMode.POOLED:
            raise UsageError("--probes: a connect probe is always fresh; drop ':pooled'")
        if role is Role.READER and not has_reader:
            raise UsageError(f"--probes: {item!r} needs --reader-endpoint")
        if m["interval"]:
            every = float(m["interval"]) * (1000.0 if m["unit"] == "s" else 1.0)
        elif kind is ProbeKind.CONNECT:
            every = max(interval_ms, CONNECT_DEFAULT_INTERVAL_MS)
        else:
            every = interval_ms
        if every <= 0:
            raise UsageError(f"--probes: interval of {item!r} must be greater than zero")
        name = kind.value
        if mode is not default_mode:
            name += f":{mode.value}"
        if m["role"] and role is not default_role:
            name += f"@{role.value}"
        if any(s.name == name for s in specs):
            raise UsageError(f"--probes: {name!r} is listed twice")
        specs.append(
            ProbeSpec(
                name=name, kind=kind, mode=mode, role=role, interval_ms=every,
                max_in_flight=default_max_in_flight(every, attempt_deadline_s),
            )
        )  # fmt: skip
    return specs
