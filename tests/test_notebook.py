"""examples/tutorial.ipynb runs headless, top to bottom, and says what the tutorial says."""
import re

import nbformat
from nbclient import NotebookClient

from conftest import ROOT

NOTEBOOK = ROOT / "examples" / "tutorial.ipynb"


def _text(notebook):
    return "\n".join(out.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                     for out in cell.get("outputs", []) if out.get("output_type") == "stream")


def _number(text, label):
    match = re.search(re.escape(label) + r"\s+([0-9.]+)", text)
    assert match, f"{label!r} not in the notebook's output"
    return float(match.group(1))


def test_tutorial_notebook_is_committed_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None


def test_tutorial_notebook_runs_headless(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = _text(notebook)
    before = _number(text, "accuracy before the attack")
    after = _number(text, "accuracy after the attack")
    assert before > 0.9 and after < 0.3, text
    row = re.search(r"\(1\) FGSM made on the original model\s+([0-9.]+)\s+([0-9.]+)", text)
    assert row and float(row.group(2)) > float(row.group(1)) + 0.3, text   # NAD helped
    assert "DefenseEvaluate: CAV" in text
    assert (tmp_path / "tutorial_fgsm_examples.png").read_bytes()[:4] == b"\x89PNG"
    images = [out for cell in notebook.cells for out in cell.get("outputs", [])
              if "image/png" in out.get("data", {})]
    assert images, "the examples grid is displayed in the notebook"
