"""A scenario as typed data: probes, phases, steps, rollbacks and thresholds.

Chaos Toolkit's experiment-as-data, but validated: every model is frozen and refuses
unknown keys, and cross-field rules (unique probe names, thresholds that name existing
probes, no deletion of the writer) are checked at load time, before anything is changed.
The phases run in order preflight → baseline → method → cooldown → audit; the rollback
always runs after the method, whether it succeeded, failed or was interrupted.

Build one with :func:`harness.scenario.load_scenario` (YAML, with file:line errors);
constructing it directly works too and applies the same rules.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, model_validator

from harness.errors import UsageError
from harness.probes.spec import (
    CONNECT_DEFAULT_INTERVAL_MS,
    ProbeKind,
    ProbeMode,
    ProbeSpec,
    Role,
    default_max_in_flight,
)
from harness.scenario._base import Frozen, Loc, LocatedError
from harness.scenario.impact import Impact, impact, writer_deletions
from harness.scenario.params import BUILTINS, ParamValue, placeholder
from harness.scenario.problems import describe_location
from harness.scenario.steps import CreateReader, Step
from harness.scenario.thresholds import Threshold, probe_in_metric

#: ``harness probe``'s default interval for write and read probes.
DEFAULT_INTERVAL_MS = 10.0
TRUST_UPDATED = "updated"
TRUST_STALE = "stale"


def _is_value(value: object, enum: type[StrEnum]) -> bool:
    """Whether ``value`` is one of ``enum``'s values (safe for unhashable YAML input)."""
    return isinstance(value, str) and value in [m.value for m in enum]


def _default_mode(kind: ProbeKind) -> ProbeMode:
    return ProbeMode.FRESH if kind is ProbeKind.CONNECT else ProbeMode.POOLED


def _default_role(kind: ProbeKind) -> Role:
    return Role.READER if kind is ProbeKind.READ else Role.WRITER


class ScenarioProbe(Frozen):
    """One probe of the scenario; omitted fields default as in ``harness probe``.

    ``trust`` is the CA bundle this client has: ``updated`` (the run's bundle, which must
    contain the target CA), ``stale`` (only the CA in force before the change: a client
    nobody updated), or a path to a PEM file (relative paths are resolved against the
    scenario file's directory when it loads).
    """

    kind: ProbeKind
    mode: ProbeMode
    endpoint: Role
    interval_ms: float = Field(gt=0)
    trust: str = Field(default=TRUST_UPDATED, min_length=1)
    #: The probe's name in the history and in metric paths (``probes.<name>.downtime_ms``);
    #: defaults to ``kind[:mode][@endpoint]`` as ``harness probe`` names it. No dots.
    name: str = Field(pattern=r"^[A-Za-z0-9_@:-]{1,64}$")

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        # With a bad or missing kind, fill in as for a write probe anyway: the kind error
        # is then the only one reported, not followed by "field required" for the rest.
        given = data.get("kind")
        kind = ProbeKind(str(given)) if _is_value(given, ProbeKind) else ProbeKind.WRITE
        filled = dict(data)
        filled.setdefault("mode", _default_mode(kind).value)
        filled.setdefault("endpoint", _default_role(kind).value)
        interval = CONNECT_DEFAULT_INTERVAL_MS if kind is ProbeKind.CONNECT else DEFAULT_INTERVAL_MS
        filled.setdefault("interval_ms", interval)
        if "name" not in filled:
            filled["name"] = kind.value
            mode, endpoint = filled["mode"], filled["endpoint"]
            if _is_value(mode, ProbeMode) and mode != _default_mode(kind):
                filled["name"] += f":{filled['mode']}"
            if _is_value(endpoint, Role) and endpoint != _default_role(kind):
                filled["name"] += f"@{filled['endpoint']}"
        return filled

    @model_validator(mode="after")
    def _connect_is_fresh(self) -> ScenarioProbe:
        if self.kind is ProbeKind.CONNECT and self.mode is ProbeMode.POOLED:
            raise LocatedError(("mode",), "a connect probe is always fresh")
        return self

    @property
    def bundle_path(self) -> Path | None:
        """The PEM file when ``trust`` is a path; None for ``updated`` and ``stale``."""
        return None if self.trust in (TRUST_UPDATED, TRUST_STALE) else Path(self.trust)

    def spec(self, attempt_deadline_s: float) -> ProbeSpec:
        """The probe engine's own spec (``trust`` is the runner's to turn into a bundle)."""
        return ProbeSpec(
            name=self.name, kind=self.kind, mode=self.mode, role=self.endpoint,
            interval_ms=self.interval_ms,
            max_in_flight=default_max_in_flight(self.interval_ms, attempt_deadline_s),
        )  # fmt: skip


#: Like ``harness probe --probes write,read,connect``.
DEFAULT_PROBES: tuple[ScenarioProbe, ...] = tuple(
    ScenarioProbe.model_validate({"kind": k}) for k in ("write", "read", "connect")
)


