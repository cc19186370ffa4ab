"""The Korean edition (한국어판): <dest>/ko/, built from the English build's own outputs.

tools/build_book.py calls `build_korean()` after the English site is built. Nothing is
executed again: the walkthrough pages are written from the executed notebooks the English
build just rendered (build/walkthroughs/<quick|full>/NN_slug.ipynb) with their Markdown
cells translated, so code, outputs, figures and audio are the English page's.

    1. copy the mdBook source (chapters/, with the generated walkthrough pages, claims.md,
       figures and assets) into build/ko-book/chapters/, with the flowchart of train.py
       drawn with Korean labels (tools/flowchart.py);
    2. translate every page with its catalog (tools/i18n.py, po/ko/<page>.po): chapters
       as a whole, walkthrough pages cell by cell from the executed notebook, plus the ui
       catalog for the strings the build writes (the plot-cell summary, the links box);
       SUMMARY.md's static lines from its catalog and its walkthrough list from the
       translated titles (each walkthrough's first heading);
    3. write build/ko-book/book.toml (book.toml with language "ko" and the Korean title)
       and run mdBook into <dest>/ko/, give the Korean headings the English ids (so every
       #anchor works in both), add the Korean-capable search index, and write the
       Korean notebooks into <dest>/ko/notebooks/ (Korean Markdown cells, the English
       code and executed outputs);
    4. write <dest>/ko/tryit-messages.json: the Korean of the messages web/tryit.mjs writes
       on the Try it page at run time (its MESSAGES block, in the ui catalog), which the
       module reads on a page whose <html lang> is "ko".

A missing, empty or stale (fuzzy) catalog entry fails the build with the catalog and the
English paragraph. GLOW_TTS_I18N_DRAFT=1 is for drafting only: such paragraphs stay
English, and the build says how many (and which) in a warning block.
GLOW_TTS_I18N_CATALOGS=<folder> builds from other catalogs laid out as po/ko/ (fixtures).

    python tools/korean_edition.py --lab build/lab-ko   # `make lab EDITION=ko`: Korean .py copies
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import i18n  # noqa: E402
import render_walkthroughs as render  # noqa: E402
from walkthrough_meta import REPO, Walkthrough, find_walkthroughs  # noqa: E402

CHAPTERS = REPO / "chapters"
BOOK_TOML = REPO / "book.toml"
KO_BOOK = REPO / "build" / "ko-book"   # the Korean mdBook root (book.toml + chapters/)
EDITION_DIR = "ko"                     # <dest>/ko/
DRAFT_ENV = "GLOW_TTS_I18N_DRAFT"
# Where the catalogs are read from: po/ko/, or GLOW_TTS_I18N_CATALOGS (a folder laid out
# the same way), to try the build against fixture catalogs without touching po/ko/.
CATALOGS_ENV = "GLOW_TTS_I18N_CATALOGS"
TRYIT_MESSAGES = "tryit-messages.json"   # <dest>/ko/, beside try_it.html
HEADING_TEXT = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
PLOT_SUMMARY_HTML = f"<summary>{render.PLOT_SUMMARY}</summary>"


def draft_from_env() -> bool:
    return os.environ.get(DRAFT_ENV, "0") not in ("", "0", "false", "False")


class Catalogs:
    """The po/ko catalogs, loaded once; `draft` collects what was left English."""

    def __init__(self, root: Path = i18n.PO_ROOT, draft: bool = False) -> None:
        self.root = root
        self.draft: dict[str, None] | None = {} if draft else None   # an ordered set
        self._loaded: dict[str, object] = {}

    def catalog(self, name: str):
        if name not in self._loaded:
            path = i18n.catalog_path(name, self.root)
            if not path.is_file():
                message = (f"po/ko/{name}.po is missing (run `make translations` to create it, "
                           "then translate it)")
                if self.draft is None:
                    raise i18n.TranslationError(message)
                self.draft[message] = None
                self._loaded[name] = i18n.new_catalog(name)
            else:
                import polib
                self._loaded[name] = polib.pofile(str(path), wrapwidth=0)
        return self._loaded[name]

    def page(self, markdown: str, name: str) -> str:
        return i18n.translate(markdown, self.catalog(name), name, self.draft)

    def string(self, text: str, name: str = "ui") -> str:
        return i18n.lookup(self.catalog(name), text, name, self.draft)


def title_of(markdown: str, fallback: str) -> str:
    """The first heading's text, backticks dropped (as walkthrough_meta does for SUMMARY)."""
    for line in markdown.split("\n"):
        match = HEADING_TEXT.match(line)
        if match:
            text = re.sub(r"\s*\{#[^}]*\}$", "", match.group(1))   # an explicit {#id}
            return text.replace("`", "").strip()
    return fallback


