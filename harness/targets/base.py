"""The seam between scenarios and clusters: one protocol, typed views, typed errors.

A scenario drives a :class:`Cluster` and cannot tell which implementation it has except
by timing: ``aws`` (boto3, RDS/Aurora) or ``local`` (real MariaDB processes on
127.0.0.1 that behave like Aurora where it matters for downtime). Views use RDS's own
vocabulary (statuses, CA identifiers, event messages) so that one scenario, one report
and one set of waits serve both.

Calls return once the request is accepted, as the RDS API does; the change itself goes
on in the background and is *observed* through :meth:`Cluster.describe` and
:meth:`Cluster.events`. Waiting for an observed condition is the runner's job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from harness.errors import UsageError

#: RDS DB instance statuses this tool meets (RDS has more; unknown ones pass through).
InstanceStatus = Literal[
    "available", "creating", "modifying", "rebooting", "deleting", "failed",
    "stopped", "backing-up", "configuring-enhanced-monitoring", "upgrading",
]  # fmt: skip
#: RDS DB cluster statuses; ``failing-over`` while a failover is under way.
ClusterStatus = Literal["available", "failing-over", "modifying", "creating", "deleting"]
Role = Literal["writer", "reader"]
FaultKind = Literal["reset", "blackhole", "latency"]


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CertificateView(_View):
    """One CA the service offers (``describe_certificates``)."""

    identifier: str  # e.g. rds-ca-rsa2048-g1
    key_type: str | None = None  # e.g. RSA2048, RSA4096, ECC384
    valid_from: datetime | None = None
    valid_till: datetime | None = None
    is_default: bool = False  # the default for new instances


class InstanceView(_View):
    """One DB instance as ``describe_db_instances`` shows it."""

    identifier: str
    role: Role
    status: str  # an InstanceStatus, or whatever RDS says
    ca_identifier: str | None  # CACertificateIdentifier in force
    pending_ca_identifier: str | None = None  # PendingModifiedValues.CACertificateIdentifier
    server_cert_issuer: str | None = None  # CN of the CA that signed the server certificate
    server_cert_valid_till: datetime | None = None  # CertificateDetails.ValidTill
    promotion_tier: int | None = None
    #: Where this instance's own endpoint listens (local: 127.0.0.1:port).
    endpoint: str | None = None


class ClusterView(_View):
    """One cluster as ``describe_db_clusters`` shows it, with its instances."""

    identifier: str
    status: str  # a ClusterStatus, or whatever RDS says
    engine: str  # aurora-mysql, or "mariadb 10.11 (local emulation)"
    writer_endpoint: str  # HOST:PORT
    reader_endpoint: str | None
    instances: tuple[InstanceView, ...]
    #: Local target: the timing profile in use (``instant``, ``aurora``); None on AWS.
    emulation: str | None = None

    @property
    def writer(self) -> InstanceView | None:
        return next((i for i in self.instances if i.role == "writer"), None)

    @property
    def readers(self) -> tuple[InstanceView, ...]:
        return tuple(i for i in self.instances if i.role == "reader")

    def instance(self, identifier: str) -> InstanceView:
        for candidate in self.instances:
            if candidate.identifier == identifier:
                return candidate
        raise UnknownInstance(identifier, [i.identifier for i in self.instances])


class ClusterEvent(_View):
    """One event (``describe_events``). RDS has no event ID: identity is the message."""

    date: datetime  # second resolution on AWS; the local target keeps milliseconds
    source_identifier: str
    source_type: Literal["db-instance", "db-cluster"]
    message: str  # RDS's own texts, e.g. "DB instance restarted."
    categories: tuple[str, ...] = ()


class TargetError(UsageError):
    """A request the cluster refused: bad input for the scenario (exit 2), nothing changed."""


class UnknownInstance(TargetError):
    def __init__(self, identifier: str, valid: list[str]) -> None:
        super().__init__(
            f"no DB instance {identifier!r} in this cluster; valid: {', '.join(valid) or 'none'}"
        )


class UnknownCertificate(TargetError):
    def __init__(self, identifier: str, valid: list[str]) -> None:
        super().__init__(f"unknown CA {identifier!r}; valid: {', '.join(valid)}")


class InvalidState(TargetError):
    """The RDS equivalent of InvalidDBInstanceStateFault / InvalidDBClusterStateFault."""


@runtime_checkable
class Cluster(Protocol):
    """What a scenario may do to a cluster. Every call returns when the request is taken."""

    async def describe(self) -> ClusterView: ...

    async def certificates(self) -> list[CertificateView]: ...

    async def events(self, since: datetime) -> list[ClusterEvent]: ...

    async def modify_ca(
        self, instance: str, ca: str, *, apply_immediately: bool = True,
        rotation_restart: bool = True,
    ) -> None:  # fmt: skip
        """Set the instance's CA. With ``rotation_restart=False`` the server reloads its
        certificate without a restart where the engine supports it; open TLS sessions
        keep the old certificate, new ones get the new one."""
        ...

    async def reboot(self, instance: str, *, force_failover: bool = False) -> None: ...

    async def create_reader(
        self, instance: str, *, ca: str | None = None, promotion_tier: int = 1
    ) -> None: ...

    async def failover(self, target: str) -> None: ...

    async def delete_instance(self, instance: str) -> None:
        """Delete a reader. Deleting the writer is refused, as RDS refuses the last one."""
        ...
