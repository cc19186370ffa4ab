"""The Korean edition's translation catalogs: extract, update, check, apply.

    python tools/i18n.py update        # `make translations`: refresh po/ko/*.po, list the work
    python tools/i18n.py check         # fail (exit 1) on any untranslated or stale entry

One gettext catalog per page, po/ko/<page>.po, read and written with polib. A catalog's
entries are keyed by the English *unit*: a paragraph, a heading, one list item, one table
row, or one paragraph of a block quote, with its soft line breaks joined by single spaces
(Markdown renders a line break inside a paragraph as a space, so re-wrapping the English
changes no key). Code blocks, display math, HTML-only lines, `{{#include}}` lines and
table separators are not units: the Korean page keeps them byte for byte.

Pages and where their English comes from:

* ``chapters/<name>.md``        -> po/ko/<name>.po (SUMMARY.md's generated walkthrough
  list excluded: it is rebuilt from the walkthroughs' translated titles);
* ``chapters/claims.md``        -> po/ko/claims.po (generated from walkthroughs/claims.toml
  by tools/render_claims.py; extraction renders it first);
* ``walkthroughs/NN_slug.py``   -> po/ko/walkthroughs/NN_slug.po, from its Markdown cells;
* the few strings the build itself writes into pages -> po/ko/ui.po, and with them the
  messages the Try it page's module writes at run time: the ``MESSAGES`` block of
  ``web/tryit.mjs`` (see web_messages(); the Korean edition's build writes their Korean
  into ko/tryit-messages.json).

When an English unit changes, ``update`` does what msgmerge does: the new unit gets the old
unit's translation marked ``fuzzy`` (with the old English kept as ``#| msgid``) when the two
are close (difflib ratio >= 0.6), or an empty translation otherwise, and units that
disappeared become obsolete (``#~``). ``check`` and the build refuse fuzzy and empty
entries, naming the catalog and the English paragraph, so an edit to the English book
cannot land without its Korean counterpart.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import polib

REPO = Path(__file__).resolve().parents[1]
PO_ROOT = REPO / "po" / "ko"
CHAPTERS = REPO / "chapters"
WALKTHROUGHS = REPO / "walkthroughs"
WEB_MESSAGES = REPO / "web" / "tryit.mjs"
LANGUAGE = "ko"
FUZZY_RATIO = 0.6

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})")
LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])(\s+)")
HEADING = re.compile(r"^(#{1,6}\s+)")
HTML_ONLY = re.compile(r"^\s*(<[^>]+>\s*)+$")
INCLUDE_LINE = re.compile(r"^\s*\{\{#[a-z_]+ [^}]*\}\}\s*$")
TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
LINK_LINE = re.compile(r"^\[[^\]]+\]\([^)\s]+\)\s*$")
SUMMARY_BEGIN = "<!-- walkthroughs:begin"
SUMMARY_END = "<!-- walkthroughs:end -->"


class TranslationError(RuntimeError):
    """A page that cannot be translated: a missing, empty or stale catalog entry."""


# ---------------------------------------------------------------------------------------
# Segmentation: Markdown -> units
# ---------------------------------------------------------------------------------------

@dataclass
class Piece:
    """A run of lines of a page. ``key`` is None for text kept as it is.

    For a unit, ``prefix`` goes before the translated text's first line and ``indent``
    before each further line (a list item's marker and its continuation indent, a block
    quote's "> "); the translation is written as one line, which Markdown reads the same.
    """
    lines: list[str]
    key: str | None = None
    prefix: str = ""
    indent: str = ""

    def render(self, translated: str | None = None) -> list[str]:
        if self.key is None or translated is None:
            return self.lines
        out = []
        for n, line in enumerate(translated.split("\n")):
            out.append((self.prefix if n == 0 else self.indent) + line)
        return out


def _join(lines: list[str]) -> str:
    return " ".join(line.strip() for line in lines if line.strip())


def _has_words(text: str) -> bool:
    return re.search(r"[A-Za-z\uac00-\ud7a3]", text) is not None


def _unit(lines: list[str], prefix: str, indent: str) -> Piece:
    body = [lines[0][len(prefix):]] + [line[len(indent):] if line.startswith(indent)
                                       else line.lstrip() for line in lines[1:]]
    key = _join(body)
    if not _has_words(key):
        return Piece(lines)
    return Piece(lines, key=key, prefix=prefix, indent=indent)


def _paragraph_pieces(block: list[str]) -> list[Piece]:
    """One blank-line-free block of prose -> pieces (HTML-only lines split off)."""
    pieces: list[Piece] = []
    # leading and trailing HTML-only lines (anchors, <div>) stay as they are
    while block and (HTML_ONLY.match(block[0]) or INCLUDE_LINE.match(block[0])):
        pieces.append(Piece([block.pop(0)]))
    tail: list[Piece] = []
    while block and (HTML_ONLY.match(block[-1]) or INCLUDE_LINE.match(block[-1])):
        tail.insert(0, Piece([block.pop()]))
    if not block:
        return pieces + tail
    first = block[0]
    if first.lstrip().startswith("|"):
        for line in block:
            if TABLE_SEPARATOR.match(line):
                pieces.append(Piece([line]))
            else:
                lead = line[:len(line) - len(line.lstrip())]
                pieces.append(_unit([line], lead, lead))
        return pieces + tail
    if first.lstrip().startswith(">"):
        group: list[str] = []

        def flush() -> None:
            if group:
                marker = re.match(r"^\s*>\s?", group[0]).group(0)
                pieces.append(_unit(list(group), marker, marker))
                group.clear()
        for line in block:
            inner = line.strip()
            if inner == ">":
                flush()
                pieces.append(Piece([line]))
            else:
                group.append(line)
        flush()
        return pieces + tail
    if len(block) > 1 and all(LINK_LINE.match(line) for line in block):
        # one link per line (SUMMARY.md's prefix chapters): each line is its own entry,
        # since a translation written as one line would merge them
        return pieces + [_unit([line], "", "") for line in block] + tail
    if HEADING.match(first) and len(block) == 1:
        prefix = HEADING.match(first).group(1)
        return pieces + [_unit(block, prefix, prefix)] + tail
    if LIST_ITEM.match(first):
        item: list[str] = []

        def flush_item() -> None:
            if item:
                m = LIST_ITEM.match(item[0])
                prefix = m.group(0)
                indent = " " * len(prefix)
                pieces.append(_unit(list(item), prefix, indent))
                item.clear()
        for line in block:
            if LIST_ITEM.match(line):
                flush_item()
            item.append(line)
        flush_item()
        return pieces + tail
    if all(HTML_ONLY.match(line) for line in block):
        return pieces + [Piece(block)] + tail
    return pieces + [_unit(block, "", "")] + tail


def segment(markdown: str) -> list[Piece]:
    """Split a Markdown page into pieces; joining every piece's lines gives the page back."""
    lines = markdown.split("\n")
    pieces: list[Piece] = []
    block: list[str] = []
    i = 0

    def flush() -> None:
        if block:
            pieces.extend(_paragraph_pieces(list(block)))
            block.clear()
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if fence:
            flush()
            marker = fence.group(2)
            end = i + 1
            while end < len(lines) and not lines[end].strip().startswith(marker[0] * len(marker)):
                end += 1
            pieces.append(Piece(lines[i:end + 1]))
            i = end + 1
            continue
        if line.strip().startswith("$$"):
            flush()
            end = i
            if not (line.strip().endswith("$$") and len(line.strip()) > 2):
                end = i + 1
                while end < len(lines) and "$$" not in lines[end]:
                    end += 1
            pieces.append(Piece(lines[i:end + 1]))
            i = end + 1
            continue
        if not line.strip():
            flush()
            pieces.append(Piece([line]))
        elif HEADING.match(line):
            flush()
            block.append(line)
            flush()
        else:
            block.append(line)
        i += 1
    flush()
    return pieces


def units(markdown: str) -> list[str]:
    """The English keys of a page, in order, without repeats."""
    seen: dict[str, None] = {}
    for piece in segment(markdown):
        if piece.key is not None:
            seen.setdefault(piece.key)
    return list(seen)


# ---------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------

def markdown_cells(path: Path) -> str:
    """The Markdown cells of a jupytext percent file, each cell's text, blank-line separated."""
    import jupytext
    nb = jupytext.read(path)
    return "\n\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")


