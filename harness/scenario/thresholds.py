"""Thresholds: pass/fail criteria over ``summary.json`` that decide the exit code (k6 style).

A metric is a dotted path into the run's summary (:class:`harness.analysis.Summary`), e.g.
``probes.write.downtime_ms`` or ``audit.lost``. Paths are checked against the summary's
model when the scenario loads, so a misspelt metric is bad input (exit 2) instead of a
threshold that can never be evaluated after the cluster has already been changed.

A value that is missing or null when the run ends (``audit.lost`` without a final read) is
``unknown``, and unknown does not pass: a run meant to prove "no write lost" proves nothing
if it could not look. Missing keys of count maps (``probes.write.errors.read_only``) are 0.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Field, field_validator, model_validator

from harness.analysis.summary import Summary
from harness.scenario._base import Frozen, LocatedError

Verdict = Literal["pass", "fail", "unknown"]
_NUMBERS = (int, float, bool)


def _unwrap(tp: Any) -> Any:
    """``X | None`` → ``X``; other unions and plain types unchanged."""
    if get_origin(tp) in (Union, types.UnionType):
        members = [a for a in get_args(tp) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return tp


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    found: dict[str, Any] = {n: f.annotation for n, f in model.model_fields.items()}
    found.update({n: f.return_type for n, f in model.model_computed_fields.items()})
    return found


def _is_number(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, _NUMBERS)


def _is_navigable(tp: Any) -> bool:
    tp = _unwrap(tp)
    if _is_number(tp):
        return True
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return True
    return get_origin(tp) is dict and _is_navigable(get_args(tp)[1])


def _choices(tp: Any) -> str:
    if get_origin(tp) is dict:
        return "<name>"
    return ", ".join(n for n, t in _fields(tp).items() if _is_navigable(t))


def _walk(path: str, root: type[BaseModel]) -> list[Any]:
    """The type at each segment of ``path``; raises ValueError with the valid choices."""
    segments = path.split(".")
    types_seen: list[Any] = []
    tp: Any = root
    for depth, segment in enumerate(segments):
        tp = _unwrap(tp)
        where = ".".join(segments[:depth]) or "the summary"
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = _fields(tp)
            if segment not in fields or not _is_navigable(fields[segment]):
                raise ValueError(f"unknown metric {path!r}: under {where} choose {_choices(tp)}")
            tp = fields[segment]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            raise ValueError(f"unknown metric {path!r}: {where} is a number, it has no {segment!r}")
        types_seen.append(_unwrap(tp))
    if not _is_number(types_seen[-1]):
        raise ValueError(
            f"metric {path!r} is not a number: under it choose {_choices(types_seen[-1])}"
        )
    return types_seen


def check_metric(path: str, root: type[BaseModel] = Summary) -> None:
    """Raise ValueError unless ``path`` names a number (or boolean) in the summary model."""
    _walk(path, root)


def probe_in_metric(path: str) -> tuple[str, bool] | None:
    """The probe a metric is about and whether it must be a write probe (``audit.probes``)."""
    parts = path.split(".")
    if len(parts) >= 2 and parts[0] == "probes":
        return parts[1], False
    if len(parts) >= 3 and parts[:2] == ["audit", "probes"]:
        return parts[2], True
    return None


def lookup_metric(
    summary: Mapping[str, Any], path: str, root: type[BaseModel] = Summary
) -> float | None:
    """The metric's value in a summary document (``summary.model_dump()``), or None.

    Booleans count as 0/1 (``probes.x.down_at_end`` with ``max: 0``). A missing key of a
    count map (``errors``, ``servers``) is 0; anything else missing or null is None.
    """
    types_seen = _walk(path, root)
    value: Any = summary
    for depth, segment in enumerate(path.split(".")):
        if not isinstance(value, Mapping):
            return None
        if segment not in value:
            parent = _unwrap(types_seen[depth - 1]) if depth else root
            counts = get_origin(parent) is dict and _is_number(_unwrap(get_args(parent)[1]))
            return 0.0 if counts and depth == len(types_seen) - 1 else None
        value = value[segment]
    if isinstance(value, bool | int | float):
        return float(value)
    return None


class Threshold(Frozen):
    """``{metric: probes.write.downtime_ms, max: 20000}``: pass when min ≤ value ≤ max."""

    metric: str = Field(min_length=1)
    max: float | None = None
    min: float | None = None
    #: Why this threshold exists (shown in the report next to the verdict).
    description: str | None = None

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        check_metric(value)
        return value

    @model_validator(mode="after")
    def _has_bound(self) -> Threshold:
        if self.max is None and self.min is None:
            raise LocatedError((), "a threshold needs max, min or both")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise LocatedError(("min",), f"min {self.min:g} is above max {self.max:g}")
        return self

    def verdict(self, value: float | None) -> Verdict:
        if value is None:
            return "unknown"
        if self.max is not None and value > self.max:
            return "fail"
        if self.min is not None and value < self.min:
            return "fail"
        return "pass"

    def describe(self) -> str:
        """``probes.write.downtime_ms ≤ 20000`` — for reports and the plan."""
        bounds = []
        if self.min is not None:
            bounds.append(f"≥ {self.min:g}")
        if self.max is not None:
            bounds.append(f"≤ {self.max:g}")
        return f"{self.metric} {' and '.join(bounds)}"
