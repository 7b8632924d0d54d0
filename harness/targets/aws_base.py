"""Plumbing of the ``aws`` target: the client, the call log, the one error-mapping hop.

:class:`AwsBase` is what every operation of :class:`harness.targets.aws.AwsCluster`
stands on: credentials and region resolved as the AWS CLI does (and checked when the
object is built), each blocking boto3 call run in a thread, each botocore error turned
into this tool's error by :func:`harness.targets.aws_errors.translate`, and each call
recorded in :attr:`AwsBase.calls` (botocore's ``before-parameter-build`` event fires
before moto or a Stubber answers, so tests and ``--dry-run`` see every request).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

from harness.errors import UsageError
from harness.targets.aws_errors import NO_CREDENTIALS, NO_REGION, ErrorContext, translate
from harness.targets.aws_views import (
    certificate_views,
    cluster_view,
    name_of_arn,
    region_of_arn,
    tag_dict,
    tags_of,
)
from harness.targets.base import CertificateView, ClusterView, UnknownCertificate

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_rds.type_defs import (
        DBClusterMessageTypeDef,
        DBClusterTypeDef,
        DBInstanceTypeDef,
    )

T = TypeVar("T")
CallLog = list[tuple[str, dict[str, Any]]]

#: The operations that change something. A failing or dry run must record none of them.
MUTATING_OPERATIONS = frozenset(
    {
        "ModifyDBInstance", "RebootDBInstance", "CreateDBInstance", "FailoverDBCluster",
        "DeleteDBInstance", "ApplyPendingMaintenanceAction",
    }
)  # fmt: skip

# Adaptive retries absorb RDS's (low) describe rate limits while we poll every few
# seconds; bounded timeouts keep a hung connection from stalling a wait forever.
_CLIENT_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 10},
    connect_timeout=10,
    read_timeout=30,
    user_agent_extra="rds-downtime-harness",
)


def make_client(region: str | None, profile: str | None) -> RDSClient:
    """An RDS client with the AWS CLI's resolution, or a one-line :class:`UsageError`."""
    context = ErrorContext(cluster_id="?", region=region or "?", profile=profile)
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
        credentials = session.get_credentials()
        resolved_region = session.region_name
    except ProfileNotFound as exc:
        raise UsageError(
            f"AWS profile {profile!r} not found in ~/.aws/config or ~/.aws/credentials: "
            "pass an existing --profile"
        ) from exc
    except BotoCoreError as exc:
        raise translate(exc, context) from exc
    if credentials is None:
        raise UsageError(NO_CREDENTIALS)
    if not resolved_region:
        raise UsageError(NO_REGION)
    return session.client("rds", region_name=resolved_region, config=_CLIENT_CONFIG)


