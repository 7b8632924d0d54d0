"""The ``aws`` target against moto (in-process) and botocore's Stubber. AWS is never reached.

moto implements clusters, instances, modify, failover, delete and their waiters; it lacks
``describe_certificates``, ``describe_pending_maintenance_actions`` and
``describe_db_engine_versions``. Where a moto test needs one of those, :func:`answer`
replies to that one operation in the ``before-call`` event (before moto would see it) and
moto answers everything else. Tests of those operations themselves use the Stubber,
which also pins the exact requests. Each test's docstring says which it uses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.stub import ANY, Stubber
from moto import mock_aws

from harness.errors import UsageError
from harness.targets.aws import MUTATING_OPERATIONS, AwsCluster
from harness.targets.aws_errors import AwsApiError, WaitFailed, WaitTimeout
from harness.targets.aws_views import key_type_of, region_of_arn
from harness.targets.base import (
    Cluster,
    InvalidState,
    TargetError,
    UnknownCertificate,
    UnknownInstance,
)
from harness.targets.local.pki import make_ca
from harness.targets.preflight import bundle_contains_ca, ca_subject_matches

T = TypeVar("T")
REGION = "eu-west-1"
ACCOUNT = "123456789012"
CLUSTER = "demo"
CAS = ("rds-ca-rsa2048-g1", "rds-ca-rsa4096-g1", "rds-ca-ecc384-g1")
NOW = datetime.now(UTC)

CERTIFICATES_REPLY: dict[str, Any] = {
    "DefaultCertificateForNewLaunches": "rds-ca-rsa2048-g1",
    "Certificates": [
        {
            "CertificateIdentifier": ca,
            "CertificateType": "CA",
            "ValidFrom": datetime(2021, 5, 25, tzinfo=UTC),
            "ValidTill": datetime(2061, 5, 25, tzinfo=UTC),
        }
        for ca in CAS
    ],
}


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def mutating(cluster: AwsCluster) -> list[str]:
    return [name for name, _ in cluster.mutating_calls]


def answer(client: Any, operation: str, reply: dict[str, Any]) -> None:
    """Reply to ``operation`` ourselves (moto lacks it); moto answers everything else."""

    def handler(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("", 200, HTTPHeaders(), None), dict(reply)

    client.meta.events.register(f"before-call.rds.{operation}", handler)


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No credentials, profile or region from the machine: empty AWS config files."""
    for name in (
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    for name, file in (("AWS_CONFIG_FILE", "config"), ("AWS_SHARED_CREDENTIALS_FILE", "creds")):
        (tmp_path / file).write_text("")
        monkeypatch.setenv(name, str(tmp_path / file))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no 1 s IMDS probe
    return tmp_path


@pytest.fixture
def aws_env(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, as moto recommends, so nothing could ever sign for a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture(scope="module")
def moto_client() -> Any:
    """One client for all moto tests: building a client costs more than a whole test.

    Fake credentials are passed explicitly; moto's hook is on every client and is active
    only inside ``mock_aws()``, which each test enters afresh (a new, empty backend).
    """
    client = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    ).client("rds")
    answer(client, "DescribeCertificates", CERTIFICATES_REPLY)
    return client


@pytest.fixture
def rds(aws_env: None, moto_client: Any) -> Iterator[Any]:
    """moto: an aurora-mysql cluster ``demo`` with writer ``demo-1`` and reader ``demo-2``."""
    with mock_aws():
        client = moto_client
        client.create_db_cluster(
            DBClusterIdentifier=CLUSTER,
            Engine="aurora-mysql",
            MasterUsername="admin",
            MasterUserPassword="not-a-secret-1",
        )
        for tier, name in enumerate(("demo-1", "demo-2")):
            client.create_db_instance(
                DBClusterIdentifier=CLUSTER,
                DBInstanceIdentifier=name,
                Engine="aurora-mysql",
                DBInstanceClass="db.r6g.large",
                PromotionTier=tier,
                CACertificateIdentifier="rds-ca-rsa2048-g1",
            )
        yield client


def make_cluster(client: Any, **kwargs: Any) -> AwsCluster:
    return AwsCluster(CLUSTER, client=client, poll_s=0.01, run_id="run-1", **kwargs)


# ------------------------------------------------------------------------------- moto


def test_describe_shows_roles_endpoints_and_ca(rds: Any) -> None:
    """moto: the view carries roles (from the cluster's members), endpoints and CAs."""
    cluster = make_cluster(rds)
    assert isinstance(cluster, Cluster)
    view = run(cluster.describe())
    assert view.identifier == CLUSTER
    assert view.status == "available"
    assert view.engine == "aurora-mysql"
    assert view.emulation is None
    assert view.writer is not None and view.writer.identifier == "demo-1"
    assert [r.identifier for r in view.readers] == ["demo-2"]
    assert view.writer_endpoint.startswith("demo.cluster-")
    assert view.writer_endpoint.endswith(f".{REGION}.rds.amazonaws.com:3306")
    assert view.reader_endpoint is not None and ".cluster-ro-" in view.reader_endpoint
    for instance in view.instances:
        assert instance.status == "available"
        assert instance.ca_identifier == "rds-ca-rsa2048-g1"
        assert instance.endpoint is not None and instance.endpoint.endswith(":3306")
    assert [i.promotion_tier for i in view.instances] == [0, 1]
    assert cluster.mutating_calls == []


def test_create_reader_copies_the_writer_and_tags_it(rds: Any) -> None:
    """moto: engine and class from the writer, CA as asked, run-id and created-by tags."""
    cluster = make_cluster(rds)
    run(cluster.create_reader("demo-tmp", ca="rds-ca-ecc384-g1", promotion_tier=2))

    record = rds.describe_db_instances(DBInstanceIdentifier="demo-tmp")["DBInstances"][0]
    assert record["DBClusterIdentifier"] == CLUSTER
    assert record["DBInstanceClass"] == "db.r6g.large"
    assert record["CACertificateIdentifier"] == "rds-ca-ecc384-g1"
    assert {t["Key"]: t["Value"] for t in record["TagList"]} == {
        "harness:run-id": "run-1",
        "harness:created-by": "rds-downtime-harness",
    }
    view = run(cluster.describe())
    assert view.instance("demo-tmp").role == "reader"
    assert view.instance("demo-tmp").promotion_tier == 2
    [(name, params)] = cluster.mutating_calls
    assert name == "CreateDBInstance"
    assert params["Engine"] == "aurora-mysql"
    assert params["PromotionTier"] == 2


def test_create_reader_refuses_without_run_id_or_with_a_taken_name(rds: Any) -> None:
    """moto: an untraceable or clashing instance is refused before any call."""
    with pytest.raises(TargetError, match="run id"):
        run(AwsCluster(CLUSTER, client=rds).create_reader("demo-tmp"))
    cluster = make_cluster(rds)
    with pytest.raises(TargetError, match="already exists"):
        run(cluster.create_reader("demo-2"))
    with pytest.raises(TargetError, match="promotion tier"):
        run(cluster.create_reader("demo-tmp", promotion_tier=16))
    assert mutating(cluster) == []


def test_modify_ca_is_stored(rds: Any) -> None:
    """moto: the request carries every flag and the new CA is what describe shows."""
    cluster = make_cluster(rds)
    run(cluster.modify_ca("demo-2", "rds-ca-rsa4096-g1", rotation_restart=False))
    assert run(cluster.describe()).instance("demo-2").ca_identifier == "rds-ca-rsa4096-g1"
    assert cluster.mutating_calls == [
        (
            "ModifyDBInstance",
            {
                "DBInstanceIdentifier": "demo-2",
                "CACertificateIdentifier": "rds-ca-rsa4096-g1",
                "ApplyImmediately": True,
                "CertificateRotationRestart": False,
            },
        )
    ]


def test_failover_moves_the_writer_and_wait_writer_sees_it(rds: Any) -> None:
    """moto: failover names its target; wait_writer returns once the cluster says so."""
    cluster = make_cluster(rds)
    run(cluster.failover("demo-2"))
    started = time.monotonic()
    run(cluster.wait_writer("demo-2", timeout_s=5))
    assert time.monotonic() - started < 1
    view = run(cluster.describe())
    assert view.writer is not None and view.writer.identifier == "demo-2"
    assert cluster.mutating_calls == [
        (
            "FailoverDBCluster",
            {"DBClusterIdentifier": CLUSTER, "TargetDBInstanceIdentifier": "demo-2"},
        )
    ]
    with pytest.raises(InvalidState, match="already the writer"):
        run(cluster.failover("demo-2"))
    assert mutating(cluster) == ["FailoverDBCluster"]


def test_wait_writer_times_out_with_what_it_saw(rds: Any) -> None:
    """moto: a wait that never sees its condition says what it saw instead."""
    cluster = make_cluster(rds)
    with pytest.raises(TimeoutError, match="writer is still demo-1, not demo-2") as caught:
        run(cluster.wait_writer("demo-2", timeout_s=0.05))
    assert isinstance(caught.value, WaitTimeout)


def test_reboot_plain_and_with_failover(rds: Any) -> None:
    """moto: a reader reboots; an Aurora writer "rebooted with failover" fails over."""
    cluster = make_cluster(rds)
    run(cluster.reboot("demo-2"))
    run(cluster.reboot("demo-1", force_failover=True))
    assert cluster.mutating_calls == [
        ("RebootDBInstance", {"DBInstanceIdentifier": "demo-2", "ForceFailover": False}),
        ("FailoverDBCluster", {"DBClusterIdentifier": CLUSTER}),
    ]
    run(cluster.wait_writer("demo-2", timeout_s=1))


def test_delete_reader_and_wait_deleted(rds: Any) -> None:
    """moto: a reader this tool created is deleted; wait_deleted sees it gone."""
    cluster = make_cluster(rds)
    run(cluster.create_reader("demo-tmp"))
    run(cluster.delete_instance("demo-tmp"))
    run(cluster.wait_deleted("demo-tmp", timeout_s=1))
    assert "demo-tmp" not in [i.identifier for i in run(cluster.describe()).instances]
    assert cluster.mutating_calls[-1] == (
        "DeleteDBInstance",
        {"DBInstanceIdentifier": "demo-tmp", "SkipFinalSnapshot": True},
    )


def test_delete_refuses_the_writer_and_foreign_instances(rds: Any) -> None:
    """moto: no DeleteDBInstance for the writer, nor for a reader the tool did not create
    (moto itself would delete the writer and promote another: the check is ours)."""
    cluster = make_cluster(rds)
    with pytest.raises(InvalidState, match="writer"):
        run(cluster.delete_instance("demo-1"))
    with pytest.raises(TargetError, match="allow_foreign=True") as caught:
        run(cluster.delete_instance("demo-2"))
    assert "\n" not in str(caught.value)
    assert mutating(cluster) == []
    run(cluster.delete_instance("demo-2", allow_foreign=True))
    assert mutating(cluster) == ["DeleteDBInstance"]


def test_unknown_cluster_is_one_line_usage_error(rds: Any) -> None:
    """moto: DBClusterNotFoundFault → "no DB cluster X in region R", nothing mutated."""
    cluster = AwsCluster("nope", client=rds, run_id="run-1")
    for attempt in (
        cluster.describe(),
        cluster.modify_ca("demo-1", "rds-ca-rsa4096-g1"),
        cluster.create_reader("nope-2"),
        cluster.failover("demo-2"),
        cluster.delete_instance("demo-2"),
    ):
        with pytest.raises(UsageError, match=f"no DB cluster 'nope' in region {REGION}") as caught:
            run(attempt)
        assert "\n" not in str(caught.value)
    assert mutating(cluster) == []


def test_unknown_instance_makes_no_mutating_call(rds: Any) -> None:
    """moto: every operation naming a non-member fails with UnknownInstance, valid names listed."""
    cluster = make_cluster(rds)
    attempts: list[Callable[[], Coroutine[Any, Any, Any]]] = [
        lambda: cluster.modify_ca("ghost", "rds-ca-rsa4096-g1"),
        lambda: cluster.reboot("ghost"),
        lambda: cluster.failover("ghost"),
        lambda: cluster.delete_instance("ghost"),
        lambda: cluster.wait_writer("ghost", timeout_s=1),
        lambda: cluster.wait_instance_status("ghost", "available", timeout_s=1),
        lambda: cluster.wait_instance_status("ghost", ["modifying"], timeout_s=1),
    ]
    for attempt in attempts:
        with pytest.raises(UnknownInstance, match=r"'ghost'.*demo-1, demo-2"):
            run(attempt())
    assert mutating(cluster) == []


def test_unknown_ca_makes_no_mutating_call(rds: Any) -> None:
    """moto + canned DescribeCertificates: moto would store any CA; we check first."""
    cluster = make_cluster(rds)
    for attempt in (
        cluster.modify_ca("demo-2", "rds-ca-bogus"),
        cluster.create_reader("demo-tmp", ca="rds-ca-bogus"),
    ):
        with pytest.raises(UnknownCertificate, match="'rds-ca-bogus'; valid: rds-ca-rsa2048-g1"):
            run(attempt)
    assert mutating(cluster) == []
    assert run(cluster.describe()).instance("demo-2").ca_identifier == "rds-ca-rsa2048-g1"


def test_call_log_is_shared_and_close_stops_it(rds: Any) -> None:
    """moto: a caller's call_log receives every operation; after close() nothing more."""
    log: list[tuple[str, dict[str, Any]]] = []
    cluster = make_cluster(rds, call_log=log)
    run(cluster.describe())
    assert [name for name, _ in log] == ["DescribeDBClusters", "DescribeDBInstances"]
    assert log[0][1] == {"DBClusterIdentifier": CLUSTER}
    cluster.close()
    run(cluster.describe())
    assert len(log) == 2


def test_waiters_return_promptly(rds: Any) -> None:
    """moto: statuses are final at once, so each wait takes one describe."""
    cluster = make_cluster(rds)
    started = time.monotonic()
    assert run(cluster.wait_instance_status("demo-1", "available", timeout_s=5)) == "available"
    got = run(cluster.wait_instance_status("demo-2", {"modifying", "available"}, timeout_s=5))
    assert got == "available"
    run(cluster.wait_deleted("never-existed", timeout_s=5))
    assert time.monotonic() - started < 1
    assert [name for name, _ in cluster.calls] == ["DescribeDBInstances"] * 3
    with pytest.raises(WaitTimeout, match="'available', not \\['rebooting'\\]"):
        run(cluster.wait_instance_status("demo-1", "rebooting", timeout_s=0.05))


def test_leftovers_are_found_by_run_id_and_cleaned_up(rds: Any) -> None:
    """moto: only this run's readers count; the writer never does; dry run deletes nothing."""
    cluster = make_cluster(rds)
    run(cluster.create_reader("demo-tmp"))
    run(AwsCluster(CLUSTER, client=rds, run_id="run-2").create_reader("demo-other"))
    assert run(cluster.find_leftovers("run-1")) == ["demo-tmp"]
    assert run(cluster.cleanup("run-1", dry_run=True)) == ["demo-tmp"]
    assert mutating(cluster) == ["CreateDBInstance", "CreateDBInstance"]
    assert run(cluster.cleanup("run-1")) == ["demo-tmp"]
    assert run(cluster.find_leftovers("run-1")) == []
    # After the failover method, the run's reader is the writer: not a leftover.
    run(cluster.failover("demo-other"))
    assert run(cluster.find_leftovers("run-2")) == []


def test_events_from_moto_are_second_resolution_utc(rds: Any) -> None:
    """moto: creation events of the cluster's instances, truncated to the second, aware UTC."""
    cluster = make_cluster(rds)
    events = run(cluster.events(NOW - timedelta(minutes=5)))
    created = [e for e in events if e.message.startswith("DB instance created")]
    assert {e.source_identifier for e in created} == {"demo-1", "demo-2"}
    assert all(e.date.tzinfo == UTC and e.date.microsecond == 0 for e in events)
    assert events == sorted(events, key=lambda e: e.date)


def test_region_mismatch_and_arn_identifiers(rds: Any) -> None:
    """moto: an ARN in another region, or --region unlike the client's, is one line."""
    with pytest.raises(UsageError, match=r"region mismatch.*pass --region us-east-1"):
        AwsCluster(f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:{CLUSTER}", client=rds)
    with pytest.raises(UsageError, match="region mismatch"):
        AwsCluster(CLUSTER, region="us-east-1", client=rds)
    cluster = AwsCluster(f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:{CLUSTER}", client=rds)
    assert cluster.cluster_id == CLUSTER
    assert run(cluster.describe()).identifier == CLUSTER


def test_session_uses_env_credentials_and_region(rds: Any) -> None:
    """moto: without a client, the default chain (env here) and AWS_DEFAULT_REGION apply."""
    cluster = AwsCluster(CLUSTER)
    assert cluster.region == REGION
    assert run(cluster.describe()).writer is not None


# ---------------------------------------------------------------------------- Stubber


@pytest.fixture
def stubbed(aws_env: None) -> Iterator[tuple[AwsCluster, Stubber]]:
    """Stubber: a client that answers only what each test queues, in order."""
    client = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    ).client("rds")
    with Stubber(client) as stubber:
        yield AwsCluster(CLUSTER, client=client, poll_s=0.01, run_id="run-1"), stubber
        stubber.assert_no_pending_responses()


def cluster_reply(status: str = "available") -> dict[str, Any]:
    return {
        "DBClusters": [
            {
                "DBClusterIdentifier": CLUSTER,
                "DBClusterArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:{CLUSTER}",
                "Status": status,
                "Engine": "aurora-mysql",
                "EngineVersion": "8.0.mysql_aurora.3.05.2",
                "Endpoint": f"{CLUSTER}.cluster-abc.{REGION}.rds.amazonaws.com",
                "ReaderEndpoint": f"{CLUSTER}.cluster-ro-abc.{REGION}.rds.amazonaws.com",
                "Port": 3306,
                "DBClusterMembers": [
                    {"DBInstanceIdentifier": "demo-1", "IsClusterWriter": True, "PromotionTier": 0},
                    {
                        "DBInstanceIdentifier": "demo-2",
                        "IsClusterWriter": False,
                        "PromotionTier": 1,
                    },
                ],
            }
        ]
    }


def instance_record(name: str, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "DBInstanceIdentifier": name,
        "DBInstanceArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{name}",
        "DBInstanceClass": "db.r6g.large",
        "DBInstanceStatus": "available",
        "DBClusterIdentifier": CLUSTER,
        "CACertificateIdentifier": "rds-ca-2019",
        "CertificateDetails": {
            "CAIdentifier": "rds-ca-2019",
            "ValidTill": datetime(2030, 8, 22, 17, 8, 50, tzinfo=UTC),
        },
        "PendingModifiedValues": {},
        "Endpoint": {"Address": f"{name}.abc.{REGION}.rds.amazonaws.com", "Port": 3306},
    }
    record.update(extra)
    return record


def queue_snapshot(stubber: Stubber, *records: dict[str, Any], status: str = "available") -> None:
    stubber.add_response(
        "describe_db_clusters", cluster_reply(status), {"DBClusterIdentifier": CLUSTER}
    )
    stubber.add_response(
        "describe_db_instances",
        {"DBInstances": list(records or (instance_record("demo-1"), instance_record("demo-2")))},
        {"Filters": [{"Name": "db-cluster-id", "Values": [CLUSTER]}]},
    )


def test_waits_poll_until_the_status_and_stop_on_a_terminal_one(
    stubbed: tuple[AwsCluster, Stubber],
) -> None:
    """Stubber: the available waiter is polled (modifying, then available); a terminal
    state ends the wait at once instead of running out the clock."""
    cluster, stubber = stubbed
    by_name = {"DBInstanceIdentifier": "demo-2"}
    for status in ("modifying", "available", "failed"):
        reply = {"DBInstances": [instance_record("demo-2", DBInstanceStatus=status)]}
        stubber.add_response("describe_db_instances", reply, by_name)
    assert run(cluster.wait_instance_status("demo-2", "available", timeout_s=5)) == "available"
    with pytest.raises(WaitFailed, match="demo-2 is 'failed' while waiting for available"):
        run(cluster.wait_instance_status("demo-2", "available", timeout_s=5))
    for status in ("rebooting", "failed"):
        reply = {"DBInstances": [instance_record("demo-2", DBInstanceStatus=status)]}
        stubber.add_response("describe_db_instances", reply, by_name)
    with pytest.raises(WaitFailed, match=r"'failed' while waiting for \['available', 'x'\]"):
        run(cluster.wait_instance_status("demo-2", ["x", "available"], timeout_s=5))


def test_describe_maps_certificate_details(stubbed: tuple[AwsCluster, Stubber]) -> None:
    """Stubber: moto has no CertificateDetails or PendingModifiedValues; real RDS does."""
    cluster, stubber = stubbed
    queue_snapshot(
        stubber,
        instance_record("demo-1"),
        instance_record(
            "demo-2", PendingModifiedValues={"CACertificateIdentifier": "rds-ca-rsa2048-g1"}
        ),
    )
    view = run(cluster.describe())
    writer = view.instance("demo-1")
    assert writer.server_cert_issuer == "rds-ca-2019"
    assert writer.server_cert_valid_till == datetime(2030, 8, 22, 17, 8, 50, tzinfo=UTC)
    assert writer.pending_ca_identifier is None
    assert view.instance("demo-2").pending_ca_identifier == "rds-ca-rsa2048-g1"
    assert view.writer_endpoint == f"{CLUSTER}.cluster-abc.{REGION}.rds.amazonaws.com:3306"


def test_certificates_paginate_and_mark_the_default(stubbed: tuple[AwsCluster, Stubber]) -> None:
    """Stubber: two pages, the account's override is the default, key types from the name,
    and the list is cached (a second call asks nothing)."""
    cluster, stubber = stubbed
    first, second = (dict(c) for c in CERTIFICATES_REPLY["Certificates"][:2])
    third = dict(CERTIFICATES_REPLY["Certificates"][2], CustomerOverride=True)
    stubber.add_response(
        "describe_certificates",
        {"Certificates": [first, second], "Marker": "page-2",
         "DefaultCertificateForNewLaunches": "rds-ca-ecc384-g1"},
        {},
    )  # fmt: skip
    stubber.add_response(
        "describe_certificates",
        {"Certificates": [third], "DefaultCertificateForNewLaunches": "rds-ca-ecc384-g1"},
        {"Marker": "page-2"},
    )
    certificates = run(cluster.certificates())
    assert [(c.identifier, c.key_type, c.is_default) for c in certificates] == [
        ("rds-ca-rsa2048-g1", "RSA2048", False),
        ("rds-ca-rsa4096-g1", "RSA4096", False),
        ("rds-ca-ecc384-g1", "ECC384", True),
    ]
    assert certificates[0].valid_till == datetime(2061, 5, 25, tzinfo=UTC)
    assert run(cluster.certificates()) == certificates
    assert [name for name, _ in cluster.calls] == ["DescribeCertificates"] * 2


def test_events_merge_cluster_and_instances_at_second_resolution(
    stubbed: tuple[AwsCluster, Stubber],
) -> None:
    """Stubber: cluster events and (paginated, region-wide) instance events, filtered to
    this cluster's instances, truncated to the second, oldest first, duplicates once."""
    cluster, stubber = stubbed
    since = datetime(2024, 6, 1, 12, 0, 0, 500000, tzinfo=UTC)

    def event(source: str, kind: str, second: int, message: str) -> dict[str, Any]:
        return {
            "SourceIdentifier": source,
            "SourceType": kind,
            "Message": message,
            "EventCategories": ["notification"],
            "Date": datetime(2024, 6, 1, 12, 0, second, 734000, tzinfo=UTC),
        }

    queue_snapshot(stubber)
    failover = event(CLUSTER, "db-cluster", 7, "Started cross AZ failover to DB instance: demo-2")
    stubber.add_response(
        "describe_events",
        {"Events": [failover]},
        {"SourceType": "db-cluster", "SourceIdentifier": CLUSTER, "StartTime": since},
    )
    shutdown = event("demo-1", "db-instance", 5, "DB instance shutdown.")
    stubber.add_response(
        "describe_events",
        {"Events": [shutdown, event("someone-else", "db-instance", 6, "DB instance restarted.")],
         "Marker": "m2"},
        {"SourceType": "db-instance", "StartTime": since},
    )  # fmt: skip
    stubber.add_response(
        "describe_events",
        {"Events": [shutdown, event("demo-1", "db-instance", 0, "DB instance restarted.")]},
        {"SourceType": "db-instance", "StartTime": since, "Marker": "m2"},
    )
    events = run(cluster.events(since))
    assert [(e.date.second, e.source_identifier, e.message) for e in events] == [
        (0, "demo-1", "DB instance restarted."),
        (5, "demo-1", "DB instance shutdown."),
        (7, CLUSTER, "Started cross AZ failover to DB instance: demo-2"),
    ]
    assert all(e.date.microsecond == 0 and e.date.tzinfo == UTC for e in events)
    assert events[2].source_type == "db-cluster"


def queue_preflight(
    stubber: Stubber,
    *records: dict[str, Any],
    pending: list[dict[str, Any]] | None = None,
    without_restart: bool = False,
) -> None:
    queue_snapshot(stubber, *records)
    stubber.add_response("describe_certificates", CERTIFICATES_REPLY, {})
    stubber.add_response(
        "describe_db_engine_versions",
        {
            "DBEngineVersions": [
                {
                    "Engine": "aurora-mysql",
                    "EngineVersion": "8.0.mysql_aurora.3.05.2",
                    "SupportsCertificateRotationWithoutRestart": without_restart,
                    "SupportedCACertificateIdentifiers": [*CAS, "rds-ca-2019"],
                }
            ]
        },
        {"Engine": "aurora-mysql", "EngineVersion": "8.0.mysql_aurora.3.05.2"},
    )
    stubber.add_response(
        "describe_pending_maintenance_actions", {"PendingMaintenanceActions": pending or []}, {}
    )


def test_preflight_passes_and_names_who_restarts(stubbed: tuple[AwsCluster, Stubber]) -> None:
    """Stubber: a healthy cluster passes; the warning says the writer will restart."""
    cluster, stubber = stubbed
    queue_preflight(stubber, without_restart=True)
    report = run(cluster.preflight("rds-ca-rsa2048-g1", ["demo-1"]))
    assert report.ok and report.ca_exists
    assert report.rotation_without_restart is True
    assert report.restarts == ("demo-1",)
    assert report.warnings == (
        "will restart: demo-1 (the writer: writes fail until it is back)",
        "engine version 8.0.mysql_aurora.3.05.2 supports rotation without restart: "
        "rotation_restart=False would avoid these restarts",
    )
    check = report.instances[0]
    assert (check.ca_identifier, check.server_cert_issuer) == ("rds-ca-2019", "rds-ca-2019")
    assert check.server_cert_valid_till == datetime(2030, 8, 22, 17, 8, 50, tzinfo=UTC)
    report.raise_for_problems()
    assert cluster.mutating_calls == []


def test_preflight_reports_missing_ca_and_pending_rotation(
    stubbed: tuple[AwsCluster, Stubber],
) -> None:
    """Stubber: an unknown CA and pending modifications block; a scheduled
    ca-certificate-rotation is noted; nothing is changed."""
    cluster, stubber = stubbed
    rotation = {
        "ResourceIdentifier": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:demo-2",
        "PendingMaintenanceActionDetails": [
            {
                "Action": "ca-certificate-rotation",
                "AutoAppliedAfterDate": datetime(2024, 8, 22, tzinfo=UTC),
                "CurrentApplyDate": datetime(2024, 8, 22, 3, 0, tzinfo=UTC),
                "Description": "CA certificate rotation",
            }
        ],
    }
    elsewhere = dict(rotation, ResourceIdentifier=f"arn:aws:rds:{REGION}:{ACCOUNT}:db:other")
    queue_preflight(
        stubber,
        instance_record("demo-1"),
        instance_record(
            "demo-2",
            DBInstanceStatus="modifying",
            PendingModifiedValues={"CACertificateIdentifier": "rds-ca-rsa4096-g1"},
        ),
        pending=[rotation, elsewhere],
    )
    report = run(cluster.preflight("rds-ca-rsa9999-g1", ["demo-1", "demo-2"]))
    assert not report.ok and not report.ca_exists
    assert report.problems == (
        "unknown CA 'rds-ca-rsa9999-g1'; valid: rds-ca-ecc384-g1, rds-ca-rsa2048-g1, "
        "rds-ca-rsa4096-g1",
        "engine aurora-mysql 8.0.mysql_aurora.3.05.2 does not support CA rds-ca-rsa9999-g1; "
        "it supports rds-ca-rsa2048-g1, rds-ca-rsa4096-g1, rds-ca-ecc384-g1, rds-ca-2019",
        "instance demo-2 is 'modifying', not available",
        "instance demo-2 has pending modifications (CACertificateIdentifier → "
        "rds-ca-rsa4096-g1): apply or revert them first, or they will ride along with this "
        "change",
    )
    assert report.warnings[0] == (
        "instance demo-2 already has a ca-certificate-rotation maintenance action scheduled "
        "(applies on 2024-08-22 03:00 UTC): RDS will rotate its CA (and restart it) on its "
        "own then, unless this run does first"
    )
    assert report.instances[1].pending_maintenance == ("ca-certificate-rotation",)
    assert report.instances[0].pending_maintenance == ()
    with pytest.raises(UsageError, match=r"^preflight failed: unknown CA .* \(\+3 more\)$"):
        report.raise_for_problems()
    assert cluster.mutating_calls == []


def test_preflight_checks_the_probe_bundle(
    stubbed: tuple[AwsCluster, Stubber], tmp_path: Path
) -> None:
    """Stubber: a probe bundle without the new CA's regional root blocks the run."""
    cluster, stubber = stubbed
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(
        make_ca(f"Amazon RDS {REGION} Root CA RSA2048 G1", key_type="ecdsa384").cert_pem
    )
    queue_preflight(stubber)
    report = run(cluster.preflight("rds-ca-ecc384-g1", ["demo-2"], bundle_paths=[bundle]))
    assert report.problems == (
        f"CA bundle {bundle} does not trust rds-ca-ecc384-g1 in {REGION}: "
        "clients using it could not connect after the change",
    )
    assert report.warnings == ("will restart: demo-2 (a reader)",)


@pytest.mark.parametrize(
    ("code", "status", "error", "message"),
    [
        ("AccessDenied", 403, UsageError, "may not call rds:DescribeDBClusters"),
        ("ExpiredToken", 403, UsageError, "have expired"),
        ("InvalidClientTokenId", 403, UsageError, "rejected the credentials"),
        ("Throttling", 400, AwsApiError, "throttled DescribeDBClusters"),
        ("InternalFailure", 500, AwsApiError, "InternalFailure"),
    ],
)
def test_client_errors_are_mapped_in_one_place(
    stubbed: tuple[AwsCluster, Stubber],
    code: str,
    status: int,
    error: type[Exception],
    message: str,
) -> None:
    """Stubber: credential errors are the user's to fix (exit 2); throttling and 5xx are not."""
    cluster, stubber = stubbed
    stubber.add_client_error("describe_db_clusters", code, "details", status)
    with pytest.raises(error, match=message) as caught:
        run(cluster.describe())
    assert isinstance(caught.value, UsageError) == (error is UsageError)
    assert "\n" not in str(caught.value)


def test_invalid_state_from_rds_is_invalid_state(stubbed: tuple[AwsCluster, Stubber]) -> None:
    """Stubber: InvalidDBInstanceState on ModifyDBInstance → InvalidState (exit 2)."""
    cluster, stubber = stubbed
    queue_snapshot(stubber)
    stubber.add_response("describe_certificates", CERTIFICATES_REPLY, {})
    stubber.add_client_error(
        "modify_db_instance", "InvalidDBInstanceState", "Instance demo-2 is not available", 400,
        expected_params={"DBInstanceIdentifier": "demo-2", "CACertificateIdentifier": ANY,
                         "ApplyImmediately": True, "CertificateRotationRestart": True},
    )  # fmt: skip
    with pytest.raises(InvalidState, match="RDS refused ModifyDBInstance: Instance demo-2"):
        run(cluster.modify_ca("demo-2", "rds-ca-rsa4096-g1"))


# ------------------------------------------------------------------ credentials, region


def test_no_credentials_is_one_line(isolated_env: Path) -> None:
    """No env, no profile: the chain finds nothing and the run stops before any call."""
    with pytest.raises(UsageError, match=r"^no AWS credentials found: .*--profile"):
        AwsCluster(CLUSTER, region=REGION)


def test_no_credentials_at_call_time_is_the_same_error(isolated_env: Path) -> None:
    """botocore's NoCredentialsError (a client built without any) maps to the same line.

    A fresh session: ``boto3.client`` would reuse the default session, which caches the
    credentials an earlier test put in the environment.
    """
    client = boto3.Session(region_name=REGION).client("rds")
    cluster = AwsCluster(CLUSTER, client=client)
    with pytest.raises(UsageError, match=r"^no AWS credentials found"):
        run(cluster.describe())
    assert [name for name, _ in cluster.calls] == ["DescribeDBClusters"]


def test_missing_region_and_unknown_profile(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Credentials but no region names --region; an unknown profile names --profile."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(UsageError, match=r"^no AWS region: pass --region, set AWS_REGION"):
        AwsCluster(CLUSTER)
    with pytest.raises(UsageError, match=r"AWS profile 'nobody' not found.*--profile"):
        AwsCluster(CLUSTER, profile="nobody", region=REGION)


def test_profile_from_the_config_files(isolated_env: Path) -> None:
    """A profile in the shared files gives both credentials and region, as the CLI does."""
    (isolated_env / "creds").write_text(
        "[staging]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    (isolated_env / "config").write_text("[profile staging]\nregion = eu-central-1\n")
    assert AwsCluster(CLUSTER, profile="staging").region == "eu-central-1"


# ------------------------------------------------------------------------ pure helpers


def test_mutating_operations_and_small_mappings() -> None:
    assert "DescribeDBInstances" not in MUTATING_OPERATIONS
    assert {"ModifyDBInstance", "DeleteDBInstance"} <= MUTATING_OPERATIONS
    assert key_type_of("rds-ca-ecc384-g1") == "ECC384"
    assert key_type_of("rds-ca-2019") == "RSA2048"
    assert key_type_of("custom") is None
    assert region_of_arn(f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:x") == REGION
    assert region_of_arn("demo") is None


@pytest.mark.parametrize(
    ("common_name", "identifier", "region", "expected"),
    [
        ("Amazon RDS eu-west-1 Root CA RSA2048 G1", "rds-ca-rsa2048-g1", None, True),
        ("Amazon RDS eu-west-1 Root CA RSA2048 G1", "rds-ca-rsa2048-g1", "eu-west-1", True),
        ("Amazon RDS us-east-1 Root CA RSA2048 G1", "rds-ca-rsa2048-g1", "eu-west-1", False),
        ("Amazon RDS eu-west-1 Root CA RSA2048 G1", "rds-ca-rsa4096-g1", None, False),
        ("Amazon RDS us-gov-west-1 Root CA ECC384 G1", "rds-ca-ecc384-g1", "us-gov-west-1", True),
        ("Amazon RDS Root 2019 CA", "rds-ca-2019", "eu-west-1", True),
        ("Amazon RDS eu-west-1 2019 CA", "rds-ca-2019", "eu-west-1", True),
        ("Amazon RDS eu-west-1 2019 CA", "rds-ca-2019", "us-east-1", False),
        ("rds-ca-rsa4096-g1", "rds-ca-rsa4096-g1", "eu-west-1", True),
        ("Amazon Root CA 1", "rds-ca-rsa2048-g1", None, False),
    ],
)
def test_ca_subject_matches(
    common_name: str, identifier: str, region: str | None, expected: bool
) -> None:
    assert ca_subject_matches(common_name, identifier, region) is expected


def test_bundle_contains_ca_by_subject(tmp_path: Path) -> None:
    """Generated roots named like AWS's (and like the local PKI's) in one PEM bundle."""
    names = (
        "Amazon RDS eu-west-1 Root CA RSA2048 G1",
        "Amazon RDS eu-west-1 Root CA ECC384 G1",
        "Amazon RDS Root 2019 CA",
        "rds-ca-rsa4096-g1",
    )
    bundle = tmp_path / "global-bundle.pem"
    bundle.write_bytes(b"".join(make_ca(n, key_type="ecdsa384").cert_pem for n in names))
    assert bundle_contains_ca(bundle, "rds-ca-rsa2048-g1", region=REGION)
    assert bundle_contains_ca(bundle, "rds-ca-ecc384-g1")
    assert bundle_contains_ca(bundle, "rds-ca-2019", region=REGION)
    assert bundle_contains_ca(bundle, "rds-ca-rsa4096-g1", region=REGION)  # exact CN
    assert not bundle_contains_ca(bundle, "rds-ca-rsa2048-g1", region="us-east-1")
    assert not bundle_contains_ca(bundle, "rds-ca-rsa2048-g2")
    # An identifier the target does not offer is trusted by no bundle.
    offered = [c for c in run_certificates() if c.identifier != "rds-ca-ecc384-g1"]
    assert not bundle_contains_ca(bundle, "rds-ca-ecc384-g1", offered)
    assert bundle_contains_ca(bundle, "rds-ca-rsa2048-g1", offered)
    # A root that has expired by ``now`` does not count.
    later = datetime.now(UTC) + timedelta(days=4000)
    assert not bundle_contains_ca(bundle, "rds-ca-rsa2048-g1", now=later)


def test_bundle_problems_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read CA bundle"):
        bundle_contains_ca(tmp_path / "missing.pem", "rds-ca-rsa2048-g1")
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(UsageError, match="no readable PEM"):
        bundle_contains_ca(tmp_path / "junk.pem", "rds-ca-rsa2048-g1")


def run_certificates() -> list[Any]:
    from harness.targets.aws_views import certificate_views

    return certificate_views(CERTIFICATES_REPLY["Certificates"], "rds-ca-rsa2048-g1")


def test_harness_cleanup_command_lists_then_deletes(
    rds: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """moto: `harness cleanup --run-id` finds the run's reader by its tags, as the CLI runs."""
    from harness.cli import main

    run(make_cluster(rds).create_reader("demo-tmp"))
    args = ["cleanup", "--cluster", CLUSTER, "--run-id", "run-1"]
    assert main([*args, "--dry-run"]) == 0
    assert capsys.readouterr().out.strip() == "would delete demo-tmp"
    assert main(args) == 0
    assert capsys.readouterr().out.strip() == "deleting demo-tmp"
    assert main(args) == 0
    assert "nothing left behind by run run-1" in capsys.readouterr().out
