"""The ``harness`` command line: parse, call, print, exit code. No logic lives here.

Exit codes: 0 success, 1 the measurement found a problem (lost writes, a failed
threshold) or the tool could not do its job (a local cluster did not start), 2 bad
input (one line on stderr, nothing written), 130 interrupted before a run could start.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from harness.errors import HarnessError, UsageError
from harness.probes.spec import PROBES_HELP
from harness.rundir import default_run_dir
from harness.targets.local.statedir import DEFAULT_STATE_DIR
from harness.targets.local.timing import TIMINGS

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

F = TypeVar("F", bound=Callable[..., Any])


def _login_options(scope: str = "") -> Callable[[F], F]:
    """The probe user's login flags, shared by ``probe`` and ``run`` (``scope`` prefixes help)."""
    options = [
        click.option("--user", default="harness_probe", show_default=True,
                     help=f"{scope}Probe user, least privilege: CREATE, INSERT, SELECT on "
                     "--database."),
        click.option("--password-env", default="HARNESS_DB_PASSWORD", show_default=True,
                     metavar="NAME", help=f"{scope}Environment variable holding the password."),
        click.option("--password-file", type=click.Path(path_type=Path), metavar="FILE",
                     help=f"{scope}File holding the password, instead of the variable."),
        click.option("--database", default="harness", show_default=True,
                     help=f"{scope}Database of the write probe's table (harness_probe_writes)."),
    ]  # fmt: skip

    def apply(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


@click.group(context_settings=_CONTEXT)
@click.version_option(package_name="rds-downtime-harness", prog_name="harness")
def cli() -> None:
    """Measure, to the millisecond, how long applications could not write, read or
    connect while an RDS / Aurora MySQL cluster was changed (CA rotation, failover,
    reboot, patching)."""


@cli.command(
    context_settings=_CONTEXT,
    epilog=(
        "\b\nExample:\n"
        "  export HARNESS_DB_PASSWORD=...\n"
        "  harness probe --endpoint mydb.cluster-abc.eu-west-1.rds.amazonaws.com:3306 \\\n"
        "      --reader-endpoint mydb.cluster-ro-abc.eu-west-1.rds.amazonaws.com:3306 \\\n"
        "      --ca-bundle global-bundle.pem\n"
        "  # change the cluster in the console, then press Ctrl-C\n"
        "\b\nExit code:\n"
        "  0  the audit found every acknowledged write\n"
        "  1  acknowledged writes were lost, or could not be checked\n"
        "  2  bad input (nothing was written)"
    ),
)
@click.option("--endpoint", required=True, metavar="HOST:PORT", help="Writer (cluster) endpoint.")
@click.option(
    "--ca-bundle",
    required=True,
    type=click.Path(path_type=Path),
    metavar="PEM",
    help="CAs to trust (e.g. AWS's global-bundle.pem). TLS is always verified, hostname included.",
)
@click.option(
    "--reader-endpoint",
    metavar="HOST:PORT",
    help="Reader endpoint; read probes go there when given.",
)
@_login_options()
@click.option("--probes", default="write,read,connect", show_default=True, help=PROBES_HELP)
@click.option(
    "--interval-ms",
    type=float,
    default=10.0,
    show_default=True,
    help="One attempt every N ms per probe: the resolution of every outage.",
)
@click.option(
    "--duration",
    type=float,
    metavar="SECONDS",
    help="Stop after this long (default: run until Ctrl-C).",
)
@click.option(
    "--connect-timeout-ms",
    type=float,
    default=1000.0,
    show_default=True,
    help="Deadline for TCP + TLS + login.",
)
@click.option(
    "--query-timeout-ms",
    type=float,
    default=1000.0,
    show_default=True,
    help="Deadline for each query.",
)
@click.option(
    "--identity-sql",
    metavar="SQL",
    help="Expression naming the server that answered (default: "
    "@@aurora_server_id on Aurora, else CONCAT(@@hostname, ':', @@port)).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Run directory to create (default: results/<UTC time>-probe).",
)
def probe(
    endpoint: str, ca_bundle: Path, reader_endpoint: str | None, user: str,
    password_env: str, password_file: Path | None, database: str, probes: str,
    interval_ms: float, duration: float | None, connect_timeout_ms: float,
    query_timeout_ms: float, identity_sql: str | None, out: Path | None,
) -> None:  # fmt: skip
    """Probe a cluster while you change it by hand, and measure the outages.

    Writes, reads and fresh TLS connections run open-loop on a fixed schedule and every
    attempt is recorded in DIR/history.jsonl. Press Ctrl-C when the change is done (or
    pass --duration). Then DIR gets history.parquet and summary.json (downtime per probe,
    outage windows, the audit of acknowledged writes) and a table is printed.
    """
    from harness.live import LiveStatus, print_summary
    from harness.observe import ProbeOptions, observe
    from harness.probes.loop import run_precise

    options = ProbeOptions(
        endpoint=endpoint, user=user, database=database, ca_bundle=ca_bundle,
        out=out or default_run_dir("probe"), reader_endpoint=reader_endpoint,
        password_env=password_env, password_file=password_file, probes=probes,
        interval_ms=interval_ms, duration_s=duration,
        connect_timeout_ms=connect_timeout_ms, query_timeout_ms=query_timeout_ms,
        identity_sql=identity_sql,
    )  # fmt: skip
    live = LiveStatus()
    try:
        outcome = run_precise(
            observe(options, on_start=live.start, on_tick=live.tick, on_stopping=live.stopping)
        )
    finally:
        live.close()
    print_summary(outcome.summary, outcome.run_dir)
    if not outcome.summary.audit_passed:
        sys.exit(EXIT_FAILED)


_STATE_DIR_OPTION = click.option(
    "--state-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_STATE_DIR,
    show_default=True,
    metavar="DIR",
    help="Where the cluster keeps its servers, certificates, password and logs.",
)


@cli.group(
    context_settings=_CONTEXT,
    epilog=(
        "\b\nExample:\n"
        "  harness local up                 # 2 instances, endpoints on 127.0.0.1:3307 / 3308\n"
        "  harness local status\n"
        "  harness local down"
    ),
)
def local() -> None:
    """An emulated Aurora-like cluster of real MariaDB servers on 127.0.0.1.

    One writer and N-1 readers with GTID replication over TLS, a writer and a reader
    endpoint that follow the roles, CAs named like RDS's. It keeps running after `up`
    returns, so `harness probe` and scenarios can use it from another shell. Needs
    mariadbd (or mysqld) on PATH; no AWS account.
    """


@local.command(
    "up",
    context_settings=_CONTEXT,
    epilog=(
        "\b\nExamples:\n"
        "  harness local up\n"
        "  harness local up --instances 3 --timing aurora\n"
        "  harness local up --state-dir /tmp/rehearsal --writer-port 0 --reader-port 0\n"
        "\b\nExit code:\n"
        "  0  the cluster is up (or already was)\n"
        "  1  it did not start (the end of its log is shown; nothing is left running)\n"
        "  2  bad input, no MariaDB/MySQL server installed, or a dead cluster's state in DIR"
    ),
)
@click.option(
    "--instances",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="DB instances: one writer and N-1 readers.",
)
@click.option(
    "--timing",
    type=click.Choice(list(TIMINGS)),
    default="instant",
    show_default=True,
    help="instant: real process timings only (tests, quick runs); aurora: restarts of "
    "~15 s and failovers of ~30 s, as on Aurora.",
)
@_STATE_DIR_OPTION
@click.option(
    "--writer-port",
    type=click.IntRange(0, 65535),
    default=3307,
    show_default=True,
    help="Port of the writer (cluster) endpoint; another is chosen if it is in use, 0 for any.",
)
@click.option(
    "--reader-port",
    type=click.IntRange(0, 65535),
    default=3308,
    show_default=True,
    help="Port of the reader endpoint; another is chosen if it is in use, 0 for any.",
)
def local_up(
    instances: int, timing: str, state_dir: Path, writer_port: int, reader_port: int
) -> None:
    """Start a local cluster and print how to connect to it.

    Returns once every instance is available; the cluster keeps running in the
    background until `harness local down`. If a cluster is already up in DIR it is
    reported and nothing new is started. Ctrl-C while it starts stops everything.
    The first run initializes a MariaDB datadir template in ~/.cache/harness
    (HARNESS_CACHE_DIR moves it), which later runs copy.
    """
    from harness.local_console import StepProgress, print_up
    from harness.targets.local.lifecycle import EndpointPorts, up

    with StepProgress() as progress:
        result = up(
            state_dir, instances=instances, timing=timing,
            ports=EndpointPorts(writer_port, reader_port), progress=progress,
        )  # fmt: skip
    print_up(result)


@local.command(
    "status",
    context_settings=_CONTEXT,
    epilog="\b\nExample:\n  harness local status --state-dir /tmp/rehearsal",
)
@_STATE_DIR_OPTION
def local_status(state_dir: Path) -> None:
    """Show the running local cluster and how to connect to it.

    A table of the instances (role, status, CA in force and pending, server
    certificate issuer and expiry, own endpoint), then the cluster's endpoints, its
    timing, the probe user, the password file and the CA bundles. Exit code 2 when
    no cluster is up in DIR.
    """
    from harness.local_console import print_status
    from harness.targets.local.lifecycle import status

    print_status(status(state_dir))


@local.command(
    "down",
    context_settings=_CONTEXT,
    epilog="\b\nExample:\n  harness local down --state-dir /tmp/rehearsal",
)
@_STATE_DIR_OPTION
def local_down(state_dir: Path) -> None:
    """Stop every process of the local cluster and remove DIR.

    Also cleans up after a cluster whose daemon died (its servers are killed by pid).
    Nothing up is not an error: it says so and exits 0.
    """
    from harness.local_console import print_down
    from harness.targets.local.lifecycle import down

    print_down(down(state_dir))


@cli.command(
    "run",
    context_settings=_CONTEXT,
    epilog=(
        "\b\nExamples:\n"
        "  harness run scenarios/direct-ca-change.yaml            # local emulation\n"
        "  harness run scenarios/failover-method.yaml --set reader_on_new_ca=true\n"
        "  harness run scenarios/direct-ca-change.yaml --timing aurora --repeat 3\n"
        "  harness run scenarios/direct-ca-change.yaml --target aws --cluster staging-db \\\n"
        "      --region eu-west-1 --ca-bundle global-bundle.pem --dry-run\n"
        "\b\nExit code:\n"
        "  0  every threshold met and the audit passed\n"
        "  1  a threshold failed, or the audit did not pass\n"
        "  2  bad input (nothing was changed)\n"
        "  3  the change itself failed (and was rolled back)"
    ),
)
@click.argument("scenario", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a scenario parameter (repeatable), e.g. --set ca=rds-ca-rsa4096-g1.",
)
@click.option(
    "--target",
    type=click.Choice(["local", "aws"]),
    default="local",
    show_default=True,
    help="local: the emulated cluster (brought up if needed); aws: a real cluster.",
)
@click.option("--cluster", metavar="ID", help="AWS DB cluster identifier (--target aws).")
@click.option(
    "--region", metavar="REGION", help="AWS region (default: as the AWS CLI resolves it)."
)
@click.option("--profile", metavar="NAME", help="AWS profile (default: the credential chain).")
@click.option(
    "--dry-run", is_flag=True, help="Print the plan and every call it would make; change nothing."
)
@click.option("--yes", is_flag=True, help="Do not ask before changing an AWS cluster.")
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Run N times (each in DIR/run-NN), restoring the starting state between runs.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Run directory to create (default: results/<UTC time>-<scenario>).",
)
@_STATE_DIR_OPTION
@click.option(
    "--timing",
    type=click.Choice(list(TIMINGS)),
    default="instant",
    show_default=True,
    help="Local target: the timing of a cluster this run brings up.",
)
@click.option(
    "--instances",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Local target: instances of a cluster this run brings up.",
)
@_login_options("AWS target: ")
@click.option(
    "--ca-bundle",
    type=click.Path(path_type=Path),
    metavar="PEM",
    help="AWS target: the CA bundle updated clients trust (must hold the new CA).",
)
@click.option(
    "--stale-ca-bundle",
    type=click.Path(path_type=Path),
    metavar="PEM",
    help="AWS target: the bundle of a client nobody updated (trust: stale probes).",
)
def run(
    scenario: Path, overrides: tuple[str, ...], target: str, cluster: str | None,
    region: str | None, profile: str | None, dry_run: bool, yes: bool, repeat: int,
    out: Path | None, state_dir: Path, timing: str, instances: int, user: str,
    password_env: str, password_file: Path | None, database: str, ca_bundle: Path | None,
    stale_ca_bundle: Path | None,
) -> None:  # fmt: skip
    """Perform a change described by SCENARIO while probes measure it.

    Phases: preflight (nothing changes if it fails), baseline (steady state), the
    method's steps (each done when its effect is observed), cooldown, the final read
    and audit, and the rollback, which always runs (Ctrl-C included). Each run writes a
    directory with the history, summary.json (downtime per probe, audit, thresholds)
    and report.md / report.html with charts.
    """
    from harness.scenario.command import RunOptions, run_command

    options = RunOptions(
        scenario=scenario, overrides=list(overrides), target=target, cluster=cluster,
        region=region, profile=profile, dry_run=dry_run, yes=yes, repeat=repeat, out=out,
        state_dir=state_dir, timing=timing, instances=instances, user=user,
        password_env=password_env, password_file=password_file, database=database,
        ca_bundle=ca_bundle, stale_ca_bundle=stale_ca_bundle,
    )  # fmt: skip
    from rich.console import Console

    console = Console(stderr=True)
    # soft_wrap: one line stays one line in a log or a pipe (no wrapping at 80 columns)
    code, outcomes = run_command(
        options, lambda line: console.print(line, highlight=False, soft_wrap=True)
    )
    from harness.live import print_run_outcome

    for outcome in outcomes:
        print_run_outcome(outcome)
    if code:
        sys.exit(code)


