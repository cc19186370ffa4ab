"""The harness in walkthroughs/conftest.py: one item per walkthrough, run once, as
``__main__`` without ``__file__``, in ``walkthroughs/`` with ``GLOW_TTS_QUICK=1``, and a
failure reported at the walkthrough's own line.

Runs pytest in a subprocess on a scratch copy of the conftest with two tiny walkthroughs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

PASSING = '''\
# %% [markdown]
# # A walkthrough that records how it was run
# covers: T01

# %%
import json
import os
record = {"cwd": os.getcwd(), "quick": os.environ.get("GLOW_TTS_QUICK"),
          "name": __name__, "has_file": "__file__" in globals(),
          "backend": os.environ.get("MPLBACKEND")}
with open(os.path.join(os.environ["HARNESS_RECORD_DIR"], "runs.jsonl"), "a") as f:
    f.write(json.dumps(record) + "\\n")
'''

FAILING = '''\
# %% [markdown]
# # A walkthrough whose third check fails
# covers: T02

# %%
def check(value):
    assert value == 2, f"expected 2, got {value}"


check(2)
check(3)
'''


def run_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "HARNESS_RECORD_DIR": str(tmp_path)})


def make_scratch(tmp_path: Path) -> Path:
    folder = tmp_path / "walkthroughs"
    folder.mkdir()
    shutil.copy(REPO / "walkthroughs" / "conftest.py", folder / "conftest.py")
    (folder / "01_passing.py").write_text(PASSING, encoding="utf-8")
    (folder / "02_failing.py").write_text(FAILING, encoding="utf-8")
    (folder / "helper_not_a_walkthrough.py").write_text("raise SystemExit('imported')\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    return folder


@pytest.mark.slow
def test_harness_runs_each_walkthrough_once_and_reports_its_line(tmp_path):
    folder = make_scratch(tmp_path)
    # Explicit paths: without the conftest's guard, pytest's Python plugin would also import
    # each file as a test module, running it a second time.
    result = run_pytest(tmp_path, "walkthroughs/01_passing.py", "walkthroughs/02_failing.py", "-q")
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "1 failed, 1 passed" in out, out

    runs = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert len(runs) == 1, f"01_passing.py ran {len(runs)} times"
    run = runs[0]
    assert Path(run["cwd"]).resolve() == folder.resolve()
    assert run["quick"] == "1" and run["backend"] == "Agg"
    assert run["name"] == "__main__" and run["has_file"] is False

    # The failure is reported at the walkthrough's lines, innermost last, with the message.
    assert "walkthroughs/02_failing.py:11: in <module>" in out, out
    assert "walkthroughs/02_failing.py:7: in check" in out, out
    assert "AssertionError: expected 2, got 3" in out, out
    assert "runpy" not in out and "conftest.py" not in out.split("FAILURES")[-1].split("short test summary")[0]


@pytest.mark.slow
def test_harness_collects_only_numbered_walkthroughs(tmp_path):
    make_scratch(tmp_path)
    result = run_pytest(tmp_path, "walkthroughs", "--collect-only", "-q")
    out = result.stdout
    assert "walkthroughs/01_passing.py::01_passing.py" in out, out
    assert "walkthroughs/02_failing.py::02_failing.py" in out, out
    assert "helper_not_a_walkthrough" not in out and "2 tests collected" in out, out
