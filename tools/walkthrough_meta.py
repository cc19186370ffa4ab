"""What the book tools need to know about walkthroughs/NN_slug.py files, without running them.

A walkthrough is a jupytext percent file named `NN_slug.py` (two digits, underscore,
slug). Two files may share a number (a long walkthrough split in two, e.g.
`04_dataset_dataloader.py` and `04_loader_workers.py`): reading order is file-name order,
so the second part's slug must sort after the first's. Its first Markdown heading is its title; a `covers: T01, T02` line lists the
topics of TOPICS.md it covers.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WALKTHROUGHS = REPO / "walkthroughs"
NAME_PATTERN = re.compile(r"^(\d\d)_([A-Za-z0-9_\-]+)\.py$")
COVERS_PATTERN = re.compile(r"covers:\s*((?:T\d+\s*,?\s*)+)")
HEADING_PATTERN = re.compile(r"^#\s*#{1,6}\s+(.+?)\s*#*\s*$")


@dataclass
class Walkthrough:
    path: Path
    number: str  # "01"
    slug: str  # "01_setup" (the file stem; also the page and notebook name)
    title: str
    covers: list[str] = field(default_factory=list)

    @property
    def page(self) -> str:
        """The generated page, relative to chapters/."""
        return f"walkthroughs/{self.slug}.md"


def _title_of(source: str, fallback: str) -> str:
    """The first Markdown heading of a percent file (in a `# %% [markdown]` cell)."""
    in_markdown = False
    for line in source.splitlines():
        if line.startswith("# %%"):
            in_markdown = "[markdown]" in line or "[md]" in line
            continue
        if in_markdown:
            match = HEADING_PATTERN.match(line)
            if match:
                # Titles go into SUMMARY.md link text: plain text reads best there.
                return match.group(1).replace("`", "").strip()
    return fallback


def read_walkthrough(path: Path) -> Walkthrough:
    match = NAME_PATTERN.match(path.name)
    if not match:
        raise ValueError(f"{path}: a walkthrough file must be named NN_slug.py")
    source = path.read_text(encoding="utf-8")
    covers: list[str] = []
    for found in COVERS_PATTERN.finditer(source):
        covers.extend(re.findall(r"T\d+", found.group(1)))
    title = _title_of(source, fallback=match.group(2).replace("_", " ").capitalize())
    return Walkthrough(path=path, number=match.group(1), slug=path.stem, title=title,
                       covers=sorted(set(covers), key=lambda t: int(t[1:])))


def walkthroughs_dir() -> Path:
    """walkthroughs/, or GLOW_TTS_WALKTHROUGHS_DIR (used to develop the tools against a
    scratch set of walkthroughs)."""
    override = os.environ.get("GLOW_TTS_WALKTHROUGHS_DIR")
    return Path(override).resolve() if override else WALKTHROUGHS


def find_walkthroughs(directory: Path | None = None) -> list[Walkthrough]:
    """Every walkthroughs/NN_slug.py, in reading (file name) order."""
    directory = directory or walkthroughs_dir()
    if not directory.is_dir():
        return []
    paths = sorted(p for p in directory.iterdir() if NAME_PATTERN.match(p.name))
    return [read_walkthrough(p) for p in paths]