def summary_without_generated(text: str) -> str:
    begin, end = text.find(SUMMARY_BEGIN), text.find(SUMMARY_END)
    if begin == -1 or end == -1:
        return text
    return text[:begin] + text[end + len(SUMMARY_END):]


UI_STRINGS = (
    # tools/render_walkthroughs.py
    "Plotting code (click to show)",
    "Source: [`walkthroughs/{slug}.py`]({source}) · Notebook: [`{slug}.ipynb`]({notebook}) "
    "(or open the `.py` in JupyterLab with `make lab`)",
)


MESSAGES_BEGIN = "// messages:begin"
MESSAGES_END = "// messages:end"
_JS_STRING = r'"(?:[^"\\\n]|\\.)*"'
_MESSAGE_ENTRY = re.compile(rf'\s*([A-Za-z_]\w*)\s*:\s*({_JS_STRING}(?:\s*\+\s*{_JS_STRING})*)\s*,?')
PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")


def web_messages(path: Path = WEB_MESSAGES) -> dict[str, str]:
    """{name: English} of the ``MESSAGES`` object of a page module (web/tryit.mjs).

    The object stands between the lines ``// messages:begin`` and ``// messages:end``:
    ``const MESSAGES = {``, then entries ``name: "text",`` (a text may be double-quoted
    strings joined by ``+`` over several lines; JSON escapes), then ``};``. Each text becomes
    one entry of the ui catalog, keyed by the text as it is, so it must be one unit
    (not a heading, list item or table row; no blank line). Anything else is an error
    naming the file and the line, so a message cannot slip past the catalog.
    """
    import json

    text = path.read_text(encoding="utf-8")
    where = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    begin, end = text.find(MESSAGES_BEGIN), text.find(MESSAGES_END)
    if begin == -1 or end < begin:
        raise TranslationError(f"{where}: no `{MESSAGES_BEGIN}` ... `{MESSAGES_END}` block "
                               "(the page's messages, which the ui catalog translates)")
    block_start = text.index("\n", begin) + 1
    block = text[block_start:end]
    first_line = text.count("\n", 0, block_start) + 1
    lines = [line for line in block.split("\n")]
    body_start = next((n for n, line in enumerate(lines) if line.strip()), None)
    if body_start is None or not re.fullmatch(r"\s*const MESSAGES = \{\s*", lines[body_start]) \
            or lines[-1].strip() or lines[-2].strip() != "};":
        raise TranslationError(f"{where}:{first_line}: the messages block must be "
                               "`const MESSAGES = {` ... `};`")
    body = "\n".join(lines[body_start + 1:-2])
    body_line = first_line + body_start + 1
    messages: dict[str, str] = {}
    pos = 0
    while body[pos:].strip():
        match = _MESSAGE_ENTRY.match(body, pos)
        line = body_line + body.count("\n", 0, pos + len(body[pos:]) - len(body[pos:].lstrip()))
        if match is None:
            raise TranslationError(f"{where}:{line}: not a `name: \"text\",` message entry: "
                                   f"{body[pos:].strip().splitlines()[0]!r}")
        name = match.group(1)
        english = "".join(json.loads(part) for part in re.findall(_JS_STRING, match.group(2)))
        if name in messages:
            raise TranslationError(f"{where}:{line}: message {name!r} is defined twice")
        if units(english) != [english]:
            raise TranslationError(f"{where}:{line}: message {name!r} is not one catalog unit "
                                   f"(no leading or trailing space, no blank line, not a "
                                   f"heading, list item or table row): {english!r}")
        messages[name] = english
        pos = match.end()
    if not messages:
        raise TranslationError(f"{where}:{first_line}: the messages block is empty")
    return messages