# ---------------------------------------------------------------------------------------
# Walkthroughs
# ---------------------------------------------------------------------------------------

ADDED_HEADING_ID = re.compile(r"(?m)^(#{1,6}[ \t]+.*?)[ \t]*\{#([^}\s]*)\}[ \t]*$")


def translated_notebook(nb, walkthrough: Walkthrough, catalogs: Catalogs,
                        for_page: bool = False):
    """A copy of `nb` whose Markdown cells are in Korean (code and outputs untouched).

    for_page: keep the `{#english-id}` that translation adds to each heading (mdBook reads
    it); a notebook for Jupyter goes without (Jupyter would show it as text).
    """
    nb = copy.deepcopy(nb)
    name = f"walkthroughs/{walkthrough.slug}"
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            english = render._source_of(cell)
            korean = catalogs.page(english, name)
            if not for_page:
                korean = ADDED_HEADING_ID.sub(
                    lambda m: m.group(0) if "{#" + m.group(2) + "}" in english else m.group(1),
                    korean)
            cell.source = korean
    return nb


class KoreanPageWriter(render.PageWriter):
    """render_walkthroughs' page writer with the build's own strings in Korean."""

    catalogs: Catalogs = None  # set per instance

    def _links_box(self) -> str:
        template = self.catalogs.string(i18n.UI_STRINGS[1])
        text = (template.replace("{slug}", self.walkthrough.slug)
                .replace("{source}", self.source_link)
                .replace("{notebook}", self.notebook_link))
        return f'<div class="wt-source">\n\n{text}\n\n</div>\n'


def korean_walkthrough_page(nb_korean, walkthrough: Walkthrough, catalogs: Catalogs,
                            media_dir: Path) -> str:
    writer = KoreanPageWriter(walkthrough, media_dir=media_dir,
                              media_link=f"img/{walkthrough.slug}",
                              source_link=f"../notebooks/{walkthrough.slug}.py",
                              notebook_link=f"../notebooks/{walkthrough.slug}.ipynb")
    writer.catalogs = catalogs
    page = writer.markdown(nb_korean)
    summary = catalogs.string(render.PLOT_SUMMARY)
    return page.replace(PLOT_SUMMARY_HTML, f"<summary>{summary}</summary>")


def executed_notebook(walkthrough: Walkthrough, quick: bool):
    import nbformat

    executed = render.cache_dir(quick) / f"{walkthrough.slug}.ipynb"
    if not executed.is_file():
        raise i18n.TranslationError(
            f"{executed} is missing: the Korean edition reuses the English build's executed "
            "notebooks; build the English book first (tools/build_book.py)")
    return nbformat.read(executed, as_version=4)


def korean_percent_source(walkthrough: Walkthrough, catalogs: Catalogs) -> str:
    """walkthroughs/NN_slug.py with its Markdown cells in Korean (jupytext percent)."""
    import jupytext

    nb = translated_notebook(jupytext.read(walkthrough.path), walkthrough, catalogs)
    text = jupytext.writes(nb, fmt="py:percent")
    # jupytext adds the format it wrote to the header; the English files do without it.
    return re.sub(r"(?m)^#     text_representation:\n(?:#       .*\n)+", "", text, count=1)


# ---------------------------------------------------------------------------------------
# SUMMARY.md and book.toml
# ---------------------------------------------------------------------------------------

