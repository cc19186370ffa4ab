"""The claims file (walkthroughs/claims.toml) against the notes, the walkthroughs and the
chapter rendered from it.

- every row is well formed: a section of the notes' numbering, a verdict from the fixed
  set, a short key phrase that occurs in the notes *within that section*, one line of
  "why" in our own words (English, no copied Korean), an anchor id;
- the sections are the notes' own: each heading phrase occurs in the notes, in order;
- every row's anchor is in exactly one walkthrough, in a Markdown cell, and (unless the
  verdict is "not checkable") the code cells after that cell hold an assert;
- every "The notes say" box in a walkthrough carries an anchor that is a row; every row
  judged wrong or partly right points at such a box citing its section; every box states,
  in bold, the verdict of each row that points at it;
- the rendered chapter links every row to `walkthroughs/<page>.md#<anchor>`, a page the
  build renders and an id its Markdown holds; SUMMARY.md lists the chapter after the
  introduction.

The notes are not part of the repository. They are read from GLOW_TTS_NOTES, or from
../shared/seed/review-notes-part1.ko.txt beside the repository (where TOPICS.md lives);
the tests that need them fail, saying so, when neither exists.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

import render_claims  # noqa: E402
from walkthrough_meta import find_walkthroughs  # noqa: E402

NOTES_DEFAULT = REPO.parent / "shared" / "seed" / "review-notes-part1.ko.txt"
ANCHOR_ID = re.compile(r"^claim-\d+(?:-\d+)*-[a-z0-9]+(?:-[a-z0-9]+)*$")
SECTION = re.compile(r"^\d+(?:\.\d+)*$")
HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3131-\u318e]")
BOX_START = "**The notes say**"
MAX_KEY_CHARS = 45
MAX_KEY_WORDS = 6

# Boxes being rewritten by another engineer this session: {anchor: why}. A listed box whose
# check passes fails the test (strict xfail), so the entry must then be removed.
PENDING: dict[str, str] = {}


# --------------------------------------------------------------------------- helpers

def notes_text() -> str:
    path = Path(os.environ.get("GLOW_TTS_NOTES") or NOTES_DEFAULT)
    if not path.is_file():
        pytest.fail(f"the review notes are not at {path}: put them at {NOTES_DEFAULT} "
                    f"(beside the repository, like TOPICS.md) or set GLOW_TTS_NOTES")
    return path.read_text(encoding="utf-8")


def cells(path: Path) -> list[tuple[str, str]]:
    """The jupytext percent cells of a walkthrough: (kind, text) with kind "markdown" or
    "code"; Markdown text has its leading "# " removed."""
    found: list[tuple[str, list[str]]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            kind = "markdown" if "[markdown]" in line or "[md]" in line else "code"
            found.append((kind, []))
        elif found:
            found[-1][1].append(line)
    result = []
    for kind, lines in found:
        if kind == "markdown":
            lines = [re.sub(r"^# ?", "", line) for line in lines]
        result.append((kind, "\n".join(lines)))
    return result


def anchored_cells() -> dict[str, list[tuple[Path, int]]]:
    """anchor id -> [(walkthrough, index of the cell holding it)] over every walkthrough."""
    index: dict[str, list[tuple[Path, int]]] = {}
    for walkthrough in find_walkthroughs():
        for i, (_, text) in enumerate(cells(walkthrough.path)):
            for anchor in render_claims.ANCHOR.findall(text):
                index.setdefault(anchor, []).append((walkthrough.path, i))
    return index


def boxes() -> list[tuple[Path, str, str]]:
    """Every "The notes say" box: (walkthrough, its anchor or "", the box's text up to the
    next box or the end of its cell)."""
    found = []
    for walkthrough in find_walkthroughs():
        for kind, text in cells(walkthrough.path):
            if kind != "markdown":
                continue
            starts = [m.start() for m in re.finditer(re.escape(BOX_START), text)]
            for n, start in enumerate(starts):
                end = starts[n + 1] if n + 1 < len(starts) else len(text)
                before = text[starts[n - 1] if n else 0:start]
                anchors = render_claims.ANCHOR.findall(before)
                found.append((walkthrough.path, anchors[-1] if anchors else "", text[start:end]))
    return found


def cited_sections(box: str) -> set[str]:
    """The sections a box cites: every §2.1.2 in it, as in (§1.2.4.3, item `y`)."""
    return set(re.findall(r"§(\d+(?:\.\d+)*)", box))


def bold_verdict(label: str) -> re.Pattern:
    return re.compile(r"\*\*" + re.escape(label) + r"[.:,]?\*\*")


SECTIONS, CLAIMS = render_claims.load()


# --------------------------------------------------------------------------- the file

def test_rows_are_well_formed():
    assert CLAIMS, "claims.toml has no [[claim]] rows"
    problems = []
    seen = set()
    for claim in CLAIMS:
        where = f"§{claim.section} {claim.key!r}"
        if claim.section not in SECTIONS:
            problems.append(f"{where}: section not in [sections]")
        if claim.verdict not in render_claims.VERDICTS:
            problems.append(f"{where}: verdict {claim.verdict!r} not one of "
                            f"{list(render_claims.VERDICTS)}")
        if len(claim.key) > MAX_KEY_CHARS or len(claim.key.split()) > MAX_KEY_WORDS \
                or "\n" in claim.key:
            problems.append(f"{where}: the key phrase must be a few words, not a sentence")
        why = claim.why
        if "\n" in why or not 20 <= len(why) <= 320:
            problems.append(f"{where}: 'why' must be one line of 20-320 characters")
        if HANGUL.search(why):
            problems.append(f"{where}: 'why' is in our own words (English), no Korean")
        if not ANCHOR_ID.match(claim.anchor):
            problems.append(f"{where}: anchor {claim.anchor!r} is not claim-<section>-<slug>")
        if (claim.section, claim.key) in seen:
            problems.append(f"{where}: the same section and key phrase twice")
        seen.add((claim.section, claim.key))
    assert not problems, "\n".join(problems)


def test_sections_follow_the_notes_numbering():
    notes = notes_text()
    numbers = list(SECTIONS)
    assert numbers == sorted(numbers, key=render_claims.section_key), \
        "[sections] must be listed in the notes' order"
    position = 0
    for number in numbers:
        assert SECTION.match(number), f"section {number!r} is not a dotted number"
        parent = number.rpartition(".")[0]
        assert not parent or parent in SECTIONS, f"§{number}: its parent §{parent} is missing"
        found = notes.find(SECTIONS[number], position)
        assert found >= 0, (f"§{number}: heading phrase {SECTIONS[number]!r} not found in the "
                            f"notes after §{numbers[numbers.index(number) - 1]}")
        position = found + 1


def section_spans(notes: str) -> dict[str, tuple[int, int]]:
    """§ -> (start, end) of the section's own text: from its heading to the next heading."""
    starts, position = [], 0
    for number, heading in SECTIONS.items():
        position = notes.find(heading, position)
        starts.append((number, position))
        position += 1
    return {number: (start, starts[i + 1][1] if i + 1 < len(starts) else len(notes))
            for i, (number, start) in enumerate(starts)}


