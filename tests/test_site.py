"""The built book in a real browser (Playwright driving Debian's Chromium).

Builds the site once (GLOW_TTS_QUICK=1, into a temporary folder), serves it on 127.0.0.1
and opens every page of both editions (English at the root, Korean under ko/; the
fixtures, shared with tests/test_tryit.py, are in tests/conftest.py). Skipped, with the
reason, when no `chromium` is installed, except under GLOW_TTS_REQUIRE_BROWSER=1 (set by
.ci/run), where a missing browser fails. Screenshots of four pages go to test-artifacts/.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
sys.path.insert(0, str(REPO / "tools"))

import mdbook_math  # noqa: E402
from browser_support import BUILD_TIMEOUT_S  # noqa: E402
from build_book import BOOK_FONT_FAMILY  # noqa: E402
from korean_edition import KO_BOOK  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(BUILD_TIMEOUT_S + 300)]

SKIPPED_PAGES = {"print.html", "toc.html"}  # print.html repeats every page; toc.html is a frame
HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3131-\u318e]")


def _pages(site: Path) -> list[str]:
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                   if p.name not in SKIPPED_PAGES and p.relative_to(site).parts[0] != "notebooks")
    return pages


def _source_of(page: str) -> Path | None:
    """The Markdown a page came from (index.html is the first chapter, the introduction);
    a Korean page's is the translated copy in build/ko-book/chapters/."""
    chapters = REPO / "chapters"
    if page.startswith("ko/"):
        chapters, page = KO_BOOK / "chapters", page[len("ko/"):]
    if page == "index.html":
        return chapters / "introduction.md"
    source = chapters / (page[: -len(".html")] + ".md")
    return source if source.is_file() else None


def _counterpart(page: str) -> str:
    """The same page in the other edition."""
    return page[len("ko/"):] if page.startswith("ko/") else "ko/" + page


RAW_MATH_JS = r"""
() => {
  const found = [];
  const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
  const skip = new Set(['PRE', 'CODE', 'SCRIPT', 'STYLE', 'MATH', 'KBD', 'SAMP']);
  const pattern = /\$\$|\$[^\s$][^$\n]*?[^\s$]\$(?!\d)|\$[^\s$\d]\$/;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    let inside = false;
    for (let el = node.parentElement; el; el = el.parentElement) {
      if (skip.has(el.tagName.toUpperCase())) { inside = true; break; }
    }
    if (!inside && pattern.test(node.textContent)) found.push(node.textContent.slice(0, 120));
  }
  return found;
}
"""

BROKEN_IMAGES_JS = """
() => Array.from(document.images)
  .filter(img => !(img.complete && img.naturalWidth > 0))
  .map(img => img.getAttribute('src'))
"""

FONT_JS = """
async (family) => {
  await document.fonts.ready;
  const faces = Array.from(document.fonts).filter(f => f.family.replace(/"/g, '') === family);
  return {
    check: document.fonts.check(`16px "${family}"`, '한'),
    statuses: faces.map(f => f.status),
    bodyFont: getComputedStyle(document.body).fontFamily,
  };
}
"""

AUDIO_JS = """
async () => {
  const results = [];
  for (const audio of document.querySelectorAll('audio')) {
    const src = audio.currentSrc || audio.getAttribute('src')
      || (audio.querySelector('source') || {}).src;
    if (!src) continue;   // an empty player, filled by the page's code (the Try it page)
    const response = await fetch(src);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const riff = String.fromCharCode(...bytes.slice(0, 4));
    results.push({src, status: response.status,
                  type: response.headers.get('content-type'), riff, size: bytes.length});
  }
  return results;
}
"""


