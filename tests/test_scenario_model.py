"""Scenario files: the shipped ones load, and every bad input is one line naming file:line.

Expected lines are found by searching the test's own YAML for the offending text, so a
message that points at the wrong line (or at none) fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.scenario import (
    ACTIONS,
    LOCAL_ONLY_ACTIONS,
    STEP_TYPES,
    CreateReader,
    DeleteInstance,
    Failover,
    InjectFault,
    KillInstance,
    ModifyCa,
    Reboot,
    Scenario,
    Threshold,
    check_metric,
    load_scenario,
    lookup_metric,
    parse_overrides,
    resolve_builtins,
)

SHIPPED = Path(__file__).resolve().parent.parent / "scenarios"
SHIPPED_NAMES = {
    "direct-ca-change", "failover-method", "rolling-readers-first", "rotate-without-restart",
    "stale-trust-store", "reboot-with-failover",
}  # fmt: skip
CLUSTER = {"writer": "db-1", "reader": "db-2", "run_id": "20261203T130212Z-3f9a1c"}

BASE = """\
name: test-scenario
description: a scenario for the tests
parameters:
  ca: rds-ca-rsa2048-g1
  d: 5
  flag: false
baseline:
  duration_s: ${d}
method:
  - action: modify_ca
    instance: ${writer}
    ca: ${ca}
  - action: wait
    seconds: 1
    when: ${flag}
thresholds:
  - metric: probes.write.downtime_ms
    max: 20000
