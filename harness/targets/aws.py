"""The ``aws`` target: one RDS/Aurora cluster driven through boto3.

Implements :class:`harness.targets.base.Cluster` so that a scenario cannot tell it from
the ``local`` target except by timing. Design points, and why:

- **Credentials and region as the AWS CLI resolves them** (``boto3.Session`` with the
  default chain, ``--profile``, ``--region``/``AWS_REGION``), checked when the object is
  built so a run without them stops before anything starts.
- **Every call is blocking, so every call runs in a thread** (``asyncio.to_thread``): the
  probes share the event loop and must keep their schedule while RDS answers.
- **Every error goes through** :func:`harness.targets.aws_errors.translate`: unknown
  cluster, instance or CA, a refused state, missing or expired credentials all become
  one-line :class:`~harness.errors.UsageError` s (exit 2).
- **Requests are checked before they are sent** (the instance is a member, the CA exists,
  the writer is not deleted), so bad input makes no mutating call at all.
- **Every call is recorded** in :attr:`AwsCluster.calls` (botocore's
  ``before-parameter-build`` event, which fires before moto or a Stubber answers), so a
  test, or ``--dry-run``, can prove which operations were or would have been made.
- **Waits poll observed state**: RDS replies when a request is *accepted*; the runner waits
  for what the request did. Waiters are botocore's where one exists, one attempt per
  thread hop with the delay slept in asyncio, so Ctrl-C (and the rollback it starts) is
  honoured within one API call rather than after a 30 s × 60 waiter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.targets.aws_base import MUTATING_OPERATIONS, CallLog, make_client
from harness.targets.aws_preflight import assess
from harness.targets.aws_views import (
    CREATED_BY,
    CREATED_BY_TAG,
    RUN_ID_TAG,
    cluster_view,
    merge_events,
    name_of_arn,
)
from harness.targets.aws_waits import AwsWaits
from harness.targets.base import ClusterEvent, ClusterView, InvalidState, TargetError
from harness.targets.preflight import PreflightReport, bundle_contains_ca

if TYPE_CHECKING:
    from mypy_boto3_rds.type_defs import (
        DBClusterTypeDef,
        DBEngineVersionTypeDef,
        PendingMaintenanceActionTypeDef,
    )

    from harness.targets.base import Cluster

__all__ = ["MUTATING_OPERATIONS", "AwsCluster", "CallLog", "make_client"]


class AwsCluster(AwsWaits):
    """One Aurora (or RDS Multi-AZ) cluster, addressed by identifier or ARN.

    ``AwsCluster(cluster_id, *, region=None, profile=None, run_id=None, client=None,
    poll_s=5.0, call_log=None)``: ``client`` replaces the session (tests: moto, Stubber);
    ``call_log`` receives every operation as ``(OperationName, params)``; ``run_id`` tags
    what :meth:`create_reader` creates, so :meth:`find_leftovers` finds it after a crash.
    """

    async def describe(self) -> ClusterView:
        return cluster_view(*await self._snapshot())

    async def events(self, since: datetime) -> list[ClusterEvent]:
        """The cluster's and its instances' events since ``since``, oldest first.

        Instance events are asked for region-wide and filtered here on every instance
        this object has met, so a reader deleted during the run keeps its
        "DB instance deleted." event.
        """
        if not self._seen:
            await self._snapshot()
        start = since if since.tzinfo else since.replace(tzinfo=UTC)
        paginator = self._client.get_paginator("describe_events")

        def fetch() -> list[Any]:
            pages = [
                *paginator.paginate(
                    SourceType="db-cluster", SourceIdentifier=self.cluster_id, StartTime=start
                ),
                *paginator.paginate(SourceType="db-instance", StartTime=start),
            ]
            return [event for page in pages for event in page.get("Events", [])]

        raw = await self._run(fetch)
        return merge_events(raw, {self.cluster_id, *self._seen, *self._members}, start)

    async def modify_ca(
        self, instance: str, ca: str, *, apply_immediately: bool = True,
        rotation_restart: bool = True,
    ) -> None:  # fmt: skip
        await self._member(instance)
        await self._require_ca(ca)
        await self._run(
            lambda: self._client.modify_db_instance(
                DBInstanceIdentifier=instance,
                CACertificateIdentifier=ca,
                ApplyImmediately=apply_immediately,
                CertificateRotationRestart=rotation_restart,
            ),
            instance=instance,
            ca=ca,
        )

    async def reboot(self, instance: str, *, force_failover: bool = False) -> None:
        """Restart an instance; with ``force_failover`` on an Aurora writer, fail over.

        ``RebootDBInstance(ForceFailover=True)`` is for Multi-AZ DB instances, which
        Aurora instances are not (RDS refuses the flag for them). The Aurora way to
        "reboot the writer with failover" is ``FailoverDBCluster`` without a target: it
        demotes and restarts the writer while RDS picks the reader to promote by
        promotion tier, as after a crash. A reader has nothing to fail over: it is
        simply rebooted.
        """
        view, _ = await self._member(instance)
        is_writer = view.instance(instance).role == "writer"
        if force_failover and is_writer and view.engine.startswith("aurora"):
            await self._run(
                lambda: self._client.failover_db_cluster(DBClusterIdentifier=self.cluster_id),
                instance=instance,
            )
            return
        aurora = view.engine.startswith("aurora")
        await self._run(
            lambda: self._client.reboot_db_instance(
                DBInstanceIdentifier=instance, ForceFailover=force_failover and not aurora
            ),
            instance=instance,
        )

    async def create_reader(
        self, instance: str, *, ca: str | None = None, promotion_tier: int = 1
    ) -> None:
        """Add a reader like the writer (engine, class, parameter group), tagged with the run.

        Born on ``ca`` when given, which saves the failover method one restart.
        """
        if not self.run_id:
            raise TargetError(
                "create_reader needs a run id (AwsCluster(run_id=...)): an untagged "
                "instance could not be found and removed after a crash"
            )
        if not 0 <= promotion_tier <= 15:
            raise TargetError(f"promotion tier must be 0-15, not {promotion_tier}")
        cluster, instances = await self._snapshot()
        if instance in {i.get("DBInstanceIdentifier") for i in instances}:
            raise TargetError(f"DB instance {instance!r} already exists")
        view = cluster_view(cluster, instances)
        writer = view.writer
        record = next(
            (i for i in instances if writer and i.get("DBInstanceIdentifier") == writer.identifier),
            None,
        )
        if record is None or "DBInstanceClass" not in record:
            raise InvalidState(f"cluster {self.cluster_id} has no writer to copy a reader from")
        if ca is not None:
            await self._require_ca(ca)
        groups = [g.get("DBParameterGroupName", "") for g in record.get("DBParameterGroups", [])]
        custom_group = next((g for g in groups if g and not g.startswith("default.")), None)
        tags = [
            {"Key": RUN_ID_TAG, "Value": self.run_id},
            {"Key": CREATED_BY_TAG, "Value": CREATED_BY},
        ]
        request: dict[str, Any] = {
            "DBClusterIdentifier": self.cluster_id,
            "DBInstanceIdentifier": instance,
            "Engine": view.engine,
            "DBInstanceClass": record["DBInstanceClass"],
            "PromotionTier": promotion_tier,
            "Tags": tags,
        }
        if ca is not None:
            request["CACertificateIdentifier"] = ca
        if custom_group:
            # A failover to a reader with default parameters would change server settings.
            request["DBParameterGroupName"] = custom_group
        await self._run(
            lambda: self._client.create_db_instance(**request), instance=instance, ca=ca
        )
        self._seen.add(instance)

    async def failover(self, target: str) -> None:
        """Promote the reader ``target``; :meth:`wait_writer` observes when it happened.

        Failing over to the current writer is refused: it would restart it for nothing.
        """
        view, _ = await self._member(target)
        if view.instance(target).role == "writer":
            raise InvalidState(f"{target} is already the writer of {self.cluster_id}")
        await self._run(
            lambda: self._client.failover_db_cluster(
                DBClusterIdentifier=self.cluster_id, TargetDBInstanceIdentifier=target
            ),
            instance=target,
        )

    async def delete_instance(self, instance: str, *, allow_foreign: bool = False) -> None:
        """Delete a reader this tool created (tag ``harness:created-by``).

        The writer is refused before any call, as RDS refuses the last one; an instance
        this tool did not create is refused unless ``allow_foreign=True``: a typo in a
        scenario must not delete someone's production reader.
        """
        view, record = await self._member(instance)
        if view.instance(instance).role == "writer":
            raise InvalidState(
                f"refusing to delete {instance}: it is the writer of {self.cluster_id} "
                "(fail over to another instance first)"
            )
        if not allow_foreign:
            tags = await self._tags(record) if record is not None else {}
            if tags.get(CREATED_BY_TAG) != CREATED_BY:
                raise TargetError(
                    f"refusing to delete {instance}: it was not created by {CREATED_BY} "
                    f"(no {CREATED_BY_TAG} tag); pass allow_foreign=True to delete it anyway"
                )
        await self._run(
            lambda: self._client.delete_db_instance(
                DBInstanceIdentifier=instance, SkipFinalSnapshot=True
            ),
            instance=instance,
        )

    async def preflight(
        self, ca: str, instances: list[str], *, rotation_restart: bool = True,
        bundle_paths: Sequence[Path] = (),
    ) -> PreflightReport:  # fmt: skip
        """Everything that must hold before ``instances`` move to ``ca``; changes nothing.

        ``bundle_paths`` are the probes' CA bundles: one that does not trust ``ca``
        would make every new connection fail after the change, so it is a problem.
        """
        cluster, raw = await self._snapshot()
        certificates = await self.certificates()
        engine_version = await self._engine_version(cluster)
        cluster_actions, instance_actions = await self._pending_maintenance()
        report = assess(
            cluster=cluster,
            instances=raw,
            certificates=certificates,
            engine_version=engine_version,
            cluster_maintenance=cluster_actions,
            instance_maintenance=instance_actions,
            ca=ca,
            targets=instances,
            rotation_restart=rotation_restart,
            now=datetime.now(UTC),
        )
        untrusting = [
            f"CA bundle {path} does not trust {ca} in {self.region}: "
            "clients using it could not connect after the change"
            for path in bundle_paths
            if not bundle_contains_ca(path, ca, certificates, region=self.region)
        ]
        if untrusting:
            report = report.model_copy(update={"problems": (*report.problems, *untrusting)})
        return report

    async def _engine_version(self, cluster: DBClusterTypeDef) -> DBEngineVersionTypeDef | None:
        engine, version = cluster.get("Engine"), cluster.get("EngineVersion")
        if not engine or not version:
            return None
        reply = await self._run(
            lambda: self._client.describe_db_engine_versions(Engine=engine, EngineVersion=version)
        )
        return next(iter(reply.get("DBEngineVersions", [])), None)

    async def _pending_maintenance(
        self,
    ) -> tuple[
        list[PendingMaintenanceActionTypeDef], dict[str, list[PendingMaintenanceActionTypeDef]]
    ]:
        """Pending actions for this cluster and for each of its instances, by identifier.

        Asked for region-wide and matched on the ARN here: the API's filters either
        cover clusters or instances, and a cluster and an instance may share a name.
        """
        paginator = self._client.get_paginator("describe_pending_maintenance_actions")
        pages = await self._run(lambda: list(paginator.paginate()))
        cluster: list[PendingMaintenanceActionTypeDef] = []
        instances: dict[str, list[PendingMaintenanceActionTypeDef]] = {}
        for page in pages:
            for resource in page.get("PendingMaintenanceActions", []):
                arn = resource.get("ResourceIdentifier", "")
                actions = resource.get("PendingMaintenanceActionDetails", [])
                name = name_of_arn(arn)
                if ":cluster:" in arn and name == self.cluster_id:
                    cluster += actions
                elif ":db:" in arn and name in self._members:
                    instances.setdefault(name, []).extend(actions)
        return cluster, instances

    async def find_leftovers(self, run_id: str) -> list[str]:
        """Instances this tool created in run ``run_id`` that are still there.

        The writer never counts: after the failover method the reader created by the run
        *is* the writer, which is the intended result, not a leftover.
        """
        cluster, instances = await self._snapshot()
        view = cluster_view(cluster, instances)
        writer = view.writer.identifier if view.writer else None
        found = []
        for record in instances:
            name = record.get("DBInstanceIdentifier", "")
            if name == writer or record.get("DBInstanceStatus") == "deleting":
                continue
            tags = await self._tags(record)
            if tags.get(RUN_ID_TAG) == run_id and tags.get(CREATED_BY_TAG) == CREATED_BY:
                found.append(name)
        return found

    async def cleanup(self, run_id: str, *, dry_run: bool = False) -> list[str]:
        """Delete what :meth:`find_leftovers` finds (nothing with ``dry_run``); returns it."""
        leftovers = await self.find_leftovers(run_id)
        if not dry_run:
            for name in leftovers:
                await self.delete_instance(name)
        return leftovers


if TYPE_CHECKING:

    def _conforms(cluster: AwsCluster) -> Cluster:
        """Checked by mypy: :class:`AwsCluster` satisfies the :class:`Cluster` protocol."""
        return cluster
