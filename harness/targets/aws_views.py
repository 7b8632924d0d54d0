"""Pure functions from RDS API dicts to the typed views of :mod:`harness.targets.base`.

Kept apart from the boto3 calls so that the mapping (which field means what, what to do
when RDS leaves one out) is tested without a client, and so that the ``aws`` and
``local`` targets are held to the same views.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from harness.targets.base import CertificateView, ClusterEvent, ClusterView, InstanceView

if TYPE_CHECKING:
    from mypy_boto3_rds.type_defs import (
        CertificateTypeDef,
        DBClusterTypeDef,
        DBInstanceTypeDef,
        EventTypeDef,
        TagTypeDef,
    )

RUN_ID_TAG = "harness:run-id"
CREATED_BY_TAG = "harness:created-by"
CREATED_BY = "rds-downtime-harness"

_ARN = re.compile(
    r"^arn:(?P<partition>[^:]+):rds:(?P<region>[^:]*):(?P<account>[^:]*):(?P<rest>.+)$"
)
_GENERATION = re.compile(r"^rds-ca-(?P<alg>rsa|ecc)(?P<bits>\d+)-g(?P<gen>\d+)$")


def region_of_arn(arn: str) -> str | None:
    """``arn:aws:rds:eu-west-1:123:cluster:x`` → ``eu-west-1``; None if not an RDS ARN."""
    match = _ARN.match(arn)
    return match["region"] or None if match else None


def name_of_arn(arn: str) -> str:
    """The resource name at the end of an RDS ARN (``...:cluster:NAME`` → ``NAME``)."""
    return arn.rsplit(":", 1)[-1]


def key_type_of(identifier: str) -> str | None:
    """The key type an RDS CA identifier names: ``rds-ca-ecc384-g1`` → ``ECC384``.

    ``describe_certificates`` has no key-type field (``CertificateType`` is just "CA"),
    but the identifiers of the G1 generations say it; the 2015/2019 CAs were RSA-2048.
    """
    match = _GENERATION.match(identifier)
    if match:
        return f"{match['alg'].upper()}{match['bits']}"
    if identifier in ("rds-ca-2015", "rds-ca-2019"):
        return "RSA2048"
    return None


def utc(moment: datetime) -> datetime:
    """Aware UTC; botocore parses timestamps aware, but a Stubber reply may be naive."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def host_port(host: str | None, port: int | None) -> str:
    return f"{host}:{port}" if host and port else (host or "")


def tags_of(instance: DBInstanceTypeDef) -> dict[str, str] | None:
    """The instance's tags from ``TagList``; None when the reply did not include them."""
    if "TagList" not in instance:
        return None
    return tag_dict(instance["TagList"])


def tag_dict(tags: Iterable[TagTypeDef]) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tags if "Key" in t}


def instance_view(instance: DBInstanceTypeDef, *, is_writer: bool) -> InstanceView:
    """One instance. The role comes from the *cluster's* member list, the only source of
    truth about which instance is the writer (the instance record does not say)."""
    details = instance.get("CertificateDetails", {})
    valid_till = details.get("ValidTill")
    endpoint = instance.get("Endpoint", {})
    return InstanceView(
        identifier=instance.get("DBInstanceIdentifier", "?"),
        role="writer" if is_writer else "reader",
        status=instance.get("DBInstanceStatus", "unknown"),
        ca_identifier=instance.get("CACertificateIdentifier"),
        pending_ca_identifier=instance.get("PendingModifiedValues", {}).get(
            "CACertificateIdentifier"
        ),
        server_cert_issuer=details.get("CAIdentifier"),
        server_cert_valid_till=utc(valid_till) if valid_till else None,
        promotion_tier=instance.get("PromotionTier"),
        endpoint=host_port(endpoint.get("Address"), endpoint.get("Port")) or None,
    )