@cli.command(
    "cleanup",
    context_settings=_CONTEXT,
    epilog=(
        "\b\nExample:\n"
        "  harness cleanup --cluster staging-db --region eu-west-1 \\\n"
        "      --run-id 20261203T130212Z-3f9a1c --dry-run"
    ),
)
@click.option("--run-id", required=True, metavar="ID", help="The run whose instances to remove.")
@click.option("--cluster", required=True, metavar="ID", help="AWS DB cluster identifier.")
@click.option(
    "--region", metavar="REGION", help="AWS region (default: as the AWS CLI resolves it)."
)
@click.option("--profile", metavar="NAME", help="AWS profile (default: the credential chain).")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
def cleanup(
    run_id: str, cluster: str, region: str | None, profile: str | None, dry_run: bool
) -> None:
    """Delete the instances a run created on AWS and left behind (found by its tags).

    Only instances tagged harness:run-id=ID and created by this tool are considered, and
    never the writer (after the failover method the run's reader is the writer, on
    purpose). For the local target, `harness local down` removes everything.
    """
    from harness.targets.aws import AwsCluster

    target = AwsCluster(cluster, region=region, profile=profile)
    found = asyncio.run(target.cleanup(run_id, dry_run=dry_run))
    verb = "would delete" if dry_run else "deleting"
    for name in found:
        print(f"{verb} {name}")
    if not found:
        print(f"nothing left behind by run {run_id} in cluster {cluster}")