def test_key_phrases_occur_in_their_section():
    notes = notes_text()
    spans = section_spans(notes)
    missing = [f"§{c.section} {c.key!r}" for c in CLAIMS
               if c.section in spans and c.key not in notes[slice(*spans[c.section])]]
    assert not missing, "key phrases not found in their section of the notes:\n  " + \
        "\n  ".join(missing)


def test_every_section_with_statements_has_rows():
    # The headings of §1, §1.2, §2, §2.1, §2.2 and §3 (and §3.1, a plan for a chart) state
    # nothing about the code by themselves, nor does §1.2.4.1, whose statements are all in
    # its two numbered parts (1. Dataset, 2. DataLoader); every other section does.
    headings_only = {"1", "1.2", "1.2.4.1", "2", "2.1", "2.2", "3", "3.1"}
    judged = {c.section for c in CLAIMS}
    assert set(SECTIONS) - headings_only <= judged


# --------------------------------------------------------------------------- anchors

def test_every_anchor_is_in_one_walkthrough_and_followed_by_asserts():
    index = anchored_cells()
    duplicated = {a: [f"{p.name} cell {i}" for p, i in places] for a, places in index.items()
                  if len(places) > 1}
    assert not duplicated, f"anchor ids used more than once: {duplicated}"
    problems = []
    for claim in CLAIMS:
        places = index.get(claim.anchor)
        if not places:
            problems.append(f"§{claim.section} {claim.key}: no walkthrough has "
                            f'<a id="{claim.anchor}"></a>')
            continue
        path, i = places[0]
        walkthrough_cells = cells(path)
        if walkthrough_cells[i][0] != "markdown":
            problems.append(f"{path.name}: {claim.anchor} is not in a Markdown cell")
            continue
        if claim.verdict == "not checkable":
            continue
        following = []
        for kind, text in walkthrough_cells[i + 1:]:
            if kind == "markdown":
                break
            following.append(text)
        asserts = sum(isinstance(node, ast.Assert)
                      for node in ast.walk(ast.parse("\n".join(following))))
        if not asserts:
            problems.append(f"{path.name}: no assert in the code cells after {claim.anchor} "
                            f"(§{claim.section} {claim.key})")
    assert not problems, "\n".join(problems)


