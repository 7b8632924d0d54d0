"""The scenario runner: preflight → baseline → method → cooldown → audit, with rollbacks.

Probes, the watcher and the steps all append to one history; the analysis then reads
it like any other run. The rollback always runs after the method, on success, failure
and Ctrl-C: a temporary reader must not outlive the run unless the scenario keeps it,
and when removing it fails the user is told what is left and how to remove it.

Exit codes (k6-style thresholds decide the first two): 0 every threshold met and the
audit passed, 1 a threshold failed or the audit did not pass, 2 bad input (nothing was
changed), 3 the change itself failed (and was rolled back).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from harness import __version__
from harness.analysis import ProbeInfo, Summary
from harness.errors import HarnessError, UsageError
from harness.history import Clock, HistoryWriter
from harness.probes.connection import ConnectionSettings, Endpoint
from harness.probes.session import Endpoints, ProbeSession, SessionConfig, preflight
from harness.probes.tls import client_context
from harness.rundir import RunInfo, create_run_dir, finish_run, write_summary
from harness.scenario.actions import StepContext, perform
from harness.scenario.loader import resolve_builtins
from harness.scenario.model import TRUST_STALE, TRUST_UPDATED, Scenario
from harness.scenario.preflight import check_target
from harness.scenario.target import TargetHandle
from harness.scenario.thresholds import lookup_metric
from harness.scenario.watch import Recorder, WaitTimeout, Watcher, wait_until
from harness.targets.base import ClusterView

EXIT_OK, EXIT_THRESHOLD, EXIT_USAGE, EXIT_CHANGE_FAILED = 0, 1, 2, 3
CONNECT_TIMEOUT_S = QUERY_TIMEOUT_S = 1.0

Say = Callable[[str], None]


class ChangeFailed(HarnessError):
    """A step of the method failed (or the baseline did not hold); rollback has run."""


@dataclass(slots=True)
class ScenarioOutcome:
    run_dir: Path
    summary: Summary
    exit_code: int
    failure: str | None = None
    leftovers: list[str] = field(default_factory=list)
    interrupted: bool = False


def _settings(target: TargetHandle, bundle: Path) -> ConnectionSettings:
    creds = target.credentials
    return ConnectionSettings(
        user=creds.user, password=creds.password, database=creds.database,
        ssl_context=client_context(bundle), connect_timeout_s=CONNECT_TIMEOUT_S,
        query_timeout_s=QUERY_TIMEOUT_S,
    )  # fmt: skip


def session_config(scenario: Scenario, target: TargetHandle, writer: str, reader: str | None,
                   run_id: str) -> SessionConfig:  # fmt: skip
    """Probe specs and per-probe trust for the scenario's probes."""
    deadline = CONNECT_TIMEOUT_S + QUERY_TIMEOUT_S
    creds = target.credentials
    base = _settings(target, creds.updated_bundle)
    per_probe: dict[str, ConnectionSettings] = {}
    for probe in scenario.probes:
        if probe.trust == TRUST_UPDATED:
            continue
        if probe.trust == TRUST_STALE:
            if creds.stale_bundle is None:
                raise UsageError(
                    f"probe {probe.name!r} trusts the stale bundle, which the {target.name} "
                    "target does not have: pass --stale-ca-bundle"
                )
            per_probe[probe.name] = _settings(target, creds.stale_bundle)
        else:
            per_probe[probe.name] = _settings(target, Path(probe.trust))
    endpoints = Endpoints(
        Endpoint.parse(writer, "writer endpoint"),
        Endpoint.parse(reader, "reader endpoint") if reader else None,
    )
    specs = [p.spec(deadline) for p in scenario.probes]
    return SessionConfig(endpoints, base, specs, run_id, settings_by_probe=per_probe)


