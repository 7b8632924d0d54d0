"""Preflight of a scenario against its target: the checks that must hold before a change.

On AWS the target's own preflight runs (CA offered, statuses, pending modifications and
maintenance, engine support for restart-free rotation, bundles); elsewhere the same
questions are asked through the Cluster protocol. Problems stop the run before anything
is changed (exit 2); warnings are said in plain language (which instances will restart).
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.scenario.model import Scenario
from harness.scenario.steps import (
    CreateReader,
    DeleteInstance,
    Failover,
    KillInstance,
    ModifyCa,
    Reboot,
    StepBase,
    WaitFor,
)
from harness.scenario.target import TargetHandle
from harness.targets.base import CertificateView, ClusterView
from harness.targets.preflight import InstanceCheck, PreflightReport, bundle_contains_ca


async def check_target(
    scenario: Scenario, target: TargetHandle, view: ClusterView
) -> PreflightReport:
    checks = scenario.preflight
    ca = checks.ca_must_exist or checks.bundle_must_trust
    impact = scenario.impact(view.writer.identifier if view.writer else None)
    restarting = list(impact.restarts)
    members = {i.identifier.lower() for i in view.instances}
    bundles = [target.credentials.updated_bundle] if checks.bundle_must_trust else []
    rotation_restart = all(
        step.rotation_restart for _, step in scenario.enabled_steps("method")
        if isinstance(step, ModifyCa)
    )  # fmt: skip
    aws_preflight = getattr(target.cluster, "preflight", None)
    if aws_preflight is not None and ca is not None:
        # Only instances that exist now: the ones the method creates are checked below.
        existing = [name for name in restarting if name.lower() in members]
        report: PreflightReport = await aws_preflight(
            ca, existing, rotation_restart=rotation_restart, bundle_paths=bundles
        )
    else:
        report = await _generic(scenario, target, view, ca, bundles)
    references = reference_problems(scenario, view, await target.cluster.certificates())
    if references:
        report = report.model_copy(update={"problems": (*references, *report.problems)})
    warnings = list(report.warnings)
    if restarting:
        warnings.append(
            "these instances will restart (their clients see an outage): " + ", ".join(restarting)
        )
    if checks.supports_rotation_without_restart and report.rotation_without_restart is False:
        return report.model_copy(
            update={
                "problems": (
                    *report.problems,
                    f"{report.engine} {report.engine_version or ''} does not support CA "
                    "rotation without restart (SupportsCertificateRotationWithoutRestart)",
                ),
                "warnings": tuple(warnings),
            }
        )
    return report.model_copy(update={"warnings": tuple(warnings)})


async def _generic(
    scenario: Scenario, target: TargetHandle, view: ClusterView, ca: str | None,
    bundles: list,  # type: ignore[type-arg]
) -> PreflightReport:  # fmt: skip
    certificates = await target.cluster.certificates()
    known = [c.identifier for c in certificates]
    problems: list[str] = []
    if ca is not None and ca not in known:
        problems.append(f"CA {ca!r} is not offered by the target; valid: {', '.join(known)}")
    if scenario.preflight.require_available:
        if view.status != "available":
            problems.append(f"cluster {view.identifier} is {view.status}, not available")
        for inst in view.instances:
            if inst.status != "available":
                problems.append(f"{inst.identifier} is {inst.status}, not available")
            if inst.pending_ca_identifier:
                problems.append(
                    f"{inst.identifier} has a pending CA change to {inst.pending_ca_identifier}"
                )
    if ca is not None:
        problems.extend(
            f"CA bundle {path} does not trust {ca}: clients using it could not connect after "
            "the change"
            for path in bundles
            if not bundle_contains_ca(path, ca, certificates)
        )
    return PreflightReport(
        cluster=view.identifier, ca=ca or "", ca_exists=ca is None or ca in known,
        engine=view.engine, rotation_without_restart=True if view.emulation else None,
        instances=tuple(
            InstanceCheck(
                identifier=i.identifier, role=i.role, status=i.status,
                ca_identifier=i.ca_identifier, pending_ca_identifier=i.pending_ca_identifier,
                server_cert_issuer=i.server_cert_issuer,
                server_cert_valid_till=i.server_cert_valid_till,
            )
            for i in view.instances
        ),
        problems=tuple(problems),
    )  # fmt: skip


def _instances_named(step: StepBase) -> list[str]:
    match step:
        case ModifyCa() | Reboot() | DeleteInstance() | KillInstance():
            return [step.instance]
        case Failover():
            return [step.target]
        case WaitFor():
            return [name for name in (step.instance, step.writer) if name is not None]
    return []


def _cas_named(step: StepBase) -> list[str]:
    if isinstance(step, ModifyCa | CreateReader | WaitFor) and step.ca is not None:
        return [step.ca]
    return []


def reference_problems(
    scenario: Scenario, view: ClusterView, certificates: Sequence[CertificateView]
) -> list[str]:
    """Instances and CAs the enabled steps name that the cluster does not have.

    An instance must exist when the run starts or be created by an earlier step; a
    reader to create must not exist yet (the rollback would delete someone's instance).
    Found before anything changes, so a typo (``--set instance=nope``) is bad input
    (exit 2) rather than a method that fails half-way (exit 3). A rollback deletion with
    ``if_exists`` may name an instance that is not there.
    """
    members = {i.identifier.lower(): i.identifier for i in view.instances}
    valid_cas = [c.identifier for c in certificates]
    created: set[str] = set()
    problems: list[str] = []
    for phase in ("method", "rollback"):
        for index, step in scenario.enabled_steps(phase):
            where = scenario.where(phase, index)
            if isinstance(step, CreateReader):
                if step.instance.lower() in members or step.instance.lower() in created:
                    problems.append(
                        f"{where}: DB instance {step.instance!r} already exists; "
                        "create_reader needs a new name"
                    )
                created.add(step.instance.lower())
            skip = isinstance(step, DeleteInstance) and step.if_exists
            for name in [] if skip else _instances_named(step):
                if name.lower() not in members and name.lower() not in created:
                    valid = ", ".join(members.values()) or "none"
                    problems.append(
                        f"{where}: no DB instance {name!r} in cluster {view.identifier}; "
                        f"valid: {valid}"
                    )
            problems.extend(
                f"{where}: unknown CA {ca!r}; valid: {', '.join(valid_cas)}"
                for ca in _cas_named(step)
                if ca not in valid_cas
            )
    return problems
