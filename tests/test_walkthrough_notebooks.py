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
    failure = None
    try:
        client.execute()
    except CellExecutionError as err:
        failure = err
    if failure is not None:
        pytest.fail(describe_failure(path, notebook, failure), pytrace=False)


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def describe_failure(path: Path, notebook, failure: Exception) -> str:
    """``walkthroughs/NN_x.py:LINE`` of the failing cell, its error, and the kernel's report."""
    text = path.read_text(encoding="utf-8")
    where = path.name
    for cell in notebook.cells:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if cell.cell_type != "code" or not errors:
            continue
        offset = text.find(cell.source) if cell.source else -1
        line = text.count("\n", 0, offset) + 1 if offset >= 0 else "?"
        where = f"walkthroughs/{path.name}:{line} (the cell starting there): {errors[0]['ename']}: {errors[0]['evalue']}"
        break
    return (f"{where}\n{path.name} failed as a notebook ({sys.executable} kernel):\n"
            + ANSI.sub("", str(failure)))
