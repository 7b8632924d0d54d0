"""Loading a scenario: YAML → ``--set`` → ``${param}`` substitution → typed model.

Every way a file can be wrong ends here as one :class:`~harness.errors.UsageError` line
naming file, line and field (exit 2), before any probe starts or any call is made.
Built-ins stay placeholders until :func:`resolve_builtins` is given what ``describe()``
reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.errors import UsageError
from harness.scenario._base import Loc
from harness.scenario.impact import writer_deletions
from harness.scenario.model import TRUST_STALE, TRUST_UPDATED, Scenario
from harness.scenario.params import (
    BUILTINS,
    NAME,
    ParamValue,
    SubstitutionError,
    placeholder,
    references,
    resolve_parameters,
    substitute,
    substitute_builtins,
    unknown_message,
)
from harness.scenario.problems import first_problem, located_error, validation_problems
from harness.scenario.source import compose


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    """``--set KEY=VALUE`` options as a dict; the value may be empty, the key may not."""
    overrides: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--set {item!r}: expected KEY=VALUE, e.g. --set ca=rds-ca-rsa4096-g1")
        if key in overrides:
            raise UsageError(f"--set {key} is given twice")
        overrides[key] = value
    return overrides


class _Loading:
    """One load: the document, where things are, and where substituted values came from."""

    def __init__(self, source: str, data: dict[str, Any], lines: dict[Loc, int]) -> None:
        self.source = source
        self.data = data
        self.lines = lines
        #: Location of a value that was exactly ``${name}`` → ``${name}``, for messages.
        self.origins: dict[Loc, str] = {}

    def error(self, loc: Loc, message: str) -> UsageError:
        return located_error(self.source, self.lines, loc, message)

    def parameters(self, overrides: Mapping[str, str]) -> dict[str, ParamValue]:
        raw = self.data.get("parameters", {})
        if not isinstance(raw, dict):
            raise self.error(("parameters",), "must be a mapping of name: default value")
        for name, value in raw.items():
            if not NAME.match(name):
                raise self.error(
                    ("parameters", name), "parameter names are lowercase letters, digits and _"
                )
            if name in BUILTINS:
                raise self.error(
                    ("parameters", name), f"{name} is a built-in, resolved from the cluster"
                )
            if not isinstance(value, str | int | float | bool) and value is not None:
                raise self.error(("parameters", name), "a parameter's value must be a scalar")
        merged: dict[str, ParamValue] = dict(raw)
        for name, value in overrides.items():
            if name not in raw:
                hint = " (a built-in, resolved from the cluster)" if name in BUILTINS else ""
                raise self.error(
                    ("parameters",),
                    f"--set {name}: no such parameter{hint}; defined: {', '.join(raw) or 'none'}",
                )
            merged[name] = value
        try:
            return resolve_parameters(merged)
        except SubstitutionError as exc:
            raise self.error(("parameters", exc.args[1]), exc.args[0]) from None

    def substitute(self, value: Any, loc: Loc, params: Mapping[str, ParamValue]) -> Any:
        if isinstance(value, dict):
            return {k: self.substitute(v, (*loc, k), params) for k, v in value.items()}
        if isinstance(value, list):
            return [self.substitute(v, (*loc, i), params) for i, v in enumerate(value)]
        if not isinstance(value, str) or "${" not in value:
            return value

        def lookup(name: str) -> ParamValue:
            if name in BUILTINS:
                return placeholder(name)
            if name not in params:
                raise SubstitutionError(unknown_message(name, params))
            return params[name]

        try:
            result = substitute(value, lookup)
            names = references(value)
        except SubstitutionError as exc:
            raise self.error(loc, exc.args[0]) from None
        if len(names) == 1 and value == placeholder(names[0]) and names[0] not in BUILTINS:
            self.origins[loc] = f"{value}={result!r}"
        return result

    def trust_paths(self, base: Path) -> None:
        """Resolve ``trust: <path>`` against the scenario's directory; it must exist."""
        probes = self.data.get("probes")
        if not isinstance(probes, list):
            return
        for index, probe in enumerate(probes):
            trust = probe.get("trust") if isinstance(probe, dict) else None
            if not isinstance(trust, str) or trust in (TRUST_UPDATED, TRUST_STALE) or not trust:
                continue
            path = (base / trust).resolve()
            if not path.is_file():
                raise self.error(
                    ("probes", index, "trust"),
                    f"{trust!r} is neither updated, stale nor an existing PEM file ({path})",
                )
            probe["trust"] = str(path)


def load_scenario(path: str | Path, overrides: Mapping[str, str] | None = None) -> Scenario:
    """Read, substitute and validate a scenario file; every problem is one-line UsageError."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"scenario file not found: {source}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read scenario {source}: {exc}") from None
    document = compose(text, source)
    if not isinstance(document.data, dict):
        raise UsageError(
            f"{source}:1: a scenario is a mapping (name, description, method, ...), "
            f"not a {type(document.data).__name__}"
        )
    loading = _Loading(source, document.data, document.lines)
    params = loading.parameters(overrides or {})
    data = {
        key: value if key == "parameters" else loading.substitute(value, (key,), params)
        for key, value in document.data.items()
    }
    data["parameters"] = params
    loading.data = data
    loading.trust_paths(Path(path).parent)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, data, Scenario)
        raise first_problem(problems, source, document.lines, loading.origins) from None
    return scenario.with_origin(source, document.lines)


def resolve_builtins(
    scenario: Scenario,
    *,
    writer: str,
    reader: str | None,
    run_id: str,
    writer_ca: str | None = None,
) -> Scenario:
    """The scenario with ``${writer}``, ``${reader}``, ``${run_id}``, ``${writer_ca}``
    replaced by what ``describe()`` reported, validated again (identifiers are checked now)
    and checked for deleting *this* writer. Raises UsageError (exit 2) before any change.
    """
    values = {"writer": writer, "reader": reader, "run_id": run_id, "writer_ca": writer_ca}
    for name in sorted(scenario.builtins_used()):
        if values[name] is None:
            what = "no reader" if name == "reader" else "no CA reported for the writer"
            raise UsageError(
                f"{scenario.source or 'scenario'}: uses ${{{name}}} but the cluster has {what}"
            )
    known = {k: v for k, v in values.items() if v is not None}

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        if isinstance(value, str) and "${" in value:
            return substitute_builtins(value, known)
        return value

    data = walk(scenario.model_dump(mode="json"))
    lines = scenario.lines
    try:
        resolved = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, data, Scenario)
        raise first_problem(problems, scenario.source, lines) from None
    resolved.with_origin(scenario.source, lines)
    for loc, message in writer_deletions(resolved.method, resolved.rollback, writer):
        raise located_error(scenario.source, lines, loc, message)
    return resolved
