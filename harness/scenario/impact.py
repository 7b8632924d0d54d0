"""What a scenario will do to which instance, worked out from its steps alone.

Two uses: the confirmation a mutating run asks for ("these instances will restart: ..."),
and refusing a scenario that would delete the writer before anything is changed. Both
follow the writer through the method: it starts as ``writer`` (the placeholder
``${writer}`` at load time, the real identifier once built-ins are resolved), moves to the
target of each ``failover`` and becomes unknown after a ``reboot`` with
``force_failover`` (RDS picks the new writer). Disabled steps (``when``/``unless``) are
left out. The runner still checks the real writer before each deletion.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from harness.scenario._base import Frozen, Loc
from harness.scenario.steps import (
    CreateReader,
    DeleteInstance,
    Failover,
    KillInstance,
    ModifyCa,
    Reboot,
    StepBase,
)

Phase = Literal["method", "rollback"]
EffectKind = Literal["restart", "reload", "pending", "create", "delete", "promote", "kill"]


class Effect(Frozen):
    """One thing one step does to one instance (``instance`` None: not known in advance)."""

    phase: Phase
    index: int
    action: str
    instance: str | None
    effect: EffectKind
    note: str

    def describe(self) -> str:
        who = self.instance or "(chosen at run time)"
        return f"{self.phase}[{self.index}] {self.action}: {who} {self.note}"


class Impact(Frozen):
    """The effects of a scenario's enabled steps, in order."""

    effects: tuple[Effect, ...]

    def _instances(self, *kinds: EffectKind, phase: Phase = "method") -> tuple[str, ...]:
        found = (e.instance for e in self.effects if e.effect in kinds and e.phase == phase)
        return tuple(dict.fromkeys(i for i in found if i is not None))

    @property
    def restarts(self) -> tuple[str, ...]:
        """Instances the method restarts (or kills): clients of each see an outage."""
        return self._instances("restart", "kill")

    @property
    def creates(self) -> tuple[str, ...]:
        return self._instances("create")

    @property
    def deletes(self) -> tuple[str, ...]:
        return self._instances("delete")

    @property
    def promotes(self) -> tuple[str, ...]:
        return self._instances("promote")

    @property
    def writer_changes(self) -> bool:
        return any(e.effect == "promote" for e in self.effects if e.phase == "method")

    def lines(self) -> list[str]:
        return [e.describe() for e in self.effects]


def _same(a: str | None, b: str | None) -> bool:
    """RDS stores identifiers in lowercase: ``DB-1`` and ``db-1`` are one instance."""
    return a is not None and b is not None and a.lower() == b.lower()


def _step_effects(step: StepBase, phase: Phase, index: int, writer: str | None) -> list[Effect]:
    def effect(instance: str | None, kind: EffectKind, note: str) -> Effect:
        return Effect(
            phase=phase, index=index, action=step.action, instance=instance, effect=kind, note=note
        )

    if isinstance(step, ModifyCa):
        if not step.apply_immediately:
            return [effect(step.instance, "pending", f"gets {step.ca} at the maintenance window")]
        if step.rotation_restart:
            return [effect(step.instance, "restart", f"restarts onto {step.ca}")]
        return [effect(step.instance, "reload", f"reloads onto {step.ca} without a restart")]
    if isinstance(step, Reboot):
        found = [effect(step.instance, "restart", "restarts")]
        if step.force_failover:
            found.append(effect(None, "promote", "becomes the writer (RDS picks the reader)"))
        return found
    if isinstance(step, Failover):
        return [
            effect(writer, "restart", "is demoted to a reader and restarts"),
            effect(step.target, "promote", "becomes the writer"),
        ]
    if isinstance(step, CreateReader):
        return [effect(step.instance, "create", "is created as a reader")]
    if isinstance(step, DeleteInstance):
        return [effect(step.instance, "delete", "is deleted")]
    if isinstance(step, KillInstance):
        note = "is killed and restarted" if step.restart else "is killed and stays down"
        return [effect(step.instance, "kill", note)]
    return []


def _next_writer(step: StepBase, writer: str | None) -> str | None:
    if isinstance(step, Failover):
        return step.target
    if isinstance(step, Reboot) and step.force_failover:
        return None
    return writer


def impact(method: Sequence[StepBase], rollback: Sequence[StepBase], writer: str | None) -> Impact:
    effects: list[Effect] = []
    current = writer
    for index, step in enumerate(method):
        if step.enabled:
            effects += _step_effects(step, "method", index, current)
            current = _next_writer(step, current)
    for index, step in enumerate(rollback):
        if step.enabled:
            effects += _step_effects(step, "rollback", index, None)
    return Impact(effects=tuple(effects))


def writer_deletions(
    method: Sequence[StepBase], rollback: Sequence[StepBase], writer: str
) -> list[tuple[Loc, str]]:
    """Steps that would delete the writer, as (location, message).

    In the method: a deletion of the writer at that point (before any failover, the
    starting writer). In the rollback: any deletion of the starting writer, since a
    rollback is there to leave the cluster serving.
    """
    problems: list[tuple[Loc, str]] = []
    current: str | None = writer
    for index, step in enumerate(method):
        if not step.enabled:
            continue
        if isinstance(step, DeleteInstance) and _same(step.instance, current):
            problems.append(
                (
                    ("method", index, "instance"),
                    f"would delete {step.instance}, the writer at that point; fail over "
                    "to another instance first",
                )
            )
        current = _next_writer(step, current)
    for index, step in enumerate(rollback):
        if step.enabled and isinstance(step, DeleteInstance) and _same(step.instance, writer):
            problems.append(
                (
                    ("rollback", index, "instance"),
                    f"a rollback must not delete {step.instance}, the writer the run started with",
                )
            )
    return problems
