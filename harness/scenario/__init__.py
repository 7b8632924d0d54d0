"""Scenarios: a change to perform while the probes measure it, as typed data.

``load_scenario(path, overrides)`` reads a YAML file (see docs/scenarios.md) into a
:class:`Scenario`; ``resolve_builtins`` fills in what only the cluster knows. The runner
performs the phases; nothing here talks to a cluster.
"""

from harness.scenario.impact import Effect, Impact
from harness.scenario.loader import load_scenario, parse_overrides, resolve_builtins
from harness.scenario.model import (
    DEFAULT_PROBES,
    TRUST_STALE,
    TRUST_UPDATED,
    Baseline,
    Cooldown,
    Preflight,
    Scenario,
    ScenarioProbe,
)
from harness.scenario.params import BUILTINS
from harness.scenario.steps import (
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
    Step,
    StepBase,
    Wait,
    WaitedStep,
    WaitFor,
)
from harness.scenario.thresholds import Threshold, Verdict, check_metric, lookup_metric

__all__ = [
    "ACTIONS",
    "BUILTINS",
    "DEFAULT_PROBES",
    "LOCAL_ONLY_ACTIONS",
    "STEP_TYPES",
    "TRUST_STALE",
    "TRUST_UPDATED",
    "Baseline",
    "Cooldown",
    "CreateReader",
    "DeleteInstance",
    "Effect",
    "Failover",
    "Impact",
    "InjectFault",
    "KillInstance",
    "ModifyCa",
    "Preflight",
    "Reboot",
    "Scenario",
    "ScenarioProbe",
    "Step",
    "StepBase",
    "Threshold",
    "Verdict",
    "Wait",
    "WaitFor",
    "WaitedStep",
    "check_metric",
    "load_scenario",
    "lookup_metric",
    "parse_overrides",
    "resolve_builtins",
]
