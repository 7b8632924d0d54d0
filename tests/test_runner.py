"""`harness run` end to end on the local target: real clusters, ``instant`` timing.

Every shipped scenario runs through ``harness.cli.main(["run", ...])`` against a real local
cluster (MariaDB servers on 127.0.0.1) with short phases (``--set baseline_s=0.5 --set
cooldown_s=0.5``). Most tests share one cluster (module scope): each looks at it first and
picks a CA other than the one in force, so no test depends on another having run. The
``--repeat`` test and the dry run without a cluster use their own state directories.

Also here: ``--dry-run`` changes nothing; a failure injected at each step of the failover
method (and Ctrl-C) leaves no temporary reader behind and never deletes the writer; bad
input is one line, exit 2, and no mutating call. Mutating calls are seen by wrapping the
methods of :class:`~harness.targets.local.client.LocalCluster`, through which the runner
drives the cluster.
"""

from __future__ import annotations

import asyncio
import json
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pytest

from harness.cli import main
from harness.history import load_history
from harness.targets.base import ClusterView, TargetError
from harness.targets.local import lifecycle
from harness.targets.local.client import LocalCluster
from harness.targets.local.lifecycle import EndpointPorts

pytestmark = pytest.mark.mariadb

T = TypeVar("T")
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
SHORT = ("--set", "baseline_s=0.5", "--set", "cooldown_s=0.5")
OLD_CA = "rds-ca-2019"  # what a fresh local cluster's instances start on
NEW_CAS = ("rds-ca-rsa2048-g1", "rds-ca-rsa4096-g1", "rds-ca-ecc384-g1")
MUTATING = (
    "modify_ca", "reboot", "create_reader", "failover", "delete_instance", "kill_instance",
    "inject_fault",
)  # fmt: skip


