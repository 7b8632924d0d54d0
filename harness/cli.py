"""The ``harness`` command line: parse, call, print, exit code. No logic lives here.

Exit codes: 0 success, 1 the measurement found a problem (lost writes, a failed
threshold), 2 bad input (one line on stderr, nothing written), 130 interrupted before a
run could start.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from harness.errors import UsageError
from harness.probes.spec import PROBES_HELP
from harness.rundir import default_run_dir

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


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
@click.option(
    "--user",
    default="harness_probe",
    show_default=True,
    help="Probe user, least privilege: CREATE, INSERT, SELECT on --database.",
)
@click.option(
    "--password-env",
    default="HARNESS_DB_PASSWORD",
    show_default=True,
    metavar="NAME",
    help="Environment variable holding the password.",
)
@click.option(
    "--password-file",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="File holding the password, instead of the variable.",
)
@click.option(
    "--database",
    default="harness",
    show_default=True,
    help="Database of the write probe's table (harness_probe_writes).",
)
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
        outcome = asyncio.run(
            observe(options, on_start=live.start, on_tick=live.tick, on_stopping=live.stopping)
        )
    finally:
        live.close()
    print_summary(outcome.summary, outcome.run_dir)
    if not outcome.summary.audit_passed:
        sys.exit(EXIT_FAILED)


def main(argv: list[str] | None = None) -> int:
    """Entry point: one-line errors and exit 2 for bad input, never a traceback for it."""
    try:
        cli.main(args=argv, prog_name="harness", standalone_mode=False)
    except UsageError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
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
