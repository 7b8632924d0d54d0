"""Timeline marker labels never overlap; actions keep theirs, observations give way.

A scenario run records dozens of milestones and target events around a failover. The
timeline used to stack every label into eight rows and overlap the rest; now a label
that fits nowhere is hidden (its line stays, the table lists it) and the chart says so.
"""

from __future__ import annotations

from pathlib import Path

from harness import load_history
from harness.report import timeline_chart
from harness.report.charts import (
    MAX_MARKER_ROWS,
    _Frame,
    _layout_rows,
    chart_style,
    text_width_in,
)

from synthetic import RunSpec, write_synthetic_run


def test_labels_that_fit_nowhere_are_hidden_lowest_priority_first() -> None:
    frame = _Frame(left_in=1.5, axes_in=10.0, window=(0.0, 100.0))
    items = [(50.0 + i * 0.1, f"◆ observation number {i} of many") for i in range(20)]
    items += [(50.0, "▶ failover"), (51.0, "✓ failover")]
    priorities = [3] * 20 + [0, 1]
    with chart_style():
        rows = _layout_rows(frame, items, MAX_MARKER_ROWS, priorities=priorities)
    assert rows[-2] is not None and rows[-1] is not None  # the actions keep their labels
    placed = [(i, r) for i, r in enumerate(rows) if r is not None]
    assert len(placed) == MAX_MARKER_ROWS  # one label per row fits at this crowding
    spans: dict[int, list[tuple[float, float]]] = {}
    for i, (row, flipped) in placed:
        x, text = items[i]
        anchor, width = frame.x_in(x), text_width_in(text) + 0.06
        span = (anchor - width, anchor) if flipped else (anchor, anchor + width)
        assert all(span[1] <= a or span[0] >= b for a, b in spans.get(row, [])), text
        spans.setdefault(row, []).append(span)


def test_a_crowded_timeline_says_labels_were_hidden(tmp_path: Path) -> None:
    milestones: list[tuple[object, ...]] = [
        ("milestone", "ok", 5.0 + i * 0.05, {"message": f"instance-{i} status rebooting"})
        for i in range(30)
    ]
    run_dir = tmp_path / "run"
    write_synthetic_run(
        run_dir,
        RunSpec(
            run_id="r-crowded", down={"write": [(5.0, 9.0)]},
            actions=[("failover", "invoke", 5.0, {"target": "instance-2"}), *milestones],
        ),
    )  # fmt: skip
    figure = timeline_chart(load_history(run_dir))
    texts = [t.get_text() for t in figure.texts]
    assert any("overlapping labels hidden (see the table)" in t for t in texts)
    labels = [t.get_text() for ax in figure.axes for t in ax.texts]
    assert "▶ failover" in labels
    assert "◆ instance-0 status rebooting" in labels  # milestones are labelled by what was seen
    assert sum(label.startswith("◆") for label in labels) < 30