def arun(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def shared_cluster(template_cache: Path) -> Iterator[Path]:
    """A two-instance cluster on free ports, taken down at the end of the module."""
    root = Path(tempfile.mkdtemp(prefix="harness-run-"))
    state = root / "local"
    try:
        lifecycle.up(state, instances=2, timing="instant", ports=EndpointPorts(0, 0))
        yield state
    finally:
        if state.exists():
            lifecycle.down(state, timeout_s=10)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def cluster(shared_cluster: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The shared cluster, idle (no change of an earlier test still under way)."""
    monkeypatch.chdir(tmp_path)  # nothing lands in the repository's results/
    arun(LocalCluster(shared_cluster).wait_idle(60))
    return shared_cluster


@dataclass
class Result:
    code: int
    out: str
    err: str


def harness_run(
    capsys: pytest.CaptureFixture[str], scenario: str | Path, state_dir: Path, out: Path,
    *extra: str,
) -> Result:  # fmt: skip
    path = scenario if isinstance(scenario, Path) else SCENARIOS / f"{scenario}.yaml"
    code = main(["run", str(path), "--state-dir", str(state_dir), "--out", str(out), *extra])
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def describe(state_dir: Path) -> ClusterView:
    return arun(LocalCluster(state_dir).describe())


def writer_of(view: ClusterView) -> str:
    assert view.writer is not None, view
    return view.writer.identifier


def other_ca(*in_force: str | None) -> str:
    """A CA to rotate to that none of ``in_force`` uses already."""
    return next(ca for ca in NEW_CAS if ca not in in_force)


def names(view: ClusterView) -> set[str]:
    return {i.identifier for i in view.instances}


@dataclass
class Run:
    summary: dict[str, Any]
    info: dict[str, Any]
    history: pd.DataFrame

    @property
    def scenario_ops(self) -> pd.DataFrame:
        return self.history[self.history["process"] == "scenario"]

    def actions(self, kind: str) -> list[str]:
        """The scenario's actions (``f``) with ops of ``kind`` (invoke, ok, fail, info)."""
        ops = self.scenario_ops
        return list(ops[(ops["type"] == kind) & (ops["f"] != "milestone")]["f"])

    @property
    def milestones(self) -> list[str]:
        ops = self.scenario_ops
        return [str(m) for m in ops[ops["f"] == "milestone"]["message"]]

    @property
    def temp_reader(self) -> str:
        """The failover method's temporary reader: ``harness-<run id>``."""
        return f"harness-{self.summary['run_id'].lower()}"

    def verdicts(self) -> dict[str, str]:
        return {t["metric"]: t["verdict"] for t in self.summary["thresholds"]}


def check_run(out: Path, scenario: str, probes: set[str], actions: list[str]) -> Run:
    """What every finished run directory holds: summary (downtime per probe, audit,
    thresholds' verdicts), report.md, and the history with the scenario's ops."""
    summary = json.loads((out / "summary.json").read_text())
    info = json.loads((out / "run.json").read_text())
    assert summary["scenario"] == scenario
    assert set(summary["probes"]) == probes
    for name in probes:
        probe = summary["probes"][name]
        assert isinstance(probe["downtime_ms"], int | float) and probe["downtime_ms"] >= 0
        assert probe["ops"] > 0 and probe["resolution_ms"] > 0
    assert summary["audit"]["final_read"] == "ok"
    assert summary["audit"]["lost"] == 0 and summary["audit_passed"] is True
    assert summary["thresholds"], "the scenario's thresholds are judged"
    assert all(t["verdict"] in ("pass", "fail", "unknown") for t in summary["thresholds"])
    assert isinstance(summary["thresholds_passed"], bool)
    report = (out / "report.md").read_text()
    assert scenario in report
    assert (out / "history.parquet").is_file()
    run = Run(summary, info, load_history(out))
    assert run.actions("invoke") == actions
    assert run.actions("ok") == actions
    for phase in ("baseline", "method", "cooldown", "rollback"):
        assert phase in run.milestones
    return run


# -- every shipped scenario, end to end --------------------------------------------------


def test_direct_ca_change(
    cluster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = describe(cluster)
    writer = writer_of(before)
    ca = other_ca(before.instance(writer).ca_identifier)

    result = harness_run(capsys, "direct-ca-change", cluster, tmp_path / "run", *SHORT,
                         "--set", f"ca={ca}")  # fmt: skip

    assert result.code == 0, result.err
    run = check_run(tmp_path / "run", "direct-ca-change", {"write", "read", "connect"},
                    ["modify_ca"])  # fmt: skip
    assert set(run.verdicts().values()) == {"pass"}
    assert (run.info["ca_from"], run.info["ca_to"]) == (before.instance(writer).ca_identifier, ca)
    after = describe(cluster)
    assert writer_of(after) == writer, "a direct change keeps the writer"
    assert after.instance(writer).ca_identifier == ca
    assert after.instance(writer).server_cert_issuer == ca
    assert run.summary["probes"]["write"]["outages"], "the writer restarted: writes saw it"
    assert f"{writer} available on {ca}" in run.milestones
    assert "threshold probes.write.downtime_ms ≤ 20000" in result.out


@pytest.mark.parametrize("on_new_ca", [False, True], ids=["reader-on-old-ca", "reader-on-new-ca"])
def test_failover_method(
    cluster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], on_new_ca: bool
) -> None:
    before = describe(cluster)
    writer = writer_of(before)
    writer_ca = before.instance(writer).ca_identifier
    ca = other_ca(writer_ca)

    result = harness_run(capsys, "failover-method", cluster, tmp_path / "run", *SHORT,
                         "--set", f"ca={ca}", "--set", f"reader_on_new_ca={on_new_ca}")  # fmt: skip

    assert result.code == 0, result.err
    steps = ["create_reader", "wait_for", "failover", "delete_instance"]
    if not on_new_ca:
        steps.insert(1, "modify_ca")
    steps.append("delete_instance")  # the rollback's: skipped, the reader is the writer now
    run = check_run(tmp_path / "run", "failover-method", {"write", "read", "connect"}, steps)
    assert set(run.verdicts().values()) == {"pass"}
    created = run.scenario_ops[
        (run.scenario_ops["f"] == "create_reader") & (run.scenario_ops["type"] == "invoke")
    ]
    assert json.loads(created["value"].iloc[0])["ca"] == (ca if on_new_ca else writer_ca)
    after = describe(cluster)
    temp = run.temp_reader
    assert writer_of(after) == temp, "the temporary reader stays, as the writer"
    assert writer not in names(after), "the old writer is gone"
    assert names(after) == names(before) - {writer} | {temp}
    assert after.instance(temp).ca_identifier == ca
    assert all(i.status == "available" for i in after.instances)
    assert f"writer is now {temp}" in run.milestones
    assert f"{writer} is gone" in run.milestones


def test_rolling_readers_first(
    cluster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = describe(cluster)
    writer, reader = writer_of(before), before.readers[0].identifier
    ca = other_ca(*(i.ca_identifier for i in before.instances))

    result = harness_run(capsys, "rolling-readers-first", cluster, tmp_path / "run", *SHORT,
                         "--set", f"ca={ca}")  # fmt: skip

    assert result.code == 0, result.err
    run = check_run(tmp_path / "run", "rolling-readers-first", {"write", "read", "connect"},
                    ["modify_ca", "failover", "modify_ca"])  # fmt: skip
    assert set(run.verdicts().values()) == {"pass"}
    after = describe(cluster)
    assert writer_of(after) == reader, "the rotated reader was promoted"
    assert after.instance(writer).role == "reader"
    assert names(after) == names(before), "no instance created or deleted"
    assert after.instance(writer).ca_identifier == after.instance(reader).ca_identifier == ca


def test_rotate_without_restart(
    cluster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = describe(cluster)
    writer = writer_of(before)
    ca = other_ca(before.instance(writer).ca_identifier)

    result = harness_run(capsys, "rotate-without-restart", cluster, tmp_path / "run", *SHORT,
                         "--set", f"ca={ca}")  # fmt: skip

    assert result.code == 0, result.err
    run = check_run(tmp_path / "run", "rotate-without-restart", {"write", "read", "connect"},
                    ["modify_ca"])  # fmt: skip
    assert set(run.verdicts().values()) == {"pass"}
    invoke = run.scenario_ops[run.scenario_ops["type"] == "invoke"]
    assert json.loads(invoke["value"].iloc[0])["rotation_restart"] is False
    after = describe(cluster)
    assert after.instance(writer).ca_identifier == ca
    assert after.instance(writer).server_cert_issuer == ca
    events = run.history[run.history["f"] == "event"]
    shutdowns = events[
        (events["server"] == writer) & (events["message"] == "DB instance shutdown.")
    ]
    assert shutdowns.empty, "the writer was not restarted"
    assert "will restart" not in result.err


def test_stale_trust_store_exits_1_and_never_recovers(
    cluster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The stale client trusts only rds-ca-2019: put the writer back on it first."""
    local = LocalCluster(cluster)
    writer = writer_of(describe(cluster))
    if describe(cluster).instance(writer).ca_identifier != OLD_CA:
        arun(local.modify_ca(writer, OLD_CA))
        arun(local.wait_idle(60))
    ca = other_ca(OLD_CA)

    result = harness_run(capsys, "stale-trust-store", cluster, tmp_path / "run", *SHORT,
                         "--set", f"ca={ca}")  # fmt: skip

    assert result.code == 1, result.err  # on purpose: that is what it demonstrates
    run = check_run(tmp_path / "run", "stale-trust-store",
                    {"write", "connect-updated", "connect-stale"}, ["modify_ca"])  # fmt: skip
    assert run.verdicts() == {
        "probes.connect-updated.downtime_ms": "pass",
        "probes.connect-stale.down_at_end": "fail",
        "probes.write.downtime_ms": "pass",
        "audit.lost": "pass",
    }
    stale, updated = (
        run.summary["probes"]["connect-stale"],
        run.summary["probes"]["connect-updated"],
    )
    assert stale["down_at_end"] is True and updated["down_at_end"] is False
    assert stale["errors"].get("tls_verify_failed", 0) > 0
    assert describe(cluster).instance(writer).ca_identifier == ca


def test_reboot_with_failover(
    cluster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = describe(cluster)
    writer = writer_of(before)

    result = harness_run(capsys, "reboot-with-failover", cluster, tmp_path / "run", *SHORT)

    assert result.code == 0, result.err
    run = check_run(tmp_path / "run", "reboot-with-failover", {"write", "read", "connect"},
                    ["reboot"])  # fmt: skip
    assert set(run.verdicts().values()) == {"pass"}
    after = describe(cluster)
    assert writer_of(after) != writer, "a reader was promoted"
    assert after.instance(writer).role == "reader"
    assert after.instance(writer).status == "available"
    assert names(after) == names(before)


# -- dry run -----------------------------------------------------------------------------


@pytest.fixture
def local_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """Every mutating LocalCluster call made from this process, as (method, args)."""
    calls: list[tuple[str, tuple[Any, ...]]] = []
    for method in MUTATING:
        real = getattr(LocalCluster, method)

        def record(real: Any = real, method: str = method) -> Callable[..., Any]:
            async def wrapper(self: LocalCluster, *args: Any, **kwargs: Any) -> Any:
                calls.append((method, args))
                return await real(self, *args, **kwargs)

            return wrapper

        monkeypatch.setattr(LocalCluster, method, record())
    return calls


def test_dry_run_changes_nothing(
    cluster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    local_calls: list[tuple[str, tuple[Any, ...]]],
) -> None:  # fmt: skip
    before = describe(cluster)
    writer = writer_of(before)
    ca = other_ca(before.instance(writer).ca_identifier)

    result = harness_run(capsys, "failover-method", cluster, tmp_path / "run", *SHORT,
                         "--set", f"ca={ca}", "--dry-run")  # fmt: skip

    assert result.code == 0, result.err
    assert describe(cluster) == before
    assert local_calls == []
    assert not (tmp_path / "run").exists()
    assert "dry run: no change was made" in result.err
    # The plan names the real instances and every call the run would make.
    assert "failover_db_cluster(TargetDBInstanceIdentifier=harness-" in result.err
    assert (
        f"delete_db_instance(DBInstanceIdentifier={writer}, SkipFinalSnapshot=True)" in result.err
    )
    assert "create_db_instance(" in result.err and "modify_db_instance(" in result.err
    assert "${" not in result.err


def test_dry_run_without_a_cluster_starts_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    state = tmp_path / "nothing-up"
    result = harness_run(capsys, "direct-ca-change", state, tmp_path / "run", "--dry-run")
    assert result.code == 0, result.err
    assert "(the local cluster, brought up by the run)" in result.err
    assert "modify_db_instance(DBInstanceIdentifier=${writer}" in result.err
    assert not state.exists() and not (tmp_path / "run").exists()


# -- a failure at each step of the failover method ---------------------------------------

# (action of the step, how it fails): "before" the cluster is asked, "after" it was asked
# (the request was accepted, then the step reports a failure), "timeout" (a condition
# that cannot be met within the step's timeout_s).
INJECTIONS = [
    ("create_reader", "before"),
    ("create_reader", "after"),
    ("modify_ca", "after"),
    ("wait_for", "timeout"),
    ("failover", "before"),
    ("failover", "after"),
    ("delete_instance", "before"),
    ("delete_instance", "after"),
]


def fail_once(monkeypatch: pytest.MonkeyPatch, method: str, when: str) -> None:
    """The first call of ``LocalCluster.<method>`` fails with a TargetError."""
    real = getattr(LocalCluster, method)
    state = {"failed": False}

    async def wrapper(self: LocalCluster, *args: Any, **kwargs: Any) -> Any:
        if state["failed"]:
            return await real(self, *args, **kwargs)
        state["failed"] = True
        if when == "after":
            await real(self, *args, **kwargs)
        raise TargetError(f"injected failure of {method} ({when} the call)")

    monkeypatch.setattr(LocalCluster, method, wrapper)


def guard_the_writer(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Deletions are checked against describe() at the moment they are asked for."""
    violations: list[str] = []
    real = LocalCluster.delete_instance

    async def wrapper(self: LocalCluster, instance: str) -> None:
        view = await self.describe()
        if view.writer is not None and view.writer.identifier == instance:
            violations.append(instance)
        await real(self, instance)

    monkeypatch.setattr(LocalCluster, "delete_instance", wrapper)
    return violations


def unmeetable_wait_for(tmp_path: Path) -> Path:
    """failover-method.yaml with a wait_for that cannot hold, and a 0.5 s timeout."""
    text = (SCENARIOS / "failover-method.yaml").read_text()
    old = "    status: available\n    ca: ${ca}\n"
    assert text.count(old) == 1
    path = tmp_path / "failover-method.yaml"
    path.write_text(text.replace(old, "    status: stopped\n    ca: ${ca}\n    timeout_s: 0.5\n"))
    return path


@pytest.mark.parametrize(("action", "when"), INJECTIONS, ids=[f"{a}-{w}" for a, w in INJECTIONS])
def test_a_failed_step_leaves_no_temporary_reader(
    cluster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, action: str, when: str,
) -> None:  # fmt: skip
    before = describe(cluster)
    writer = writer_of(before)
    ca = other_ca(before.instance(writer).ca_identifier)
    violations = guard_the_writer(monkeypatch)
    if when == "timeout":
        scenario: str | Path = unmeetable_wait_for(tmp_path)
    else:
        scenario = "failover-method"
        fail_once(monkeypatch, action, when)

    result = harness_run(capsys, scenario, cluster, tmp_path / "run", *SHORT, "--set", f"ca={ca}")

    assert result.code == 3, result.err
    assert "the change failed" in result.err and "LEFT BEHIND" not in result.err
    run = Run(
        json.loads((tmp_path / "run" / "summary.json").read_text()),
        json.loads((tmp_path / "run" / "run.json").read_text()),
        load_history(tmp_path / "run"),
    )
    assert run.actions("fail") == [action]
    assert "rollback" in run.milestones and "cooldown" not in run.milestones
    assert (tmp_path / "run" / "report.md").is_file()
    after = describe(cluster)
    temp = run.temp_reader
    assert violations == [], "the writer is never deleted"
    assert all(i.status == "available" for i in after.instances)
    failed_over = (action, when) in {("failover", "after"), ("delete_instance", "before"),
                                     ("delete_instance", "after")}  # fmt: skip
    if not failed_over:
        assert temp not in names(after), "the rollback deleted the temporary reader"
        assert writer_of(after) == writer and names(after) == names(before)
    else:  # the failover happened: the temporary reader is the writer, kept as such
        assert writer_of(after) == temp
        assert after.readers == tuple(i for i in after.instances if i.identifier != temp)
        old_writer_kept = action != "delete_instance" or when == "before"
        assert (writer in names(after)) == old_writer_kept


def test_ctrl_c_during_the_method_rolls_back(cluster: Path, tmp_path: Path) -> None:
    """SIGINT to a `harness run` process while it creates the temporary reader: the
    request is let finish, the rollback waits for the reader to exist, then deletes it."""
    before = describe(cluster)
    writer = writer_of(before)
    ca = other_ca(before.instance(writer).ca_identifier)
    out = tmp_path / "run"
    command = [
        sys.executable, "-m", "harness.cli", "run", str(SCENARIOS / "failover-method.yaml"),
        "--state-dir", str(cluster), "--out", str(out), *SHORT, "--set", f"ca={ca}",
    ]  # fmt: skip
    stdout_file = tmp_path / "stdout.txt"
    with stdout_file.open("w") as stdout_handle:
        cli = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE,
                               stdout=stdout_handle, text=True)  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []
    assert cli.stderr is not None
    stderr = cli.stderr

    def pump() -> None:
        for line in stderr:
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any(line.startswith("step 1:") for line in seen):
            if time.monotonic() > deadline or cli.poll() is not None:
                pytest.fail(f"the method did not start: {''.join(seen)}")
            try:
                seen.append(lines.get(timeout=0.1))
            except queue.Empty:
                continue
        time.sleep(0.2)  # the create request is under way
        cli.send_signal(signal.SIGINT)
        cli.wait(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    reader.join(timeout=5)
    while not lines.empty():
        seen.append(lines.get())
    err, stdout = "".join(seen), stdout_file.read_text()
    assert cli.returncode == 3, err
    assert "interrupted: stopping the method, then the rollback" in err
    assert "LEFT BEHIND" not in err
    assert "interrupted (rolled back)" in stdout
    run = Run(
        json.loads((out / "summary.json").read_text()),
        json.loads((out / "run.json").read_text()),
        load_history(out),
    )
    assert "rollback" in run.milestones
    assert run.actions("info") == ["create_reader"], "interrupted while under way"
    assert f"{run.temp_reader} deleted" in run.milestones
    arun(LocalCluster(cluster).wait_idle(60))
    after = describe(cluster)
    assert names(after) == names(before) and writer_of(after) == writer
    assert all(i.status == "available" for i in after.instances)


# -- bad input: one line, exit 2, nothing changed ----------------------------------------

BAD_HEADER = """\
name: bad-input
description: a scenario with a mistake in it
parameters:
  victim: harness-nobody
baseline: {duration_s: 0.5}
cooldown: {duration_s: 0.5}
method:
"""

BAD_INPUT = [
    pytest.param("  - {action: sleep, seconds: 1}\n", (),
                 "method[0].action: unknown action 'sleep'; valid: modify_ca", id="unknown-step"),
    pytest.param("  - {action: modify_ca, instance: '${writer}'}\n", (),
                 "method[0].ca: field required", id="missing-field"),
    pytest.param("  - {action: reboot, instance: '${writer}', force_failover: maybe}\n", (),
                 "method[0].force_failover: input should be a valid boolean", id="wrong-type"),
    pytest.param("direct-ca-change", ("--set", "baseline_s=abc"),
                 "baseline.duration_s: input should be a valid number", id="wrong-type-set"),
    pytest.param("direct-ca-change", ("--set", "ca=rds-ca-nope"),
                 "unknown CA 'rds-ca-nope'; valid: rds-ca-2019", id="unknown-ca"),
    pytest.param("direct-ca-change", ("--set", "instance=nope"),
                 "no DB instance 'nope' in cluster harness-local", id="unknown-instance"),
    pytest.param("direct-ca-change", ("--set", "nope=1"),
                 "--set nope: no such parameter", id="unknown-parameter"),
    pytest.param("  - {action: delete_instance, instance: '${writer}'}\n", (),
                 "method[0].instance: would delete ${writer}, the writer", id="deletes-the-writer"),
    pytest.param("  - {action: delete_instance, instance: '${victim}'}\n",
                 ("--set", "victim=WRITER"), "method[0].instance: would delete",
                 id="deletes-the-writer-named-by-set"),
]  # fmt: skip


def assert_one_line_error(result: Result, expected: str) -> None:
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    errors = [line for line in lines if line.startswith("harness: error: ")]
    assert errors == [lines[-1]], result.err
    assert expected in errors[0], errors[0]
    assert all(line.startswith("using the local cluster") for line in lines[:-1]), result.err


@pytest.mark.parametrize(("scenario", "extra", "expected"), BAD_INPUT)
def test_bad_input_is_one_line_and_changes_nothing(
    cluster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    local_calls: list[tuple[str, tuple[Any, ...]]], scenario: str,
    extra: tuple[str, ...], expected: str,
) -> None:  # fmt: skip
    before = describe(cluster)
    path: str | Path = scenario
    if scenario.startswith("  - "):
        path = tmp_path / "bad.yaml"
        path.write_text(BAD_HEADER + scenario)
    args = [arg.replace("WRITER", writer_of(before)) for arg in extra]

    result = harness_run(capsys, path, cluster, tmp_path / "run", *args)

    assert_one_line_error(result, expected)
    assert local_calls == []
    assert describe(cluster) == before
    assert not (tmp_path / "run").exists()


# -- --repeat ----------------------------------------------------------------------------


def test_repeat_starts_each_run_from_a_fresh_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run 1 moves the writer to the new CA; run 2 starts on rds-ca-2019 again, on a
    cluster shaped like the first (3 instances, brought up by hand), not like --instances."""
    monkeypatch.chdir(tmp_path)
    root = Path(tempfile.mkdtemp(prefix="harness-rep-"))
    state = root / "local"
    try:
        lifecycle.up(state, instances=3, timing="instant", ports=EndpointPorts(0, 0))
        first_daemon = LocalCluster(state).record().pid

        result = harness_run(capsys, "direct-ca-change", state, tmp_path / "out", *SHORT,
                             "--repeat", "2", "--instances", "2")  # fmt: skip

        assert result.code == 0, result.err
        assert "restoring the starting state: a fresh local cluster" in result.err
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["run-01", "run-02"]
        run_ids = set()
        for name in ("run-01", "run-02"):
            run = check_run(tmp_path / "out" / name, "direct-ca-change",
                            {"write", "read", "connect"}, ["modify_ca"])  # fmt: skip
            assert (run.info["ca_from"], run.info["ca_to"]) == (OLD_CA, "rds-ca-rsa2048-g1")
            run_ids.add(run.summary["run_id"])
        assert len(run_ids) == 2
        assert LocalCluster(state).record().pid != first_daemon, "a new cluster"
        after = describe(state)
        assert len(after.instances) == 3
        assert after.instance(writer_of(after)).ca_identifier == "rds-ca-rsa2048-g1"
    finally:
        if state.exists():
            lifecycle.down(state, timeout_s=10)
        shutil.rmtree(root, ignore_errors=True)