@cli.command(
    "report",
    context_settings=_CONTEXT,
    epilog="\b\nExample:\n  harness report results/20261203T130212Z-direct-ca-change",
)
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
def report(run_dir: Path) -> None:
    """Write report.md, report.html and the charts of RUN_DIR again, from its history."""
    from harness.report import write_report

    files = write_report(run_dir)
    for warning in files.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for path in files.all():
        print(path)


@cli.command(
    "compare",
    context_settings=_CONTEXT,
    epilog=(
        "\b\nExamples:\n"
        "  harness compare results/*-direct-ca-change results/*-failover-method\n"
        "  harness compare results/20261203T130212Z-failover-method   # a --repeat N parent\n"
        "\b\nExit code:\n"
        "  0  the comparison was written\n"
        "  2  bad input: a directory without a history, a run from a newer harness, a\n"
        "     non-empty --out (nothing was written)"
    ),
)
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Directory to create (default: results/<UTC time>-comparison).",
)
def compare(run_dirs: tuple[Path, ...], out: Path | None) -> None:
    """Compare runs: downtime per probe across repetitions, per scenario (method).

    Each RUN_DIR is a run directory or a parent of run-NN directories (harness run
    --repeat N). Runs are grouped by scenario (harness probe runs as observe-only); per
    group and probe: downtime median, p95 and max, the number of runs, the extra instance
    time the method needed, lost writes and the thresholds' pass rate. Writes
    comparison.md, comparison.html and the chart (PNG, SVG) into DIR. Runs measured on
    different targets or timings are compared with a warning in the output.
    """
    from harness.report.compare import write_comparison

    files = write_comparison(list(run_dirs), out)
    for warning in files.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for path in files.all():
        print(path)


def main(argv: list[str] | None = None) -> int:
    """Entry point: one-line errors and exit 2 for bad input, never a traceback for it."""
    try:
        cli.main(args=argv, prog_name="harness", standalone_mode=False)
    except UsageError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except click.exceptions.NoArgsIsHelpError as exc:
        print(exc.format_message())
        return EXIT_USAGE
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "harness"
        print(f"harness: error: {exc.format_message()} (see '{command} --help')", file=sys.stderr)
        return EXIT_USAGE
    except click.ClickException as exc:
        print(f"harness: error: {exc.format_message()}", file=sys.stderr)
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        print("harness: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
