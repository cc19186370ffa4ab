"""Run every walkthrough ``NN_slug.py`` as one pytest item.

A walkthrough is a jupytext percent file: a script whose ``assert`` statements are its
checks. ``pytest walkthroughs/`` runs each one top to bottom, the way a reader's notebook
kernel would, with

- the working directory set to ``walkthroughs/`` (a notebook opened here starts there),
- the Agg matplotlib backend, so ``plt.show()`` draws nothing and blocks nothing,
- ``GLOW_TTS_QUICK=1`` in the environment, so walkthroughs shrink their long loops
  (the book build runs them in full).

A failing walkthrough is reported at its own file and line (``walkthroughs/05_x.py:123``)
with the source line and the exception, not as a traceback through pytest.

The walkthroughs are not test modules: pytest never imports them (see
``pytest_pycollect_makemodule`` below), so ``pytest walkthroughs/05_x.py`` runs the file
exactly once.
"""

from __future__ import annotations

import builtins
import linecache
import os
import re
import sys
import traceback
import types
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
WALKTHROUGH_NAME = re.compile(r"^\d\d_[A-Za-z0-9_]+\.py$")


def is_walkthrough(path: Path) -> bool:
    """``walkthroughs/NN_slug.py`` (two digits and an underscore), nothing else."""
    path = Path(path)
    return path.resolve().parent == HERE and bool(WALKTHROUGH_NAME.match(path.name))


def pytest_collect_file(file_path: Path, parent):
    if is_walkthrough(file_path):
        return WalkthroughFile.from_parent(parent, path=file_path)
    return None


def pytest_pycollect_makemodule(module_path: Path, parent):
    # Given an explicit path (`pytest walkthroughs/05_x.py`), pytest's Python plugin would
    # also import the file as a test module, running it a second time at collection. Answer
    # for it with a collector that yields nothing; WalkthroughFile above is the only runner.
    if is_walkthrough(module_path):
        return NotATestModule.from_parent(parent, path=module_path)
    return None


class NotATestModule(pytest.File):
    def collect(self):
        return []


class WalkthroughFile(pytest.File):
    def collect(self):
        yield WalkthroughItem.from_parent(self, name=self.path.name)


class WalkthroughItem(pytest.Item):
    def runtest(self) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        saved_env = {k: os.environ.get(k) for k in ("GLOW_TTS_QUICK", "MPLBACKEND")}
        saved_cwd = os.getcwd()
        saved_argv = sys.argv[:]
        os.environ["GLOW_TTS_QUICK"] = "1"
        os.environ["MPLBACKEND"] = "Agg"
        os.chdir(self.path.parent)
        sys.argv = [str(self.path)]
        saved_main = sys.modules["__main__"]
        torch = sys.modules.get("torch")
        saved_threads = torch.get_num_threads() if torch is not None else None
        try:
            # Not runpy.run_path(run_name="__main__"): that gives __main__ the walkthrough's
            # __file__, and a child started by mp.spawn would then re-run the whole
            # walkthrough as its main module. Like a notebook kernel, run the code in a
            # fresh module registered as __main__ that has no __file__ (and no __spec__), so
            # spawn children import nothing from it, and a walkthrough using __file__ fails
            # here as it would in Jupyter.
            code = compile(self.path.read_text(encoding="utf-8"), str(self.path), "exec")
            main = types.ModuleType("__main__")
            main.__dict__["__builtins__"] = builtins
            sys.modules["__main__"] = main
            exec(code, main.__dict__)
        finally:
            sys.modules["__main__"] = saved_main
            plt.close("all")
            # One walkthrough's torch.set_num_threads must not carry over to the next.
            torch = sys.modules.get("torch")
            if torch is not None and saved_threads is not None:
                torch.set_num_threads(saved_threads)
            sys.argv = saved_argv
            os.chdir(saved_cwd)
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def repr_failure(self, excinfo, style=None):
        """Point at the walkthrough's own lines: ``walkthroughs/NN_x.py:LINE``."""
        exc = excinfo.value
        own = str(self.path.resolve())
        frames = [f for f in traceback.extract_tb(excinfo.tb) if _same_file(f.filename, own)]
        display = os.path.relpath(self.path, self.config.rootpath)
        lines = []
        if frames:
            for frame in frames:
                source = (frame.line or linecache.getline(own, frame.lineno)).strip()
                lines.append(f"{display}:{frame.lineno}: in {frame.name}")
                lines.append(f"    {source}")
        else:
            # The failure happened before the file ran (or in code it called through a
            # path we cannot see): show the full traceback so nothing is hidden.
            lines.append("".join(traceback.format_exception(exc)).rstrip())
        message = "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
        if isinstance(exc, AssertionError) and frames and not str(exc):
            message = f"AssertionError: the assert on line {frames[-1].lineno} is false"
        lines.append(message)
        # The library frames below the walkthrough's last line, if any, help find the cause.
        tail = traceback.extract_tb(excinfo.tb)
        if frames and not _same_file(tail[-1].filename, own):
            last = tail[-1]
            lines.append(f"(raised in {last.filename}:{last.lineno}, in {last.name})")
        return "\n".join(lines)

    def reportinfo(self):
        return self.path, 0, f"walkthrough {self.path.name}"


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
