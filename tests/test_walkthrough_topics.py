"""Every topic of ``../shared/TOPICS.md`` is covered by a walkthrough, and every
walkthrough has the shape the book relies on.

A walkthrough declares what it covers in its first markdown cell with a line
``# covers: T02, T05`` (in the percent file). These tests parse those lines; they do not
run the walkthroughs (``pytest walkthroughs/`` does that).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
WALKTHROUGHS = REPO / "walkthroughs"
TOPICS_MD = REPO.parent / "shared" / "TOPICS.md"
NAME = re.compile(r"^\d\d_[A-Za-z0-9_]+\.py$")
COVERS = re.compile(r"^#\s*covers:\s*(.+?)\s*$", re.MULTILINE)
TOPIC_ID = re.compile(r"^T\d\d$")


def walkthrough_files() -> list[Path]:
    return sorted(p for p in WALKTHROUGHS.glob("*.py") if NAME.match(p.name))


def topics_in_topics_md() -> list[str]:
    if not TOPICS_MD.is_file():
        pytest.fail(f"{TOPICS_MD} is missing: the topic list lives in ../shared/TOPICS.md next to "
                    f"the repository ({REPO}); restore it there (no copy is kept in the repo)")
    text = TOPICS_MD.read_text(encoding="utf-8")
    # Topic definitions are list items: "- T07 `TextMelLoader(...)` ..."
    found = re.findall(r"^- (T\d\d)\b", text, flags=re.MULTILINE)
    assert found, f"{TOPICS_MD}: no '- Tnn' list items found; has its format changed?"
    return found


def covers_of(path: Path) -> list[str]:
    """The topic ids of the walkthrough's ``# covers:`` line (errors name the file)."""
    text = path.read_text(encoding="utf-8")
    lines = COVERS.findall(text)
    assert len(lines) == 1, f"{path.name}: expected exactly one '# covers: Tnn, ...' line, found {len(lines)}"
    ids = [t.strip() for t in lines[0].split(",") if t.strip()]
    bad = [t for t in ids if not TOPIC_ID.match(t)]
    assert not bad, f"{path.name}: malformed topic ids in the covers line: {bad} (write them as T07)"
    return ids


def test_there_are_walkthroughs():
    assert walkthrough_files(), f"no walkthroughs/NN_slug.py files in {WALKTHROUGHS}"


def test_every_topic_is_covered():
    topics = topics_in_topics_md()
    covered: dict[str, list[str]] = {}
    for path in walkthrough_files():
        for topic in covers_of(path):
            covered.setdefault(topic, []).append(path.name)
    unknown = sorted(set(covered) - set(topics))
    assert not unknown, "walkthroughs claim topics that TOPICS.md does not define: " + ", ".join(
        f"{t} ({', '.join(covered[t])})" for t in unknown)
    missing = [t for t in topics if t not in covered]
    assert not missing, (f"topics of {TOPICS_MD} that no walkthrough covers: {', '.join(missing)}; "
                         f"add them to a walkthrough's '# covers:' line (and explain and assert them)")


@pytest.mark.parametrize("path", walkthrough_files(), ids=lambda p: p.name)
def test_walkthrough_shape(path: Path):
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(path))
    # No minimum number of asserts: a count rewards padding. What an assert may check is
    # linted in tests/test_walkthrough_lint.py (no literal-only asserts, no unmarked
    # source-text searches).
    # jupytext percent format: the first cell is markdown and holds the covers line.
    cells = re.split(r"^# %%", text, flags=re.MULTILINE)
    assert len(cells) > 2, f"{path.name}: no '# %%' cells; write it in jupytext percent format"
    first = cells[1]
    assert first.startswith(" [markdown]"), f"{path.name}: the first cell must be a markdown cell (title, what you learn, what it reviews)"
    assert COVERS.search(first), f"{path.name}: the '# covers:' line belongs in the first markdown cell"
    assert re.search(r"^# # ", first, flags=re.MULTILINE), f"{path.name}: the first cell starts with a '# Title' heading"
    covers_of(path)
    # Notebook rules, checked on the code (prose may mention them): no __file__ (a notebook
    # kernel does not define it) and no sys.path edits (glow_tts is an installed package).
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert "__file__" not in names, f"{path.name}: uses __file__, which a notebook kernel does not define"
    sys_path = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                and node.attr == "path" and isinstance(node.value, ast.Name) and node.value.id == "sys"]
    assert not sys_path, f"{path.name}:{sys_path[0]}: touches sys.path; import glow_tts as an installed package"


# Where the notes are wrong or loose (TOPICS.md), the walkthrough covering the topic must say
# so in a "The notes say (§n) ... In fact ..." box: topic -> boxes its walkthroughs need.
CORRECTIONS = {
    "T16": 2,  # y is a float tensor, not NumPy; y_lengths is in text-length order
    "T18": 1,  # what daemon means
    "T21": 1,  # what a backend is
    "T27": 1,  # the batch_idx formula
    "T29": 1,  # when the gen sample runs
}
BOX = re.compile(r"\*\*The notes say\*\*\s*\(§\d[\d.]*[^)]*\).*?\*\*In fact\*\*", re.DOTALL)


def test_notes_corrections_have_boxes():
    by_topic: dict[str, list[Path]] = {}
    for path in walkthrough_files():
        for topic in covers_of(path):
            by_topic.setdefault(topic, []).append(path)
    problems = []
    for topic, needed in CORRECTIONS.items():
        paths = by_topic.get(topic, [])
        boxes = sum(len(BOX.findall(p.read_text(encoding="utf-8"))) for p in paths)
        if boxes < needed:
            names = ", ".join(p.name for p in paths) or "no walkthrough yet"
            problems.append(f"{topic} ({names}): {boxes} 'The notes say (§n) ... In fact' box(es), need {needed}")
    assert not problems, "notes' errors not corrected in a box:\n  " + "\n  ".join(problems)
