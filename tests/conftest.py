"""Shared fixtures: a local PKI and real MariaDB servers on 127.0.0.1.

- ``pki`` (session): :class:`support.PkiFiles`: trusted CA ``rds-ca-rsa2048-g1``,
  untrusted CA ``rds-ca-2019``, a bundle per CA, a ``localhost``/127.0.0.1 server
  certificate and a ``db.example.invalid`` one for hostname-mismatch tests.
- ``mariadb`` (session): :class:`support.Database`, one TLS-only server
  (``require_secure_transport=ON``), database ``harness``, user ``probe`` with a random
  password. Shared by many tests: use :func:`support.unique_name` for tables and
  run ids, and do not stop it or change global state without restoring it.
- ``mariadb_factory`` (function): a :class:`support.ServerLauncher`; calling it,
  ``mariadb_factory(name=None, *, tls=True, cert=None, ca_pem=None, tls_version=None,
  require_secure_transport=None, read_only=False, server_id=None)``, starts another server
  like ``mariadb`` and returns its ``Database``; all are stopped when the test ends.
- Fault proxies: no fixture. Probes are asyncio, so a test creates the proxy on its own
  loop: ``async with FaultProxy(("127.0.0.1", db.port)) as proxy: ...`` inside the
  coroutine it passes to ``asyncio.run``.

Tests that use a server are marked ``mariadb`` automatically (``-m "not mariadb"`` skips
them). Without a server binary they fail with the install hint rather than skip: a
silently skipped integration suite looks like a passing one.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import Database, PkiFiles, ServerLauncher

_SERVER_FIXTURES = frozenset({"mariadb", "mariadb_factory", "mariadb_template"})


def pytest_configure(config: pytest.Config) -> None:
    """Turn SIGTERM (``timeout``, a CI cancel) into an interrupt.

    By default SIGTERM ends Python at once: no fixture teardown, no atexit, and servers
    started in their own sessions would keep running. As an interrupt, pytest unwinds.
    """
    main = threading.current_thread() is threading.main_thread()
    if main and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_unconfigure(config: pytest.Config) -> None:
    if signal.getsignal(signal.SIGTERM) is _interrupt:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.mariadb)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Last resort: no server outlives the run, whatever failed in a teardown."""
    server = sys.modules.get("harness.targets.local.server")
    if server is not None:
        server.stop_all()


@pytest.fixture(scope="session")
def local_root() -> Iterator[Path]:
    """One short temp dir per session (unix socket paths must stay under 108 bytes)."""
    root = Path(tempfile.mkdtemp(prefix="harness-t-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pki(local_root: Path) -> PkiFiles:
    return PkiFiles.create(local_root / "pki")


@pytest.fixture(scope="session")
def mariadb_template(local_root: Path) -> Path:
    """An initialized datadir that each server copies (~0.1-0.2 s instead of ~1 s)."""
    from harness.errors import UsageError
    from harness.targets.local.server import find_server_binary, initialize_datadir

    try:
        binary = find_server_binary()
    except UsageError as exc:
        missing = str(exc)
    else:
        return initialize_datadir(local_root / "template", binary)
    pytest.fail(missing, pytrace=False)


@pytest.fixture(scope="session")
def mariadb(local_root: Path, mariadb_template: Path, pki: PkiFiles) -> Iterator[Database]:
    launcher = ServerLauncher(local_root / "session", mariadb_template, pki)
    try:
        yield launcher.launch("main")
    finally:
        launcher.close()


@pytest.fixture
def mariadb_factory(
    local_root: Path, mariadb_template: Path, pki: PkiFiles
) -> Iterator[ServerLauncher]:
    launcher = ServerLauncher(
        Path(tempfile.mkdtemp(dir=local_root, prefix="f-")), mariadb_template, pki
    )
    try:
        yield launcher
    finally:
        launcher.close()
        shutil.rmtree(launcher.root, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def template_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A datadir template cache per test module, never the user's ~/.cache/harness.

    Local clusters started by tests (``harness local up``, ``harness run``) keep their
    template there; a module-scoped directory keeps them fast without leaking.
    """
    from harness.targets.local.template_cache import CACHE_ENV

    path = tmp_path_factory.mktemp("cache")
    previous = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(path)
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = previous
