"""Turning validation failures into one line that names file, line and field.

``scenarios/x.yaml:14: method[1].ca: field required``. The loader keeps the line of every
mapping key and sequence item; a pydantic error's location is mapped back onto the
document (dropping the discriminator tags pydantic inserts for the step union) and the
nearest recorded line is used. Only the first problem, in file order, is shown, with a
count of the others: fixing them one at a time is how people read one-line errors.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from harness.errors import UsageError
from harness.scenario._base import Loc, LocatedError
from harness.scenario.steps import ACTIONS, STEP_TYPES


def field_path(loc: Loc) -> str:
    """``("method", 1, "ca")`` → ``method[1].ca``."""
    text = ""
    for segment in loc:
        text += f"[{segment}]" if isinstance(segment, int) else ("." if text else "") + segment
    return text


def line_of(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    """The line of ``loc``, or of its nearest recorded ancestor (a missing field's item)."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def describe_location(source: str | None, lines: Mapping[Loc, int], loc: Loc) -> str:
    head = source or "scenario"
    line = line_of(lines, loc)
    if line is not None:
        head += f":{line}"
    path = field_path(loc)
    return f"{head}: {path}" if path else head


def located_error(
    source: str | None, lines: Mapping[Loc, int], loc: Loc, message: str
) -> UsageError:
    text = f"{describe_location(source, lines, loc)}: {message}"
    return UsageError(" ".join(text.splitlines()))


def _strip(tp: Any) -> Any:
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
        elif get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp):
            members = [a for a in get_args(tp) if a is not type(None)]
            tp = members[0] if len(members) == 1 else Union[tuple(members)]  # noqa: UP007
        else:
            return tp


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class at pydantic's location ``loc`` (tags select the step class)."""
    tp: Any = root
    for segment in loc:
        tp = _strip(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(segment) if isinstance(segment, str) else None
            if field is None:
                return None
            tp = field.annotation
        elif get_origin(tp) in (tuple, list):
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        elif get_origin(tp) in (Union, types.UnionType) and segment in STEP_TYPES:
            tp = STEP_TYPES[str(segment)]
        else:
            return None
    tp = _strip(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _document_loc(loc: Loc, data: Any) -> Loc:
    """Pydantic's location as a path in the document: union tags dropped, and cut where the
    document has a scalar (what follows names union members, not keys)."""
    found: list[str | int] = []
    current = data
    after_index = False
    for segment in loc:
        if (
            after_index and isinstance(current, dict) and segment in STEP_TYPES
            and current.get("action") == segment
        ):  # fmt: skip
            after_index = False
            continue
        after_index = isinstance(segment, int)
        in_list = isinstance(current, list) and isinstance(segment, int)
        if (in_list and 0 <= int(segment) < len(current)) or (
            isinstance(current, dict) and segment in current
        ):
            current = current[segment]
        elif isinstance(current, dict | list) or current is None:
            found.append(segment)  # a missing key: name it, nothing below it exists
            break
        else:
            break
        found.append(segment)
    return tuple(found)


def _message(error: ErrorDetails, model: type[BaseModel] | None, top: bool) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "field required"
    if kind == "extra_forbidden":
        what = "unknown top-level key" if top else "unknown key"
        valid = ", ".join(model.model_fields) if model else ""
        return f"{what}; valid: {valid}" if valid else what
    if kind == "too_short":  # pydantic says "tuple": users wrote a YAML list
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "union_tag_invalid":
        return f"unknown action {ctx.get('tag')!r}; valid: {', '.join(ACTIONS)}"
    if kind == "union_tag_not_found":
        return f"field required; one of: {', '.join(ACTIONS)}"
    cause = ctx.get("error")
    if isinstance(cause, LocatedError):
        return cause.message
    text = error["msg"].removeprefix("Value error, ")
    text = text[:1].lower() + text[1:]
    value = error.get("input")
    if kind != "value_error" and isinstance(value, str | int | float | bool):
        text += f" (got {value!r})"
    return text


def validation_problems(
    exc: ValidationError, data: Any, root: type[BaseModel]
) -> list[tuple[Loc, str]]:
    """Each distinct problem as (document location, message); duplicates from union
    alternatives are dropped."""
    problems: dict[Loc, str] = {}
    for error in exc.errors():
        raw: Loc = tuple(error["loc"])
        loc = _document_loc(raw, data)
        kind = error["type"]
        cause = (error.get("ctx") or {}).get("error")
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            loc += ("action",)
        elif isinstance(cause, LocatedError):
            loc += cause.loc
        model = _model_at(root, raw[:-1]) if kind == "extra_forbidden" else None
        problems.setdefault(loc, _message(error, model, top=len(raw) == 1))
    # A list whose items failed is also reported as too short (nothing valid in it): keep
    # the specific problem, drop any problem about a path that contains another one.
    return [
        (loc, message)
        for loc, message in problems.items()
        if not any(other[: len(loc)] == loc and other != loc for other in problems)
    ]


def first_problem(
    problems: list[tuple[Loc, str]],
    source: str | None,
    lines: Mapping[Loc, int],
    origins: Mapping[Loc, str] | None = None,
) -> UsageError:
    """One line for the earliest problem in the file, counting the rest."""
    ordered = sorted(problems, key=lambda p: line_of(lines, p[0]) or 0)
    loc, message = ordered[0]
    origin = (origins or {}).get(loc)
    if origin:
        message += f" (from {origin})"
    if len(ordered) > 1:
        others = len(ordered) - 1
        message += f" (and {others} more problem{'s' if others > 1 else ''})"
    return located_error(source, lines, loc, message)
