"""The process that keeps a local cluster alive after ``harness local up`` has returned.

The cluster's endpoint proxies live in an asyncio loop, so something must keep running
that loop: this daemon. It creates the engine, records itself in ``daemon.json`` and
serves the control protocol of :mod:`harness.targets.local.rpc` on a unix socket until
it is told to ``shutdown`` or gets SIGTERM/SIGINT; then it closes the engine, which
stops every server. It is started detached (its own session, output to
``daemon.log``) by :func:`harness.targets.local.lifecycle.up`; run by hand it is::

    python -m harness.targets.local.daemon --state-dir .harness/local --instances 2 \\
        --timing instant --writer-port 3307 --reader-port 3308
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from harness.errors import HarnessError, UsageError
from harness.targets.local import rpc
from harness.targets.local.engine import LocalClusterEngine
from harness.targets.local.statedir import (
    EXIT_BAD_INPUT,
    LOG_FAILED_PREFIX,
    LOG_STEP_PREFIX,
    DaemonPhase,
    DaemonRecord,
    StateDir,
)
from harness.targets.local.template_cache import datadir_template
from harness.targets.local.timing import timing_named

log = logging.getLogger("harness.local.daemon")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m harness.targets.local.daemon",
        description="Run a local emulated cluster until told to stop (see `harness local up`).",
    )
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--timing", default="instant")
    parser.add_argument("--writer-port", type=int, default=0)
    parser.add_argument("--reader-port", type=int, default=0)
    parser.add_argument(
        "--template", type=Path, default=None, help="initialized datadir (default: the cache)"
    )
    return parser.parse_args(argv)


class Daemon:
    """One engine, one control socket, one stop event."""

    def __init__(self, state: StateDir, args: argparse.Namespace) -> None:
        self.state = state
        self.args = args
        self.timing = timing_named(args.timing)
        self.socket_path = state.control_socket()
        self.started = datetime.now(UTC)
        self.stop = asyncio.Event()
        self.engine: LocalClusterEngine | None = None

    def _record(self, phase: DaemonPhase) -> None:
        self.state.write_record(
            DaemonRecord(
                pid=os.getpid(), control_socket=self.socket_path, started=self.started,
                phase=phase, instances=self.args.instances, timing=self.timing.name,
            )
        )  # fmt: skip

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum)
        self._record("starting")
        began = time.monotonic()
        engine = await self._create()
        if engine is None:
            return 1
        self.engine = engine
        try:
            server = await asyncio.start_unix_server(
                self._serve, path=str(self.socket_path), limit=rpc.MAX_LINE
            )
            self.socket_path.chmod(0o600)
            self._record("ready")
            log.info(
                "ready in %.2f s, control socket %s", time.monotonic() - began, self.socket_path
            )
            await self.stop.wait()
            self._record("stopping")
            server.close()
        finally:
            await self._close(engine)
        return 0

    async def _create(self) -> LocalClusterEngine | None:
        """The engine, or None if a signal came first (then nothing is left running)."""
        creating = asyncio.create_task(self._start_engine())
        stopping = asyncio.create_task(self.stop.wait())
        await asyncio.wait({creating, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if creating.done():
            return creating.result()  # an engine error propagates to main() and the log
        log.info("stopping while the cluster was still starting")
        creating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            engine = await creating
            await self._close(engine)  # it finished just as it was cancelled
        return None

    async def _start_engine(self) -> LocalClusterEngine:
        template = self.args.template
        if template is None:
            try:
                template = await asyncio.to_thread(datadir_template, progress=_step)
            except OSError as exc:  # an unwritable cache only costs time: the engine makes one
                log.warning(
                    "no datadir template from the cache (%s); making one for this cluster", exc
                )
        return await LocalClusterEngine.create(
            self.state.root, instances=self.args.instances, timing=self.timing,
            writer_port=self.args.writer_port, reader_port=self.args.reader_port,
            template=template, progress=_step,
        )  # fmt: skip

    async def _close(self, engine: LocalClusterEngine) -> None:
        log.info("closing the cluster")
        began = time.monotonic()
        await engine.close()
        self.socket_path.unlink(missing_ok=True)
        log.info("cluster closed in %.2f s", time.monotonic() - began)

    def _on_signal(self, signum: int) -> None:
        log.info("got %s", signal.Signals(signum).name)
        self.stop.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection: requests answered in order, one reply line each."""
        try:
            while line := await reader.readline():
                writer.write(await self._answer(line))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except ValueError:  # a line over MAX_LINE: the stream cannot be resynchronized
            writer.write(rpc.encode_error("BadRequest", "request line too long"))
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, line: bytes) -> bytes:
        try:
            method, params = rpc.decode_request(line)
        except rpc.ProtocolError as exc:
            return rpc.encode_error(exc.kind, str(exc))
        level = logging.DEBUG if method in rpc.READ_ONLY else logging.INFO
        log.log(level, "%s %s", method, params.model_dump(mode="json"))
        try:
            return rpc.encode_result(await self._call(method, params))
        except Exception as exc:
            kind = rpc.error_name(exc)
            if kind == "InternalError":
                log.exception("%s failed", method)
            else:
                log.info("%s refused: %s", method, exc)
            return rpc.encode_error(kind, str(exc) or f"{method}: {type(exc).__name__}")

    async def _call(self, method: str, params: BaseModel) -> object:
        engine = self.engine
        assert engine is not None
        if method == "shutdown":
            self.stop.set()
            return None
        if method == "connection_info":
            return engine.connection_info()
        # Only allow-listed names reach this point (rpc.METHODS), with validated params.
        return await getattr(engine, method)(**params.model_dump())


def _step(message: str) -> None:
    log.info("%s%s", LOG_STEP_PREFIX, message)


def _configure_logging(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    state = StateDir(args.state_dir)
    _configure_logging(state.log)
    log.info("daemon pid %d for %s (%s)", os.getpid(), state, " ".join(sys.argv[1:]))
    try:
        return asyncio.run(Daemon(state, args).run())
    except Exception as exc:
        if not isinstance(exc, HarnessError):
            log.exception("unexpected error")
        # Last, so that the end of the log `up` shows always has it; a ServerError's
        # message carries the failed server's error log tail.
        log.error("%s%s", LOG_FAILED_PREFIX, exc)
        return EXIT_BAD_INPUT if isinstance(exc, UsageError) else 1


if __name__ == "__main__":
    sys.exit(main())
