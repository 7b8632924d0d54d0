"""``harness probe``: measure a cluster while someone changes it by hand.

Order matters for the promise "bad input changes nothing": every input is checked and
the endpoints are tried *before* the run directory is created.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from harness import __version__
from harness.analysis import ProbeInfo, Summary
from harness.errors import UsageError
from harness.history import Clock, HistoryWriter
from harness.probes.connection import ConnectionSettings, Endpoint
from harness.probes.session import Endpoints, ProbeSession, SessionConfig, preflight
from harness.probes.spec import ProbeSpec, parse_probes
from harness.probes.tls import client_context
from harness.rundir import RunInfo, check_run_dir, create_run_dir, finish_run, new_run_id


@dataclass(slots=True)
class ProbeOptions:
    """Everything ``harness probe`` was asked to do, as the command line gave it."""

    endpoint: str
    user: str
    database: str
    ca_bundle: Path
    out: Path
    reader_endpoint: str | None = None
    password_env: str = "HARNESS_DB_PASSWORD"
    password_file: Path | None = None
    probes: str = "write,read,connect"
    interval_ms: float = 10.0
    duration_s: float | None = None
    connect_timeout_ms: float = 1000.0
    query_timeout_ms: float = 1000.0
    identity_sql: str | None = None
    run_id: str = field(default_factory=new_run_id)


def read_password(options: ProbeOptions) -> str:
    if options.password_file is not None:
        try:
            text = options.password_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                f"--password-file {options.password_file} cannot be read ({exc.strerror})"
            ) from None
        return text.rstrip("\r\n")
    value = os.environ.get(options.password_env)
    if value is None:
        raise UsageError(
            f"environment variable {options.password_env} is not set: export it with the "
            "probe user's password, or pass --password-file"
        )
    return value


def _positive(name: str, value: float | None) -> None:
    if value is not None and not value > 0:
        raise UsageError(f"{name} must be greater than zero (got {value:g})")


def build_session_config(options: ProbeOptions) -> SessionConfig:
    """Validate every input; raises :class:`UsageError` on the first bad one."""
    _positive("--interval-ms", options.interval_ms)
    _positive("--duration", options.duration_s)
    _positive("--connect-timeout-ms", options.connect_timeout_ms)
    _positive("--query-timeout-ms", options.query_timeout_ms)
    writer = Endpoint.parse(options.endpoint, "--endpoint")
    reader = (
        Endpoint.parse(options.reader_endpoint, "--reader-endpoint")
        if options.reader_endpoint
        else None
    )
    settings = ConnectionSettings(
        user=options.user,
        password=read_password(options),
        database=options.database,
        ssl_context=client_context(options.ca_bundle),
        connect_timeout_s=options.connect_timeout_ms / 1000,
        query_timeout_s=options.query_timeout_ms / 1000,
        identity_sql=options.identity_sql,
    )
    specs = parse_probes(
        options.probes,
        interval_ms=options.interval_ms,
        attempt_deadline_s=settings.connect_timeout_s + settings.query_timeout_s,
        has_reader=reader is not None,
    )
    check_run_dir(options.out)
    return SessionConfig(Endpoints(writer, reader), settings, specs, options.run_id)


def probe_info(config: SessionConfig) -> dict[str, ProbeInfo]:
    def one(spec: ProbeSpec) -> ProbeInfo:
        return ProbeInfo(
            kind=spec.kind.value,
            mode=spec.mode.value,
            endpoint=str(config.endpoints.for_role(spec.role)),
            interval_ms=spec.interval_ms,
        )

    return {spec.name: one(spec) for spec in config.specs}


@dataclass(slots=True)
class Outcome:
    run_dir: Path
    summary: Summary
    interrupted: bool
    warnings: list[str]


async def observe(
    options: ProbeOptions,
    *,
    on_start: Callable[[ProbeSession, Path], None] | None = None,
    on_tick: Callable[[], None] | None = None,
    on_stopping: Callable[[], None] | None = None,
) -> Outcome:
    """Validate, preflight, probe until the duration ends or Ctrl-C, then analyse."""
    config = build_session_config(options)
    await preflight(config)
    info = RunInfo(
        run_id=options.run_id,
        command="probe",
        started=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        tool_version=__version__,
        writer_endpoint=str(config.endpoints.writer),
        reader_endpoint=str(config.endpoints.reader) if config.endpoints.reader else None,
        user=options.user,
        database=options.database,
        ca_bundle=str(options.ca_bundle),
        connect_timeout_ms=options.connect_timeout_ms,
        query_timeout_ms=options.query_timeout_ms,
        probes=probe_info(config),
        warnings=config.warnings,
    )
    journal = create_run_dir(options.out, info)
    stop = asyncio.Event()
    interrupted = False
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()

    def on_signal() -> None:
        nonlocal interrupted
        if stop.is_set() and main_task is not None:
            main_task.cancel()  # a second Ctrl-C: stop waiting for in-flight attempts
            return
        interrupted = True
        stop.set()
        if on_stopping is not None:
            on_stopping()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    with HistoryWriter(journal) as history:
        session = ProbeSession(config, history, Clock())
        if on_start is not None:
            on_start(session, options.out)
        try:
            await session.run(stop, duration_s=options.duration_s, on_tick=on_tick)
        except asyncio.CancelledError:
            interrupted = True
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    summary = finish_run(options.out, options.run_id, probe_info(config))
    _write_report(options.out, config.warnings)
    return Outcome(options.out, summary, interrupted, config.warnings)


def _write_report(run_dir: Path, warnings: list[str]) -> None:
    """The report is a convenience: a failure to draw it must not lose the measurement."""
    from harness.report import write_report

    try:
        write_report(run_dir)
    except Exception as exc:
        warnings.append(f"report not written ({exc}); try `harness report {run_dir}`")
