"""``harness run``: load, plan, confirm, run (N times), report. The CLI only calls this.

Bad input is found before anything changes: the scenario file, ``--set`` values, the
target and its credentials, preflight. ``--dry-run`` prints every call the run would make
and makes none that mutates. A mutating run against AWS needs ``--yes`` or an
interactive confirmation that names the cluster and the instances that will restart.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import UsageError
from harness.probes.loop import run_precise
from harness.rundir import check_run_dir, default_run_dir, new_run_id
from harness.scenario.loader import load_scenario, parse_overrides, resolve_builtins
from harness.scenario.model import Scenario
from harness.scenario.preflight import check_target
from harness.scenario.runner import EXIT_OK, ScenarioOutcome, ScenarioRun
from harness.scenario.steps import (
    CreateReader,
    DeleteInstance,
    Failover,
    InjectFault,
    KillInstance,
    ModifyCa,
    Reboot,
    StepBase,
    Wait,
    WaitFor,
)
from harness.scenario.target import ProbeCredentials, TargetHandle, open_aws, open_local

if TYPE_CHECKING:
    from harness.targets.aws_base import CallLog

Say = Callable[[str], None]


@dataclass(slots=True)
class RunOptions:
    scenario: Path
    overrides: list[str] = field(default_factory=list)
    target: str = "local"
    cluster: str | None = None
    region: str | None = None
    profile: str | None = None
    dry_run: bool = False
    yes: bool = False
    repeat: int = 1
    out: Path | None = None
    # local target
    state_dir: Path = Path(".harness/local")
    timing: str = "instant"
    instances: int = 2
    # aws target: the probe user and what it trusts
    user: str = "harness_probe"
    password_env: str = "HARNESS_DB_PASSWORD"
    password_file: Path | None = None
    database: str = "harness"
    ca_bundle: Path | None = None
    stale_ca_bundle: Path | None = None
    #: AWS target: every API call the run makes is appended here, as
    #: ``(OperationName, params)`` (tests prove with it that bad input or ``--dry-run``
    #: made no call in :data:`~harness.targets.aws.MUTATING_OPERATIONS`).
    call_log: CallLog | None = None


def _aws_credentials(options: RunOptions) -> ProbeCredentials:
    from harness.observe import ProbeOptions, read_password

    if options.ca_bundle is None:
        raise UsageError("--target aws needs --ca-bundle (the CA bundle your clients trust)")
    if options.dry_run:  # no probe connects: the password is not needed
        return ProbeCredentials(
            user=options.user, password="", database=options.database,
            updated_bundle=options.ca_bundle, stale_bundle=options.stale_ca_bundle,
        )  # fmt: skip
    password = read_password(
        ProbeOptions(
            endpoint="", user=options.user, database=options.database,
            ca_bundle=options.ca_bundle, out=Path(), password_env=options.password_env,
            password_file=options.password_file,
        )
    )  # fmt: skip
    return ProbeCredentials(
        user=options.user, password=password, database=options.database,
        updated_bundle=options.ca_bundle, stale_bundle=options.stale_ca_bundle,
    )  # fmt: skip


def api_call(step: StepBase) -> str:
    """The call a step makes, as the AWS API names it (the local target mirrors them)."""
    match step:
        case ModifyCa():
            return (
                f"modify_db_instance(DBInstanceIdentifier={step.instance}, "
                f"CACertificateIdentifier={step.ca}, ApplyImmediately={step.apply_immediately}, "
                f"CertificateRotationRestart={step.rotation_restart})"
            )
        case Reboot():
            return f"reboot_db_instance(DBInstanceIdentifier={step.instance}, " \
                f"ForceFailover={step.force_failover})"  # fmt: skip
        case CreateReader():
            return (
                f"create_db_instance(DBInstanceIdentifier={step.instance}, "
                f"CACertificateIdentifier={step.ca or '<default>'}, "
                f"PromotionTier={step.promotion_tier}, Tags=harness:run-id)"
            )
        case Failover():
            extra = (
                ""
                if step.fenced
                else f" [local chaos: unfenced, split brain {step.split_brain_s:g} s]"
            )
            return f"failover_db_cluster(TargetDBInstanceIdentifier={step.target}){extra}"
        case DeleteInstance():
            return (
                f"delete_db_instance(DBInstanceIdentifier={step.instance}, SkipFinalSnapshot=True)"
            )
        case Wait():
            return f"(no call) sleep {step.seconds:g} s"
        case WaitFor():
            return "(no call) poll describe_db_clusters/describe_db_instances until " + step.label
        case KillInstance():
            return f"[local chaos] SIGKILL {step.instance}" + (
                " and restart" if step.restart else ""
            )
        case InjectFault():
            return (
                f"[local chaos] {step.kind} on the {step.endpoint} endpoint, {step.duration_s:g} s"
            )
    return step.label


def plan_lines(scenario: Scenario, target: TargetHandle | None, writer: str | None) -> list[str]:
    where = target.cluster_id if target else "(the local cluster, brought up by the run)"
    lines = [f"scenario {scenario.name} on {where}", "probes:"]
    lines += [
        f"  {p.name}: {p.kind.value} {p.mode.value} via the {p.endpoint.value} endpoint "
        f"every {p.interval_ms:g} ms, trusting {p.trust}"
        for p in scenario.probes
    ]
    lines.append(f"baseline {scenario.baseline.duration_s:g} s, then the method:")
    for index, step in scenario.enabled_steps("method"):
        lines.append(f"  {index + 1}. {step.label}: {api_call(step)}")
    lines.append(
        f"cooldown {scenario.cooldown.duration_s:g} s; final read of the writes; rollback:"
    )
    lines += [
        f"  - {step.label}: {api_call(step)}" for _, step in scenario.enabled_steps("rollback")
    ]
    if not scenario.keep_created and scenario.created_instances():
        lines.append("  - delete readers this run created unless they became the writer")
    lines += [f"threshold: {t.describe()}" for t in scenario.thresholds]
    lines += ["impact:"] + [f"  {line}" for line in scenario.impact(writer).lines()]
    return lines


def _confirm_interactively(cluster: str) -> Callable[[Scenario, list[str]], None]:
    def confirm(scenario: Scenario, impact: list[str]) -> None:
        if not sys.stdin.isatty():
            raise UsageError(
                f"this run changes AWS cluster {cluster}: pass --yes to confirm (no terminal "
                "to ask on)"
            )
        print(f"About to run {scenario.name} against AWS cluster {cluster}:", file=sys.stderr)
        for line in impact:
            print(f"  {line}", file=sys.stderr)
        answer = input(f"Type the cluster name ({cluster}) to go on: ")
        if answer.strip() != cluster:
            raise UsageError("not confirmed: nothing was changed")

    return confirm


def run_command(options: RunOptions, say: Say) -> tuple[int, list[ScenarioOutcome]]:
    """Everything ``harness run`` does; returns the exit code and each run's outcome."""
    if options.repeat < 1:
        raise UsageError(f"--repeat must be at least 1, not {options.repeat}")
    if options.target not in ("local", "aws"):
        raise UsageError(f"--target must be local or aws, not {options.target!r}")
    scenario = load_scenario(options.scenario, parse_overrides(options.overrides))
    scenario.require_target(options.target)
    base = options.out or default_run_dir(scenario.name)
    outs = (
        [base]
        if options.repeat == 1
        else [base / f"run-{i:02d}" for i in range(1, options.repeat + 1)]
    )
    for out in outs:
        check_run_dir(out)
    run_ids = [new_run_id() for _ in outs]
    if options.dry_run:
        target = _open_target(options, run_ids[0], say, bring_up=False, quiet_missing=True)
        writer = None
        if target is not None:
            scenario, writer = asyncio.run(_dry_preflight(scenario, target, run_ids[0], say))
        for line in plan_lines(scenario, target, writer):
            say(line)
        say("dry run: no change was made")
        return EXIT_OK, []
    outcomes: list[ScenarioOutcome] = []
    shape: tuple[int, str] | None = None  # local --repeat: the first run's cluster
    for number, (out, run_id) in enumerate(zip(outs, run_ids, strict=True), start=1):
        if options.repeat > 1:
            say(f"— run {number} of {options.repeat} → {out}")
            if number > 1 and shape is not None:
                options = _fresh_local(options, say, shape)
        target = _open_target(options, run_id, say, bring_up=True, quiet_missing=False)
        assert target is not None
        if number == 1 and options.repeat > 1 and target.name == "local":
            start = asyncio.run(target.cluster.describe())
            shape = (len(start.instances), start.emulation or options.timing)
        confirm = None
        if target.name == "aws" and not options.yes:
            confirm = _confirm_interactively(target.cluster_id)
        runner = ScenarioRun(scenario, target, out, run_id, say, confirm)
        outcome = run_precise(runner.run())
        outcomes.append(outcome)
        _report(outcome, say)
        if outcome.interrupted:
            break
    return max(o.exit_code for o in outcomes), outcomes


