"""The local target's parts: an RDS-like PKI, real server processes, fault proxies, and
the emulated Aurora cluster built from them (:class:`LocalClusterEngine`).

Importing this package starts nothing and needs no server binary; a missing MariaDB is
reported (as :class:`harness.errors.UsageError`) only when a server is created.
"""

from harness.targets.local.engine import LocalClusterEngine
from harness.targets.local.pki import (
    RDS_CA_KEY_TYPES,
    CertificateAuthority,
    KeyType,
    LocalPki,
    issue_server_cert,
    make_ca,
    write_bundle,
)
from harness.targets.local.ports import free_port
from harness.targets.local.proxy import FaultKind, FaultProxy, FaultWindow, NoUpstream
from harness.targets.local.server import (
    INSTALL_HINT,
    DatabaseServer,
    ServerError,
    TlsMaterial,
    find_server_binary,
    initialize_datadir,
    stop_all,
)
from harness.targets.local.state import ConnectionInfo, EngineState, read_state
from harness.targets.local.timing import AURORA, INSTANT, TIMINGS, Timing, timing_named

__all__ = [
    "AURORA",
    "INSTALL_HINT",
    "INSTANT",
    "RDS_CA_KEY_TYPES",
    "TIMINGS",
    "CertificateAuthority",
    "ConnectionInfo",
    "DatabaseServer",
    "EngineState",
    "FaultKind",
    "FaultProxy",
    "FaultWindow",
    "KeyType",
    "LocalClusterEngine",
    "LocalPki",
    "NoUpstream",
    "ServerError",
    "Timing",
    "TlsMaterial",
    "find_server_binary",
    "free_port",
    "initialize_datadir",
    "issue_server_cert",
    "make_ca",
    "read_state",
    "stop_all",
    "timing_named",
    "write_bundle",
]
