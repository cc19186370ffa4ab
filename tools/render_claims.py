"""Render walkthroughs/claims.toml as the chapter "The notes, claim by claim".

claims.toml holds one row per factual statement of the review notes: its section, a short
Korean key phrase to find it by, a verdict, one line on why, and the id of the anchor in a
walkthrough (`<a id="claim-..."></a>`) whose cell and the asserts after it prove the
verdict. Rows name only the anchor, not the walkthrough file: the file is found here by
searching the walkthrough sources, so a walkthrough can be split or renamed without
touching the claims file.

    python tools/render_claims.py            # writes chapters/claims.md
    python tools/render_claims.py --check    # only check that every anchor exists

tools/build_book.py calls write_chapter() after rendering the walkthroughs; the chapter is
generated, not committed (see .gitignore).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from walkthrough_meta import REPO, Walkthrough, find_walkthroughs  # noqa: E402

CLAIMS = REPO / "walkthroughs" / "claims.toml"
CHAPTER = REPO / "chapters" / "claims.md"
TITLE = "The notes, claim by claim"

# The fixed verdicts, in the order the chapter counts them, with the words a box uses.
VERDICTS = {
    "right": "Right",
    "partly right": "Partly right",
    "wrong": "Wrong",
    "right in 2020, changed since": "Right in 2020, changed since",
    "not checkable": "Not checkable",
}
ANCHOR = re.compile(r'<a id="(claim-[a-z0-9-]+)"></a>')
TOP_SECTIONS = {"1": "`init.py`", "2": "`train.py`", "3": "the flowchart"}


class ClaimsError(ValueError):
    """claims.toml is malformed or names an anchor no walkthrough has."""


@dataclass
class Claim:
    section: str
    key: str
    verdict: str
    why: str
    anchor: str


def section_key(section: str) -> tuple[int, ...]:
    return tuple(int(part) for part in section.split("."))


def load(path: Path = CLAIMS) -> tuple[dict[str, str], list[Claim]]:
    """(sections: number -> heading phrase in the notes, rows in file order)."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    sections = data.get("sections")
    rows = data.get("claim")
    if not isinstance(sections, dict) or not isinstance(rows, list):
        raise ClaimsError(f"{path}: needs a [sections] table and [[claim]] rows")
    claims = []
    for number, row in enumerate(rows, start=1):
        missing = {"section", "key", "verdict", "why", "anchor"} - set(row)
        extra = set(row) - {"section", "key", "verdict", "why", "anchor"}
        if missing or extra:
            raise ClaimsError(f"{path}: claim {number} ({row.get('key', '?')}): "
                              f"missing {sorted(missing)}, unknown {sorted(extra)}")
        claims.append(Claim(**{k: str(v) for k, v in row.items()}))
    return sections, claims


def anchor_index(walkthroughs: list[Walkthrough]) -> dict[str, list[Walkthrough]]:
    """claim anchor id -> the walkthroughs whose source holds it (one, when all is well)."""
    index: dict[str, list[Walkthrough]] = {}
    for walkthrough in walkthroughs:
        for anchor in ANCHOR.findall(walkthrough.path.read_text(encoding="utf-8")):
            index.setdefault(anchor, []).append(walkthrough)
    return index


def resolve(claims: list[Claim], walkthroughs: list[Walkthrough]) -> dict[str, Walkthrough]:
    """anchor -> walkthrough for every row; ClaimsError lists every anchor not found once."""
    index = anchor_index(walkthroughs)
    problems = []
    for claim in claims:
        found = index.get(claim.anchor, [])
        if len(found) != 1:
            where = ", ".join(w.path.name for w in found) or "no walkthrough"
            problems.append(f"§{claim.section} {claim.key}: anchor {claim.anchor} is in {where}")
    if problems:
        raise ClaimsError("claims.toml rows whose anchor is not in exactly one walkthrough:\n  "
                          + "\n  ".join(problems))
    return {claim.anchor: index[claim.anchor][0] for claim in claims}