def test_every_page_renders_cleanly(site, server, browser_context):
    pages = _pages(site)
    assert "index.html" in pages and len(pages) >= 6, pages
    problems: list[str] = []
    hangul_pages = 0
    audio_players = 0
    ARTIFACTS.mkdir(exist_ok=True)
    assert set(pages) == {_counterpart(p) for p in pages}, "the editions differ in pages"
    assert sum(p.startswith("ko/") for p in pages) * 2 == len(pages)
    screenshot_targets = {"index.html", "glossary.html", "ko/index.html"}
    # the first walkthrough page with a figure (else the first one, else the flowchart)
    walkthrough_pages = [p for p in pages if p.startswith("walkthroughs/")]
    with_figures = [p for p in walkthrough_pages
                    if "![figure]" in (_source_of(p) or Path("/dev/null")).read_text()]
    screenshot_targets.add((with_figures or walkthrough_pages or ["flowchart.html"])[0])

    for page_name in pages:
        page = browser_context.new_page()
        console_errors: list[str] = []
        failed: list[str] = []
        offsite: list[str] = []
        page.on("console", lambda msg, errs=console_errors:
                errs.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda err, errs=console_errors: errs.append(str(err)))
        page.on("requestfailed", lambda req, bad=failed: bad.append(
            f"{req.url} ({req.failure})"))
        page.on("response", lambda resp, bad=failed: bad.append(
            f"{resp.url} (HTTP {resp.status})") if resp.status >= 400 else None)
        page.on("request", lambda req, out=offsite: out.append(req.url)
                if not (req.url.startswith(server) or req.url.startswith("data:")) else None)
        page.goto(f"{server}/{page_name}", wait_until="load")
        page.wait_for_load_state("networkidle")

        broken = page.evaluate(BROKEN_IMAGES_JS)
        raw_math = page.evaluate(RAW_MATH_JS)
        math_count = page.locator("main math").count()
        source = _source_of(page_name)
        if source is not None:
            _, expected_math = mdbook_math.convert_markdown(source.read_text(encoding="utf-8"))
            if math_count < expected_math:
                problems.append(f"{page_name}: {expected_math} math spans in {source.name} "
                                f"but {math_count} <math> elements on the page")
        text = page.locator("main").inner_text()
        if HANGUL.search(text):
            hangul_pages += 1
            fonts = page.evaluate(FONT_JS, BOOK_FONT_FAMILY)
            if not fonts["check"] or "loaded" not in fonts["statuses"]:
                problems.append(f"{page_name}: Hangul not drawn with the bundled "
                                f"{BOOK_FONT_FAMILY} ({fonts})")
        switch = page.locator("#glow-lang-switch")
        expected_lang = "en" if page_name.startswith("ko/") else "ko"
        # mdBook's 404 page (any URL, a <base>) switches to the other edition's front page
        expected_target = f"{server}/{_counterpart(page_name.replace('404.html', 'index.html'))}"
        if switch.count() != 1:
            problems.append(f"{page_name}: no language switch in the menu bar")
        else:
            target = switch.evaluate("a => a.href")
            if target != expected_target or switch.get_attribute("hreflang") != expected_lang:
                problems.append(f"{page_name}: the language switch goes to {target}, "
                                f"not {expected_target}")
            if not switch.is_visible():
                problems.append(f"{page_name}: the language switch is not visible")
        html_lang = page.evaluate("() => document.documentElement.lang")
        if html_lang != ("ko" if page_name.startswith("ko/") else "en"):
            problems.append(f"{page_name}: <html lang={html_lang!r}>")
        for audio in page.evaluate(AUDIO_JS):
            audio_players += 1
            if audio["status"] != 200 or not (audio["type"] or "").startswith("audio/") \
                    or audio["riff"] != "RIFF":
                problems.append(f"{page_name}: audio source does not load as WAV: {audio}")

        for label, items in (("console errors", console_errors), ("failed requests", failed),
                             ("requests to other hosts", offsite), ("broken images", broken),
                             ("raw $ math in the text", raw_math)):
            if items:
                problems.append(f"{page_name}: {label}: {items[:5]}")
        if page_name in screenshot_targets:
            name = page_name.replace("/", "_").replace(".html", ".png")
            figure = page.locator("main .nb-figure img").first
            if figure.count():
                figure.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / name), full_page=False)
        page.close()

    assert not problems, "\n".join(problems)
    assert hangul_pages >= len(pages) // 2, "Hangul on fewer pages than the Korean edition has"
    expected_audio = sum(p.read_text(encoding="utf-8").count("<audio")
                         for p in (REPO / "chapters" / "walkthroughs").glob("*.md"))
    assert audio_players >= 2 * expected_audio   # both editions play the same files
    assert len(list(ARTIFACTS.glob("*.png"))) >= 3


@pytest.mark.parametrize("edition", ["", "ko/"])
@pytest.mark.parametrize("query", ["collate", "정렬"])
def test_search_finds_english_and_korean(site, server, browser_context, query, edition):
    page = browser_context.new_page()
    page.goto(f"{server}/{edition}index.html", wait_until="load")
    page.click("#mdbook-search-toggle")
    searchbar = page.locator("#mdbook-searchbar")
    searchbar.press_sequentially(query, delay=30)
    results = page.locator("#mdbook-searchresults li")
    results.first.wait_for(state="visible", timeout=10_000)
    count = results.count()
    header = page.locator("#mdbook-searchresults-header").inner_text()
    first_link = results.first.locator("a").get_attribute("href")
    first_url = results.first.locator("a").evaluate("a => a.href")
    page.close()
    assert count >= 1, header
    assert query in header
    assert first_link and ".html" in first_link
    # each edition searches its own pages
    assert first_url.startswith(f"{server}/ko/") == (edition == "ko/"), first_url


