"""Errors the user can act on.

Anything raised as :class:`UsageError` reaches the command line as one line on stderr and
exit code 2, with no traceback: bad input is the user's to fix and the message says how.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base for errors this tool raises on purpose."""


class UsageError(HarnessError):
    """Bad input: a flag, a file or an endpoint the run cannot start with (exit 2).

    Raised before anything is written or changed, so a failed start leaves no trace.
    """
