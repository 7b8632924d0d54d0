"""What every scenario model shares: frozen, no unknown keys, and errors that know where.

``extra="forbid"`` everywhere is the point of typing scenarios at all: a misspelt key
(``apply_imediately``) must stop the run at load time, not silently take its default while
the cluster restarts (chaoslib's untyped dicts show the cost of the alternative).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

#: A path into the scenario document: keys and list indices, e.g. ("method", 1, "ca").
Loc = tuple[str | int, ...]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LocatedError(ValueError):
    """A cross-field problem raised inside a validator, with the path it is about.

    Pydantic reports a model validator's error at the model itself; the loader looks for
    this exception in the error's context and points at ``loc`` (relative to the model
    that raised it) instead, so the message names the right line.
    """

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message
