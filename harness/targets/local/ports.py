"""Free TCP ports on 127.0.0.1 for local servers and proxies.

The kernel picks an unused ephemeral port when binding to port 0. The port is free when
this returns but may be taken before the caller binds it, so callers retry on
"address in use" rather than trusting it.
"""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
