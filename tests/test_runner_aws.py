"""`harness run --target aws` against moto: dry runs and bad input make no mutating call.

Every test here uses moto (in-process; AWS is never reached) for clusters and instances,
with the three operations moto lacks (``DescribeCertificates``,
``DescribeDBEngineVersions``, ``DescribePendingMaintenanceActions``) answered in
botocore's ``before-call`` event, as in ``test_aws_target.py``. Every boto3 call the run
makes is recorded twice: by a ``before-parameter-build`` hook on each client the run
builds (:func:`harness.targets.aws_base.make_client` is wrapped), which fires before moto
answers, and, where the test drives :func:`run_command` itself, by the run's own
``RunOptions.call_log``. No probe ever connects: the probes' connectivity check is
replaced, and name resolution of anything but 127.0.0.1 fails the test.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from moto import mock_aws

import harness.scenario.runner
import harness.targets.aws_base
from harness.cli import main
from harness.scenario.command import RunOptions, run_command
from harness.targets.aws import MUTATING_OPERATIONS
from harness.targets.local.pki import make_ca, write_bundle

REGION = "eu-west-1"
CLUSTER = "demo"
CAS = ("rds-ca-rsa2048-g1", "rds-ca-rsa4096-g1", "rds-ca-ecc384-g1", "rds-ca-2019")
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
SHIPPED = sorted(p.stem for p in SCENARIOS.glob("*.yaml"))

MISSING_FROM_MOTO: dict[str, dict[str, Any]] = {
    "DescribeCertificates": {
        "DefaultCertificateForNewLaunches": "rds-ca-rsa2048-g1",
        "Certificates": [{"CertificateIdentifier": ca, "CertificateType": "CA"} for ca in CAS],
    },
    "DescribeDBEngineVersions": {
        "DBEngineVersions": [
            {
                "Engine": "aurora-mysql",
                "EngineVersion": "8.0.mysql_aurora.3.05.2",
                "SupportsCertificateRotationWithoutRestart": True,
                "SupportedCACertificateIdentifiers": list(CAS),
            }
        ]
    },
    "DescribePendingMaintenanceActions": {"PendingMaintenanceActions": []},
}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only 127.0.0.1 may be reached: resolving any other name fails the test."""
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", None):
            raise AssertionError(f"the test tried to resolve {host!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture(autouse=True)
def no_probe(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The probes' connectivity check, replaced: moto's endpoints are not real servers."""
    checked: list[str] = []

    async def preflight(config: Any) -> None:
        checked.append(str(config.endpoints.writer))

    monkeypatch.setattr(harness.scenario.runner, "preflight", preflight)
    return checked


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No credentials, profile or region from the machine; the run's cwd is empty."""
    for name in (
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "HARNESS_DB_PASSWORD",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "aws"
    config.mkdir()
    for name, file in (("AWS_CONFIG_FILE", "config"), ("AWS_SHARED_CREDENTIALS_FILE", "creds")):
        (config / file).write_text("")
        monkeypatch.setenv(name, str(config / file))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def credentials(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's fake credentials and the probe password a real run would need."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("HARNESS_DB_PASSWORD", "not-a-real-secret")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle whose root is named like the CA the shipped scenarios rotate to."""
    path = tmp_path_factory.mktemp("pki") / "bundle.pem"
    write_bundle(path, [make_ca("rds-ca-rsa2048-g1", "ecdsa384", 30)])
    return path


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every operation any client the run builds is asked for, in order."""
    seen: list[str] = []
    real = harness.targets.aws_base.make_client

    def make_client(region: str | None, profile: str | None) -> Any:
        client: Any = real(region, profile)

        def record(model: Any, **_: Any) -> None:
            seen.append(model.name)

        client.meta.events.register("before-parameter-build.rds", record)
        for operation, reply in MISSING_FROM_MOTO.items():

            def answer(reply: dict[str, Any] = reply, **_: Any) -> tuple[Any, dict[str, Any]]:
                return AWSResponse("", 200, HTTPHeaders(), None), dict(reply)

            client.meta.events.register(f"before-call.rds.{operation}", answer)
        return client

    monkeypatch.setattr(harness.targets.aws_base, "make_client", make_client)
    return seen


@pytest.fixture
def rds(credentials: None, calls: list[str]) -> Iterator[None]:
    """moto: aurora-mysql cluster ``demo``, writer ``demo-1``, reader ``demo-2``.

    Made with a client of its own, so the run's recording starts empty."""
    with mock_aws():
        client = boto3.client("rds", region_name=REGION)
        client.create_db_cluster(
            DBClusterIdentifier=CLUSTER, Engine="aurora-mysql", MasterUsername="admin",
            MasterUserPassword="not-a-secret-1",
        )  # fmt: skip
        for tier, name in enumerate(("demo-1", "demo-2")):
            client.create_db_instance(
                DBClusterIdentifier=CLUSTER, DBInstanceIdentifier=name, Engine="aurora-mysql",
                DBInstanceClass="db.r6g.large", PromotionTier=tier,
                CACertificateIdentifier="rds-ca-2019",
            )  # fmt: skip
        yield


def aws_args(bundle: Path, *extra: str) -> list[str]:
    return ["--target", "aws", "--cluster", CLUSTER, "--region", REGION, "--ca-bundle",
            str(bundle), "--out", "run", *extra]  # fmt: skip


def no_mutating(calls: list[str]) -> None:
    assert [c for c in calls if c in MUTATING_OPERATIONS] == []


# -- dry run -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_dry_run_makes_no_mutating_call(
    rds: None, calls: list[str], bundle: Path, workdir: Path, no_probe: list[str],
    monkeypatch: pytest.MonkeyPatch, name: str,
) -> None:  # fmt: skip
    """moto: the plan of every shipped scenario names the real instances and the calls it
    would make; preflight runs; nothing mutates. The dry run needs no probe password."""
    monkeypatch.delenv("HARNESS_DB_PASSWORD")
    log: list[tuple[str, dict[str, Any]]] = []
    said: list[str] = []
    options = RunOptions(
        scenario=SCENARIOS / f"{name}.yaml", target="aws", cluster=CLUSTER, region=REGION,
        dry_run=True, ca_bundle=bundle, out=workdir / "run", call_log=log,
    )  # fmt: skip

    code, outcomes = run_command(options, said.append)

    assert (code, outcomes) == (0, [])
    text = "\n".join(said)
    assert f"scenario {name} on {CLUSTER}" in text
    assert "dry run: no change was made" in text
    assert "demo-1" in text and "${" not in text
    assert [op for op, _ in log] == calls, "the run's own log saw every call"
    assert "DescribeDBClusters" in calls
    no_mutating(calls)
    assert no_probe == [] and list(workdir.iterdir()) == []


def test_dry_run_plan_of_the_failover_method(
    rds: None, calls: list[str], bundle: Path, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """moto: through the CLI, the failover method's plan lists each AWS call."""
    code = main(["run", str(SCENARIOS / "failover-method.yaml"), *aws_args(bundle, "--dry-run")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "create_db_instance(DBInstanceIdentifier=harness-" in err
    assert "failover_db_cluster(TargetDBInstanceIdentifier=harness-" in err
    assert "delete_db_instance(DBInstanceIdentifier=demo-1, SkipFinalSnapshot=True)" in err
    no_mutating(calls)


# -- bad input: one line, exit 2, no mutating call ---------------------------------------

BAD_SCENARIO = """\
name: bad-input
description: a scenario with a mistake in it
parameters:
  victim: demo-9
method:
"""

LOAD_ERRORS = [
    pytest.param("  - {action: sleep, seconds: 1}\n", (),
                 "method[0].action: unknown action 'sleep'", id="unknown-step"),
    pytest.param("  - {action: modify_ca, instance: '${writer}'}\n", (),
                 "method[0].ca: field required", id="missing-field"),
    pytest.param("  - {action: modify_ca, instance: '${writer}', ca: [1]}\n", (),
                 "method[0].ca: input should be a valid string", id="wrong-type"),
    pytest.param("  - {action: delete_instance, instance: '${writer}'}\n", (),
                 "would delete ${writer}, the writer", id="deletes-the-writer"),
    pytest.param("  - {action: kill_instance, instance: '${reader}'}\n", (),
                 "kill_instance is local-only chaos; it cannot run on --target aws",
                 id="local-only-chaos"),
    pytest.param("  - {action: delete_instance, instance: '${victim}'}\n",
                 ("--set", "victim=demo-1"), "method[0].instance: would delete demo-1",
                 id="deletes-the-writer-named-by-set"),
    pytest.param("direct-ca-change", ("--set", "ca=rds-ca-nope"),
                 "unknown CA 'rds-ca-nope'", id="unknown-ca"),
    pytest.param("direct-ca-change", ("--set", "instance=nope"),
                 "no DB instance 'nope' in cluster demo", id="unknown-instance"),
    pytest.param("failover-method", ("--set", "temp_reader=demo-2"),
                 "DB instance 'demo-2' already exists", id="temporary-reader-exists"),
]  # fmt: skip


def one_line_error(code: int, err: str, expected: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("harness: error: ")
    assert expected in lines[0], lines[0]


@pytest.mark.parametrize(("scenario", "extra", "expected"), LOAD_ERRORS)
def test_bad_scenario_input(
    rds: None, calls: list[str], bundle: Path, workdir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], scenario: str, extra: tuple[str, ...], expected: str,
) -> None:  # fmt: skip
    """moto: refused before any change; at most the describes that found the problem."""
    if scenario.startswith("  - "):
        path = tmp_path / "bad.yaml"
        path.write_text(BAD_SCENARIO + scenario)
    else:
        path = SCENARIOS / f"{scenario}.yaml"

    code = main(["run", str(path), *aws_args(bundle, *extra)])

    one_line_error(code, capsys.readouterr().err, expected)
    no_mutating(calls)
    assert list(workdir.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["--cluster", "nope", "--region", REGION], "no DB cluster 'nope' in region",
                     id="unknown-cluster"),
        pytest.param(["--cluster", f"arn:aws:rds:us-east-1:123456789012:cluster:{CLUSTER}",
                      "--region", REGION], "region mismatch: cluster", id="region-mismatch"),
        pytest.param(["--region", REGION], "--target aws needs --cluster", id="no-cluster"),
    ],
)  # fmt: skip
def test_bad_target_input(
    rds: None, calls: list[str], bundle: Path, workdir: Path,
    capsys: pytest.CaptureFixture[str], args: list[str], expected: str,
) -> None:  # fmt: skip
    """moto: the cluster cannot be found or addressed; nothing mutates."""
    command = ["run", str(SCENARIOS / "direct-ca-change.yaml"), "--target", "aws",
               "--ca-bundle", str(bundle), "--out", "run", *args]  # fmt: skip
    code = main(command)
    one_line_error(code, capsys.readouterr().err, expected)
    no_mutating(calls)
    assert list(workdir.iterdir()) == []


def test_no_ca_bundle(
    rds: None, calls: list[str], workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """moto: --target aws without --ca-bundle stops before any client is built."""
    code = main(["run", str(SCENARIOS / "direct-ca-change.yaml"), "--target", "aws",
                 "--cluster", CLUSTER, "--region", REGION])  # fmt: skip
    one_line_error(code, capsys.readouterr().err, "--target aws needs --ca-bundle")
    assert calls == []


def test_no_credentials(
    workdir: Path, calls: list[str], bundle: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """No credentials anywhere (empty config files, no variables): no call at all.

    Outside moto, whose mock would provide fake credentials; were any found, the call
    would stop at :func:`loopback_only` rather than leave the machine."""
    monkeypatch.setenv("HARNESS_DB_PASSWORD", "not-a-real-secret")
    code = main(["run", str(SCENARIOS / "direct-ca-change.yaml"), *aws_args(bundle)])
    one_line_error(code, capsys.readouterr().err, "no AWS credentials found")
    assert calls == []


def test_no_password(
    rds: None, calls: list[str], bundle: Path, workdir: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """moto: a real run needs the probe user's password; asked before any call."""
    monkeypatch.delenv("HARNESS_DB_PASSWORD")
    code = main(["run", str(SCENARIOS / "direct-ca-change.yaml"), *aws_args(bundle)])
    one_line_error(code, capsys.readouterr().err, "HARNESS_DB_PASSWORD is not set")
    assert calls == []


@pytest.mark.parametrize("name", ["direct-ca-change", "failover-method"])
def test_a_mutating_run_needs_yes(
    rds: None, calls: list[str], bundle: Path, workdir: Path, no_probe: list[str],
    capsys: pytest.CaptureFixture[str], name: str,
) -> None:  # fmt: skip
    """moto: preflight passes (the failover method's reader does not exist yet, which is
    not a problem); with no terminal to ask on, the run stops before any change."""
    code = main(["run", str(SCENARIOS / f"{name}.yaml"), *aws_args(bundle)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.strip().splitlines()[-1] == (
        f"harness: error: this run changes AWS cluster {CLUSTER}: pass --yes to confirm "
        "(no terminal to ask on)"
    )
    assert "preflight: will restart: demo-1 (the writer" in err
    assert no_probe, "the probes' check ran (against the replaced preflight)"
    assert {"DescribeCertificates", "DescribeDBEngineVersions"} <= set(calls)
    no_mutating(calls)
    assert list(workdir.iterdir()) == []
