"""``notebooks/explore_run.ipynb`` runs against a run the test creates, and says what it should.

The notebook is the public API's first user: if a re-export disappears or a chart
function changes its signature, this test fails the way a user's notebook would. It runs
in a real Jupyter kernel (nbclient, ipykernel) over a synthetic run directory; the
outage table it prints is checked against :func:`harness.analysis.find_outages`, and
the timeline cell must show a picture.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from harness import load_history
from harness.analysis import find_outages

from synthetic import RunSpec, write_synthetic_run

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "explore_run.ipynb"
TIMEOUT_S = 120


def _execute(
    cwd: Path, monkeypatch: pytest.MonkeyPatch, run_dir: Path | None
) -> nbformat.NotebookNode:
    if run_dir is None:
        monkeypatch.delenv("HARNESS_RUN_DIR", raising=False)
    else:
        monkeypatch.setenv("HARNESS_RUN_DIR", str(run_dir))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook, timeout=TIMEOUT_S, kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
    )  # fmt: skip
    client.execute()
    return notebook


def _cell(notebook: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    return next(c for c in notebook.cells if c.get("id") == cell_id)


def _text(cell: nbformat.NotebookNode) -> str:
    return "\n".join(
        str(out.get("data", {}).get("text/plain", out.get("text", ""))) for out in cell.outputs
    )


def test_committed_notebook_has_no_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code, "the notebook has no code"
    assert all(c.outputs == [] and c.execution_count is None for c in code)


def test_notebook_shows_the_outages_and_redraws_the_timeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = tmp_path / "run"
    write_synthetic_run(
        run_dir,
        RunSpec(
            run_id="20261203T130212Z-nb0001",
            down={"write": [(5.0, 17.5)], "connect": [(5.0, 18.0), (19.0, 19.2)]},
            actions=[("modify_ca", "invoke", 5.0, {"instance": "instance-1"}),
                     ("modify_ca", "ok", 17.0, {"instance": "instance-1"})],
        ),
    )  # fmt: skip
    expected = find_outages(load_history(run_dir))
    assert len(expected) == 3  # write once, connect twice

    notebook = _execute(tmp_path, monkeypatch, run_dir)

    table = _text(_cell(notebook, "outages"))
    for outage in expected:
        assert f"{outage.duration_ms:.3f}".rstrip("0").rstrip(".") in table
    rows = re.findall(r"^\d+\s+(\w+)\s+\d{4}-\d\d-\d\d ", table, re.M)  # index, probe, start
    assert sorted(rows) == sorted(o.process for o in expected)
    assert "connect_refused" in table

    downtime = _text(_cell(notebook, "downtime"))
    write_total = sum(o.duration_ms for o in expected if o.process == "write")
    assert f"{write_total:.3f}".rstrip("0").rstrip(".") in downtime

    for cell_id in ("timeline", "latency"):
        images = [o for o in _cell(notebook, cell_id).outputs if "image/png" in o.get("data", {})]
        assert len(images) == 1, f"{cell_id}: no picture"
        png = base64.b64decode(images[0]["data"]["image/png"])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_notebook_without_a_run_says_how_to_give_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(CellExecutionError, match="HARNESS_RUN_DIR is not set: set it to a run"):
        _execute(tmp_path, monkeypatch, None)