def korean_summary(english: str, titles: dict[str, str], walkthroughs: list[Walkthrough],
                   catalogs: Catalogs) -> str:
    begin, end = english.find(i18n.SUMMARY_BEGIN), english.find(i18n.SUMMARY_END)
    if begin == -1 or end == -1:
        raise i18n.TranslationError("chapters/SUMMARY.md: the walkthrough markers are missing")
    begin_line_end = english.index("\n", begin) + 1
    # SUMMARY.md's headings are part titles: mdBook shows a {#id} there as text
    head = ADDED_HEADING_ID.sub(r"\1", catalogs.page(english[:begin], "SUMMARY"))
    tail = ADDED_HEADING_ID.sub(r"\1", catalogs.page(english[end + len(i18n.SUMMARY_END):],
                                                     "SUMMARY"))
    entries = "".join(f"- [{titles[w.slug]}]({w.page})\n" for w in walkthroughs)
    text = (head + english[begin:begin_line_end] + entries + i18n.SUMMARY_END + tail)
    # mdBook reads one prefix-chapter link per line; should a line ever hold several
    # ("[a](a.md) [b](b.md)"), it is split back at the link boundaries.
    return re.sub(r"^(\[[^\]\n]*\]\([^)\n]*\))((?: \[[^\]\n]*\]\([^)\n]*\))+)$",
                  lambda m: m.group(0).replace(") [", ")\n["),
                  text, flags=re.M)


def korean_book_toml(english: str, title: str) -> str:
    line = f"title = {json.dumps(title, ensure_ascii=False)}"
    text, count = re.subn(r'(?m)^title = ".*"$', lambda _: line, english, count=1)
    text, count2 = re.subn(r'(?m)^language = "en"$', 'language = "ko"', text, count=1)
    if count != 1 or count2 != 1:
        raise i18n.TranslationError(f"{BOOK_TOML}: expected a `title = \"...\"` and a "
                                    '`language = "en"` line to write the Korean book.toml from')
    # mdBook's 404 page resolves its links from site-url; the Korean one lives under /ko/.
    return text.replace("[output.html]\n", '[output.html]\nsite-url = "/ko/"\n', 1)


def book_title(toml_text: str) -> str:
    match = re.search(r'(?m)^title = "(.*)"$', toml_text)
    return json.loads(f'"{match.group(1)}"') if match else ""


# ---------------------------------------------------------------------------------------
# The edition
# ---------------------------------------------------------------------------------------

def prepare_source(walkthroughs: list[Walkthrough], quick: bool, catalogs: Catalogs,
                   book: Path = KO_BOOK) -> dict:
    """Write the Korean mdBook source into `book`; returns the translated notebooks."""
    if book.exists():
        shutil.rmtree(book)
    src = book / "chapters"
    shutil.copytree(CHAPTERS, src)
    # Figures drawn by the build with word labels: drawn again in Korean (code stays).
    import flowchart
    korean_flowchart = flowchart.write_if_stale(REPO / "build" / "figures-ko" / flowchart.OUT.name,
                                                "ko")
    shutil.copy2(korean_flowchart, src / flowchart.OUT.relative_to(CHAPTERS))
    for page in sorted(CHAPTERS.glob("*.md")):
        if page.name == "SUMMARY.md":
            continue
        english = page.read_text(encoding="utf-8")
        (src / page.name).write_text(catalogs.page(english, page.stem), encoding="utf-8")
    notebooks = {}
    titles = {}
    for walkthrough in walkthroughs:
        executed = executed_notebook(walkthrough, quick)
        nb = translated_notebook(executed, walkthrough, catalogs)
        notebooks[walkthrough.slug] = nb
        first_markdown = next((render._source_of(c) for c in nb.cells
                               if c.cell_type == "markdown"), "")
        titles[walkthrough.slug] = title_of(first_markdown, walkthrough.title)
        media = src / "walkthroughs" / "img" / walkthrough.slug
        page = korean_walkthrough_page(translated_notebook(executed, walkthrough, catalogs,
                                                           for_page=True),
                                       walkthrough, catalogs, media)
        (src / walkthrough.page).write_text(page, encoding="utf-8")
    summary = (CHAPTERS / "SUMMARY.md").read_text(encoding="utf-8")
    (src / "SUMMARY.md").write_text(korean_summary(summary, titles, walkthroughs, catalogs),
                                    encoding="utf-8")
    english_toml = BOOK_TOML.read_text(encoding="utf-8")
    title = catalogs.string(book_title(english_toml), "introduction")
    (book / "book.toml").write_text(korean_book_toml(english_toml, title), encoding="utf-8")
    (book / "topic-titles.json").write_text(json.dumps(titles, ensure_ascii=False),
                                            encoding="utf-8")
    return notebooks


