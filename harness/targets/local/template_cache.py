"""An initialized MariaDB/MySQL datadir, made once per machine and server version.

Initializing a datadir costs 1.5-2 s; copying one costs 0.1-0.2 s. Every instance of a
local cluster starts from a copy, so keeping the template outside the state directory
(which ``down`` removes) makes every ``up`` after the first one that much faster.
Keyed by the server binary and its version: an upgraded server gets a fresh template.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness.targets.local.server import find_server_binary, initialize_datadir

#: Overrides where templates are kept (tests point it at a temporary directory).
CACHE_ENV = "HARNESS_CACHE_DIR"


def cache_root() -> Path:
    """``$HARNESS_CACHE_DIR``, else ``$XDG_CACHE_HOME/harness``, else ``~/.cache/harness``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "harness"


def template_path(binary: Path, root: Path) -> Path:
    """Where the template for ``binary`` (at its current version) lives under ``root``."""
    version = subprocess.run(
        [str(binary), "--no-defaults", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    key = hashlib.sha256(f"{binary}\0{version}".encode()).hexdigest()[:16]
    return root / f"datadir-{key}"


def datadir_template(
    binary: Path | None = None, root: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:  # fmt: skip
    """The template for ``binary``, initialized now if this is its first use.

    Safe when two clusters start at once: each initializes into its own temporary
    directory and renames it into place; the loser's copy is discarded.
    """
    binary = binary or find_server_binary()
    root = root or cache_root()
    target = template_path(binary, root)
    if (target / "mysql").is_dir():
        return target
    if progress is not None:
        progress(f"initializing a datadir template in {target} (once per server version)")
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=root, prefix=".init-"))
    try:
        initialize_datadir(scratch / "data", binary)
        try:
            (scratch / "data").rename(target)
        except OSError:
            if not (target / "mysql").is_dir():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target
