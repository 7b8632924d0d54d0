"""Preflight for the ``aws`` target as a pure function of what RDS said.

:meth:`harness.targets.aws.AwsCluster.preflight` gathers the replies (clusters,
instances, certificates, engine version, pending maintenance); :func:`assess` turns them
into a :class:`~harness.targets.preflight.PreflightReport`. Being pure, every rule here is
tested with plain dicts, and the wording of each problem and warning is in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from harness.targets.aws_views import cluster_view, utc
from harness.targets.base import CertificateView, InstanceView
from harness.targets.preflight import InstanceCheck, PreflightReport

if TYPE_CHECKING:
    from mypy_boto3_rds.type_defs import (
        DBClusterTypeDef,
        DBEngineVersionTypeDef,
        DBInstanceTypeDef,
        PendingMaintenanceActionTypeDef,
    )

CA_ROTATION_ACTION = "ca-certificate-rotation"
#: A server certificate that expires sooner than this is worth a warning.
EXPIRY_WARNING = timedelta(days=30)


def assess(
    *,
    cluster: DBClusterTypeDef,
    instances: Sequence[DBInstanceTypeDef],
    certificates: Sequence[CertificateView],
    engine_version: DBEngineVersionTypeDef | None,
    cluster_maintenance: Sequence[PendingMaintenanceActionTypeDef],
    instance_maintenance: Mapping[str, Sequence[PendingMaintenanceActionTypeDef]],
    ca: str,
    targets: Sequence[str],
    rotation_restart: bool,
    now: datetime,
) -> PreflightReport:
    """Problems block the run; warnings are what the user should read before ``--yes``.

    ``instance_maintenance`` maps an instance identifier to the actions RDS has pending
    for it (kept apart from the cluster's: a cluster and an instance may share a name);
    ``targets`` are the instances whose CA the run will change.
    """
    view = cluster_view(cluster, instances)
    raw = {i.get("DBInstanceIdentifier", ""): i for i in instances}
    members = [i.identifier for i in view.instances]
    problems: list[str] = []
    warnings: list[str] = []

    problems += [
        f"no DB instance {name!r} in cluster {view.identifier}; valid: {', '.join(members)}"
        for name in targets
        if name not in members
    ]
    by_id = {c.identifier: c for c in certificates}
    known = by_id.get(ca)
    if known is None:
        problems.append(f"unknown CA {ca!r}; valid: {', '.join(sorted(by_id)) or 'none'}")
    elif known.valid_till is not None and known.valid_till <= now:
        problems.append(f"CA {ca} expired on {known.valid_till:%Y-%m-%d}")

    version = cluster.get("EngineVersion")
    supported = engine_version.get("SupportedCACertificateIdentifiers") if engine_version else None
    if supported and ca not in supported:
        problems.append(
            f"engine {view.engine} {version} does not support CA {ca}; "
            f"it supports {', '.join(supported)}"
        )
    without_restart = (
        engine_version.get("SupportsCertificateRotationWithoutRestart") if engine_version else None
    )

    if view.status != "available":
        problems.append(f"cluster {view.identifier} is {view.status!r}, not available")
    for action in cluster_maintenance:
        warnings.append(_maintenance_warning(f"cluster {view.identifier}", action))

    checks = []
    for instance in view.instances:
        name = instance.identifier
        pending = _pending_changes(raw.get(name, {}))
        actions = instance_maintenance.get(name, ())
        if instance.status != "available":
            problems.append(f"instance {name} is {instance.status!r}, not available")
        if pending:
            problems.append(
                f"instance {name} has pending modifications ({', '.join(pending)}): "
                "apply or revert them first, or they will ride along with this change"
            )
        warnings += [_maintenance_warning(f"instance {name}", a) for a in actions]
        warnings += _expiry_warnings(instance, now)
        is_target = name in targets
        if is_target and instance.ca_identifier == ca and not instance.pending_ca_identifier:
            warnings.append(f"instance {name} already uses {ca}: changing it again does nothing")
        checks.append(
            InstanceCheck(
                identifier=name,
                role=instance.role,
                status=instance.status,
                ca_identifier=instance.ca_identifier,
                pending_ca_identifier=instance.pending_ca_identifier,
                server_cert_issuer=instance.server_cert_issuer,
                server_cert_valid_till=instance.server_cert_valid_till,
                pending_maintenance=tuple(a.get("Action", "?") for a in actions),
                will_restart=is_target and rotation_restart,
            )
        )

    warnings += _restart_warnings(checks, targets, rotation_restart, without_restart, version)
    return PreflightReport(
        cluster=view.identifier,
        ca=ca,
        ca_exists=known is not None,
        engine=view.engine,
        engine_version=version,
        rotation_without_restart=without_restart,
        instances=tuple(checks),
        problems=tuple(problems),
        warnings=tuple(warnings),
    )


def _pending_changes(instance: DBInstanceTypeDef) -> list[str]:
    """Names of the pending modifications, with the new CA spelled out."""
    pending = instance.get("PendingModifiedValues", {})
    changes = []
    for key, value in pending.items():
        if value in (None, "", [], {}):
            continue
        changes.append(f"{key} → {value}" if key == "CACertificateIdentifier" else key)
    return changes


def _maintenance_warning(subject: str, action: PendingMaintenanceActionTypeDef) -> str:
    name = action.get("Action", "?")
    dates = (
        ("applies on", action.get("CurrentApplyDate")),
        ("auto-applied after", action.get("AutoAppliedAfterDate")),
        ("forced on", action.get("ForcedApplyDate")),
    )
    when = next((f" ({label} {utc(d):%Y-%m-%d %H:%M} UTC)" for label, d in dates if d), "")
    if name == CA_ROTATION_ACTION:
        return (
            f"{subject} already has a {CA_ROTATION_ACTION} maintenance action scheduled{when}: "
            "RDS will rotate its CA (and restart it) on its own then, unless this run does first"
        )
    return f"{subject} has pending maintenance {name!r}{when}: it may restart outside this run"


def _expiry_warnings(instance: InstanceView, now: datetime) -> list[str]:
    till = instance.server_cert_valid_till
    if till is None or till - now > EXPIRY_WARNING:
        return []
    if till <= now:
        return [f"instance {instance.identifier}'s server certificate expired on {till:%Y-%m-%d}"]
    return [f"instance {instance.identifier}'s server certificate expires on {till:%Y-%m-%d}"]


def _restart_warnings(
    checks: Sequence[InstanceCheck],
    targets: Sequence[str],
    rotation_restart: bool,
    without_restart: bool | None,
    version: str | None,
) -> list[str]:
    """Plain language: who restarts, and what a restart costs for the writer."""
    named = [c for c in checks if c.identifier in targets]
    if not named:
        return []
    if not rotation_restart:
        if without_restart:
            return ["no instance will restart: the engine reloads its certificate in place"]
        why = "does not" if without_restart is False else "may not (RDS did not say)"
        return [
            f"no instance will restart, but engine version {version} {why} support rotation "
            "without restart: the servers keep presenting the old certificate until their "
            "next restart"
        ]
    parts = [
        f"{c.identifier} (the writer: writes fail until it is back)"
        if c.role == "writer"
        else f"{c.identifier} (a reader)"
        for c in named
    ]
    warnings = [f"will restart: {', '.join(parts)}"]
    if without_restart:
        warnings.append(
            f"engine version {version} supports rotation without restart: "
            "rotation_restart=False would avoid these restarts"
        )
    return warnings