def _cell(text: str) -> str:
    """Table-cell text: Markdown's special characters escaped, no line breaks."""
    text = " ".join(text.split())
    return re.sub(r"([\\`*_|<>\[\]$])", r"\\\1", text)


def render(sections: dict[str, str], claims: list[Claim],
           walkthroughs: list[Walkthrough]) -> str:
    pages = resolve(claims, walkthroughs)
    counts = Counter(claim.verdict for claim in claims)
    lines = [
        f"# {TITLE}",
        "",
        "Every statement of the review notes about what the code, Python or PyTorch does, "
        "one row each, with a verdict. The *key phrase* is a few words of the notes (in "
        "Korean) to find the statement by; the section numbers follow the notes' own "
        "numbering. Each verdict links to the walkthrough cell whose asserts prove it "
        "(for *Not checkable*, to the section that discusses it): where the notes are "
        "wrong or only partly right, that cell is a \"The notes say …\" box with the "
        "correction.",
        "",
        "The verdicts are checked against the notes' whole sentence, in the notes' own "
        "notation, the original code (jaywalnut310/glow-tts) and PyTorch's own source. "
        "One rule decides sentences that say several things: *Right* when everything the "
        "sentence states holds (what it leaves out is added in the box, not counted "
        "against it), *Partly right* when some of it holds and some does not, *Wrong* "
        "when nothing it states about the code holds. A sentence that paraphrases a "
        "condition in the code is judged as that condition (\"runs when batch_idx is 0\" "
        "for `batch_idx % log_interval == 0` is *Partly right*). *Right in 2020, changed since* "
        "marks what was true for the PyTorch of the original and is not any more; "
        "*Not checkable* marks what no program and no record can confirm (a figure the "
        "text refers to but does not contain). Where code came from is judged by the "
        "record, the two repositories' code side by side.",
        "",
        "| verdict | rows |",
        "|---|---|",
    ]
    for verdict, label in VERDICTS.items():
        lines.append(f"| {label} | {counts.get(verdict, 0)} |")
    lines.append(f"| **all** | **{len(claims)}** |")
    by_top: dict[str, list[Claim]] = {}
    for claim in sorted(claims, key=lambda c: section_key(c.section)):
        by_top.setdefault(claim.section.split(".")[0], []).append(claim)
    for top, rows in by_top.items():
        heading = sections.get(top, "")
        name = TOP_SECTIONS.get(top, heading)
        lines += ["", f"## §{top} {name}", "",
                  "| § | key phrase | verdict | why |", "|---|---|---|---|"]
        for claim in rows:
            target = f"{pages[claim.anchor].page}#{claim.anchor}"
            label = VERDICTS[claim.verdict]
            lines.append(f"| {claim.section} | <span lang=\"ko\">{_cell(claim.key)}</span> "
                         f"| [{label}]({target}) | {_cell(claim.why)} |")
    return "\n".join(lines) + "\n"


def write_chapter(walkthroughs: list[Walkthrough] | None = None, path: Path = CHAPTER,
                  claims_path: Path = CLAIMS) -> int:
    """Write the chapter; returns the number of rows. Raises ClaimsError on a bad file."""
    sections, claims = load(claims_path)
    for claim in claims:
        if claim.verdict not in VERDICTS:
            raise ClaimsError(f"§{claim.section} {claim.key}: verdict {claim.verdict!r} is "
                              f"not one of {sorted(VERDICTS)}")
    text = render(sections, claims, walkthroughs if walkthroughs is not None
                  else find_walkthroughs())
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return len(claims)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="check anchors, write nothing")
    args = parser.parse_args(argv)
    try:
        if args.check:
            sections, claims = load()
            resolve(claims, find_walkthroughs())
            print(f"{len(claims)} claims, every anchor found")
        else:
            print(f"Wrote {CHAPTER.relative_to(REPO)}: {write_chapter()} claims")
    except ClaimsError as err:
        print(f"ERROR {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