def english_pages() -> dict[str, str]:
    """{catalog name: English Markdown} for every page of the book."""
    pages: dict[str, str] = {}
    for md in sorted(CHAPTERS.glob("*.md")):
        if md.name == "claims.md":
            continue
        text = md.read_text(encoding="utf-8")
        if md.name == "SUMMARY.md":
            text = summary_without_generated(text)
        pages[md.stem] = text
    sys.path.insert(0, str(REPO / "tools"))
    import render_claims
    from walkthrough_meta import find_walkthroughs
    sections, claims = render_claims.load()
    pages["claims"] = render_claims.render(sections, claims, find_walkthroughs())
    for py in sorted(WALKTHROUGHS.glob("[0-9][0-9]_*.py")):
        pages[f"walkthroughs/{py.stem}"] = markdown_cells(py)
    pages["ui"] = "\n\n".join(UI_STRINGS + tuple(web_messages().values()))
    return pages


def catalog_path(name: str, root: Path = PO_ROOT) -> Path:
    return root / f"{name}.po"


# ---------------------------------------------------------------------------------------
# Catalogs
# ---------------------------------------------------------------------------------------

def new_catalog(name: str) -> polib.POFile:
    po = polib.POFile(wrapwidth=0)
    po.metadata = {
        "Project-Id-Version": f"glow-tts-annotated {name}",
        "Language": LANGUAGE,
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
    }
    return po


def load_catalog(name: str, root: Path = PO_ROOT) -> polib.POFile:
    path = catalog_path(name, root)
    if path.is_file():
        return polib.pofile(str(path), wrapwidth=0)
    return new_catalog(name)