@dataclass(slots=True)
class ScenarioRun:
    """One execution of a resolved scenario against one target into one run directory."""

    scenario: Scenario  # as loaded; built-ins are resolved in :meth:`run`
    target: TargetHandle
    out: Path
    run_id: str
    say: Say
    confirm: Callable[[Scenario, list[str]], None] | None = None

    async def run(self) -> ScenarioOutcome:
        view = await self.target.cluster.describe()
        writer = view.writer
        if writer is None:
            raise UsageError(f"cluster {view.identifier} has no writer right now: try later")
        reader = view.readers[0].identifier if view.readers else None
        scenario = resolve_builtins(
            self.scenario, writer=writer.identifier, reader=reader,
            run_id=self.run_id.lower(), writer_ca=writer.ca_identifier,
        )  # fmt: skip
        scenario.require_target(self.target.name)
        config = session_config(
            scenario, self.target, view.writer_endpoint, view.reader_endpoint, self.run_id
        )
        report = await check_target(scenario, self.target, view)
        report.raise_for_problems()  # before the warnings: bad input is one line
        for warning in report.warnings:
            self.say(f"preflight: {warning}")
        await preflight(config)
        if self.confirm is not None:
            self.confirm(scenario, list(scenario.impact(writer.identifier).lines()))
        info = self._run_info(scenario, view.emulation, writer.ca_identifier, config)
        journal = create_run_dir(self.out, info)
        interrupts = _Interrupts(self.say)
        # Ctrl-C is ours until the summary is written: the measurement is never lost.
        with _signals_call(interrupts):
            with HistoryWriter(journal) as history:
                outcome = await self._phases(scenario, config, history, Clock(), interrupts)
            summary = finish_run(self.out, self.run_id, info.probes, self._target_label())
            summary = _with_thresholds(summary, scenario)
            write_summary(self.out, summary)
        outcome.summary = summary
        if outcome.exit_code == EXIT_OK and not summary.thresholds_passed:
            outcome.exit_code = EXIT_THRESHOLD
        return outcome

    def _target_label(self) -> str:
        if self.target.emulation:
            return f"local emulation ({self.target.emulation} timing)"
        return f"aws {self.target.region or ''}".strip()

    def _run_info(
        self, scenario: Scenario, emulation: str | None, ca_from: str | None,
        config: SessionConfig,
    ) -> RunInfo:  # fmt: skip
        probes = {
            spec.name: ProbeInfo(
                kind=spec.kind.value, mode=spec.mode.value,
                endpoint=str(config.endpoints.for_role(spec.role)), interval_ms=spec.interval_ms,
            )
            for spec in config.specs
        }  # fmt: skip
        ca_to = scenario.parameters.get("ca")
        return RunInfo(
            run_id=self.run_id, command="run",
            started=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            tool_version=__version__, target=self.target.name, emulation=emulation,
            cluster=self.target.cluster_id, scenario=scenario.name,
            scenario_file=scenario.source, parameters=dict(scenario.parameters),
            ca_from=ca_from, ca_to=str(ca_to) if ca_to is not None else None,
            writer_endpoint=str(config.endpoints.writer),
            reader_endpoint=str(config.endpoints.reader) if config.endpoints.reader else None,
            user=config.settings.user, database=config.settings.database,
            ca_bundle=str(self.target.credentials.updated_bundle),
            connect_timeout_ms=CONNECT_TIMEOUT_S * 1000, query_timeout_ms=QUERY_TIMEOUT_S * 1000,
            probes=probes, warnings=config.warnings,
        )  # fmt: skip

    async def _phases(
        self, scenario: Scenario, config: SessionConfig, history: HistoryWriter, clock: Clock,
        interrupts: _Interrupts,
    ) -> ScenarioOutcome:  # fmt: skip
        recorder = Recorder(history, clock)
        watcher = Watcher(
            self.target.cluster, recorder, self.target.name, self.target.poll_s,
            since=datetime.now(UTC),
        )  # fmt: skip
        ctx = StepContext(self.target, watcher, recorder)
        session = ProbeSession(config, history, clock)
        stop = asyncio.Event()
        probing = asyncio.create_task(session.run(stop))
        watching = asyncio.create_task(watcher.run())  # observes at once, then every poll_s
        outcome = ScenarioOutcome(self.out, Summary.model_construct(), EXIT_OK)
        try:  # from the first await on: Ctrl-C lands in here and the rollback runs
            await self._baseline(scenario, session, recorder)
            await self._method(scenario, ctx)
            self.say(f"cooldown {scenario.cooldown.duration_s:g} s …")
            recorder.milestone("cooldown")
            await asyncio.sleep(scenario.cooldown.duration_s)
        except asyncio.CancelledError:
            if not interrupts.handled():
                raise  # cancelled by someone else: still roll back (below), then go
            outcome.interrupted = True
            outcome.exit_code, outcome.failure = EXIT_CHANGE_FAILED, "interrupted"
        except ChangeFailed as exc:
            outcome.exit_code, outcome.failure = EXIT_CHANGE_FAILED, str(exc)
            self.say(f"the change failed: {exc}")
        finally:
            interrupts.phase = "rollback"
            try:
                outcome.leftovers = await self._rollback(scenario, ctx, outcome)
            except asyncio.CancelledError:
                if not interrupts.handled():
                    raise
                outcome.leftovers = [] if scenario.keep_created else list(ctx.created)
                outcome.interrupted = True
                outcome.exit_code = EXIT_CHANGE_FAILED
                outcome.failure = f"{outcome.failure or 'interrupted'}; rollback abandoned"
                self.say("rollback abandoned")
            interrupts.phase = "done"
            stop.set()
            with contextlib.suppress(Exception):
                await probing
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watching
        return outcome

    async def _baseline(
        self, scenario: Scenario, session: ProbeSession, recorder: Recorder
    ) -> None:
        baseline = scenario.baseline
        self.say(f"baseline {baseline.duration_s:g} s (steady state: success ratio ≥ "
                 f"{baseline.min_success_ratio:g}) …")  # fmt: skip
        recorder.milestone("baseline")
        await asyncio.sleep(baseline.duration_s)
        for probe in session.probes:
            status = probe.status
            ratio = status.ok / status.ops if status.ops else 0.0
            if ratio < baseline.min_success_ratio:
                raise ChangeFailed(
                    f"steady state not met before the change: probe {probe.spec.name} "
                    f"succeeded {ratio:.2%} of {status.ops} attempts (last error "
                    f"{status.last_error}); nothing was changed"
                )

    async def _method(self, scenario: Scenario, ctx: StepContext) -> None:
        ctx.recorder.milestone("method")
        for index, step in scenario.enabled_steps("method"):
            self.say(f"step {index + 1}: {step.label} …")
            try:
                await perform(step, ctx)
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as exc:
                raise ChangeFailed(f"step {index + 1} ({step.label}): {exc}") from exc

    async def _rollback(
        self, scenario: Scenario, ctx: StepContext, outcome: ScenarioOutcome
    ) -> list[str]:
        """Run the rollback steps and remove what the run created; returns what is left."""
        ctx.recorder.milestone("rollback")
        for task in ctx.background:
            task.cancel()
        if ctx.created or any(True for _ in scenario.enabled_steps("rollback")):
            await self._settle(ctx)
        for _, step in scenario.enabled_steps("rollback"):
            self.say(f"rollback: {step.label} …")
            try:
                await perform(step, ctx, rollback=True)
            except Exception as exc:
                self.say(f"rollback step failed: {step.label}: {exc}")
        if scenario.keep_created:
            return []
        leftovers: list[str] = []
        for name in ctx.created:
            try:
                view = await ctx.watcher.observe_once()
            except Exception as exc:
                leftovers.append(name)
                self.say(f"could not see whether {name} is still there: {exc}")
                continue
            if not any(i.identifier == name for i in view.instances):
                continue
            if view.writer is not None and view.writer.identifier == name:
                continue  # it became the writer: the method's result, not a leftover
            self.say(f"rollback: deleting {name}, created by this run …")
            try:
                await self.target.cluster.delete_instance(name)
                await _wait_gone(ctx, name)
            except Exception as exc:
                leftovers.append(name)
                self.say(f"could not delete {name}: {exc}")
        return leftovers

    async def _settle(self, ctx: StepContext) -> None:
        """Before the rollback: let changes under way finish (a reader still ``creating``
        or ``modifying`` cannot be deleted, and a failover in flight decides which
        instance will be the writer). Past the deadline the rollback goes on anyway."""
        try:
            await wait_until(ctx.watcher, _settled, "no change under way", SETTLE_TIMEOUT_S)
        except WaitTimeout as exc:
            self.say(f"rollback: {exc}; going on anyway")


