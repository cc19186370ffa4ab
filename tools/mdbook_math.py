"""mdBook preprocessor: TeX math in `$...$` and `$$...$$` → MathML, at build time.

The book must work offline, so MathJax from a CDN is out. latex2mathml turns TeX into
MathML, which Chromium and Firefox render natively.

    python tools/mdbook_math.py supports html    # exit 0: we support every renderer
    python tools/mdbook_math.py < [context, book] JSON   →   book JSON on stdout

What counts as math (the rules pandoc uses, so prices stay prices):
  * `$$...$$` is display math; it may span lines (inside one paragraph).
  * `$...$` is inline math when the opening `$` is followed by a non-space character,
    the closing `$` is preceded by a non-space character and NOT followed by a digit.
    "costs $5 and $10" therefore has no math: the would-be closing `$` precedes `1`.
  * `\\$` is a literal dollar (left for Markdown to unescape).
  * nothing inside fenced code blocks or inline code spans is touched.
"""

from __future__ import annotations

import json
import re
import sys

from latex2mathml.converter import convert as latex_to_mathml

FENCE_OPEN = re.compile(r"^( {0,3}(?:>\s?)*)(`{3,}|~{3,})")
MARKDOWN_SPECIALS = {
    "*": "&#42;", "_": "&#95;", "`": "&#96;", "[": "&#91;", "]": "&#93;",
    "\\": "&#92;", "|": "&#124;", "~": "&#126;", "$": "&#36;", "<": "&lt;", ">": "&gt;",
}


class MathError(ValueError):
    """A TeX snippet latex2mathml cannot convert; the message names the snippet."""


def _protect(mathml: str) -> str:
    """Make MathML safe to embed in Markdown: one line, no characters Markdown would
    reinterpret inside text nodes (emphasis, tables, links, escapes, more math)."""
    mathml = mathml.replace("\n", " ")

    def escape_text(match: re.Match) -> str:
        text = match.group(1)
        return ">" + "".join(MARKDOWN_SPECIALS.get(ch, ch) for ch in text) + "<"

    return re.sub(r">([^<]+)<", escape_text, mathml)


def render_math(tex: str, display: bool, where: str = "") -> str:
    """TeX source (without the dollars) → one line of HTML holding a <math> element."""
    try:
        mathml = latex_to_mathml(tex.strip(), display="block" if display else "inline")
    except Exception as err:  # latex2mathml raises several types; report them all alike
        raise MathError(f"{where}: cannot convert math ${tex}$ to MathML: "
                        f"{type(err).__name__} {err}") from err
    unknown = re.search(r">(\\[A-Za-z]+)", mathml)
    if unknown:  # latex2mathml passes commands it does not know through as text
        raise MathError(f"{where}: math ${tex}$ uses {unknown.group(1)}, which latex2mathml "
                        "cannot render; rewrite it with standard LaTeX commands")
    mathml = _protect(mathml)
    if display:
        return f'<span class="math-display">{mathml}</span>'
    return mathml


def _split_fences(text: str) -> list[tuple[bool, str]]:
    """Split Markdown into (is_code, chunk) pieces; fenced code blocks are code."""
    pieces: list[tuple[bool, str]] = []
    buffer: list[str] = []
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        if fence is None:
            match = FENCE_OPEN.match(line)
            if match:
                if buffer:
                    pieces.append((False, "".join(buffer)))
                buffer = [line]
                fence = match.group(2)
            else:
                buffer.append(line)
        else:
            buffer.append(line)
            stripped = re.sub(r"^ {0,3}(?:>\s?)*", "", line).rstrip()
            if stripped.startswith(fence[0] * len(fence)) and set(stripped) == {fence[0]}:
                pieces.append((True, "".join(buffer)))
                buffer = []
                fence = None
    if buffer:
        pieces.append((fence is not None, "".join(buffer)))
    return pieces


def _convert_prose(text: str, where: str) -> tuple[str, int]:
    """Convert math in Markdown that holds no fenced code. Returns (text, count)."""
    out: list[str] = []
    count = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            out.append(text[i:i + 2])  # an escape such as \$ or \\ stays for Markdown
            i += 2
            continue
        if ch == "`":
            run = len(text[i:]) - len(text[i:].lstrip("`"))
            ticks = "`" * run
            end = text.find(ticks, i + run)
            while end != -1 and end + run < n and text[end + run] == "`":
                end = text.find(ticks, end + run + 1)
            if end == -1:
                out.append(ticks)
                i += run
                continue
            out.append(text[i:end + run])  # an inline code span: copied verbatim
            i = end + run
            continue
        if ch == "<" and text.startswith("<!--", i):
            end = text.find("-->", i)
            end = n if end == -1 else end + 3
            out.append(text[i:end])
            i = end
            continue
        if ch == "$":
            if text.startswith("$$", i):
                end = text.find("$$", i + 2)
                if end != -1 and "\n\n" not in text[i + 2:end] and text[i + 2:end].strip():
                    tex = text[i + 2:end]
                    # inside a blockquote the continuation lines carry "> " markers
                    tex = re.sub(r"\n[ \t]*(?:>[ \t]?)+", "\n", tex)
                    out.append(render_math(tex, display=True, where=where))
                    count += 1
                    i = end + 2
                    continue
                out.append("$$")
                i += 2
                continue
            closing = _find_inline_close(text, i)
            if closing is not None:
                out.append(render_math(text[i + 1:closing], display=False, where=where))
                count += 1
                i = closing + 1
                continue
        out.append(ch)
        i += 1
    return "".join(out), count


def _find_inline_close(text: str, start: int) -> int | None:
    """Index of the `$` closing inline math opened at `start`, or None (pandoc's rules)."""
    n = len(text)
    if start + 1 >= n or text[start + 1].isspace() or text[start + 1] == "$":
        return None
    j = start + 1
    while j < n:
        ch = text[j]
        if ch == "\\":
            j += 2
            continue
        if ch == "\n" and text.startswith("\n", j + 1):
            return None  # math never spans a blank line
        if ch == "$":
            if text[j - 1].isspace():
                return None
            if j + 1 < n and text[j + 1].isdigit():
                return None
            return j
        j += 1
    return None


def convert_markdown(text: str, where: str = "") -> tuple[str, int]:
    """Replace every math span in a Markdown document. Returns (new_text, math_count)."""
    out: list[str] = []
    total = 0
    for is_code, chunk in _split_fences(text):
        if is_code:
            out.append(chunk)
        else:
            converted, count = _convert_prose(chunk, where)
            out.append(converted)
            total += count
    return "".join(out), total


def _walk(items: list, visit) -> None:
    for item in items:
        if isinstance(item, dict) and "Chapter" in item:
            chapter = item["Chapter"]
            visit(chapter)
            _walk(chapter.get("sub_items", []), visit)


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1] == "supports":
        return 0
    context, book = json.load(sys.stdin)

    def visit(chapter: dict) -> None:
        where = chapter.get("source_path") or chapter.get("path") or chapter.get("name")
        chapter["content"], _ = convert_markdown(chapter["content"], where=where)

    try:
        _walk(book["items"], visit)
    except MathError as err:
        print(f"ERROR math preprocessor: {err}", file=sys.stderr)
        return 1
    json.dump(book, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