def merge(po: polib.POFile, keys: list[str]) -> polib.POFile:
    """The catalog for ``keys``, keeping what ``po`` already has (msgmerge's rules)."""
    old = {e.msgid: e for e in po if not e.obsolete}
    old.update({e.msgid: e for e in po.obsolete_entries() if e.msgid not in old})
    out = new_catalog("")
    out.metadata = dict(po.metadata) or out.metadata
    used: set[str] = set()
    for key in keys:
        entry = old.get(key)
        if entry is not None:
            used.add(key)
            keep = polib.POEntry(msgid=key, msgstr=entry.msgstr, flags=list(entry.flags),
                                 previous_msgid=entry.previous_msgid)
            keep.obsolete = False
            out.append(keep)
            continue
        # The closest unused old entry with a translation becomes this one's fuzzy start.
        candidates = [e for k, e in old.items() if k not in keys and k not in used and e.msgstr]
        best, best_ratio = None, 0.0
        for candidate in candidates:
            ratio = difflib.SequenceMatcher(None, candidate.msgid, key, autojunk=False).ratio()
            if ratio > best_ratio:
                best, best_ratio = candidate, ratio
        if best is not None and best_ratio >= FUZZY_RATIO:
            used.add(best.msgid)
            out.append(polib.POEntry(msgid=key, msgstr=best.msgstr, flags=["fuzzy"],
                                     previous_msgid=best.msgid))
        else:
            out.append(polib.POEntry(msgid=key, msgstr=""))
    for key, entry in old.items():
        if key not in used and key not in keys and entry.msgstr:
            gone = polib.POEntry(msgid=key, msgstr=entry.msgstr)
            gone.obsolete = True
            out.append(gone)
    return out


CODE_SPAN = re.compile(r"(`+)(.+?)\1")
LINK_TARGET = re.compile(r"\]\(([^)\s]+)\)")
HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<!\\)\$")


def _markup(text: str) -> dict[str, list[str]]:
    plain = INLINE_MATH.sub("", CODE_SPAN.sub("", text))
    return {"code span": sorted(m.group(0) for m in CODE_SPAN.finditer(text)),
            "placeholder": sorted(m.group(0) for m in PLACEHOLDER.finditer(plain)),
            "link target": sorted(LINK_TARGET.findall(text)),
            "HTML tag": sorted(HTML_TAG.findall(CODE_SPAN.sub("", text))),
            "math": sorted(m.group(0) for m in INLINE_MATH.finditer(CODE_SPAN.sub("", text)))}


def markup_problems(entry: polib.POEntry) -> list[str]:
    """What a translation lost or changed of its English unit's markup (empty: fine).

    Code spans, link targets, HTML tags and inline math must come through unchanged (the
    Korean page links to the same anchors and shows the same code); a table row keeps its
    number of cells; a translation is one line.
    """
    if not entry.msgstr.strip():
        return []
    found = []
    english, korean = _markup(entry.msgid), _markup(entry.msgstr)
    for kind in english:
        missing = [x for x in english[kind] if x not in korean[kind]]
        extra = [x for x in korean[kind] if x not in english[kind]]
        if missing or extra:
            found.append(f"{kind}s differ: missing {missing}, added {extra}")
    if entry.msgid.startswith("|"):
        def cells(row: str) -> int:
            return len(re.findall(r"(?<!\\)\|", CODE_SPAN.sub("", row)))
        if cells(entry.msgid) != cells(entry.msgstr):
            found.append(f"table row has {cells(entry.msgstr)} '|' where the English has "
                         f"{cells(entry.msgid)}")
    if "\n" in entry.msgstr.strip():
        found.append("the translation has a line break; write it as one line")
    return found


