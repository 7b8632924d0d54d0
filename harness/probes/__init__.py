"""Open-loop probes over verified TLS, and the error taxonomy they record."""

from harness.probes.connection import ConnectionSettings, Endpoint, open_connection
from harness.probes.probe import WRITES_DDL, WRITES_TABLE, Probe, ProbeStatus
from harness.probes.spec import ProbeKind, ProbeMode, ProbeSpec, Role, parse_probes
from harness.probes.taxonomy import ErrorClass, classify
from harness.probes.tls import client_context, read_ca_bundle

__all__ = [
    "WRITES_DDL",
    "WRITES_TABLE",
    "ConnectionSettings",
    "Endpoint",
    "ErrorClass",
    "Probe",
    "ProbeKind",
    "ProbeMode",
    "ProbeSpec",
    "ProbeStatus",
    "Role",
    "classify",
    "client_context",
    "open_connection",
    "parse_probes",
    "read_ca_bundle",
]