def cluster_view(cluster: DBClusterTypeDef, instances: Sequence[DBInstanceTypeDef]) -> ClusterView:
    """The cluster with its instances, in the cluster's member order.

    An instance RDS lists but the member list does not yet (just created) is a reader;
    a member whose instance record is already gone (being deleted) is shown as
    ``deleting`` so a scenario still sees it leave.
    """
    by_id = {i.get("DBInstanceIdentifier", ""): i for i in instances}
    views: list[InstanceView] = []
    for member in cluster.get("DBClusterMembers", []):
        identifier = member.get("DBInstanceIdentifier", "")
        writer = bool(member.get("IsClusterWriter", False))
        record = by_id.pop(identifier, None)
        if record is None:
            views.append(
                InstanceView(
                    identifier=identifier,
                    role="writer" if writer else "reader",
                    status="deleting",
                    ca_identifier=None,
                    promotion_tier=member.get("PromotionTier"),
                )
            )
        else:
            views.append(instance_view(record, is_writer=writer))
    views.extend(instance_view(record, is_writer=False) for record in by_id.values())
    port = cluster.get("Port")
    reader = cluster.get("ReaderEndpoint")
    return ClusterView(
        identifier=cluster.get("DBClusterIdentifier", "?"),
        status=cluster.get("Status", "unknown"),
        engine=cluster.get("Engine", "unknown"),
        writer_endpoint=host_port(cluster.get("Endpoint"), port),
        reader_endpoint=host_port(reader, port) if reader else None,
        instances=tuple(views),
        emulation=None,
    )


def certificate_views(
    certificates: Sequence[CertificateTypeDef], default_for_new_launches: str | None
) -> list[CertificateView]:
    """The CAs RDS offers. The default is the account's override if there is one
    (``CustomerOverride``), else the region's ``DefaultCertificateForNewLaunches``
    (which already reflects an override; both are read in case a reply lacks one)."""
    overridden = [c.get("CertificateIdentifier") for c in certificates if c.get("CustomerOverride")]
    default = overridden[0] if overridden else default_for_new_launches
    views = []
    for cert in certificates:
        identifier = cert.get("CertificateIdentifier")
        if not identifier:
            continue
        valid_from, valid_till = cert.get("ValidFrom"), cert.get("ValidTill")
        views.append(
            CertificateView(
                identifier=identifier,
                key_type=key_type_of(identifier),
                valid_from=utc(valid_from) if valid_from else None,
                valid_till=utc(valid_till) if valid_till else None,
                is_default=identifier == default,
            )
        )
    return views


def event_view(event: EventTypeDef) -> ClusterEvent | None:
    """One event at second resolution (AWS's own), aware UTC; None for other sources.

    AWS reports events to the second. moto reports microseconds, which AWS never would:
    truncating keeps tests honest about what a real run can claim.
    """
    source_type = event.get("SourceType")
    date = event.get("Date")
    if source_type not in ("db-instance", "db-cluster") or date is None:
        return None
    kind: Literal["db-instance", "db-cluster"] = (
        "db-instance" if source_type == "db-instance" else "db-cluster"
    )
    return ClusterEvent(
        date=utc(date).replace(microsecond=0),
        source_identifier=event.get("SourceIdentifier", ""),
        source_type=kind,
        message=event.get("Message", ""),
        categories=tuple(event.get("EventCategories", ())),
    )


def merge_events(
    events: Iterable[EventTypeDef], sources: set[str], since: datetime
) -> list[ClusterEvent]:
    """Events of ``sources`` at or after ``since`` (to the second), oldest first, once each.

    The cluster's and the instances' events come from separate calls; RDS has no event
    ID, so an identical (date, source, message) is the same event.
    """
    floor = utc(since).replace(microsecond=0)
    seen: set[tuple[datetime, str, str, str]] = set()
    merged: list[ClusterEvent] = []
    for raw in events:
        view = event_view(raw)
        if view is None or view.source_identifier not in sources or view.date < floor:
            continue
        key = (view.date, view.source_type, view.source_identifier, view.message)
        if key not in seen:
            seen.add(key)
            merged.append(view)
    # Stable: events in the same second keep the order RDS returned them in.
    merged.sort(key=lambda e: e.date)
    return merged