class Preflight(Frozen):
    """Checks before anything changes; a failed check is bad input (exit 2)."""

    #: The CA must be offered by the service (``describe_certificates``).
    ca_must_exist: str | None = None
    #: The bundle of every ``trust: updated`` probe must contain this CA (subject match).
    bundle_must_trust: str | None = None
    #: Cluster and instances ``available``, and no pending modifications.
    require_available: bool = True
    #: The engine must report SupportsCertificateRotationWithoutRestart.
    supports_rotation_without_restart: bool = False


class Baseline(Frozen):
    """Steady state before the change: each probe must reach ``min_success_ratio``."""

    duration_s: float = Field(default=5.0, ge=0)
    min_success_ratio: float = Field(default=0.999, ge=0, le=1)


class Cooldown(Frozen):
    """Probes keep running this long after the method, so recovery is on record."""

    duration_s: float = Field(default=5.0, ge=0)


class Scenario(Frozen):
    """A whole scenario file. See docs/scenarios.md for the format."""

    name: str = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=63)
    #: What the method is, what it measures, and what it costs.
    description: str = Field(min_length=1)
    #: Parameter values after ``--set`` and substitution (built-ins still placeholders
    #: until :func:`resolve_builtins`); kept for the report.
    parameters: dict[str, ParamValue] = Field(default_factory=dict)
    probes: tuple[ScenarioProbe, ...] = Field(default=DEFAULT_PROBES, min_length=1)
    preflight: Preflight = Preflight()
    baseline: Baseline = Baseline()
    method: tuple[Step, ...] = Field(min_length=1)
    cooldown: Cooldown = Cooldown()
    rollback: tuple[Step, ...] = ()
    #: Keep readers the method created (otherwise the rollback deletes them).
    keep_created: bool = False
    thresholds: tuple[Threshold, ...] = ()

    _source: str | None = PrivateAttr(None)
    _lines: Mapping[Loc, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        names: dict[str, int] = {}
        for index, probe in enumerate(self.probes):
            if probe.name in names:
                raise LocatedError(
                    ("probes", index, "name"),
                    f"probes[{names[probe.name]}] is also named {probe.name!r}; give each a name",
                )
            names[probe.name] = index
        writes = {p.name for p in self.probes if p.kind is ProbeKind.WRITE}
        for index, threshold in enumerate(self.thresholds):
            about = probe_in_metric(threshold.metric)
            if about is None:
                continue
            named, must_write = about
            valid = writes if must_write else set(names)
            if named not in valid:
                kind = "write probe" if must_write else "probe"
                raise LocatedError(
                    ("thresholds", index, "metric"),
                    f"no {kind} named {named!r}; defined: {', '.join(sorted(valid)) or 'none'}",
                )
        for loc, message in writer_deletions(self.method, self.rollback, placeholder("writer")):
            raise LocatedError(loc, message)
        return self

    # -- for the runner -------------------------------------------------------------

    def enabled_steps(self, phase: Literal["method", "rollback"]) -> Iterator[tuple[int, Step]]:
        """(index in the file, step) of the steps whose ``when``/``unless`` let them run."""
        steps = self.method if phase == "method" else self.rollback
        return ((i, s) for i, s in enumerate(steps) if s.enabled)

    def builtins_used(self) -> frozenset[str]:
        """Built-ins the scenario still refers to (empty once resolved)."""
        text = self.model_dump_json()
        return frozenset(n for n in BUILTINS if placeholder(n) in text)

    def impact(self, writer: str | None = None) -> Impact:
        """What the enabled steps do to which instance. Pass the writer's identifier
        (after :func:`resolve_builtins` it is not known from the steps)."""
        start = writer if writer is not None else placeholder("writer")
        return impact(self.method, self.rollback, start)

    def created_instances(self) -> tuple[str, ...]:
        """Readers the method creates: the rollback deletes them unless ``keep_created``
        (and never one that has become the writer)."""
        return tuple(
            s.instance for _, s in self.enabled_steps("method") if isinstance(s, CreateReader)
        )

    def local_only_steps(self) -> list[tuple[Loc, str]]:
        """(location, reason) of every enabled step only the local target can run."""
        found: list[tuple[Loc, str]] = []
        for phase, steps in (("method", self.method), ("rollback", self.rollback)):
            for index, step in enumerate(steps):
                reason = step.local_only() if step.enabled else None
                if reason:
                    found.append(((phase, index), reason))
        return found

    def require_target(self, target: str) -> None:
        """Refuse local-only chaos on any target but ``local`` (one line, exit 2)."""
        if target == "local":
            return
        for loc, reason in self.local_only_steps():
            raise UsageError(f"{self.where(*loc)}: {reason}; it cannot run on --target {target}")

    def where(self, *loc: str | int) -> str:
        """``file:line: method[1].ca`` for messages about part of this scenario."""
        return describe_location(self._source, self._lines, loc)

    def with_origin(self, source: str | None, lines: Mapping[Loc, int]) -> Scenario:
        """Remember where the scenario came from, for :meth:`where`. Returns ``self``."""
        self._source = source
        self._lines = lines
        return self

    @property
    def source(self) -> str | None:
        return self._source

    @property
    def lines(self) -> Mapping[Loc, int]:
        return self._lines
