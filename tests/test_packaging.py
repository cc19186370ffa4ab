"""pyproject.toml declares every third-party package glow_tts imports.

The package is built from a copy of the source and installed for real (``pip install`` of
its wheel) into a fresh virtual environment that sees *only* the distributions its
declared runtime requirements pull in, taken from this environment's site-packages by
following ``Requires-Dist`` (markers evaluated, no extras); nothing from the lock. Then every
module of ``glow_tts`` is imported there. A module that imports an undeclared package
(``soxr`` before it was declared, say) fails the import. No download: the dependencies
are this environment's own installed files, linked, so the test runs offline and never
fetches a CUDA build of torch.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(requirements: list[str]) -> dict[str, metadata.Distribution]:
    """The installed distributions that ``requirements`` (Requires-Dist strings) need,
    transitively, in this environment; base requirements only (``extra == ""``)."""
    environment = dict(default_environment(), extra="")
    found: dict[str, metadata.Distribution] = {}
    pending = list(requirements)
    while pending:
        requirement = Requirement(pending.pop())
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        name = canonical(requirement.name)
        if name in found:
            continue
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{requirement} is required but not installed in this environment")
        found[name] = dist
        pending += dist.requires or []
    return found


def link_distributions(dists, target: Path) -> None:
    """Symlink each distribution's top-level files and folders (from its RECORD) into target."""
    target.mkdir()
    for dist in dists:
        site = Path(dist.locate_file(""))
        for entry in {Path(f).parts[0] for f in dist.files or [] if not str(f).startswith("..")}:
            if not (target / entry).exists():
                (target / entry).symlink_to(site / entry)


def run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{args}\nstdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
    return result


@pytest.mark.slow
def test_fresh_install_imports_every_module(tmp_path):
    source = tmp_path / "source"                   # build from a copy: no build/ in the repo
    shutil.copytree(REPO / "glow_tts", source / "glow_tts",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    offline = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    offline.pop("PYTHONPATH", None)                # the installed copy, not the worktree's
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path / "wheels"), str(source)], env=offline)
    wheel = next((tmp_path / "wheels").glob("glow_tts_annotated-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        wheel_metadata = next(archive.read(name).decode() for name in archive.namelist()
                              if name.endswith(".dist-info/METADATA"))
    requires = [line.split(":", 1)[1].strip() for line in wheel_metadata.splitlines()
                if line.startswith("Requires-Dist:")]
    dists = closure(requires)
    assert "torch" in dists                        # the closure walk found the obvious one
    link_distributions(dists.values(), tmp_path / "deps")

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], env=offline)  # nothing of its own
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python)]                # pip from outside
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                  env=offline).stdout.strip()
    Path(purelib, "shared-dependencies.pth").write_text(str(tmp_path / "deps") + "\n")
    run(pip + ["install", "--no-deps", str(wheel)], env=offline, cwd=tmp_path)
    run(pip + ["check"], env=offline, cwd=tmp_path)   # every declared requirement is met

    importer = (
        "import importlib, pkgutil, glow_tts\n"
        "assert 'site-packages' in glow_tts.__file__, glow_tts.__file__\n"
        "names = [m.name for m in pkgutil.walk_packages(glow_tts.__path__, 'glow_tts.')]\n"
        "for name in names:\n"
        "    if name != 'glow_tts.__main__':\n"
        "        importlib.import_module(name)\n"
        "print(len(names))\n")
    result = run([str(python), "-c", importer], env=offline, cwd=tmp_path)
    assert int(result.stdout.split()[-1]) >= 30           # every module, not a handful
    run([str(python), "-m", "glow_tts", "--help"], env=offline, cwd=tmp_path)
