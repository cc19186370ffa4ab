"""Build a search index that keeps Hangul, from the HTML mdBook wrote.

mdBook's own index drops Korean words. After `mdbook build`, this reads every chapter page
of the site, splits its <main> into sections at the headings that carry an id, and appends
the sections to mdBook's searchindex*.js as

    Object.assign(window.search, {glow: {docs: [{url, title, breadcrumbs, body}, ...]}});

chapters/assets/search-ko.js swaps mdBook's search engine for one that matches substrings
of these sections (so both `collate` and `정렬` find pages). Indexing the built HTML rather
than the Markdown means the index holds what the reader sees: rendered math, executed
outputs, resolved links.
"""

from __future__ import annotations

import html.parser
import json
import re
import sys
from pathlib import Path

SKIP_PAGES = {"print.html", "404.html", "toc.html"}
SKIP_FOLDERS = ("notebooks", "chapters", "assets", "ko")
SKIP_TAGS = {"script", "style", "math", "svg", "audio"}
HEADINGS = {"h1", "h2", "h3", "h4"}
MAX_BODY_CHARS = 20_000
APPENDED_MARKER = "/* glow-tts search index */"


class _SectionParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.in_main = 0
        self.skip_depth = 0
        self.heading: str | None = None
        self.heading_id: str | None = None
        self.heading_text: list[str] = []
        self.page_title = ""
        self.in_title = False
        self.sections: list[dict] = [{"id": None, "title": "", "body": []}]

    def handle_starttag(self, tag, attrs):
        if tag == "title":
            self.in_title = True
        if tag == "main":
            self.in_main += 1
            return
        if not self.in_main:
            return
        if tag in SKIP_TAGS:
            self.skip_depth += 1
            return
        if tag in HEADINGS and self.heading is None:
            self.heading = tag
            self.heading_id = dict(attrs).get("id")
            self.heading_text = []

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
        if tag == "main":
            self.in_main -= 1
            return
        if not self.in_main:
            return
        if tag in SKIP_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if tag == self.heading:
            title = " ".join("".join(self.heading_text).split())
            self.sections.append({"id": self.heading_id, "title": title, "body": []})
            self.heading = None
        elif tag in ("p", "li", "pre", "tr", "div", "blockquote", "td", "th"):
            self.sections[-1]["body"].append(" ")

    def handle_data(self, data):
        if self.in_title:
            self.page_title += data
        if not self.in_main or self.skip_depth:
            return
        if self.heading is not None:
            self.heading_text.append(data)
        else:
            self.sections[-1]["body"].append(data)


def sections_of(page: Path, site: Path, book_title: str = "") -> list[dict]:
    parser = _SectionParser()
    parser.feed(page.read_text(encoding="utf-8", errors="replace"))
    url = page.relative_to(site).as_posix()
    page_title = parser.page_title.strip()
    if book_title and page_title.endswith(" - " + book_title):
        page_title = page_title[: -len(book_title) - 3]
    docs = []
    first_heading = next((s["title"] for s in parser.sections if s["title"]), page_title)
    for number, section in enumerate(parser.sections):
        body = re.sub(r"\s+", " ", "".join(section["body"])).strip()[:MAX_BODY_CHARS]
        title = section["title"] or first_heading or page_title
        if not body and not section["title"]:
            continue
        anchor = f"#{section['id']}" if section["id"] and number > 1 else ""
        breadcrumbs = first_heading if title == first_heading else f"{first_heading} » {title}"
        docs.append({"url": url + anchor, "title": title, "breadcrumbs": breadcrumbs,
                     "body": body})
    return docs


def build_index(site: Path) -> list[dict]:
    book_title = ""
    index_html = site / "index.html"
    if index_html.is_file():
        match = re.search(r"<title>(.*?)</title>", index_html.read_text(encoding="utf-8"), re.S)
        if match:
            title = match.group(1).strip()
            book_title = title.split(" - ", 1)[1] if " - " in title else title
    docs: list[dict] = []
    seen: set[tuple] = set()
    for page in sorted(site.rglob("*.html")):
        relative = page.relative_to(site)
        # ko/: the Korean edition, which has its own index
        if page.name in SKIP_PAGES or relative.parts[0] in SKIP_FOLDERS:
            continue
        sections = sections_of(page, site, book_title)
        # mdBook writes the first chapter twice (index.html and its own name): index once.
        content = tuple((d["title"], d["body"]) for d in sections)
        if content in seen:
            continue
        seen.add(content)
        docs.extend(sections)
    return docs


def add_search_index(site: Path) -> int:
    """Append our index to every searchindex*.js in the site. Returns the section count."""
    docs = build_index(site)
    scripts = sorted(site.glob("searchindex*.js"))
    if not scripts:
        raise RuntimeError(f"{site}: no searchindex*.js; is [output.html.search] enabled?")
    # ensure_ascii: \uXXXX escapes (surrogate pairs beyond the BMP) are valid JavaScript
    # and keep the file readable under any charset a server might announce.
    payload = json.dumps({"docs": docs}, ensure_ascii=True, separators=(",", ":"))
    for script in scripts:
        text = script.read_text(encoding="utf-8")
        if APPENDED_MARKER in text:
            text = text[: text.index(APPENDED_MARKER)]
        text = text.rstrip() + f"\n{APPENDED_MARKER}\nObject.assign(window.search, {{glow: {payload}}});\n"
        script.write_text(text, encoding="utf-8")
    return len(docs)


if __name__ == "__main__":
    site_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "site")
    print(add_search_index(site_dir), "sections indexed")
