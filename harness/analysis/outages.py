"""Outages: when each probe could not do its job, measured from the history alone.

An outage of a probe is a maximal run of non-ok attempts (``fail`` or ``info``) in order of
*intended* start. It begins when the first of them actually started its network work and
ends when the first ok attempt after them actually started its network work. Ordering by
the intended start (not by completion) is what keeps a stalled attempt from hiding the ones
that were due while it hung (coordinated omission); ending at the ok attempt's *actual*
start is what keeps an attempt that was due early, waited for a slot or a pooled
connection and then succeeded from claiming the service was up when it was due.

Everything here is vectorised over numpy arrays: a run at 10 ms per probe for an hour is
over a million ops, and a report must not take minutes. Python loops run once per probe
or once per outage, never once per op.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

#: ``f`` values of probe attempts; every other row (scenario actions, the final read) is not
#: an attempt and never counts toward an outage.
PROBE_FUNCTIONS: Final[tuple[str, ...]] = ("write", "read", "connect")

#: Outcomes a probe attempt can have (probes write one op per attempt, never ``invoke``).
PROBE_OUTCOMES: Final[tuple[str, ...]] = ("ok", "fail", "info")

#: Label for a non-ok attempt that carries no ``error_class`` (should not happen; counted
#: rather than dropped so the breakdown always adds up to the attempts).
UNCLASSIFIED: Final = "unclassified"

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

#: Stands for a missing integer in the arrays below (nullable Int64 becomes plain int64).
MISSING: Final = np.iinfo(np.int64).min


@dataclass(frozen=True)
class Outage:
    """One outage of one probe; times are nanoseconds, mono for arithmetic, wall for display.

    ``start_*`` come from the first failed attempt (its actual start, or its intended start
    when it never got a slot); ``end_*`` from the first later ok attempt's actual start, or,
    when the run ended while down (``recovered`` is False), from the latest end among the
    outage's attempts: the outage lasted *at least* that long.
    """

    process: str
    start_mono_ns: int
    end_mono_ns: int
    start_ns: int
    end_ns: int
    duration_ms: float
    #: How many attempts fell in the outage (``failed + indeterminate``).
    attempts: int
    failed: int
    #: Attempts of type ``info``: writes whose outcome is unknown.
    indeterminate: int
    first_seq: int
    last_seq: int
    #: error_class → number of attempts in this outage that failed with it.
    errors: dict[str, int] = field(hash=False)
    recovered: bool


def _probe_mask(history: pd.DataFrame) -> Bools:
    is_probe = history["f"].isin(PROBE_FUNCTIONS).to_numpy(dtype=bool, na_value=False)
    is_attempt = history["type"].isin(PROBE_OUTCOMES).to_numpy(dtype=bool, na_value=False)
    mask: Bools = is_probe & is_attempt
    return mask


def probe_ops(history: pd.DataFrame) -> pd.DataFrame:
    """Only the probe attempts (``f`` in :data:`PROBE_FUNCTIONS`), in history order.

    Returns ``history`` itself, uncopied, when every row is a probe attempt (analysis only
    reads frames; a million-row copy is not free).
    """
    mask = _probe_mask(history)
    if mask.all():
        return history
    return history.loc[mask]


def _ints(series: pd.Series) -> I64:
    """A nullable Int64 column as int64 with :data:`MISSING` for missing values."""
    values: I64 = series.to_numpy(dtype=np.int64, na_value=MISSING)
    return values


def _fill(values: I64, fallback: I64) -> I64:
    out: I64 = np.where(values == MISSING, fallback, values)
    return out


@dataclass(frozen=True, eq=False)
class ProbeArrays:
    """The probe attempts of a history as numpy arrays sorted by (process, intended, seq).

    Built once and shared by the outage, latency and summary code so a large history is
    filtered, sorted and converted only once. Missing integers are :data:`MISSING`.
    ``bounds[i]:bounds[i + 1]`` is the slice of probe ``names[i]``.
    """

    names: list[str]
    bounds: I64
    code: I64
    seq: I64
    intended_mono: I64
    intended_wall: I64
    start_mono: I64
    start_wall: I64
    end_mono: I64
    end_wall: I64
    ok: Bools
    info: Bools
    #: The whole history, and the positions in it of the rows above, in their order.
    frame: pd.DataFrame
    order: I64

    def __len__(self) -> int:
        return len(self.code)

    def column(self, name: str, rows: I64 | None = None) -> pd.Series:
        """Column ``name`` of the probe rows in sorted order (only ``rows`` when given)."""
        take = self.order if rows is None else self.order[rows]
        return self.frame[name].iloc[take].reset_index(drop=True)

    def segment(self, name: str) -> slice:
        """The rows of probe ``name`` (an empty slice when it has none)."""
        try:
            i = self.names.index(name)
        except ValueError:
            return slice(0, 0)
        return slice(int(self.bounds[i]), int(self.bounds[i + 1]))


def probe_arrays(history: pd.DataFrame) -> ProbeArrays:
    """Filter, sort and convert the probe attempts of ``history`` (see :class:`ProbeArrays`).

    Attempts are ordered by intended start, then seq; an attempt without an intended time
    (never written by the probes) is placed by its start, then its end. Only the columns
    needed are converted; ``history`` itself is neither copied nor changed.
    """
    mask = _probe_mask(history)
    every = bool(mask.all())
    rows: I64 = np.flatnonzero(mask).astype(np.int64)

    def ints(name: str) -> I64:
        values = _ints(history[name])
        return values if every else values[rows]

    def bools(name: str, value: str) -> Bools:
        values: Bools = (history[name] == value).to_numpy(dtype=bool, na_value=False)
        return values if every else values[rows]

    process = history["process"] if every else history["process"].iloc[rows]
    codes, uniques = pd.factorize(process.fillna(""), sort=True)
    code = codes.astype(np.int64, copy=False)
    seq = ints("seq")
    intended_mono = ints("intended_mono_ns")
    start_mono = ints("start_mono_ns")
    end_mono = ints("end_mono_ns")
    order_key = _fill(_fill(intended_mono, start_mono), end_mono)
    order_key = np.where(order_key == MISSING, np.iinfo(np.int64).max, order_key)
    order = np.lexsort((seq, order_key, code))
    code = code[order]
    names = [str(u) for u in uniques]
    bounds = np.searchsorted(code, np.arange(len(names) + 1)).astype(np.int64)
    return ProbeArrays(
        names=names,
        bounds=bounds,
        code=code,
        seq=seq[order],
        intended_mono=intended_mono[order],
        intended_wall=ints("intended_ns")[order],
        start_mono=start_mono[order],
        start_wall=ints("start_ns")[order],
        end_mono=end_mono[order],
        end_wall=ints("end_ns")[order],
        ok=bools("type", "ok")[order],
        info=bools("type", "info")[order],
        frame=history,
        order=rows[order],
    )


def count_by_group(
    values: pd.Series, groups: I64, n_groups: int, missing: str | None
) -> list[dict[str, int]]:
    """value → count for each group (``groups[i]`` is row i's group, 0 ≤ g < ``n_groups``).

    One ``factorize`` and one ``np.unique`` over (group, value) pairs, so the cost does not
    depend on how many groups there are. Missing values count under ``missing``, or are
    dropped when it is None.
    """
    counts: list[dict[str, int]] = [{} for _ in range(n_groups)]
    if len(values) == 0:
        return counts
    codes, names = pd.factorize(values, sort=True)
    labels = [str(n) for n in names]
    codes = codes.astype(np.int64, copy=False)
    keep = codes >= 0
    if missing is not None:
        if missing not in labels:
            labels.append(missing)
        codes = np.where(keep, codes, labels.index(missing))
        keep[:] = True
    pair = groups[keep] * len(labels) + codes[keep]
    keys, sizes = np.unique(pair, return_counts=True)
    for key, size in zip(keys.tolist(), sizes.tolist(), strict=True):
        group, label = divmod(key, len(labels))
        counts[group][labels[label]] = size
    return counts


def outages_from_arrays(arrays: ProbeArrays) -> list[Outage]:
    """:func:`find_outages` over prepared arrays (sorted by process, then start)."""
    n = len(arrays)
    if n == 0:
        return []
    bad = ~arrays.ok
    first_of_probe = np.ones(n, dtype=bool)
    first_of_probe[1:] = arrays.code[1:] != arrays.code[:-1]
    prev_ok = np.ones(n, dtype=bool)
    prev_ok[1:] = arrays.ok[:-1]
    begins = bad & (first_of_probe | prev_ok)
    next_breaks = np.ones(n, dtype=bool)  # the next row is ok or belongs to another probe
    next_breaks[:-1] = first_of_probe[1:] | arrays.ok[1:]
    finishes = bad & next_breaks
    first = np.flatnonzero(begins)
    last = np.flatnonzero(finishes)
    runs = len(first)
    if runs == 0:
        return []
    run_of_row: I64 = np.cumsum(begins) - 1
    # The row after a run is its probe's next attempt, which is ok (runs are maximal),
    # unless the run is the probe's last: then the run ended while down.
    after = last + 1
    recovered = after < n
    recovered[recovered] = ~first_of_probe[after[recovered]]

    start_mono = _fill(arrays.start_mono[first], arrays.intended_mono[first])
    start_wall = _fill(arrays.start_wall[first], arrays.intended_wall[first])
    ok_row = np.minimum(after, n - 1)
    end_mono = _fill(arrays.start_mono[ok_row], arrays.intended_mono[ok_row])
    end_wall = _fill(arrays.start_wall[ok_row], arrays.intended_wall[ok_row])
    for run in np.flatnonzero(~recovered).tolist():  # at most one per probe
        lo, hi = int(first[run]), int(last[run]) + 1
        ends = arrays.end_mono[lo:hi]
        if (ends != MISSING).any():
            row = lo + int(np.argmax(ends))
            end_mono[run], end_wall[run] = arrays.end_mono[row], arrays.end_wall[row]
        else:
            end_mono[run] = arrays.intended_mono[hi - 1]
            end_wall[run] = arrays.intended_wall[hi - 1]

    info_before: I64 = np.concatenate(([0], np.cumsum(arrays.info, dtype=np.int64)))
    indeterminate = info_before[last + 1] - info_before[first]
    attempts = last - first + 1
    # An outage cannot end before it began; clamp rather than report negative downtime.
    duration_ms = np.maximum(end_mono - start_mono, 0) / 1e6
    bad_rows = np.flatnonzero(bad)
    errors = count_by_group(
        arrays.column("error_class", bad_rows), run_of_row[bad_rows], runs, UNCLASSIFIED
    )

    # Rows are sorted by process then intended start; order outages by actual start within
    # a probe (the two orders agree unless attempts waited very unevenly for a slot).
    code = arrays.code[first]
    order = np.lexsort((start_mono, code))
    columns = zip(
        code[order].tolist(),
        start_mono[order].tolist(),
        end_mono[order].tolist(),
        start_wall[order].tolist(),
        end_wall[order].tolist(),
        duration_ms[order].tolist(),
        attempts[order].tolist(),
        indeterminate[order].tolist(),
        arrays.seq[first][order].tolist(),
        arrays.seq[last][order].tolist(),
        [errors[i] for i in order.tolist()],
        recovered[order].tolist(),
        strict=True,
    )
    names = arrays.names
    return [
        Outage(
            process=names[c], start_mono_ns=s0, end_mono_ns=e0, start_ns=s1, end_ns=e1,
            duration_ms=d, attempts=a, failed=a - u, indeterminate=u,
            first_seq=f, last_seq=la, errors=err, recovered=r,
        )
        for c, s0, e0, s1, e1, d, a, u, f, la, err, r in columns
    ]  # fmt: skip


def find_outages(history: pd.DataFrame) -> list[Outage]:
    """All outages of all probes in ``history``, sorted by process, then start.

    Non-probe rows (scenario actions, the final read) are ignored. An open outage (the run
    ended while the probe was down) has ``recovered=False`` and ends at the latest end of
    its attempts.
    """
    return outages_from_arrays(probe_arrays(history))
