"""docs/examples/quickstart.ipynb runs top to bottom, offline, and shows its images inline."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "examples" / "quickstart.ipynb"


def test_quickstart_notebook_runs(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [o for o in outputs if o.output_type == "execute_result"]
    assert sum("image/jpeg" in o.data for o in shown) >= 2  # GeneratedImage displays as itself
    assert any("text/html" in o.data and "<img" in o.data["text/html"] for o in shown)  # a Result
    assert (tmp_path / "miso-anime.jpg").exists() and (tmp_path / "fox.png").read_bytes()[
        :4
    ] == b"\x89PNG"
