"""Every walkthrough executes top to bottom as a notebook, as a reader would run it.

``pytest walkthroughs/`` runs each file with ``runpy`` inside the pytest process; a Jupyter
kernel differs in ways that matter to a walkthrough: ``__file__`` is undefined, functions
defined in cells live in ``__main__`` of the kernel (so worker processes that must pickle
them behave differently), and display hooks replace ``print`` of the last expression. So
this test converts each percent file with jupytext and executes it with nbclient in a
fresh kernel started from this interpreter (the project venv), cwd ``walkthroughs/``, with
``GLOW_TTS_QUICK=1`` as under ``pytest walkthroughs/``. The book build executes the full
(non-quick) versions.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
WALKTHROUGHS = REPO / "walkthroughs"
NAME = re.compile(r"^\d\d_[A-Za-z0-9_]+\.py$")


def walkthrough_files() -> list[Path]:
    return sorted(p for p in WALKTHROUGHS.glob("*.py") if NAME.match(p.name))


@pytest.mark.slow
@pytest.mark.parametrize("path", walkthrough_files(), ids=lambda p: p.name)
def test_walkthrough_executes_as_notebook(path: Path, monkeypatch):
    import jupytext
    import nbclient
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("GLOW_TTS_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = jupytext.read(path)
    # jupyter_client starts the "python3" kernel with sys.executable: this venv's python.
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3",
        resources={"metadata": {"path": str(WALKTHROUGHS)}})
    try:
        client.execute()
    except CellExecutionError as err:
        # The message holds the failing cell's source and the kernel's traceback.
        pytest.fail(f"{path.name} failed as a notebook ({sys.executable} kernel):\n{err}",
                    pytrace=False)
    errors = [out for cell in notebook.cells if cell.cell_type == "code"
              for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors, f"{path.name}: error outputs in the executed notebook: {errors[0]}"