class AwsBase:
    """The client, the call log and the shared reads of one cluster (see the module doc).

    ``cluster_id`` may be an ARN: its region must agree with ``region`` and with the
    client's, or the run stops with one line saying which ``--region`` to pass.
    """

    def __init__(
        self,
        cluster_id: str,
        *,
        region: str | None = None,
        profile: str | None = None,
        run_id: str | None = None,
        client: RDSClient | None = None,
        poll_s: float = 5.0,
        call_log: CallLog | None = None,
    ) -> None:
        arn_region = region_of_arn(cluster_id) if cluster_id.startswith("arn:") else None
        if arn_region and region and arn_region != region:
            raise UsageError(_mismatch(cluster_id, arn_region, region))
        if client is None:
            client = make_client(region or arn_region, profile)
        self.region: str = client.meta.region_name
        for expected in (region, arn_region):
            if expected and expected != self.region:
                raise UsageError(_mismatch(cluster_id, expected, self.region))
        self.cluster_id = name_of_arn(cluster_id) if arn_region else cluster_id
        self.profile = profile
        self.run_id = run_id
        self.poll_s = poll_s
        self.calls: CallLog = call_log if call_log is not None else []
        self._client = client
        self._members: list[str] = []
        self._seen: set[str] = set()  # every instance met, so events of deleted ones count
        self._certificates: list[CertificateView] | None = None
        self._handler_id = f"harness-calls-{id(self)}"
        client.meta.events.register(
            "before-parameter-build.rds", self._record, unique_id=self._handler_id
        )

    def close(self) -> None:
        """Stop recording calls: the client may outlive this object (a shared client in
        tests, one client across ``--repeat`` runs) and would otherwise keep feeding it."""
        self._client.meta.events.unregister(
            "before-parameter-build.rds", self._record, unique_id=self._handler_id
        )

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((str(model.name), dict(params)))

    @property
    def mutating_calls(self) -> CallLog:
        return [call for call in self.calls if call[0] in MUTATING_OPERATIONS]

    def _context(self, instance: str | None = None, ca: str | None = None) -> ErrorContext:
        return ErrorContext(
            cluster_id=self.cluster_id,
            region=self.region,
            profile=self.profile,
            instance=instance,
            ca=ca,
            members=tuple(self._members),
            certificates=tuple(c.identifier for c in self._certificates or ()),
        )

    async def _run(self, call: Callable[[], T], *, instance: str | None = None,
                   ca: str | None = None) -> T:  # fmt: skip
        """Run one blocking boto3 call in a thread; the only place errors are translated."""
        try:
            return await asyncio.to_thread(call)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, self._context(instance, ca)) from exc

    async def _snapshot(self) -> tuple[DBClusterTypeDef, list[DBInstanceTypeDef]]:
        """The cluster and its instances, fetched in one thread hop."""

        def fetch() -> tuple[DBClusterTypeDef, list[DBInstanceTypeDef]]:
            clusters = self._client.describe_db_clusters(DBClusterIdentifier=self.cluster_id)
            pages = self._client.get_paginator("describe_db_instances").paginate(
                Filters=[{"Name": "db-cluster-id", "Values": [self.cluster_id]}]
            )
            instances = [i for page in pages for i in page.get("DBInstances", [])]
            return first_cluster(clusters), instances

        cluster, instances = await self._run(fetch)
        arn_region = region_of_arn(cluster.get("DBClusterArn", ""))
        if arn_region and arn_region != self.region:
            raise UsageError(_mismatch(self.cluster_id, arn_region, self.region))
        self._members = [
            m.get("DBInstanceIdentifier", "") for m in cluster.get("DBClusterMembers", [])
        ]
        self._seen.update(self._members, (i.get("DBInstanceIdentifier", "") for i in instances))
        return cluster, instances

    async def _member(self, instance: str) -> tuple[ClusterView, DBInstanceTypeDef | None]:
        """The cluster view, and the instance's record; :class:`UnknownInstance` if absent."""
        cluster, instances = await self._snapshot()
        view = cluster_view(cluster, instances)
        view.instance(instance)
        record = next((i for i in instances if i.get("DBInstanceIdentifier") == instance), None)
        return view, record

    async def _require_ca(self, ca: str) -> None:
        known = [c.identifier for c in await self.certificates()]
        if ca not in known:
            raise UnknownCertificate(ca, known)

    async def certificates(self) -> list[CertificateView]:
        """The CAs on offer; cached, since RDS changes them a few times a decade."""
        if self._certificates is None:
            pages = await self._run(
                lambda: list(self._client.get_paginator("describe_certificates").paginate())
            )
            default = next(
                (p["DefaultCertificateForNewLaunches"] for p in pages
                 if p.get("DefaultCertificateForNewLaunches")),
                None,
            )  # fmt: skip
            certificates = [c for page in pages for c in page.get("Certificates", [])]
            self._certificates = certificate_views(certificates, default)
        return list(self._certificates)

    async def _tags(self, record: DBInstanceTypeDef) -> dict[str, str]:
        """Tags from the describe reply, or ``ListTagsForResource`` when it left them out."""
        tags = tags_of(record)
        if tags is not None:
            return tags
        arn = record.get("DBInstanceArn", "")
        reply = await self._run(lambda: self._client.list_tags_for_resource(ResourceName=arn))
        return tag_dict(reply.get("TagList", []))


def first_cluster(reply: DBClusterMessageTypeDef) -> DBClusterTypeDef:
    """The one cluster a ``DescribeDBClusters(DBClusterIdentifier=...)`` reply holds.

    RDS answers an unknown identifier with ``DBClusterNotFoundFault``; an empty list is
    treated the same way, so it reaches the user through the same one mapping.
    """
    clusters = reply.get("DBClusters", [])
    if not clusters:
        error: Any = {"Error": {"Code": "DBClusterNotFoundFault", "Message": "empty reply"}}
        raise ClientError(error, "DescribeDBClusters")
    return clusters[0]


def _mismatch(cluster_id: str, expected: str, actual: str) -> str:
    return (
        f"region mismatch: cluster {cluster_id} is in {expected} but the AWS client is "
        f"configured for {actual}: pass --region {expected}"
    )