def test_every_box_is_a_row():
    rows = {claim.anchor for claim in CLAIMS}
    found = boxes()
    assert found, "no 'The notes say' boxes in the walkthroughs"
    problems = []
    for path, anchor, box in found:
        first = box.splitlines()[0][:80]
        if not anchor:
            problems.append(f"{path.name}: box without an anchor line before it: {first}")
        elif anchor not in rows:
            problems.append(f"{path.name}: box {anchor} is no row of claims.toml: {first}")
        elif not cited_sections(box) <= set(SECTIONS) or not cited_sections(box):
            problems.append(f"{path.name}: box {anchor} cites no section of the notes, or an "
                            f"unknown one: {sorted(cited_sections(box))}")
    assert not problems, "\n".join(problems)


def _box_of(anchor: str) -> str | None:
    for _, box_anchor, box in boxes():
        if box_anchor == anchor:
            return box
    return None


@pytest.mark.parametrize("claim", [c for c in CLAIMS if c.verdict in ("wrong", "partly right")],
                         ids=lambda c: c.anchor + "/" + c.section)
def test_wrong_and_partly_right_rows_have_a_box_citing_them(claim):
    if claim.anchor in PENDING:
        pytest.xfail(PENDING[claim.anchor])
    box = _box_of(claim.anchor)
    assert box is not None, (f"§{claim.section} {claim.key} is judged {claim.verdict}, but "
                             f"{claim.anchor} is not a 'The notes say' box")
    assert claim.section in cited_sections(box), \
        f"{claim.anchor}: the box cites §{sorted(cited_sections(box))}, the row is §{claim.section}"


@pytest.mark.parametrize("claim", [c for c in CLAIMS if _box_of(c.anchor) is not None],
                         ids=lambda c: c.anchor + "/" + c.section + "/" + c.verdict)
def test_boxes_state_their_rows_verdicts(claim):
    if claim.anchor in PENDING:
        pytest.xfail(PENDING[claim.anchor])
    label = render_claims.VERDICTS[claim.verdict]
    assert bold_verdict(label).search(_box_of(claim.anchor)), (
        f"{claim.anchor}: the row says {label!r} but the box does not say **{label}** "
        f"(a box and its row must agree)")


# --------------------------------------------------------------------------- the chapter

def test_chapter_links_resolve_to_anchors_of_rendered_pages():
    walkthroughs = find_walkthroughs()
    chapter = render_claims.render(SECTIONS, CLAIMS, walkthroughs)
    links = re.findall(r"\]\((walkthroughs/[^)#]+\.md)#([^)]+)\)", chapter)
    assert len(links) == len(CLAIMS)
    pages = {w.page: w for w in walkthroughs}
    for page, anchor in links:
        assert page in pages, f"{page} is not a walkthrough page the build renders"
        # the page's Markdown is the walkthrough's Markdown cells, as they are
        markdown = "\n".join(text for kind, text in cells(pages[page].path) if kind == "markdown")
        assert f'<a id="{anchor}"></a>' in markdown, f"{page} has no id {anchor}"
    for verdict, label in render_claims.VERDICTS.items():
        count = sum(c.verdict == verdict for c in CLAIMS)
        assert f"| {label} | {count} |" in chapter


def test_chapter_escapes_markdown_in_cells():
    walkthroughs = find_walkthroughs()
    chapter = render_claims.render(SECTIONS, CLAIMS, walkthroughs)
    rows = [line for line in chapter.splitlines() if line.startswith("| ") and "](" in line]
    assert len(rows) == len(CLAIMS)
    for row in rows:
        # four cells: a literal | inside a key or a why would add columns
        assert len(re.findall(r"(?<!\\)\|", row)) == 5, row


def test_summary_lists_the_chapter_after_the_introduction():
    summary = (REPO / "chapters" / "SUMMARY.md").read_text(encoding="utf-8").splitlines()
    entries = [line for line in summary if re.match(r"^-?\s*\[", line)]
    assert entries[0].endswith("(introduction.md)")
    assert entries[1] == f"[{render_claims.TITLE}](claims.md)"


def test_render_fails_on_an_anchor_no_walkthrough_has(tmp_path):
    bad = tmp_path / "claims.toml"
    bad.write_text('[sections]\n"1" = "init.py"\n\n[[claim]]\nsection = "1"\nkey = "init"\n'
                   'verdict = "right"\nwhy = "a row whose anchor is nowhere"\n'
                   'anchor = "claim-1-nowhere"\n', encoding="utf-8")
    with pytest.raises(render_claims.ClaimsError, match="claim-1-nowhere"):
        render_claims.write_chapter(path=tmp_path / "claims.md", claims_path=bad)
    assert not (tmp_path / "claims.md").exists()