"""


def _line(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the test's YAML")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path, overrides: dict[str, str] | None = None) -> str:
    with pytest.raises(UsageError) as caught:
        load_scenario(path, overrides or {})
    message = str(caught.value)
    assert "\n" not in message, "errors are one line"
    return message


def _before_wait(step: str, text: str = BASE) -> str:
    """``text`` with ``step`` (YAML lines) inserted before the wait step of BASE."""
    return text.replace("  - action: wait\n", step + "  - action: wait\n")


def _resolve(scenario: Scenario, **changes: str | None) -> Scenario:
    values: dict[str, str | None] = {**CLUSTER, "writer_ca": "rds-ca-2019", **changes}
    return resolve_builtins(
        scenario, writer=str(values["writer"]), reader=values["reader"],
        run_id=str(values["run_id"]), writer_ca=values["writer_ca"],
    )  # fmt: skip


# -- the shipped scenarios --------------------------------------------------------------


def test_the_shipped_set_is_complete() -> None:
    assert {p.stem for p in SHIPPED.glob("*.yaml")} == SHIPPED_NAMES


@pytest.mark.parametrize("name", sorted(SHIPPED_NAMES))
def test_shipped_scenario_loads_and_resolves(name: str) -> None:
    scenario = load_scenario(SHIPPED / f"{name}.yaml", {})
    assert scenario.name == name
    assert len(scenario.description) > 200, "say what it measures and what it costs"
    assert any(t.metric == "audit.lost" and t.max == 0 for t in scenario.thresholds)
    assert any(t.metric.endswith(".downtime_ms") or "down_at_end" in t.metric
               for t in scenario.thresholds)  # fmt: skip
    assert "writer" in scenario.builtins_used()
    resolved = _resolve(scenario)
    assert resolved.builtins_used() == frozenset()
    assert "${" not in resolved.model_dump_json()
    assert resolved.impact("db-1").effects, "every scenario changes something"
    assert resolved.local_only_steps() == []
    resolved.require_target("aws")  # no shipped scenario needs local-only chaos


def test_direct_ca_change_with_overrides() -> None:
    path = SHIPPED / "direct-ca-change.yaml"
    default = _resolve(load_scenario(path, {}))
    (step,) = default.method
    assert isinstance(step, ModifyCa)
    assert (step.instance, step.ca, step.apply_immediately, step.rotation_restart) == (
        "db-1", "rds-ca-rsa2048-g1", True, True,
    )  # fmt: skip
    assert default.preflight.ca_must_exist == "rds-ca-rsa2048-g1"
    assert [(t.metric, t.max) for t in default.thresholds] == [
        ("probes.write.downtime_ms", 20000), ("audit.lost", 0),
    ]  # fmt: skip
    changed = _resolve(load_scenario(path, {"ca": "rds-ca-rsa4096-g1", "instance": "${reader}"}))
    (step,) = changed.method
    assert isinstance(step, ModifyCa)
    assert (step.instance, step.ca) == ("db-2", "rds-ca-rsa4096-g1")
    assert changed.preflight.bundle_must_trust == "rds-ca-rsa4096-g1"
    assert changed.parameters == {
        "ca": "rds-ca-rsa4096-g1", "instance": "db-2", "baseline_s": 5, "cooldown_s": 5,
    }  # fmt: skip
    assert changed.impact("db-1").restarts == ("db-2",)


def test_failover_method_default_rotates_the_temporary_reader() -> None:
    scenario = _resolve(load_scenario(SHIPPED / "failover-method.yaml", {}))
    temp = "harness-20261203T130212Z-3f9a1c"
    steps = [s for _, s in scenario.enabled_steps("method")]
    assert [s.action for s in steps] == [
        "create_reader", "modify_ca", "wait_for", "failover", "delete_instance",
    ]  # fmt: skip
    create, modify, _, failover, delete = steps
    assert isinstance(create, CreateReader) and create.ca == "rds-ca-2019"  # born on the old CA
    assert isinstance(modify, ModifyCa) and modify.instance == temp
    assert isinstance(failover, Failover) and failover.target == temp
    assert isinstance(delete, DeleteInstance) and delete.instance == "db-1"
    assert scenario.created_instances() == (temp,)
    impact = scenario.impact("db-1")
    assert impact.creates == (temp,) and impact.deletes == ("db-1",)
    assert impact.promotes == (temp,) and impact.restarts == (temp, "db-1")
    (rollback,) = scenario.rollback
    assert isinstance(rollback, DeleteInstance) and rollback.if_exists
    assert (rollback.instance, scenario.keep_created) == (temp, False)
    assert [(t.metric, t.max) for t in scenario.thresholds] == [
        ("probes.write.downtime_ms", 40000), ("audit.lost", 0),
    ]  # fmt: skip


def test_failover_method_reader_born_on_the_new_ca_skips_the_modify() -> None:
    path = SHIPPED / "failover-method.yaml"
    scenario = _resolve(load_scenario(path, {"reader_on_new_ca": "true"}))
    steps = [s for _, s in scenario.enabled_steps("method")]
    assert [s.action for s in steps] == ["create_reader", "wait_for", "failover", "delete_instance"]
    assert isinstance(steps[0], CreateReader) and steps[0].ca == "rds-ca-rsa2048-g1"
    assert scenario.impact("db-1").restarts == ("db-1",), "the temporary reader never restarts"


def test_rolling_readers_first_swaps_roles_without_an_extra_instance() -> None:
    scenario = _resolve(load_scenario(SHIPPED / "rolling-readers-first.yaml", {}))
    labels = [(s.action, getattr(s, "instance", None) or getattr(s, "target", None))
              for s in scenario.method]  # fmt: skip
    assert labels == [("modify_ca", "db-2"), ("failover", "db-2"), ("modify_ca", "db-1")]
    impact = scenario.impact("db-1")
    assert impact.creates == () and impact.deletes == () and impact.promotes == ("db-2",)


def test_rotate_without_restart_asks_for_no_restart() -> None:
    scenario = _resolve(load_scenario(SHIPPED / "rotate-without-restart.yaml", {}))
    (step,) = scenario.method
    assert isinstance(step, ModifyCa) and step.rotation_restart is False
    assert scenario.preflight.supports_rotation_without_restart is True
    assert scenario.impact("db-1").restarts == ()
    assert [e.effect for e in scenario.impact("db-1").effects] == ["reload"]


def test_stale_trust_store_has_a_stale_and_an_updated_client() -> None:
    scenario = load_scenario(SHIPPED / "stale-trust-store.yaml", {})
    trust = {p.name: p.trust for p in scenario.probes}
    assert trust == {"write": "updated", "connect-updated": "updated", "connect-stale": "stale"}
    stale = next(t for t in scenario.thresholds if "connect-stale" in t.metric)
    assert stale.metric == "probes.connect-stale.down_at_end" and stale.max == 0
    assert stale.verdict(1.0) == "fail"  # the outage that never ends: exit 1 on purpose


def test_reboot_with_failover_forces_a_failover() -> None:
    scenario = _resolve(load_scenario(SHIPPED / "reboot-with-failover.yaml", {}))
    (step,) = scenario.method
    assert isinstance(step, Reboot) and step.force_failover and step.instance == "db-1"
    impact = scenario.impact("db-1")
    assert impact.restarts == ("db-1",) and impact.writer_changes


# -- bad input: file, line and field -----------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "needle", "expected"),
    [
        pytest.param("    ca: ${ca}\n", "", "  - action: modify_ca",
                     "method[0].ca: field required", id="missing-field"),
        pytest.param("action: wait", "action: sleep", "action: sleep",
                     "method[1].action: unknown action 'sleep'; valid: modify_ca, reboot, "
                     "create_reader, failover, delete_instance, wait, wait_for, kill_instance, "
                     "inject_fault", id="unknown-action"),
        pytest.param("seconds: 1", "seconds: soon", "seconds: soon",
                     "method[1].seconds: input should be a valid number", id="wrong-type"),
        pytest.param("thresholds:", "threshold:", "threshold:",
                     "threshold: unknown top-level key; valid: name, description, parameters",
                     id="unknown-top-level-key"),
        pytest.param("    ca: ${ca}", "    ca: ${cert}", "${cert}",
                     "method[0].ca: unknown parameter ${cert}; defined: ca, d, flag "
                     "(built-ins: writer, reader, run_id, writer_ca)", id="unknown-parameter"),
        pytest.param("    seconds: 1", "    seconds: 1\n    sconds: 2", "sconds",
                     "method[1].sconds: unknown key; valid: action, name, when, unless, seconds",
                     id="unknown-step-field"),
        pytest.param("max: 20000", "max: 20000: 1", "20000: 1",
                     "invalid YAML: mapping values are not allowed here", id="yaml-syntax"),
        pytest.param("  d: 5", "  d: 5\n  d: 6", "  d: 6",
                     "parameters.d: duplicate key", id="duplicate-key"),
        pytest.param("downtime_ms", "downtime", "probes.write.downtime",
                     "thresholds[0].metric: unknown metric 'probes.write.downtime': under "
                     "probes.write choose", id="unknown-metric"),
        pytest.param("probes.write.", "probes.writes.", "probes.writes",
                     "thresholds[0].metric: no probe named 'writes'; defined: connect, read, "
                     "write", id="metric-of-unknown-probe"),
        pytest.param("    max: 20000", "", "  - metric:",
                     "thresholds[0]: a threshold needs max, min or both", id="threshold-bound"),
        pytest.param("    instance: ${writer}", "    instance: db_1", "db_1",
                     "method[0].instance: 'db_1' is not a DB instance identifier",
                     id="bad-identifier"),
        pytest.param("  - action: wait\n    seconds: 1\n",
                     "  - action: inject_fault\n    endpoint: writer\n    kind: latency\n"
                     "    duration_s: 1\n", "action: inject_fault",
                     "method[1].latency_ms: field required for kind: latency",
                     id="step-cross-field"),
        pytest.param("name: test-scenario", "name: Test Scenario", "name: Test",
                     "name: string should match pattern", id="bad-name"),
        pytest.param("  - action: wait\n    seconds: 1\n    when: ${flag}\n", "  - wait\n",
                     "  - wait",
                     "method[1]: input should be a valid dictionary", id="step-not-a-mapping"),
    ],
)  # fmt: skip
def test_bad_input_names_file_line_and_field(
    tmp_path: Path, old: str, new: str, needle: str, expected: str
) -> None:
    assert old in BASE
    text = BASE.replace(old, new, 1)
    path = _write(tmp_path, text)
    message = _error(path)
    assert message.startswith(f"{path}:{_line(text, needle)}: "), message
    assert expected in message


def test_type_is_checked_after_substitution_at_the_using_line(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE)
    message = _error(path, {"d": "abc"})
    assert message.startswith(f"{path}:{_line(BASE, 'duration_s: ${d}')}: baseline.duration_s: ")
    assert "valid number" in message and "(from ${d}='abc')" in message


def test_a_bad_boolean_from_set_points_at_its_condition(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE)
    message = _error(path, {"flag": "sometimes"})
    assert message.startswith(f"{path}:{_line(BASE, 'when: ${flag}')}: method[1].when: ")


def test_set_of_an_undefined_parameter(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE)
    message = _error(path, {"cert": "x"})
    assert message == (
        f"{path}:{_line(BASE, 'parameters:')}: parameters: --set cert: no such parameter; "
        "defined: ca, d, flag"
    )
    assert "(a built-in, resolved from the cluster)" in _error(path, {"writer": "db-9"})


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (["ca"], "--set 'ca': expected KEY=VALUE"),
        (["=x"], "--set '=x': expected KEY=VALUE"),
        (["ca=a", "ca=b"], "--set ca is given twice"),
    ],
)
def test_malformed_set(items: list[str], expected: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_overrides(items)
    assert str(caught.value).startswith(expected)


def test_set_parsing() -> None:
    assert parse_overrides(["ca=rds-ca-rsa4096-g1", "x=a=b", "empty="]) == {
        "ca": "rds-ca-rsa4096-g1", "x": "a=b", "empty": "",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ("", 1, "the file is empty"),
        ("- a\n", 1, "a scenario is a mapping"),
        ("name: t\n1: x\n", 2, "key 1 must be text"),
        ("name: &a [*a]\n", 1, "name[0]: an alias refers to the node that contains it"),
        ("a: 1\n---\nb: 2\n", 2, "invalid YAML"),
        ("a: !!python/object:os.system x\n", 1, "invalid YAML: could not determine a constructor"),
    ],
)
def test_documents_that_are_not_scenarios(
    tmp_path: Path, text: str, line: int, expected: str
) -> None:
    path = _write(tmp_path, text)
    message = _error(path)
    assert message.startswith(f"{path}:{line}: ") and expected in message


def test_missing_file() -> None:
    with pytest.raises(UsageError, match=r"scenario file not found: nowhere\.yaml"):
        load_scenario("nowhere.yaml", {})


def test_the_first_problem_in_file_order_is_shown_and_the_rest_counted(tmp_path: Path) -> None:
    text = BASE.replace("seconds: 1", "seconds: x").replace("max: 20000", "max: y")
    message = _error(_write(tmp_path, text))
    assert f":{_line(text, 'seconds: x')}: method[1].seconds" in message
    assert message.endswith("(and 1 more problem)")


# -- substitution ------------------------------------------------------------------------


def test_substitution_keeps_types_and_formats_text(tmp_path: Path) -> None:
    text = BASE.replace(
        "    when: ${flag}", "    when: ${flag}\n    name: wait ${d}s, flag ${flag}"
    )
    scenario = load_scenario(_write(tmp_path, text), {"flag": "true", "d": "7.5"})
    assert scenario.baseline.duration_s == 7.5
    assert scenario.method[1].when is True
    assert scenario.method[1].name == "wait 7.5s, flag true"
    default = load_scenario(_write(tmp_path, text), {})
    assert default.method[1].name == "wait 5s, flag false"
    assert [i for i, _ in default.enabled_steps("method")] == [0]


def test_parameters_refer_to_parameters_and_builtins(tmp_path: Path) -> None:
    text = BASE.replace(
        "  d: 5\n", "  d: 5\n  temp: tmp-${ca}-${run_id}\n  alias: ${temp}\n  same: ${flag}\n"
    )
    text = text.replace("    instance: ${writer}", "    instance: ${alias}")
    scenario = load_scenario(_write(tmp_path, text), {})
    assert scenario.parameters["alias"] == "tmp-rds-ca-rsa2048-g1-${run_id}"
    assert scenario.parameters["same"] is False, "a whole-value reference keeps the type"
    resolved = _resolve(scenario)
    step = resolved.method[0]
    assert isinstance(step, ModifyCa)
    assert step.instance == "tmp-rds-ca-rsa2048-g1-20261203T130212Z-3f9a1c"


@pytest.mark.parametrize(
    ("params", "needle", "expected"),
    [
        ("  a: ${b}\n  b: x-${a}\n", "  b: x-${a}", "parameters.b: parameters refer to each other "
         "in a cycle: a → b → a"),
        ("  a: ${nope}\n", "  a: ${nope}", "parameters.a: unknown parameter ${nope}"),
        ("  a: ${Bad}\n", "  a: ${Bad}", "parameters.a: malformed reference ${Bad}"),
        ("  a: ${open\n", "  a: ${open", "parameters.a: unclosed '${'"),
        ("  Big: 1\n", "  Big: 1", "parameters.Big: parameter names are lowercase"),
        ("  reader: db-3\n", "  reader: db-3", "parameters.reader: reader is a built-in"),
        ("  a: [1, 2]\n", "  a: [1, 2]", "parameters.a: a parameter's value must be a scalar"),
    ],
)  # fmt: skip
def test_bad_parameters(tmp_path: Path, params: str, needle: str, expected: str) -> None:
    text = BASE.replace("  flag: false\n", "  flag: false\n" + params)
    path = _write(tmp_path, text)
    message = _error(path)
    assert message.startswith(f"{path}:{_line(text, needle)}: "), message
    assert expected in message


# -- built-ins ---------------------------------------------------------------------------


def test_builtins_stay_placeholders_until_resolved(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, BASE), {})
    step = scenario.method[0]
    assert isinstance(step, ModifyCa) and step.instance == "${writer}"
    assert scenario.builtins_used() == {"writer"}
    resolved = _resolve(scenario)
    step = resolved.method[0]
    assert isinstance(step, ModifyCa) and step.instance == "db-1"
    assert scenario.method[0] is not step, "the loaded scenario is left as it was"
    assert resolved.where("method", 0, "instance") == (
        f"{scenario.source}:{_line(BASE, 'instance: ${writer}')}: method[0].instance"
    )


def test_resolving_needs_a_reader_when_the_scenario_uses_one() -> None:
    scenario = load_scenario(SHIPPED / "rolling-readers-first.yaml", {})
    with pytest.raises(UsageError, match=r"uses \$\{reader\} but the cluster has no reader"):
        _resolve(scenario, reader=None)


def test_resolved_identifiers_are_checked(tmp_path: Path) -> None:
    scenario = load_scenario(SHIPPED / "failover-method.yaml", {})
    with pytest.raises(UsageError) as caught:
        _resolve(scenario, run_id="run_with_underscores")
    assert "method[0].instance: 'harness-run_with_underscores' is not a DB instance" in str(
        caught.value
    )
    assert str(caught.value).startswith(f"{scenario.source}:")


# -- never delete the writer -------------------------------------------------------------

DELETE = "  - action: delete_instance\n    instance: {victim}  # deleted\n"


def test_deleting_the_writer_before_a_failover_is_refused(tmp_path: Path) -> None:
    text = BASE + "rollback: []\n"
    text = _before_wait(DELETE.format(victim="${writer}"), text)
    path = _write(tmp_path, text)
    message = _error(path)
    assert message.startswith(
        f"{path}:{_line(text, '# deleted')}: method[1].instance: would delete"
    )
    assert "the writer" in message


def test_a_parameter_that_names_the_writer_is_caught(tmp_path: Path) -> None:
    text = BASE.replace("  d: 5\n", "  d: 5\n  victim: ${writer}\n")
    text = _before_wait(DELETE.format(victim="${victim}"), text)
    assert "method[1].instance" in _error(_write(tmp_path, text))


def test_deleting_the_old_writer_after_a_failover_is_allowed(tmp_path: Path) -> None:
    failover = "  - action: failover\n    target: ${reader}\n"
    text = _before_wait(failover + DELETE.format(victim="${writer}"))
    scenario = load_scenario(_write(tmp_path, text), {})
    assert scenario.impact().deletes == ("${writer}",)
    assert _resolve(scenario).impact("db-1").deletes == ("db-1",)


def test_a_disabled_deletion_does_not_count(tmp_path: Path) -> None:
    text = _before_wait(DELETE.format(victim="${writer}") + "    when: ${flag}\n")
    scenario = load_scenario(_write(tmp_path, text), {})
    assert scenario.impact().deletes == ()
    assert "method[1].instance" in _error(_write(tmp_path, text), {"flag": "true"})


def test_a_named_instance_that_turns_out_to_be_the_writer_is_refused_at_resolution(
    tmp_path: Path,
) -> None:
    text = BASE.replace("  d: 5\n", "  d: 5\n  victim: db-9\n")
    text = _before_wait(DELETE.format(victim="${victim}"), text)
    scenario = load_scenario(_write(tmp_path, text), {})
    assert _resolve(scenario, writer="db-8").impact("db-8").deletes == ("db-9",)
    with pytest.raises(UsageError) as caught:
        _resolve(scenario, writer="DB-9")  # RDS identifiers are case-insensitive
    assert f":{_line(text, 'instance: ${victim}')}: method[1].instance: would delete" in str(
        caught.value
    )


def test_a_rollback_never_deletes_the_starting_writer(tmp_path: Path) -> None:
    text = BASE + "rollback:\n" + DELETE.format(victim="${writer}")
    path = _write(tmp_path, text)
    message = _error(path)
    assert message.startswith(f"{path}:{_line(text, '# deleted')}: rollback[0].instance: ")


def test_after_a_forced_failover_the_writer_is_unknown(tmp_path: Path) -> None:
    reboot = "  - action: reboot\n    instance: ${writer}\n    force_failover: true\n"
    text = _before_wait(reboot + DELETE.format(victim="${writer}"))
    scenario = load_scenario(_write(tmp_path, text), {})  # the runner checks at run time
    assert [e.effect for e in scenario.impact().effects] == [
        "restart", "restart", "promote", "delete",
    ]  # fmt: skip


# -- local-only chaos --------------------------------------------------------------------


def test_local_only_actions_are_marked() -> None:
    assert frozenset({"kill_instance", "inject_fault"}) == LOCAL_ONLY_ACTIONS
    assert KillInstance.LOCAL_ONLY and InjectFault.LOCAL_ONLY and not ModifyCa.LOCAL_ONLY
    assert set(ACTIONS) == set(STEP_TYPES) and len(ACTIONS) == 9
    assert Failover(target="db-2").local_only() is None
    assert "local-only" in str(Failover(target="db-2", fenced=False).local_only())
    assert "local-only" in str(KillInstance(instance="db-1").local_only())


def test_local_only_steps_are_refused_on_aws(tmp_path: Path) -> None:
    chaos = "  - action: kill_instance\n    instance: ${writer}\n"
    text = _before_wait(chaos)
    scenario = load_scenario(_write(tmp_path, text), {})
    scenario.require_target("local")
    with pytest.raises(UsageError) as caught:
        scenario.require_target("aws")
    message = str(caught.value)
    assert message.startswith(f"{scenario.source}:{_line(text, 'kill_instance')}: method[1]: ")
    assert "kill_instance is local-only chaos" in message and "--target aws" in message


def test_a_disabled_local_only_step_does_not_block_aws(tmp_path: Path) -> None:
    chaos = "  - action: inject_fault\n    endpoint: writer\n    kind: reset\n    duration_s: 1\n"
    text = _before_wait(chaos + "    when: ${flag}\n")
    load_scenario(_write(tmp_path, text), {}).require_target("aws")


# -- probes ------------------------------------------------------------------------------


def test_default_probes_are_those_of_harness_probe(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, BASE), {})
    got = [(p.name, p.kind, p.mode, p.endpoint, p.interval_ms, p.trust) for p in scenario.probes]
    assert got == [
        ("write", "write", "pooled", "writer", 10, "updated"),
        ("read", "read", "pooled", "reader", 10, "updated"),
        ("connect", "connect", "fresh", "writer", 50, "updated"),
    ]
    spec = scenario.probes[0].spec(attempt_deadline_s=2.0)
    assert (spec.name, spec.interval_ms, spec.max_in_flight) == ("write", 10, 201)


def test_probe_names_and_trust(tmp_path: Path) -> None:
    (tmp_path / "old.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    probes = (
        "probes:\n  - {kind: read, endpoint: writer}\n  - {kind: write, mode: fresh}\n"
        "  - {kind: connect, trust: old.pem}\n"
    )
    text = BASE.replace("thresholds:\n  - metric: probes.write.", probes + "thresholds:\n"
                        "  - metric: probes.write:fresh.")  # fmt: skip
    scenario = load_scenario(_write(tmp_path, text), {})
    assert [p.name for p in scenario.probes] == ["read@writer", "write:fresh", "connect"]
    assert scenario.probes[2].bundle_path == (tmp_path / "old.pem").resolve()
    assert scenario.probes[0].bundle_path is None


@pytest.mark.parametrize(
    ("probes", "needle", "expected"),
    [
        ("  - {kind: write}\n  - {kind: write, interval_ms: 20}\n", "interval_ms: 20",
         "probes[1].name: probes[0] is also named 'write'"),
        ("  - {kind: connect, mode: pooled}\n", "mode: pooled",
         "probes[0].mode: a connect probe is always fresh"),
        ("  - {kind: write, trust: missing.pem}\n", "missing.pem",
         "probes[0].trust: 'missing.pem' is neither updated, stale nor an existing PEM file"),
        ("  - {kind: ping}\n", "ping", "probes[0].kind: input should be 'write', 'read' or "
         "'connect' (got 'ping')"),
        ("  - {kind: write, name: a.b}\n", "a.b", "probes[0].name: string should match"),
    ],
)  # fmt: skip
def test_bad_probes(tmp_path: Path, probes: str, needle: str, expected: str) -> None:
    text = BASE.replace("thresholds:\n  - metric: probes.write.downtime_ms\n    max: 20000\n",
                        "probes:\n" + probes)  # fmt: skip
    path = _write(tmp_path, text)
    message = _error(path)
    assert message.startswith(f"{path}:{_line(text, needle)}: "), message
    assert expected in message


# -- thresholds --------------------------------------------------------------------------


def test_metric_paths_follow_the_summary_model() -> None:
    for good in ("probes.x.downtime_ms", "probes.x.down_at_end", "audit.lost", "audit_passed",
                 "probes.x.latency_ms.from_intended.p99", "probes.x.errors.read_only",
                 "audit.probes.x.indeterminate_missing", "duration_ms"):  # fmt: skip
        check_metric(good)
    for bad, message in [
        ("probes.x", "is not a number"),
        ("probes.x.outages", "choose"),
        ("audit.reason", "under audit choose"),
        ("probes.x.ok.more", "is a number, it has no 'more'"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_metric(bad)


def test_metric_values_and_verdicts() -> None:
    summary = {
        "probes": {"write": {"downtime_ms": 15000.5, "down_at_end": True, "errors": {}}},
        "audit": {"lost": None},
    }
    assert lookup_metric(summary, "probes.write.downtime_ms") == 15000.5
    assert lookup_metric(summary, "probes.write.down_at_end") == 1.0
    assert lookup_metric(summary, "probes.write.errors.read_only") == 0.0  # a count map
    assert lookup_metric(summary, "audit.lost") is None
    assert lookup_metric(summary, "probes.read.downtime_ms") is None
    threshold = Threshold(metric="probes.write.downtime_ms", max=20000, min=1)
    assert threshold.verdict(15000.5) == "pass"
    assert threshold.verdict(20000.1) == "fail"
    assert threshold.verdict(0.5) == "fail"
    assert threshold.verdict(None) == "unknown"
    assert threshold.describe() == "probes.write.downtime_ms ≥ 1 and ≤ 20000"


def test_threshold_min_above_max_is_refused(tmp_path: Path) -> None:
    text = BASE.replace("    max: 20000", "    max: 1\n    min: 2")
    message = _error(_write(tmp_path, text))
    assert f":{_line(text, 'min: 2')}: thresholds[0].min: min 2 is above max 1" in message
