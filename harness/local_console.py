"""What ``harness local up / status / down`` print: endpoints, instances, how to connect.

The connection block is meant to be pasted: the password as an ``export`` that reads the
0600 file (the password itself is never printed), and a complete ``harness probe`` line.
Those lines are printed without wrapping, whatever the terminal width. Progress goes to
stderr (a spinner on a terminal, plain lines elsewhere), results to stdout.
"""

from __future__ import annotations

import shlex
from datetime import datetime
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.status import Status
from rich.table import Table

from harness.targets.local.lifecycle import ClusterInfo, DownResult, UpResult
from harness.targets.local.state import ConnectionInfo
from harness.targets.local.statedir import StateDir, shown
from harness.targets.local.timing import TIMINGS


class StepProgress:
    """The ``progress`` callback of :func:`harness.targets.local.lifecycle.up`."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self._status: Status | None = None
        self._current: str | None = None

    def __enter__(self) -> StepProgress:
        if self.console.is_terminal:
            self._status = self.console.status("starting the local cluster …")
            self._status.start()
        return self

    def __call__(self, message: str) -> None:
        if self._status is not None:
            self._done()
            self._current = message
            self._status.update(f"{escape(message)} …")
        else:
            self.console.print(f"  {message}", markup=False, soft_wrap=True)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._status is not None:
            if kind is None:
                self._done()
            self._status.stop()
            self._status = None

    def _done(self) -> None:
        """On a terminal, a finished step stays on screen above the spinner."""
        if self._current is not None:
            self.console.print(f"  [green]✓[/] {escape(self._current)}", soft_wrap=True)
            self._current = None


#: Width when stdout is not a terminal: tables keep their natural width in a log or a pipe
#: instead of being squeezed into 80 columns.
_PIPE_WIDTH = 160


def _out(console: Console | None) -> Console:
    if console is not None:
        return console
    out = Console(highlight=False)
    return out if out.is_terminal else Console(highlight=False, width=_PIPE_WIDTH)


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _day(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d")


def connect_lines(connection: ConnectionInfo) -> list[str]:
    """The shell lines that connect ``harness probe`` to the cluster."""
    probe = [
        "harness probe", f"--endpoint {connection.writer_endpoint}",
        f"--reader-endpoint {connection.reader_endpoint}", f"--user {connection.user}",
        f"--ca-bundle {shlex.quote(shown(connection.updated_bundle))}",
    ]  # fmt: skip
    if connection.database != "harness":
        probe.append(f"--database {connection.database}")
    return [
        f'export HARNESS_DB_PASSWORD="$(cat {shlex.quote(shown(connection.password_file))})"',
        " ".join(probe),
    ]


def _print_connection(out: Console, info: ClusterInfo) -> None:
    connection = info.connection
    rows = [
        ("writer endpoint", connection.writer_endpoint),
        ("reader endpoint", connection.reader_endpoint),
        ("user", f"{connection.user}  (database {connection.database})"),
        ("password", f"in {shown(connection.password_file)} (mode 0600)"),
        ("updated CA bundle", f"{shown(connection.updated_bundle)}  (every CA generation)"),
        ("stale CA bundle", f"{shown(connection.stale_bundle)}  (only rds-ca-2019)"),
    ]
    for label, value in rows:
        out.print(f"  {label:<18} {value}", markup=False, soft_wrap=True)
    out.print("\nto connect:")
    for line in connect_lines(connection):
        out.print(f"  {line}", markup=False, soft_wrap=True)


def print_up(result: UpResult, console: Console | None = None) -> None:
    out = _out(console)
    info = result.info
    where = shown(info.state_dir)
    if result.already_running:
        out.print(
            f"a local cluster is already up in {where} (daemon pid {info.record.pid}, started "
            f"{_when(info.record.started)}); nothing was started",
            markup=False, soft_wrap=True,
        )  # fmt: skip
    else:
        out.print(
            f"local cluster up in {result.elapsed_s:.1f} s: {len(info.cluster.instances)} "
            f"instance(s), {_emulation(info)}; state in {where}",
            markup=False, soft_wrap=True,
        )  # fmt: skip
    for note in result.port_notes:
        out.print(f"[yellow]note:[/] {note}", soft_wrap=True)
    _print_connection(out, info)
    flag = _dir_flag(info)
    out.print(f"\nstatus: harness local status{flag}", markup=False, soft_wrap=True)
    out.print(f"stop:   harness local down{flag}", markup=False, soft_wrap=True)


def print_status(info: ClusterInfo, console: Console | None = None) -> None:
    out = _out(console)
    view = info.cluster
    out.print(f"cluster {view.identifier}: {view.status}", markup=False)
    timing = TIMINGS.get(view.emulation or info.record.timing)
    about = f": {timing.description}" if timing is not None else ""
    out.print(f"  {_emulation(info)}{about}", markup=False, soft_wrap=True)
    out.print(f"  engine: {view.engine}", markup=False, soft_wrap=True)
    table = Table()
    columns = ("instance", "role", "status", "CA", "server cert issuer", "cert expires", "endpoint")
    for column in columns:
        table.add_column(column, no_wrap=column != "CA")
    for instance in view.instances:
        ca = instance.ca_identifier or "-"
        if instance.pending_ca_identifier:
            ca += f" (pending {instance.pending_ca_identifier})"
        table.add_row(
            instance.identifier, instance.role, _status(instance.status), ca,
            instance.server_cert_issuer or "-", _day(instance.server_cert_valid_till),
            instance.endpoint or "-",
        )  # fmt: skip
    out.print(table)
    out.print(
        f"daemon pid {info.record.pid}, up since {_when(info.record.started)}; "
        f"state in {shown(info.state_dir)}\n",
        markup=False, soft_wrap=True,
    )  # fmt: skip
    _print_connection(out, info)


def print_down(result: DownResult, console: Console | None = None) -> None:
    out = _out(console)
    where = shown(result.state_dir)
    if not result.was_up:
        out.print(f"no local cluster is up in {where}", markup=False, soft_wrap=True)
        return
    daemon = f"daemon pid {result.daemon_pid}" if result.daemon_pid else "no daemon running"
    out.print(
        f"stopped the local cluster in {where} ({daemon}, {result.servers} server(s)); "
        "state removed",
        markup=False, soft_wrap=True,
    )  # fmt: skip
    if result.killed:
        killed = ", ".join(map(str, result.killed))
        out.print(f"[yellow]note:[/] pids {killed} had to be killed (SIGKILL)", soft_wrap=True)


def _emulation(info: ClusterInfo) -> str:
    return f"local emulation, timing {info.cluster.emulation or info.record.timing}"


def _status(status: str) -> str:
    colour = "green" if status == "available" else "yellow"
    return f"[{colour}]{status}[/]"


def _dir_flag(info: ClusterInfo) -> str:
    return StateDir(info.state_dir).cli_flag()
