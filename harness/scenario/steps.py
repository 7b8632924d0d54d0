"""The steps of a scenario's ``method`` and ``rollback``: one typed model per action.

Each action maps onto one call of :class:`harness.targets.base.Cluster` (or, for the
local-only chaos actions, onto the local target's fault machinery), plus the condition the
runner waits for before the step counts as done. Steps are a discriminated union on
``action`` so that a typo in the action name is reported as "unknown action; valid: ..."
rather than as a pile of missing fields of every other action.

Fields that name instances accept built-in placeholders (``${writer}``) until
:func:`harness.scenario.resolve_builtins` replaces them; identifier syntax is checked once
the placeholder is gone.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, model_validator

from harness.scenario._base import Frozen, LocatedError
from harness.targets.base import FaultKind

#: RDS DB instance identifiers: a letter, then letters, digits and single hyphens; ≤ 63.
_IDENTIFIER = re.compile(r"^[A-Za-z](?:-?[A-Za-z0-9])*$")
_CA = re.compile(r"^\S+$")


def _instance_identifier(value: str) -> str:
    if "${" in value:  # a built-in placeholder: checked again after resolution
        return value
    if len(value) > 63 or not _IDENTIFIER.match(value):
        raise ValueError(
            f"{value!r} is not a DB instance identifier (1-63 letters, digits and single "
            "hyphens, starting with a letter)"
        )
    return value


def _ca_identifier(value: str) -> str:
    if not _CA.match(value):
        raise ValueError(f"{value!r} is not a CA identifier (e.g. rds-ca-rsa2048-g1)")
    return value


InstanceId = Annotated[str, AfterValidator(_instance_identifier)]
CaId = Annotated[str, AfterValidator(_ca_identifier)]
Endpoint = Literal["writer", "reader"]


class StepBase(Frozen):
    """Fields every step has. ``when``/``unless`` are booleans, usually ``${param}``."""

    #: True for chaos actions only the local target can perform (refused on aws).
    LOCAL_ONLY: ClassVar[bool] = False

    action: str
    #: A label for reports and the journal; defaults to the action and its instance.
    name: str | None = Field(default=None, min_length=1, max_length=200)
    #: The step runs only if ``when`` is true and ``unless`` is false (set at load time).
    when: bool = True
    unless: bool = False

    @property
    def enabled(self) -> bool:
        return self.when and not self.unless

    @property
    def label(self) -> str:
        return self.name or self.default_label()

    def default_label(self) -> str:
        return self.action

    def local_only(self) -> str | None:
        """Why this step needs the local target, or None if any target can run it."""
        if self.LOCAL_ONLY:
            return f"{self.action} is local-only chaos"
        return None


class WaitedStep(StepBase):
    """A step that changes something and, with ``wait``, ends when the change is observed.

    ``wait: false`` ends the step when the request is accepted, so later steps overlap the
    change (pair it with a ``wait_for``). ``timeout_s`` bounds the wait for the observed
    condition; a step that times out fails the method (exit 3) and the rollback runs.
    """

    wait: bool = True
    timeout_s: float = Field(default=1800.0, gt=0)


class ModifyCa(WaitedStep):
    """``modify_db_instance(CACertificateIdentifier=ca, ...)``; done when ``ca`` is in force
    and the instance is ``available`` again (after its restart, if it restarts)."""

    action: Literal["modify_ca"] = "modify_ca"
    instance: InstanceId
    ca: CaId
    #: False leaves the change pending until the maintenance window: with ``wait`` the step
    #: would time out, so such a step normally sets ``wait: false``.
    apply_immediately: bool = True
    #: False asks for CertificateRotationRestart=False (no restart where the engine
    #: supports it; see preflight ``supports_rotation_without_restart``).
    rotation_restart: bool = True

    def default_label(self) -> str:
        return f"modify_ca {self.instance} → {self.ca}"


class Reboot(WaitedStep):
    """``reboot_db_instance``; done when the instance is ``available`` again."""

    action: Literal["reboot"] = "reboot"
    instance: InstanceId
    #: RDS documents ForceFailover for Multi-AZ instance deployments; whether Aurora accepts
    #: it is the target's to report. A failover moves the writer to a reader RDS chooses.
    force_failover: bool = False
    timeout_s: float = Field(default=1200.0, gt=0)

    def default_label(self) -> str:
        return f"reboot {self.instance}" + (" (force failover)" if self.force_failover else "")


class CreateReader(WaitedStep):
    """``create_db_instance`` in the cluster; done when the new reader is ``available``.

    Readers created by the method are deleted by the rollback unless the scenario sets
    ``keep_created: true`` — and never when they have become the writer.
    """

    action: Literal["create_reader"] = "create_reader"
    instance: InstanceId
    #: Born on this CA (CACertificateIdentifier); None takes the service's default.
    ca: CaId | None = None
    promotion_tier: int = Field(default=1, ge=0, le=15)
    timeout_s: float = Field(default=3600.0, gt=0)

    def default_label(self) -> str:
        return f"create_reader {self.instance}" + (f" on {self.ca}" if self.ca else "")


class Failover(WaitedStep):
    """``failover_db_cluster(TargetDBInstanceIdentifier=target)``; done when ``target`` is
    the writer and the cluster is ``available``.

    ``fenced: false`` and ``split_brain_s`` are local-only chaos: the old writer is not made
    read-only first and keeps taking writes for ``split_brain_s`` after the promotion, so
    the audit can show what a split brain loses.
    """

    action: Literal["failover"] = "failover"
    target: InstanceId
    fenced: bool = True
    split_brain_s: float = Field(default=0.0, ge=0)
    timeout_s: float = Field(default=900.0, gt=0)

    @model_validator(mode="after")
    def _split_brain_needs_unfenced(self) -> Failover:
        if self.split_brain_s > 0 and self.fenced:
            raise LocatedError(("split_brain_s",), "a split brain needs fenced: false")
        return self

    def default_label(self) -> str:
        return f"failover to {self.target}"

    def local_only(self) -> str | None:
        if not self.fenced or self.split_brain_s > 0:
            return "failover with fenced: false / split_brain_s is local-only chaos"
        return None


class DeleteInstance(WaitedStep):
    """``delete_db_instance(SkipFinalSnapshot=True)``; done when the instance is gone.

    Never deletes the writer: refused at load time when that can be seen statically, by
    the runner otherwise (in a rollback the step is skipped with a note instead).
    """

    action: Literal["delete_instance"] = "delete_instance"
    instance: InstanceId
    #: True makes "no such instance" a success (rollbacks: it may never have been created).
    if_exists: bool = False

    def default_label(self) -> str:
        return f"delete_instance {self.instance}"


class Wait(StepBase):
    """Do nothing for ``seconds`` (probes keep running)."""

    action: Literal["wait"] = "wait"
    seconds: float = Field(ge=0)

    def default_label(self) -> str:
        return f"wait {self.seconds:g} s"


class WaitFor(StepBase):
    """Wait until ``describe()`` shows a condition; fail after ``timeout_s``.

    ``status`` is the instance's status, or the cluster's when ``instance`` is omitted;
    ``ca`` is the CA in force on ``instance``; ``writer`` is the instance that must be the
    writer. All given conditions must hold at once.
    """

    action: Literal["wait_for"] = "wait_for"
    instance: InstanceId | None = None
    status: str | None = Field(default=None, min_length=1)
    ca: CaId | None = None
    writer: InstanceId | None = None
    timeout_s: float = Field(default=1800.0, gt=0)

    @model_validator(mode="after")
    def _something_to_wait_for(self) -> WaitFor:
        if self.status is None and self.ca is None and self.writer is None:
            raise LocatedError((), "wait_for needs at least one of status, ca, writer")
        if self.ca is not None and self.instance is None:
            raise LocatedError(("instance",), "wait_for with ca needs the instance it is on")
        return self

    def default_label(self) -> str:
        parts = [
            f"{k}={v}" for k in ("instance", "status", "ca", "writer") if (v := getattr(self, k))
        ]
        return "wait_for " + " ".join(parts)


class KillInstance(WaitedStep):
    """Local-only chaos: SIGKILL the instance's server, then (``restart``) start it again;
    with ``wait``, done when it is back (or, without restart, when it is seen down)."""

    LOCAL_ONLY: ClassVar[bool] = True

    action: Literal["kill_instance"] = "kill_instance"
    instance: InstanceId
    restart: bool = True
    timeout_s: float = Field(default=300.0, gt=0)

    def default_label(self) -> str:
        return f"kill_instance {self.instance}"


class InjectFault(StepBase):
    """Local-only chaos: a fault on an endpoint's proxy for ``duration_s``.

    ``reset`` drops connections, ``blackhole`` swallows traffic, ``latency`` delays it by
    ``latency_ms``. With ``wait`` the step ends when the fault does; without, the fault
    runs on in the background while the next steps start.
    """

    LOCAL_ONLY: ClassVar[bool] = True

    action: Literal["inject_fault"] = "inject_fault"
    endpoint: Endpoint
    kind: FaultKind
    duration_s: float = Field(gt=0)
    latency_ms: float | None = Field(default=None, gt=0)
    wait: bool = True

    @model_validator(mode="after")
    def _latency_iff_latency(self) -> InjectFault:
        if self.kind == "latency" and self.latency_ms is None:
            raise LocatedError(("latency_ms",), "field required for kind: latency")
        if self.kind != "latency" and self.latency_ms is not None:
            raise LocatedError(
                ("latency_ms",), f"only meaningful with kind: latency, not {self.kind}"
            )
        return self

    def default_label(self) -> str:
        return f"inject_fault {self.kind} on {self.endpoint} for {self.duration_s:g} s"


Step = Annotated[
    ModifyCa | Reboot | CreateReader | Failover | DeleteInstance | Wait | WaitFor
    | KillInstance | InjectFault,
    Field(discriminator="action"),
]  # fmt: skip

#: action name → step class, in the order the documentation lists them.
STEP_TYPES: dict[str, type[StepBase]] = {
    cls.model_fields["action"].default: cls
    for cls in (
        ModifyCa, Reboot, CreateReader, Failover, DeleteInstance, Wait, WaitFor,
        KillInstance, InjectFault,
    )
}  # fmt: skip
ACTIONS: tuple[str, ...] = tuple(STEP_TYPES)
LOCAL_ONLY_ACTIONS: frozenset[str] = frozenset(a for a, c in STEP_TYPES.items() if c.LOCAL_ONLY)
