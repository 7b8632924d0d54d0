"""What the runner needs from a target besides the Cluster protocol: how to probe it.

A scenario drives the same :class:`~harness.targets.base.Cluster` calls on both targets;
what differs is where credentials and trust bundles come from and how often to poll.
The local target brings its cluster up when none is running (it is the embedded
default); the AWS target takes the probe user and bundle from the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from harness.errors import UsageError
from harness.targets.base import Cluster

if TYPE_CHECKING:
    from harness.targets.aws_base import CallLog

TargetName = Literal["local", "aws"]


@dataclass(slots=True)
class ProbeCredentials:
    user: str
    password: str
    database: str
    #: The bundle an updated client trusts (must contain the target CA).
    updated_bundle: Path
    #: The bundle a client nobody updated trusts (only the CA in force before the change).
    stale_bundle: Path | None


@dataclass(slots=True)
class TargetHandle:
    name: TargetName
    cluster: Cluster
    cluster_id: str
    credentials: ProbeCredentials
    #: How often the runner polls ``describe()`` and events while the scenario runs.
    poll_s: float
    #: The local emulation's timing (instant, aurora); None on AWS.
    emulation: str | None = None
    region: str | None = None


def open_local(
    state_dir: Path,
    *,
    bring_up: bool,
    timing: str,
    instances: int,
    progress: Callable[[str], None] | None = None,
) -> TargetHandle:
    """The local cluster in ``state_dir``; started first when none is up and ``bring_up``."""
    from harness.targets.local import lifecycle

    if bring_up:
        result = lifecycle.up(state_dir, instances=instances, timing=timing, progress=progress)
        info = result.info
        if result.already_running and progress is not None:
            progress(f"using the local cluster already up in {state_dir}")
    else:
        info = lifecycle.status(state_dir)
    from harness.targets.local.client import LocalCluster

    conn = info.connection
    return TargetHandle(
        name="local",
        cluster=LocalCluster(state_dir),
        cluster_id=info.cluster.identifier,
        credentials=ProbeCredentials(
            user=conn.user,
            password=conn.read_password(),
            database=conn.database,
            updated_bundle=conn.updated_bundle,
            stale_bundle=conn.stale_bundle,
        ),
        poll_s=0.1,
        emulation=info.cluster.emulation,
    )


def open_aws(
    cluster_id: str | None,
    *,
    region: str | None,
    profile: str | None,
    run_id: str,
    credentials: ProbeCredentials,
    call_log: CallLog | None = None,
) -> TargetHandle:
    """The AWS cluster ``cluster_id``; ``call_log`` receives every API call it makes."""
    if not cluster_id:
        raise UsageError("--target aws needs --cluster ID (the DB cluster identifier)")
    from harness.targets.aws import AwsCluster

    cluster = AwsCluster(
        cluster_id, region=region, profile=profile, run_id=run_id, call_log=call_log
    )
    return TargetHandle(
        name="aws", cluster=cluster, cluster_id=cluster_id, credentials=credentials,
        poll_s=5.0, region=cluster.region,
    )  # fmt: skip
