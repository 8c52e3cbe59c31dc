"""The tutorial notebook runs top to bottom and produces what it promises.

The notebook is executed with nbclient in a fresh kernel, in a temporary working directory,
so it never rots: a change of API that breaks a cell fails here.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "analysis" / "tutorial.ipynb"
#: seconds any one cell may take (training is the longest, about a minute)
CELL_TIMEOUT = 600


def _outputs(nb, kind: str) -> list:
    return [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if kind in out.get("data", {})
    ]


def _text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(out.get("data", {}).get("text/plain", ""))
            parts.append(out.get("data", {}).get("text/html", ""))
    return "\n".join(parts)


@pytest.mark.slow
def test_tutorial_notebook_runs(tmp_path, monkeypatch):
    from nbclient import NotebookClient

    from hepvae.data import read_jets

    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in nb.cells), "commit the notebook without outputs"

    # the kernel must import this checkout of hepvae, also when it is not pip-installed
    root = str(NOTEBOOK.parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [root, os.getenv("PYTHONPATH")])))
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    nbformat.write(nb, tmp_path / "tutorial.executed.ipynb")

    work = tmp_path / "tutorial_outputs"
    assert sorted(p.name for p in work.iterdir() if p.suffix == ".root") == [
        "g30.root",
        "generated_g.root",
        "generated_t.root",
        "t30.root",
    ]
    for jet_type, label in (("t", 2), ("g", 0)):
        jets = read_jets(work / f"generated_{jet_type}.root")
        assert len(jets) == 600
        assert set(jets.Jet.label.to_list()) == {label}
    assert (work / "run" / "last.pt").is_file()
    assert (work / "analysis" / "histograms.root").is_file()

    # the inline figures: the inspection plot and the mass / EEC comparison with ratio panels
    assert len(_outputs(nb, "image/png")) >= 2
    text = _text(nb)
    for metric in ("W1M", "W1P", "FPD"):
        assert metric in text, f"metrics table lacks {metric}"
    assert "Traceback" not in text