#: How long the rollback waits for changes under way to finish (an Aurora reader takes
#: minutes to create) before it tries anyway.
SETTLE_TIMEOUT_S = 3600.0
#: Statuses of a change under way: the rollback waits for them to end.
TRANSITIONAL = frozenset(
    {
        "creating", "modifying", "rebooting", "deleting", "failing-over", "backing-up",
        "configuring-enhanced-monitoring", "upgrading", "renaming", "starting", "stopping",
    }
)  # fmt: skip


@dataclass(slots=True)
class _Interrupts:
    """What Ctrl-C (SIGINT) and SIGTERM do while a scenario runs.

    During the method (baseline and cooldown included): stop it, then roll back. During
    the rollback: the first says why it should be let finish, the second abandons it.
    After it (the final read, the summary): nothing but a note, so the measurement is
    written. The task that runs the scenario is the one cancelled.
    """

    say: Say
    phase: Literal["method", "rollback", "done"] = "method"
    task: asyncio.Task[object] | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"method": 0, "rollback": 0})
    cancelled: int = 0  # cancellations this object asked for and nobody has handled yet

    def __call__(self) -> None:
        if self.phase == "done":
            self.say("finishing: the final read and the summary are being written")
            return
        self.counts[self.phase] += 1
        count = self.counts[self.phase]
        if self.phase == "method" and count == 1:
            self.say("interrupted: stopping the method, then the rollback …")
            self._cancel()
        elif self.phase == "rollback" and count == 1:
            self.say("the rollback is running: it removes what this run created; "
                     "interrupt again to abandon it and leave that behind")  # fmt: skip
        elif self.phase == "rollback" and count == 2:
            self._cancel()

    def _cancel(self) -> None:
        if self.task is not None:
            self.cancelled += 1
            self.task.cancel()

    def handled(self) -> bool:
        """Whether the CancelledError being handled came from here (then it is taken
        back, so that timeouts in the rollback still work)."""
        if not self.cancelled or self.task is None:
            return False
        self.cancelled -= 1
        self.task.uncancel()
        return True