def shorten(text: str, limit: int = 100) -> str:
    """An English unit cut to ``limit`` characters for a one-line message."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def entry_problem(name: str, key: str, entry: polib.POEntry | None) -> str | None:
    """Why the catalog entry for ``key`` blocks the Korean edition, or None if it does not.

    The one rule behind `check`, `make translations`' list and the build: an entry must
    exist, have a translation, and not be fuzzy (stale).
    """
    if entry is None or not entry.msgstr.strip():
        return (f"po/ko/{name}.po: no Korean for \"{shorten(key)}\" "
                "(run `make translations`, then translate it)")
    if "fuzzy" in entry.flags:
        return (f"po/ko/{name}.po: stale: the Korean for \"{shorten(key)}\" was written for "
                "an older English (update it and remove the fuzzy flag)")
    return None


def lint(paths: list[Path]) -> list[str]:
    out = []
    for path in paths:
        for entry in polib.pofile(str(path), wrapwidth=0):
            if entry.obsolete:
                continue
            for problem in markup_problems(entry):
                out.append(f"{path}: \"{shorten(entry.msgid, 80)}\": {problem}")
    return out


def problems(name: str, po: polib.POFile) -> list[str]:
    """One line per entry that blocks the build: untranslated or stale (fuzzy)."""
    found = (entry_problem(name, entry.msgid, entry) for entry in po if not entry.obsolete)
    return [problem for problem in found if problem is not None]


def update(root: Path = PO_ROOT, pages: dict[str, str] | None = None) -> list[str]:
    """Refresh every catalog from the English pages; returns the work left to do."""
    pages = english_pages() if pages is None else pages
    todo = []
    for name, text in pages.items():
        po = merge(load_catalog(name, root), units(text))
        path = catalog_path(name, root)
        path.parent.mkdir(parents=True, exist_ok=True)
        po.save(str(path))
        todo.extend(problems(name, po))
    expected = {catalog_path(name, root) for name in pages}
    for stray in sorted(root.rglob("*.po")):
        if stray not in expected:
            todo.append(f"{stray.relative_to(root.parents[1])}: no English page has this name "
                        "any more (delete it, or rename it to the page's new name)")
    return todo


def check(root: Path = PO_ROOT, pages: dict[str, str] | None = None) -> list[str]:
    """Everything that blocks the Korean edition, without writing anything."""
    pages = english_pages() if pages is None else pages
    found = []
    for name, text in pages.items():
        path = catalog_path(name, root)
        if not path.is_file():
            found.append(f"po/ko/{name}.po is missing: run `make translations`")
            continue
        po = polib.pofile(str(path), wrapwidth=0)
        have = {e.msgid for e in po if not e.obsolete}
        found.extend(entry_problem(name, key, None) for key in units(text) if key not in have)
        found.extend(problems(name, po))
    return found


def heading_id(text: str) -> str:
    """The id mdBook gives a heading with this Markdown text (its normalize_id rule)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)      # links -> their text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")
    text = re.sub(r"(?<!\w)[*_]+|[*_]+(?!\w)", "", text)          # emphasis markers
    out = []
    for ch in text.strip().lower():
        if ch.isalnum() or ch in "_-":
            out.append(ch)
        elif ch.isspace():
            out.append("-")
    return "".join(out)


def translate(markdown: str, po: polib.POFile, name: str,
              draft: dict[str, None] | list[str] | None = None) -> str:
    """The page with every unit replaced by its translation; a gap is an error.

    A translated heading keeps the English heading's id (an explicit ``{#id}``), so links
    into the page, from either edition, land where they do in English (the Korean build
    then copies the exact ids from the built English pages: korean_edition.align_heading_ids).

    draft: only for drafting while catalogs are incomplete (GLOW_TTS_I18N_DRAFT=1 in the
    build): a missing, empty or stale entry keeps its English text, and the message that
    would have been raised is added to this list (or dict, used as an ordered set) instead.
    """
    table = {e.msgid: e for e in po if not e.obsolete}
    out: list[str] = []
    for piece in segment(markdown):
        if piece.key is None:
            out.extend(piece.lines)
            continue
        entry = table.get(piece.key)
        problem = entry_problem(name, piece.key, entry)
        if problem is not None:
            if draft is None:
                raise TranslationError(problem)
            if isinstance(draft, dict):
                draft[problem] = None
            else:
                draft.append(problem)
            out.extend(piece.lines)
            continue
        text = entry.msgstr
        if HEADING.match(piece.prefix) and "{#" not in text:
            text = f"{text} {{#{heading_id(piece.key)}}}"
        out.extend(piece.render(text))
    return "\n".join(out)


def lookup(po: polib.POFile, key: str, name: str,
           draft: dict[str, None] | list[str] | None = None) -> str:
    """The translation of one whole string (a ui string, a title), with translate()'s rules."""
    return translate(key, po, name, draft) if units(key) == [key] else key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("update", "check", "lint"))
    parser.add_argument("files", nargs="*", type=Path,
                        help="lint: the catalogs to check (default: all)")
    args = parser.parse_args(argv)
    if args.command == "lint":
        found = lint(args.files or sorted(PO_ROOT.rglob("*.po")))
        for line in found:
            print(line)
        return 1 if found else 0
    if args.command == "update":
        todo = update()
        print(f"Catalogs refreshed in {PO_ROOT.relative_to(REPO)}/")
    else:
        todo = check()
    for line in todo:
        print(line)
    if todo:
        print(f"{len(todo)} entries need work", file=sys.stderr)
        return 1
    print("Every entry is translated and up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