def write_notebooks(out: Path, walkthroughs: list[Walkthrough], notebooks: dict,
                    catalogs: Catalogs) -> None:
    """<out>/NN_slug.ipynb (executed, Korean Markdown) and NN_slug.py (jupytext percent)."""
    import nbformat

    out.mkdir(parents=True, exist_ok=True)
    for walkthrough in walkthroughs:
        nbformat.write(notebooks[walkthrough.slug], out / f"{walkthrough.slug}.ipynb")
        (out / walkthrough.path.name).write_text(korean_percent_source(walkthrough, catalogs),
                                                 encoding="utf-8")
    helpers = REPO / "walkthroughs" / "figures.py"
    if helpers.is_file():
        shutil.copy2(helpers, out / helpers.name)


def report_draft(catalogs: Catalogs, log) -> None:
    if not catalogs.draft:
        return
    bar = "!" * 78
    log(bar)
    log(f"WARNING {DRAFT_ENV}=1: DRAFT Korean edition: {len(catalogs.draft)} paragraph(s) "
        "are missing, empty or stale in po/ko/ and were left in ENGLISH.")
    for line in list(catalogs.draft)[:15]:
        log(f"  {line}")
    if len(catalogs.draft) > 15:
        log(f"  … and {len(catalogs.draft) - 15} more (`python tools/i18n.py check` lists all)")
    log("Without the draft switch this build fails; do not publish a draft.")
    log(bar)


def tryit_messages(catalogs: Catalogs, source: Path = i18n.WEB_MESSAGES) -> dict[str, str]:
    """{name: Korean} for the MESSAGES of web/tryit.mjs, from the ui catalog.

    A missing, empty or stale entry is the same error as for a page's paragraph (in a
    draft, the English stays); a translation must keep the English's {placeholders}, which
    the module fills in at run time.
    """
    out = {}
    for name, english in i18n.web_messages(source).items():
        korean = catalogs.string(english, "ui")
        if korean != english:
            wanted = sorted(i18n.PLACEHOLDER.findall(english))
            found = sorted(i18n.PLACEHOLDER.findall(korean))
            if wanted != found:
                raise i18n.TranslationError(
                    f"po/ko/ui.po: the Korean for \"{english}\" has the placeholders "
                    f"{found}, the English {wanted}: keep each {{name}} as it is")
        out[name] = korean
    return out


def write_tryit_messages(out: Path, catalogs: Catalogs) -> Path:
    path = out / TRYIT_MESSAGES
    data = {"lang": "ko", "source": "web/tryit.mjs (MESSAGES) translated by po/ko/ui.po",
            "messages": tryit_messages(catalogs)}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def build_korean(dest: Path, walkthroughs: list[Walkthrough], quick: bool, run_mdbook,
                 log=print, draft: bool | None = None, po_root: Path | None = None) -> Path:
    """Build <dest>/ko/. run_mdbook(dest, root, extra_env) is build_book's mdBook runner.

    Raises i18n.TranslationError naming the catalog and the paragraph on any gap.
    """
    import search_index

    draft = draft_from_env() if draft is None else draft
    if po_root is None:
        po_root = Path(os.environ.get(CATALOGS_ENV) or i18n.PO_ROOT)
    if po_root.resolve() != i18n.PO_ROOT.resolve():
        log(f"WARNING {CATALOGS_ENV}: the Korean edition is built from the catalogs in "
            f"{po_root}, not po/ko/")
    catalogs = Catalogs(po_root, draft=draft)
    notebooks = prepare_source(walkthroughs, quick, catalogs)
    out = dest / EDITION_DIR
    run_mdbook(out, KO_BOOK, {"GLOW_TTS_TOPIC_TITLES": str(KO_BOOK / "topic-titles.json")})
    write_tryit_messages(out, catalogs)
    align_heading_ids(dest, out)
    sections = search_index.add_search_index(out)
    log(f"Korean search index: {sections} sections")
    write_notebooks(out / "notebooks", walkthroughs, notebooks, catalogs)
    log(f"Wrote {len(walkthroughs)} Korean notebook(s) into {out / 'notebooks'}")
    report_draft(catalogs, log)
    return out


HEADING_ID = re.compile(r'<h([1-6]) id="([^"]*)"><a class="header" href="#([^"]*)">')


