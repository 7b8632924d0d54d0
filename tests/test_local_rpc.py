"""The local cluster's control protocol and process bookkeeping, without any process.

The daemon must never call what a client names unless it is allow-listed, errors must
come back as the type the engine raised, and cleanup must recognise the cluster's own
processes (and nobody else's) from their command lines.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.targets.base import ClusterView, InstanceView, TargetError, UnknownInstance
from harness.targets.local import rpc
from harness.targets.local.procs import _is_cluster_process
from harness.targets.local.statedir import _pids_in


def test_only_allow_listed_methods_are_served() -> None:
    with pytest.raises(rpc.ProtocolError, match="unknown method 'close'; valid: describe") as info:
        rpc.decode_request(rpc.encode_request("close", {}))
    assert info.value.kind == "UnknownMethod"


@pytest.mark.parametrize(
    ("line", "kind", "message"),
    [
        (b"not json\n", "BadRequest", "not a JSON line"),
        (b'["failover"]\n', "BadRequest", "expected {"),
        (b'{"method": "failover", "params": {}}\n', "InvalidParams", "failover: target"),
        (
            b'{"method": "failover", "params": {"target": "a", "force": true}}\n',
            "InvalidParams",
            "failover: force: Extra inputs are not permitted",
        ),
        (
            b'{"method": "inject_fault", "params": {"endpoint": "db", "kind": "reset", '
            b'"duration_s": 1}}\n',
            "InvalidParams",
            "inject_fault: endpoint",
        ),
    ],
)
def test_bad_requests_are_answered_not_executed(line: bytes, kind: str, message: str) -> None:
    with pytest.raises(rpc.ProtocolError, match=message) as info:
        rpc.decode_request(line)
    assert info.value.kind == kind


def test_parameters_are_typed() -> None:
    since = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    method, params = rpc.decode_request(rpc.encode_request("events", {"since": since.isoformat()}))
    assert method == "events"
    assert params.model_dump() == {"since": since}
    _, params = rpc.decode_request(rpc.encode_request("modify_ca", {"instance": "a", "ca": "b"}))
    assert params.model_dump() == {
        "instance": "a", "ca": "b", "apply_immediately": True, "rotation_restart": True,
    }  # fmt: skip


def test_a_target_error_comes_back_as_its_own_type_and_message() -> None:
    original = UnknownInstance("nope", ["instance-1", "instance-2"])
    reply = rpc.encode_error(rpc.error_name(original), str(original))
    with pytest.raises(UnknownInstance) as info:
        rpc.decode_reply(reply)
    assert str(info.value) == str(original)
    assert isinstance(info.value, TargetError) and isinstance(info.value, UsageError)


def test_an_internal_error_is_not_bad_input() -> None:
    reply = rpc.encode_error(rpc.error_name(RuntimeError("boom")), "boom")
    with pytest.raises(rpc.DaemonError, match="InternalError: boom") as info:
        rpc.decode_reply(reply)
    assert not isinstance(info.value, UsageError)


def test_a_timeout_stays_a_timeout() -> None:
    reply = rpc.encode_error(rpc.error_name(TimeoutError()), "wait_idle: TimeoutError")
    with pytest.raises(TimeoutError, match="wait_idle"):
        rpc.decode_reply(reply)


def test_views_cross_as_json_and_come_back_equal() -> None:
    view = ClusterView(
        identifier="c", status="available", engine="mariadb 10.11", writer_endpoint="127.0.0.1:1",
        reader_endpoint="127.0.0.1:2", emulation="instant",
        instances=(
            InstanceView(
                identifier="i", role="writer", status="available", ca_identifier="rds-ca-2019",
                server_cert_valid_till=datetime(2030, 1, 1, tzinfo=UTC),
            ),
        ),
    )  # fmt: skip
    line = rpc.encode_result(view)
    assert json.loads(line)["result"]["instances"][0]["server_cert_valid_till"].startswith("2030")
    assert ClusterView.model_validate(rpc.decode_reply(line)) == view


ROOT = "/srv/state/local"


@pytest.mark.parametrize(
    ("argv", "ours"),
    [
        (["/usr/sbin/mariadbd", "--no-defaults", f"--datadir={ROOT}/instances/a/data"], True),
        (["/usr/sbin/mysqld", f"--datadir={ROOT}/instances/a/data"], True),
        (["python", "-m", "harness.targets.local.daemon", "--state-dir", ROOT], True),
        (["/usr/sbin/mariadbd", f"--datadir={ROOT}2/instances/a/data"], False),  # another dir
        (["tail", "-f", f"{ROOT}/daemon.log"], False),  # someone watching the log
        (["/usr/sbin/mariadbd", "--datadir=/var/lib/mysql"], False),
        ([], False),
    ],
)
def test_cleanup_recognises_only_the_clusters_own_processes(argv: list[str], ours: bool) -> None:
    assert _is_cluster_process(argv, ROOT) is ours


def test_every_pid_in_the_engine_state_is_found() -> None:
    document = {
        "owner_pid": 10,
        "connection": {"password_file": str(Path(ROOT) / "probe-password")},
        "instances": [{"name": "a", "pid": 11, "port": 3306}, {"name": "b", "pid": None}],
        "extra": {"pids": [12, "x", 0]},
    }
    assert sorted(_pids_in(document)) == [10, 11, 12]
