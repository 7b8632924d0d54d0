"""The local target's parts: an RDS-like PKI, real server processes, fault proxies.

Importing this package starts nothing and needs no server binary; a missing MariaDB is
reported (as :class:`harness.errors.UsageError`) only when a server is created.
"""

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
from harness.targets.local.proxy import FaultKind, FaultProxy, FaultWindow
from harness.targets.local.server import (
    INSTALL_HINT,
    DatabaseServer,
    ServerError,
    TlsMaterial,
    find_server_binary,
    initialize_datadir,
    stop_all,
)

__all__ = [
    "INSTALL_HINT",
    "RDS_CA_KEY_TYPES",
    "CertificateAuthority",
    "DatabaseServer",
    "FaultKind",
    "FaultProxy",
    "FaultWindow",
    "KeyType",
    "LocalPki",
    "ServerError",
    "TlsMaterial",
    "find_server_binary",
    "free_port",
    "initialize_datadir",
    "issue_server_cert",
    "make_ca",
    "stop_all",
    "write_bundle",
]
