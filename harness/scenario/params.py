"""``${name}`` substitution: parameters at load time, built-ins at run time.

Parameters are substituted into the document *before* validation, so a value that came
from ``--set`` is type-checked where it is used, with that field's line. A string that is
exactly one reference takes the parameter's own type (``when: ${flag}`` gets a boolean);
a reference inside a longer string is formatted as text.

Built-ins (``${writer}``, ``${reader}``, ``${run_id}``, ``${writer_ca}``) are only known once
the cluster has been described, so they pass through loading as literal placeholders and
are replaced by :func:`substitute_builtins` (via ``resolve_builtins``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

#: A parameter's value: what YAML scalars give, or a string from ``--set``.
ParamValue = str | int | float | bool | None

#: Resolved from ``describe()`` at run time: the writer, the first reader, the run id, and
#: the CA in force on the writer before the change.
BUILTINS: tuple[str, ...] = ("writer", "reader", "run_id", "writer_ca")

NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_REF = re.compile(r"\$\{([^{}]*)\}")


class SubstitutionError(ValueError):
    """A reference that cannot be resolved; the caller adds file, line and field."""


def placeholder(name: str) -> str:
    return "${" + name + "}"


def as_text(name: str, value: ParamValue) -> str:
    if value is None:
        raise SubstitutionError(f"${{{name}}} is null and cannot be part of a text")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def references(text: str) -> list[str]:
    """Names referenced in ``text``; raises on a malformed ``${...}``."""
    names = _REF.findall(text)
    for name in names:
        if not NAME.match(name):
            raise SubstitutionError(
                f"malformed reference ${{{name}}}: names are lowercase letters, digits and _"
            )
    if "${" in _REF.sub("", text):
        raise SubstitutionError(f"unclosed '${{' in {text!r}")
    return names


def substitute(text: str, lookup: Callable[[str], ParamValue]) -> ParamValue:
    """Replace each ``${name}`` in ``text`` with ``lookup(name)``.

    A text that is exactly one reference returns the value itself (keeping bool, int...);
    built-in names passed through by ``lookup`` come back as placeholders.
    """
    names = references(text)
    if not names:
        return text
    if len(names) == 1 and text == placeholder(names[0]):
        return lookup(names[0])
    return _REF.sub(lambda m: as_text(m[1], lookup(m[1])), text)


def resolve_parameters(raw: Mapping[str, ParamValue]) -> dict[str, ParamValue]:
    """Parameters may refer to each other and to built-ins; resolve them, refusing cycles.

    Raises :class:`SubstitutionError` whose ``args[1]`` is the parameter it is about.
    """
    resolved: dict[str, ParamValue] = {}

    def value_of(name: str, chain: tuple[str, ...]) -> ParamValue:
        if name in resolved:
            return resolved[name]
        if name in chain:
            cycle = " → ".join((*chain[chain.index(name) :], name))
            raise SubstitutionError(
                f"parameters refer to each other in a cycle: {cycle}", chain[-1]
            )
        value = raw[name]
        if isinstance(value, str):

            def lookup(ref: str) -> ParamValue:
                if ref in BUILTINS:
                    return placeholder(ref)
                if ref not in raw:
                    raise SubstitutionError(unknown_message(ref, raw), name)
                return value_of(ref, (*chain, name))

            try:
                value = substitute(value, lookup)
            except SubstitutionError as exc:
                about = exc.args[1] if len(exc.args) > 1 else name  # the innermost parameter
                raise SubstitutionError(exc.args[0], about) from None
        resolved[name] = value
        return value

    for name in raw:
        value_of(name, ())
    return resolved


def unknown_message(name: str, defined: Mapping[str, object]) -> str:
    return (
        f"unknown parameter ${{{name}}}; defined: {', '.join(defined) or 'none'} "
        f"(built-ins: {', '.join(BUILTINS)})"
    )


def substitute_builtins(text: str, values: Mapping[str, str]) -> str:
    """Replace built-in placeholders (the only references left after loading)."""
    return _REF.sub(lambda m: values.get(m[1], m[0]), text)