def align_heading_ids(english_root: Path, korean_root: Path) -> int:
    """Give every Korean heading the id its English heading has; returns the pages changed.

    mdBook derives a heading's id from its text, so a translated heading would get a
    Korean id and every `page.html#english-anchor` link (kept byte for byte in the
    catalogs) and the language switch's #hash would miss. Headings come in the same order
    in both editions (one catalog entry per heading), so the n-th heading of a Korean page
    takes the id of the n-th heading of the English page; a different number of headings
    means a translation added or lost one, which fails the build.
    """
    changed = 0
    problems = []
    for korean in sorted(korean_root.rglob("*.html")):
        relative = korean.relative_to(korean_root)
        if relative.parts[0] == "notebooks" or korean.name in ("print.html", "toc.html"):
            continue
        english = english_root / relative
        if not english.is_file():
            continue   # check_editions_match reports it
        ids = [m.group(2) for m in HEADING_ID.finditer(english.read_text(encoding="utf-8"))]
        text = korean.read_text(encoding="utf-8")
        found = list(HEADING_ID.finditer(text))
        if len(found) != len(ids):
            problems.append(f"ko/{relative.as_posix()} has {len(found)} headings, the English "
                            f"page {len(ids)}: a translation added or dropped a heading")
            continue
        counter = iter(ids)
        new = HEADING_ID.sub(lambda m: (lambda i: f'<h{m.group(1)} id="{i}"><a class="header" '
                                                  f'href="#{i}">')(next(counter)), text)
        if new != text:
            korean.write_text(new, encoding="utf-8")
            changed += 1
    if problems:
        raise i18n.TranslationError("\n  ".join(problems))
    return changed


def check_editions_match(dest: Path) -> list[str]:
    """Every page has its counterpart in the other edition (the language switch's target)."""
    def pages(root: Path, skip: set[str]) -> set[str]:
        return {p.relative_to(root).as_posix() for p in root.rglob("*.html")
                if p.relative_to(root).parts[0] not in skip}
    english = pages(dest, {EDITION_DIR, "notebooks"})
    korean = pages(dest / EDITION_DIR, {"notebooks"})
    return ([f"{page}: no Korean page ko/{page}" for page in sorted(english - korean)]
            + [f"ko/{page}: no English page {page}" for page in sorted(korean - english)])


def write_lab_copies(out: Path, draft: bool | None = None, log=print) -> None:
    """Korean jupytext copies of the walkthroughs for JupyterLab (`make lab EDITION=ko`).

    They run from <out>/walkthroughs/ (the walkthroughs read ../configs/, so <out>/configs
    links to the repository's configs/ and figures.py is copied beside them).
    """
    draft = draft_from_env() if draft is None else draft
    catalogs = Catalogs(draft=draft)
    folder = out / "walkthroughs"
    folder.mkdir(parents=True, exist_ok=True)
    walkthroughs = find_walkthroughs()
    kept = []
    for walkthrough in walkthroughs:
        target = folder / walkthrough.path.name
        # what this function wrote last time: a copy that differs from it was edited by
        # the reader in JupyterLab, and is kept rather than overwritten
        stamp = folder / f".{walkthrough.path.name}.written"
        text = korean_percent_source(walkthrough, catalogs)
        if target.is_file():
            current = target.read_text(encoding="utf-8")
            if current == text:
                stamp.write_text(text, encoding="utf-8")
                continue
            if not stamp.is_file() or stamp.read_text(encoding="utf-8") != current:
                kept.append(target.name)
                continue
        target.write_text(text, encoding="utf-8")
        stamp.write_text(text, encoding="utf-8")
    if kept:
        log(f"Kept {len(kept)} Korean walkthrough(s) you edited in {folder} (not updated from "
            f"po/ko/; delete a file to get the current translation): {', '.join(kept)}")
    shutil.copy2(REPO / "walkthroughs" / "figures.py", folder / "figures.py")
    configs = out / "configs"
    if not configs.exists():
        configs.symlink_to(REPO / "configs", target_is_directory=True)
    report_draft(catalogs, log)
    log(f"Korean walkthroughs for JupyterLab: {folder} ({len(walkthroughs)} files)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Korean copies of the walkthroughs for JupyterLab")
    parser.add_argument("--lab", type=Path, required=True, help="folder to write into")
    args = parser.parse_args(argv)
    try:
        write_lab_copies(args.lab)
    except i18n.TranslationError as err:
        print(f"ERROR Korean walkthroughs: {err} (GLOW_TTS_I18N_DRAFT=1 leaves gaps English)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
