"""The control protocol between a local cluster's daemon and its clients.

JSON lines over a unix socket: a request ``{"method": "failover", "params": {"target":
"instance-2"}}`` gets one reply line, ``{"result": ...}`` or ``{"error": {"type":
"UnknownInstance", "message": "..."}}``. Only the methods in :data:`METHODS` exist, each
with a typed parameter model, so the daemon never calls anything a client names and a
typo is an error, not an ``AttributeError`` in the daemon. A unix socket, not TCP: only
this user on this machine can drive the cluster, and no port can collide.

Errors that are the user's to fix (:class:`~harness.targets.base.TargetError` and its
subclasses) cross the socket by type name and are raised again as the same type, so a
scenario sees the same exception from ``LocalCluster`` as from the engine in-process.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import to_jsonable_python

from harness.errors import HarnessError, UsageError
from harness.targets.base import FaultKind, TargetError

#: Bound on one line each way (a long event list is the largest reply).
MAX_LINE = 16 * 1024 * 1024


class DaemonError(HarnessError):
    """The daemon failed to do what was asked (a bug or a dead server, not bad input)."""


class _Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NoParams(_Params):
    pass


class EventsParams(_Params):
    since: datetime


class ModifyCaParams(_Params):
    instance: str
    ca: str
    apply_immediately: bool = True
    rotation_restart: bool = True


class RebootParams(_Params):
    instance: str
    force_failover: bool = False


class CreateReaderParams(_Params):
    instance: str
    ca: str | None = None
    promotion_tier: int = 1


class FailoverParams(_Params):
    target: str
    fenced: bool = True
    split_brain_s: float = 0.0


class InstanceParams(_Params):
    instance: str


class KillInstanceParams(_Params):
    instance: str
    restart: bool = True


class InjectFaultParams(_Params):
    endpoint: Literal["writer", "reader"]
    kind: FaultKind
    duration_s: float
    latency_ms: float | None = None


class WaitIdleParams(_Params):
    timeout_s: float = 120.0


#: The allow-list: the Cluster protocol, the chaos knobs, and the daemon's own methods.
METHODS: Mapping[str, type[_Params]] = {
    "describe": NoParams,
    "certificates": NoParams,
    "events": EventsParams,
    "modify_ca": ModifyCaParams,
    "reboot": RebootParams,
    "create_reader": CreateReaderParams,
    "failover": FailoverParams,
    "delete_instance": InstanceParams,
    "kill_instance": KillInstanceParams,
    "inject_fault": InjectFaultParams,
    "connection_info": NoParams,
    "wait_idle": WaitIdleParams,
    "shutdown": NoParams,
}
#: Methods that change nothing: logged at debug level (scenarios poll them).
READ_ONLY = frozenset({"describe", "certificates", "events", "connection_info"})


class ProtocolError(Exception):
    """A request line the daemon cannot act on; answered, never raised to the engine."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def encode_request(method: str, params: Mapping[str, Any]) -> bytes:
    return _line({"method": method, "params": dict(params)})


def decode_request(line: bytes) -> tuple[str, _Params]:
    """The method name and its validated parameters, or :class:`ProtocolError`."""
    try:
        request = json.loads(line)
    except ValueError as exc:
        raise ProtocolError("BadRequest", f"not a JSON line: {exc}") from None
    if not isinstance(request, dict) or not isinstance(request.get("method"), str):
        raise ProtocolError("BadRequest", 'expected {"method": NAME, "params": {...}}')
    method = request["method"]
    model = METHODS.get(method)
    if model is None:
        raise ProtocolError(
            "UnknownMethod", f"unknown method {method!r}; valid: {', '.join(METHODS)}"
        )
    try:
        return method, model.model_validate(request.get("params") or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "params"
        raise ProtocolError("InvalidParams", f"{method}: {where}: {first['msg']}") from None


def encode_result(result: object) -> bytes:
    """Pydantic views as ``model_dump(mode="json")``; dataclasses and datetimes too."""
    return _line({"result": to_jsonable_python(result)})


def encode_error(kind: str, message: str) -> bytes:
    return _line({"error": {"type": kind, "message": message}})


def decode_reply(line: bytes) -> Any:
    """The result of a reply line; an error reply is raised as the exception it names."""
    try:
        reply = json.loads(line)
    except ValueError as exc:
        raise DaemonError(f"unreadable reply from the local cluster daemon: {exc}") from None
    if not isinstance(reply, dict):
        raise DaemonError(f"unexpected reply from the local cluster daemon: {reply!r}")
    error = reply.get("error")
    if error is not None:
        raise error_from(str(error.get("type", "")), str(error.get("message", "")))
    return reply.get("result")


def error_name(exc: BaseException) -> str:
    """The type name a client raises again: the user-facing ones by their own name."""
    if isinstance(exc, TargetError | UsageError | TimeoutError):
        return type(exc).__name__
    return "InternalError"


def error_from(kind: str, message: str) -> Exception:
    """Rebuild the exception the daemon raised, by its type name, with its message as is.

    Subclasses such as :class:`~harness.targets.base.UnknownInstance` compose their
    message in ``__init__``; the daemon already did that, so it is bypassed here.
    A ``wait_idle`` that timed out is a :class:`TimeoutError`, as in-process.
    """
    if kind == "TimeoutError":
        return TimeoutError(message)
    cls = _user_errors().get(kind)
    if cls is None:
        return DaemonError(f"local cluster daemon: {kind}: {message}")
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    return exc


def _user_errors() -> dict[str, type[UsageError]]:
    found: dict[str, type[UsageError]] = {"UsageError": UsageError}
    pending: list[type[UsageError]] = [TargetError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def _line(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode() + b"\n"