@contextlib.contextmanager
def _signals_call(interrupts: _Interrupts) -> Iterator[None]:
    """SIGINT and SIGTERM call ``interrupts`` on the running loop (which cancels the
    current task when it must); the handlers in place before (pytest's, asyncio.run's,
    an application's) are put back afterwards."""
    loop = asyncio.get_running_loop()
    interrupts.task = asyncio.current_task()
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.getsignal(sig) for sig in signals}
    for sig in signals:
        loop.add_signal_handler(sig, interrupts)
    try:
        yield
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
            if previous[sig] is not None:
                signal.signal(sig, previous[sig])


def _settled(view: ClusterView) -> bool:
    return view.status not in TRANSITIONAL and all(
        i.status not in TRANSITIONAL for i in view.instances
    )


async def _wait_gone(ctx: StepContext, name: str, timeout_s: float = 1800.0) -> None:
    await wait_until(
        ctx.watcher, lambda v: not any(i.identifier == name for i in v.instances),
        f"{name} deleted", timeout_s,
    )  # fmt: skip


def _with_thresholds(summary: Summary, scenario: Scenario) -> Summary:
    from harness.analysis import ThresholdResult

    data = summary.model_dump(mode="json")
    results = []
    for threshold in scenario.thresholds:
        value = lookup_metric(data, threshold.metric)
        results.append(
            ThresholdResult(
                metric=threshold.metric, condition=threshold.describe(), value=value,
                verdict=threshold.verdict(value), description=threshold.description,
            )
        )  # fmt: skip
    return summary.model_copy(update={"scenario": scenario.name, "thresholds": results})