def test_language_switch_lands_on_the_same_page(site, server, browser_context):
    """Clicking the switch opens the same page, at the same section, in the other edition."""
    page = browser_context.new_page()
    start = f"{server}/walkthroughs/{sorted(site.glob('walkthroughs/*.html'))[0].name}"
    page.goto(start, wait_until="load")
    heading = page.locator("main h2[id]").first
    anchor = heading.get_attribute("id")
    page.goto(f"{start}#{anchor}", wait_until="load")
    page.click("#glow-lang-switch")
    page.wait_for_load_state("load")
    assert page.url == start.replace(server, f"{server}/ko") + f"#{anchor}"
    assert page.evaluate("() => document.documentElement.lang") == "ko"
    assert page.locator(f"main [id='{anchor}']").count() == 1   # the same section's id
    page.click("#glow-lang-switch")
    page.wait_for_load_state("load")
    assert page.url == f"{start}#{anchor}"
    page.goto(f"{server}/ko/", wait_until="load")                 # a folder URL: index.html
    page.click("#glow-lang-switch")
    page.wait_for_load_state("load")
    assert page.url == f"{server}/index.html"
    page.close()


@pytest.mark.parametrize("edition", ["", "ko/"])
def test_notebooks_are_offered(site, server, edition):
    import json
    import urllib.request

    # the walkthrough pages this build rendered (files may appear while tests run)
    slugs = sorted(p.stem for p in (site / "walkthroughs").glob("*.html"))
    assert slugs or not list((REPO / "walkthroughs").glob("[0-9][0-9]_*.py"))
    assert slugs == sorted(p.stem for p in (site / edition / "walkthroughs").glob("*.html"))
    for slug in slugs:
        for suffix in (".ipynb", ".py"):
            url = f"{server}/{edition}notebooks/{slug}{suffix}"
            with urllib.request.urlopen(url) as response:
                assert response.status == 200
                body = response.read()
            if suffix == ".ipynb":
                notebook = json.loads(body)
                assert notebook["nbformat"] == 4 and notebook["cells"], url
                outputs = sum(len(c.get("outputs", [])) for c in notebook["cells"])
                assert outputs > 0, f"{url}: the notebook offered has no executed outputs"
                if edition:   # the same code and outputs as the English, Korean Markdown
                    english = json.loads((site / "notebooks" / f"{slug}.ipynb").read_text(
                        encoding="utf-8"))
                    pairs = list(zip(english["cells"], notebook["cells"], strict=True))
                    assert all(e["source"] == k["source"] and e["outputs"] == k["outputs"]
                               for e, k in pairs if e["cell_type"] == "code"), url
                    assert any(e["source"] != k["source"]
                               for e, k in pairs if e["cell_type"] == "markdown"), url
            else:
                assert b"# %%" in body, url
        page = (site / edition / "walkthroughs" / f"{slug}.html").read_text(encoding="utf-8")
        assert f"../notebooks/{slug}.ipynb" in page


@pytest.mark.parametrize("edition", ["", "ko/"])
def test_table_of_contents_reads_cleanly(site, edition):
    """The sidebar (toc.html) names every page, with no Markdown left over such as a
    heading's {#id}."""
    import html

    toc = html.unescape(re.sub(r"<[^>]+>", " ", (site / edition / "toc.html").read_text(
        encoding="utf-8")))
    assert "{#" not in toc and "](" not in toc
    pages = sorted(p.stem for p in (site / edition / "walkthroughs").glob("*.html"))
    links = (site / edition / "toc.html").read_text(encoding="utf-8")
    assert all(f"walkthroughs/{slug}.html" in links for slug in pages)


@pytest.mark.parametrize("edition", ["", "ko/"])
def test_claims_chapter_links_resolve_in_the_site(site, edition):
    """Every verdict of "The notes, claim by claim" links to an element id that exists on
    the walkthrough page it names (mdBook turned the .md links into .html ones)."""
    import html.parser

    import render_claims

    class Collector(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.ids, self.links = set(), []

        def handle_starttag(self, tag, attrs):
            attributes = dict(attrs)
            if attributes.get("id"):
                self.ids.add(attributes["id"])
            if tag == "a" and "#claim-" in (attributes.get("href") or ""):
                self.links.append(attributes["href"])

    def parse(path: Path) -> Collector:
        collector = Collector()
        collector.feed(path.read_text(encoding="utf-8"))
        return collector

    chapter = site / edition / "claims.html"
    assert chapter.is_file(), "the claims chapter is missing from the site"
    links = parse(chapter).links
    _, claims = render_claims.load()
    assert len(links) == len(claims)
    for link in links:
        target, _, fragment = link.partition("#")
        assert target.endswith(".html"), link
        page = (chapter.parent / target).resolve()
        assert page.is_file(), f"{link}: no such page"
        assert fragment in parse(page).ids, f"{link}: no element with id {fragment}"
