"""Run-length encoding of integer sets: how a final read of 10^6 sequence numbers stays small."""

from __future__ import annotations

from collections.abc import Iterable


def to_ranges(values: Iterable[int]) -> list[list[int]]:
    """``[0, 1, 2, 5, 6]`` → ``[[0, 2], [5, 6]]`` (inclusive bounds)."""
    ranges: list[list[int]] = []
    for v in sorted(set(values)):
        if ranges and v == ranges[-1][1] + 1:
            ranges[-1][1] = v
        else:
            ranges.append([v, v])
    return ranges


def from_ranges(ranges: Iterable[Iterable[int]]) -> set[int]:
    out: set[int] = set()
    for lo, hi in ranges:
        out.update(range(lo, hi + 1))
    return out