async def _dry_preflight(
    scenario: Scenario, target: TargetHandle, run_id: str, say: Say
) -> tuple[Scenario, str | None]:
    """What a dry run can check without changing anything or connecting a probe: the
    built-ins (so the plan names real instances) and the target's preflight."""
    view = await target.cluster.describe()
    if view.writer is None:
        return scenario, None
    writer = view.writer.identifier
    resolved = resolve_builtins(
        scenario, writer=writer, reader=view.readers[0].identifier if view.readers else None,
        run_id=run_id.lower(), writer_ca=view.writer.ca_identifier,
    )  # fmt: skip
    resolved.require_target(target.name)
    report = await check_target(resolved, target, view)
    report.raise_for_problems()
    for warning in report.warnings:
        say(f"preflight: {warning}")
    return resolved, writer


def _open_target(
    options: RunOptions, run_id: str, say: Say, *, bring_up: bool, quiet_missing: bool
) -> TargetHandle | None:
    if options.target == "aws":
        credentials = _aws_credentials(options)
        return open_aws(
            options.cluster, region=options.region, profile=options.profile, run_id=run_id,
            credentials=credentials, call_log=options.call_log,
        )  # fmt: skip
    try:
        return open_local(
            options.state_dir, bring_up=bring_up, timing=options.timing,
            instances=options.instances, progress=say,
        )  # fmt: skip
    except UsageError:
        if quiet_missing:
            return None
        raise


def _fresh_local(options: RunOptions, say: Say, shape: tuple[int, str]) -> RunOptions:
    """Between repetitions: a new cluster, so every run starts from the same state.

    ``shape`` is the instance count and timing of the cluster the first run started on
    (it may have been brought up by hand with other settings than this run's options):
    the new cluster gets the same."""
    from harness.targets.local import lifecycle

    say("restoring the starting state: a fresh local cluster …")
    lifecycle.down(options.state_dir)
    return replace(options, instances=shape[0], timing=shape[1])


def _report(outcome: ScenarioOutcome, say: Say) -> None:
    from harness.report import write_report

    try:
        write_report(outcome.run_dir)
    except Exception as exc:  # a report problem must not hide the measurement
        say(f"report not written: {exc}")
    if outcome.leftovers:
        for name in outcome.leftovers:
            say(f"LEFT BEHIND: {name} (created by this run); remove it with "
                f"`aws rds delete-db-instance --db-instance-identifier {name} "
                "--skip-final-snapshot` or `harness local down`")  # fmt: skip
