"""mdBook preprocessor: `[text](topic:T17)` → a link to the walkthrough that covers T17.

Hand-written chapters point at walkthroughs by *topic* (TOPICS.md numbers) rather than by
file name, so they stay right while walkthroughs are renamed or split. The walkthrough
chosen is the first one (in reading order) whose `covers:` line lists the topic. An empty
link text, `[](topic:T17)`, becomes the walkthrough's title (in the Korean edition, its
translated title). A topic that no walkthrough
covers is an error: the build fails and names the chapter and the topic.

    python tools/mdbook_topics.py supports html
    python tools/mdbook_topics.py < [context, book] JSON   →   book JSON on stdout
"""

from __future__ import annotations

import dataclasses
import json
import os
import posixpath
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from walkthrough_meta import Walkthrough, find_walkthroughs  # noqa: E402

TOPIC_LINK = re.compile(r"\[([^\]]*)\]\(topic:(T\d+)\)")


class TopicLinkError(ValueError):
    pass


def topic_index(walkthroughs: list[Walkthrough]) -> dict[str, Walkthrough]:
    index: dict[str, Walkthrough] = {}
    for walkthrough in walkthroughs:
        for topic in walkthrough.covers:
            index.setdefault(topic, walkthrough)
    return index


def resolve_topic_links(content: str, chapter_path: str, index: dict[str, Walkthrough],
                        allow_missing: bool = False) -> str:
    """Rewrite the topic links of one chapter (chapter_path is relative to chapters/).

    A topic no walkthrough covers raises TopicLinkError listing every such topic of the
    chapter; with allow_missing (only for drafting, GLOW_TTS_ALLOW_MISSING_TOPICS=1) the
    link becomes plain text "(topic Tnn: no walkthrough yet)" instead.
    """
    base = posixpath.dirname(chapter_path)
    missing: list[str] = []

    def replace(match: re.Match) -> str:
        text, topic = match.group(1), match.group(2)
        walkthrough = index.get(topic)
        if walkthrough is None:
            missing.append(topic)
            return f"{text} (topic {topic}: no walkthrough yet)".strip()
        target = posixpath.relpath(walkthrough.page, base or ".")
        label = text or walkthrough.title
        return f"[{label}]({target})"

    result = TOPIC_LINK.sub(replace, content)
    if missing and not allow_missing:
        topics = ", ".join(sorted(set(missing), key=lambda t: int(t[1:])))
        raise TopicLinkError(
            f"{chapter_path}: links to topic(s) {topics}, but no walkthrough's `covers:` line "
            f"lists them (walkthroughs/NN_slug.py); fix the links or the walkthroughs")
    return result


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1] == "supports":
        return 0
    context, book = json.load(sys.stdin)
    directory = Path(os.environ.get("GLOW_TTS_WALKTHROUGHS_DIR")
                     or Path(context["root"]) / "walkthroughs")
    # Only walkthroughs whose page was rendered into the book's source count: a file that
    # appeared after the render (or failed to render) must not get links to a missing page.
    source = Path(context["root"]) / context["config"].get("book", {}).get("src", "src")
    rendered = [w for w in find_walkthroughs(directory) if (source / w.page).is_file()]
    # The Korean edition names the walkthroughs by their translated titles
    # (GLOW_TTS_TOPIC_TITLES: a JSON file {slug: title}, written by tools/korean_edition.py).
    titles_file = os.environ.get("GLOW_TTS_TOPIC_TITLES")
    if titles_file:
        titles = json.loads(Path(titles_file).read_text(encoding="utf-8"))
        rendered = [dataclasses.replace(w, title=titles.get(w.slug, w.title)) for w in rendered]
    index = topic_index(rendered)
    allow_missing = os.environ.get("GLOW_TTS_ALLOW_MISSING_TOPICS") == "1"
    errors: list[str] = []

    def walk(items: list) -> None:
        for item in items:
            if isinstance(item, dict) and "Chapter" in item:
                chapter = item["Chapter"]
                path = chapter.get("path") or ""
                try:
                    chapter["content"] = resolve_topic_links(chapter["content"], path, index,
                                                             allow_missing)
                except TopicLinkError as err:
                    errors.append(str(err))
                walk(chapter.get("sub_items", []))

    walk(book["items"])
    if errors:
        for error in errors:
            print(f"ERROR topics preprocessor: {error}", file=sys.stderr)
        return 1
    json.dump(book, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
