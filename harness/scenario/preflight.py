"""Preflight of a scenario against its target: the checks that must hold before a change.

On AWS the target's own preflight runs (CA offered, statuses, pending modifications and
maintenance, engine support for restart-free rotation, bundles); elsewhere the same
questions are asked through the Cluster protocol. Problems stop the run before anything
is changed (exit 2); warnings are said in plain language (which instances will restart).
"""

from __future__ import annotations

from harness.scenario.model import Scenario
from harness.scenario.steps import ModifyCa
from harness.scenario.target import TargetHandle
from harness.targets.base import ClusterView
from harness.targets.preflight import InstanceCheck, PreflightReport, bundle_contains_ca


async def check_target(
    scenario: Scenario, target: TargetHandle, view: ClusterView
) -> PreflightReport:
    checks = scenario.preflight
    ca = checks.ca_must_exist or checks.bundle_must_trust
    impact = scenario.impact(view.writer.identifier if view.writer else None)
    restarting = list(impact.restarts)
    bundles = [target.credentials.updated_bundle] if checks.bundle_must_trust else []
    rotation_restart = all(
        step.rotation_restart for _, step in scenario.enabled_steps("method")
        if isinstance(step, ModifyCa)
    )  # fmt: skip
    aws_preflight = getattr(target.cluster, "preflight", None)
    if aws_preflight is not None and ca is not None:
        report: PreflightReport = await aws_preflight(
            ca, restarting, rotation_restart=rotation_restart, bundle_paths=bundles
        )
    else:
        report = await _generic(scenario, target, view, ca, bundles)
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
