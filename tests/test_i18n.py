"""The Korean edition's machinery: tools/i18n.py (units, catalogs) and tools/korean_edition.py.

Fast: no mdBook run, no walkthrough executed. The built editions in a browser are in
tests/test_site.py. Catalogs are never edited here: tests work on temporary copies.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import nbformat
import polib
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

import build_book  # noqa: E402
import i18n  # noqa: E402
import korean_edition  # noqa: E402
import render_walkthroughs as render  # noqa: E402
from walkthrough_meta import Walkthrough, find_walkthroughs  # noqa: E402


def catalog(entries: dict[str, str], fuzzy: tuple[str, ...] = ()) -> polib.POFile:
    po = i18n.new_catalog("test")
    for msgid, msgstr in entries.items():
        po.append(polib.POEntry(msgid=msgid, msgstr=msgstr,
                                flags=["fuzzy"] if msgid in fuzzy else []))
    return po


def pseudo_korean(msgid: str) -> str:
    """A stand-in translation that keeps every piece of markup the lint checks."""
    if msgid.startswith("|"):
        return msgid.replace("| ", "| 한 ", 1)
    return "한국어 " + msgid


# --------------------------------------------------------------------------- units

def test_segmentation_gives_every_page_back_byte_for_byte():
    pages = i18n.english_pages()
    pages["SUMMARY (with the generated list)"] = (REPO / "chapters" / "SUMMARY.md").read_text(
        encoding="utf-8")
    assert len(pages) >= 20
    for name, text in pages.items():
        pieces = i18n.segment(text)
        assert "\n".join(line for piece in pieces for line in piece.lines) == text, name
        assert any(piece.key for piece in pieces), f"{name}: no translatable unit"


TOY_PAGE = """# A title

<a id="anchor-1"></a>
First paragraph, written
over two lines with `code` and $x^2$.

- one item
  that continues
- two

| a | b |
| --- | --- |
| `c` | d |

> **The notes say** a thing
>
> **In fact** another

```python
# a heading-like comment in code stays English
x = 1
```

$$
y = x
$$
"""

TOY_KOREAN = {
    "A title": "제목",
    "First paragraph, written over two lines with `code` and $x^2$.":
        "`code`와 $x^2$가 있는 첫 문단.",
    "one item that continues": "이어지는 항목 하나",
    "two": "둘",
    "| a | b |": "| 가 | 나 |",
    "| `c` | d |": "| `c` | 라 |",
    "**The notes say** a thing": "**노트에는** 무엇",
    "**In fact** another": "**실제로는** 다른 것",
}


def test_translate_a_toy_page():
    assert i18n.units(TOY_PAGE) == list(TOY_KOREAN)
    korean = i18n.translate(TOY_PAGE, catalog(TOY_KOREAN), "toy")
    assert korean == """# 제목 {#a-title}

<a id="anchor-1"></a>
`code`와 $x^2$가 있는 첫 문단.

- 이어지는 항목 하나
- 둘

| 가 | 나 |
| --- | --- |
| `c` | 라 |

> **노트에는** 무엇
>
> **실제로는** 다른 것

```python
# a heading-like comment in code stays English
x = 1
```

$$
y = x
$$
"""


def test_translate_refuses_gaps_and_drafts_leave_english():
    missing = dict(TOY_KOREAN, two="")
    with pytest.raises(i18n.TranslationError, match=r'po/ko/toy\.po: no Korean for "two"'):
        i18n.translate(TOY_PAGE, catalog(missing), "toy")
    with pytest.raises(i18n.TranslationError, match=r'po/ko/toy\.po: stale: the Korean for '
                                                    r'"A title"'):
        i18n.translate(TOY_PAGE, catalog(TOY_KOREAN, fuzzy=("A title",)), "toy")
    draft: dict[str, None] = {}
    out = i18n.translate(TOY_PAGE, catalog(missing, fuzzy=("A title",)), "toy", draft)
    assert out.startswith("# A title\n") and "\n- two\n" in out and "- 이어지는 항목 하나" in out
    assert len(draft) == 2 and all("po/ko/toy.po" in line for line in draft)


def test_merge_follows_msgmerge():
    old = catalog({"The loader shuffles every epoch.": "로더는 에폭마다 섞습니다.",
                   "A paragraph that goes away entirely.": "사라지는 문단."})
    merged = i18n.merge(old, ["The loader shuffles once every epoch.",
                              "Something else altogether, unrelated."])
    changed = merged.find("The loader shuffles once every epoch.")
    assert "fuzzy" in changed.flags and changed.msgstr == "로더는 에폭마다 섞습니다."
    assert changed.previous_msgid == "The loader shuffles every epoch."
    assert merged.find("Something else altogether, unrelated.").msgstr == ""
    gone = [e for e in merged.obsolete_entries()]
    assert [e.msgid for e in gone] == ["A paragraph that goes away entirely."]


def test_changing_one_english_paragraph_fails_the_build_until_its_translation_is_updated(
        tmp_path):
    """On copies of a real page and its real catalog: a complete catalog passes; an edit to
    one English paragraph makes the entry stale, the check and the build's translation step
    fail naming the catalog and the paragraph; updating the entry makes both pass again."""
    name = "glossary"
    english = i18n.english_pages()[name]
    root = tmp_path / "po" / "ko"
    root.mkdir(parents=True)
    shutil.copy2(i18n.catalog_path(name), i18n.catalog_path(name, root))
    # Complete the copy where the real catalog still has gaps (translation in progress).
    po = i18n.load_catalog(name, root)
    for entry in po:
        if not entry.msgstr.strip() or "fuzzy" in entry.flags:
            entry.msgstr, entry.flags = pseudo_korean(entry.msgid), []
    po.save(str(i18n.catalog_path(name, root)))
    assert i18n.check(root, {name: english}) == []
    i18n.translate(english, i18n.load_catalog(name, root), name)

    # The first paragraph (not a heading, not a table row) gets one word changed.
    paragraph = next(p for p in i18n.segment(english)
                     if p.key and not p.prefix and not p.key.startswith("|") and len(p.key) > 40)
    words = paragraph.lines[0].split(" ")
    edited_line = " ".join(words[:-1] + ["(edited)", words[-1]])
    changed = english.replace(paragraph.lines[0], edited_line, 1)
    new_key = paragraph.key.replace(paragraph.lines[0].strip(), edited_line.strip(), 1)
    assert new_key in i18n.units(changed) and paragraph.key not in i18n.units(changed)

    todo = i18n.update(root, {name: changed})
    entry = i18n.load_catalog(name, root).find(new_key)
    assert "fuzzy" in entry.flags and entry.previous_msgid == paragraph.key
    assert len(todo) == 1 and f"po/ko/{name}.po: stale" in todo[0]
    assert new_key[:60] in todo[0]
    assert i18n.check(root, {name: changed}) == todo
    catalogs = korean_edition.Catalogs(root)
    with pytest.raises(i18n.TranslationError) as raised:
        catalogs.page(changed, name)
    assert f"po/ko/{name}.po" in str(raised.value) and new_key[:60] in str(raised.value)
    assert "stale" in str(raised.value)
    assert i18n.main(["check"]) in (0, 1)   # the command runs (its answer: the real catalogs)

    po = i18n.load_catalog(name, root)
    entry = po.find(new_key)
    entry.msgstr = "한국어 (고침) " + new_key
    entry.flags.remove("fuzzy")
    entry.previous_msgid = None
    po.save(str(i18n.catalog_path(name, root)))
    assert i18n.check(root, {name: changed}) == []
    assert "한국어 (고침)" in korean_edition.Catalogs(root).page(changed, name)


def test_the_build_turns_a_gap_into_its_error(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise i18n.TranslationError('po/ko/map.po: no Korean for "The map"')
    monkeypatch.setattr(korean_edition, "build_korean", refuse)
    with pytest.raises(build_book.BuildError, match=r'Korean edition: po/ko/map\.po: no Korean '
                                                    r'for "The map"'):
        build_book.build_korean_edition(tmp_path, [], quick=True)


def test_lint_reports_lost_markup(tmp_path):
    path = tmp_path / "x.po"
    po = catalog({"Call `f(x)` as [here](a.md#b).": "`f(x)`를 [여기](a.md)처럼 부릅니다.",
                  "| a | b |": "| 가 |"})
    po.save(str(path))
    found = i18n.lint([path])
    assert any("link targets differ" in line for line in found)
    assert any("table row" in line for line in found)


def test_missing_catalog_is_named(tmp_path):
    with pytest.raises(i18n.TranslationError, match=r"po/ko/nowhere\.po is missing"):
        korean_edition.Catalogs(tmp_path).page("Some text.", "nowhere")
    draft = korean_edition.Catalogs(tmp_path, draft=True)
    assert draft.page("Some text.", "nowhere") == "Some text."
    assert len(draft.draft) == 2


# --------------------------------------------------------------------------- the edition

def _toy_walkthrough(tmp_path: Path) -> tuple[Walkthrough, object]:
    path = tmp_path / "01_toy.py"
    path.write_text("# %% [markdown]\n# # Toy title\n", encoding="utf-8")
    walkthrough = Walkthrough(path=path, number="01", slug="01_toy", title="Toy title")
    nb = new_notebook(cells=[
        new_markdown_cell("# Toy title\n\nIt adds `x`."),
        new_code_cell("print(1 + 1)", outputs=[new_output("stream", name="stdout", text="2\n")]),
        new_code_cell("plot()", metadata={"tags": ["plot"]}),
        new_markdown_cell("The end."),
    ])
    return walkthrough, nb


def _toy_catalogs(tmp_path: Path) -> korean_edition.Catalogs:
    root = tmp_path / "po"
    (root / "walkthroughs").mkdir(parents=True)
    catalog({"Toy title": "장난감 제목", "It adds `x`.": "`x`를 더합니다.",
             "The end.": "끝."}).save(str(root / "walkthroughs" / "01_toy.po"))
    catalog({i18n.UI_STRINGS[0]: "그림 코드 (눌러서 보기)",
             i18n.UI_STRINGS[1]: "소스: [`walkthroughs/{slug}.py`]({source}) · 노트북: "
                                 "[`{slug}.ipynb`]({notebook}) (`make lab`으로 JupyterLab에서 "
                                 "`.py`를 열 수도 있습니다)"}).save(str(root / "ui.po"))
    return korean_edition.Catalogs(root)


def test_korean_walkthrough_page_keeps_code_and_outputs(tmp_path):
    walkthrough, nb = _toy_walkthrough(tmp_path)
    catalogs = _toy_catalogs(tmp_path)
    korean = korean_edition.translated_notebook(nb, walkthrough, catalogs, for_page=True)
    assert [c.source for c in korean.cells if c.cell_type == "code"] == \
        [c.source for c in nb.cells if c.cell_type == "code"]
    assert korean.cells[1].outputs == nb.cells[1].outputs
    assert nb.cells[0].source.startswith("# Toy title")     # the English is not touched
    # a notebook for Jupyter goes without the heading's {#id} (it would show as text)
    notebook = korean_edition.translated_notebook(nb, walkthrough, catalogs)
    assert notebook.cells[0].source == "# 장난감 제목\n\n`x`를 더합니다."
    page = korean_edition.korean_walkthrough_page(korean, walkthrough, catalogs,
                                                  tmp_path / "media")
    english = render.PageWriter(walkthrough, tmp_path / "media", "img/01_toy",
                                "../notebooks/01_toy.py",
                                "../notebooks/01_toy.ipynb").markdown(nb)
    assert page.startswith("# 장난감 제목 {#toy-title}\n")
    assert ("소스: [`walkthroughs/01_toy.py`](../notebooks/01_toy.py) · 노트북: "
            "[`01_toy.ipynb`](../notebooks/01_toy.ipynb)") in page
    assert "<summary>그림 코드 (눌러서 보기)</summary>" in page
    assert "`x`를 더합니다." in page and "끝." in page and "```python\nprint(1 + 1)\n```" in page
    assert "```text\n2\n```" in page
    assert page.count("\n") == english.count("\n")
    assert korean_edition.title_of(korean.cells[0].source, "?") == "장난감 제목"


def test_korean_summary_lists_translated_titles(tmp_path):
    root = tmp_path / "po"
    root.mkdir(parents=True)
    english = (REPO / "chapters" / "SUMMARY.md").read_text(encoding="utf-8")
    po = i18n.merge(i18n.new_catalog("SUMMARY"),
                    i18n.units(i18n.summary_without_generated(english)))
    for entry in po:
        entry.msgstr = i18n.translate(entry.msgid, catalog({}), "x", {}).replace("[", "[한 ")
    po.save(str(root / "SUMMARY.po"))
    walkthroughs = find_walkthroughs()
    titles = {w.slug: f"제목 {w.number}" for w in walkthroughs}
    korean = korean_edition.korean_summary(english, titles, walkthroughs,
                                           korean_edition.Catalogs(root))
    for w in walkthroughs:
        assert f"- [제목 {w.number}]({w.page})\n" in korean
    assert ("\n[한 Introduction](introduction.md)\n[한 The notes, claim by claim](claims.md)"
            "\n[한 Try it: hear the book's model](try_it.md)\n") in korean
    assert korean.count(i18n.SUMMARY_BEGIN) == 1 and korean.count(i18n.SUMMARY_END) == 1
    assert "{#" not in korean   # part titles: mdBook would show an id as text
    assert "\n# Reading the original\n" in korean


def test_korean_book_toml():
    english = (REPO / "book.toml").read_text(encoding="utf-8")
    korean = korean_edition.korean_book_toml(english, "Glow-TTS 해설 — 한국어로 학습")
    assert 'title = "Glow-TTS 해설 — 한국어로 학습"' in korean
    assert 'language = "ko"' in korean and 'language = "en"' not in korean
    assert 'site-url = "/ko/"' in korean and "lang-switch.js" in korean
    assert korean_edition.book_title(english) == "Glow-TTS, annotated — trained on Korean"


def test_heading_ids_follow_the_english(tmp_path):
    en, ko = tmp_path / "en", tmp_path / "ko"
    for folder in (en, ko):
        folder.mkdir()

    def page(*headings):
        return "".join(f'<h2 id="{i}"><a class="header" href="#{i}">{t}</a></h2>\n'
                       for i, t in headings)
    (en / "a.html").write_text(page(("the-loader", "The loader"), ("seeds", "Seeds")))
    (ko / "a.html").write_text(page(("로더", "로더"), ("시드", "시드")))
    assert korean_edition.align_heading_ids(en, ko) == 1
    text = (ko / "a.html").read_text()
    assert 'id="the-loader"><a class="header" href="#the-loader">로더' in text
    assert 'id="seeds"><a class="header" href="#seeds">시드' in text
    (ko / "a.html").write_text(page(("로더", "로더")))
    with pytest.raises(i18n.TranslationError, match=r"ko/a\.html has 1 headings, the English "
                                                    r"page 2"):
        korean_edition.align_heading_ids(en, ko)


def test_editions_must_match_page_for_page(tmp_path):
    for page in ("index.html", "walkthroughs/01_a.html", "ko/index.html",
                 "ko/walkthroughs/01_a.html", "notebooks/x.html", "ko/extra.html"):
        (tmp_path / page).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / page).write_text("<html></html>")
    assert korean_edition.check_editions_match(tmp_path) == [
        "ko/extra.html: no English page extra.html"]


def test_korean_notebook_sources_keep_the_code(tmp_path):
    """The Korean .py copies (site/ko/notebooks, make lab EDITION=ko) differ from the
    English only in Markdown cells: with no translation at all (a draft), every code cell
    is byte for byte the English one."""
    import jupytext

    catalogs = korean_edition.Catalogs(tmp_path, draft=True)   # no catalogs: all English
    for walkthrough in find_walkthroughs():
        korean = jupytext.reads(korean_edition.korean_percent_source(walkthrough, catalogs),
                                fmt="py:percent")
        english = jupytext.read(walkthrough.path)
        assert [(c.cell_type, c.source) for c in korean.cells] == \
            [(c.cell_type, c.source) for c in english.cells], walkthrough.slug


def test_make_notebooks_writes_both_languages(tmp_path):
    """`make notebooks` (--notebooks-only) writes the Korean notebooks too: the same cells,
    code byte for byte, each Markdown cell the catalog's Korean."""
    build_book.build(dest=tmp_path, notebooks_only=True)
    for walkthrough in find_walkthroughs():
        english = nbformat.read(tmp_path / "notebooks" / f"{walkthrough.slug}.ipynb", 4)
        korean = nbformat.read(tmp_path / "ko" / "notebooks" / f"{walkthrough.slug}.ipynb", 4)
        assert [c.cell_type for c in korean.cells] == [c.cell_type for c in english.cells]
        pairs = list(zip(english.cells, korean.cells))
        assert all(k.source == e.source for e, k in pairs if e.cell_type == "code")
        title = next(k.source for e, k in pairs if e.cell_type == "markdown").splitlines()[0]
        assert any("\uac00" <= ch <= "\ud7a3" for ch in title), (walkthrough.slug, title)


def test_lab_copies_run_beside_configs(tmp_path, monkeypatch):
    monkeypatch.setattr(korean_edition, "find_walkthroughs", lambda: find_walkthroughs()[:2])
    korean_edition.write_lab_copies(tmp_path, draft=True, log=lambda *_: None)
    folder = tmp_path / "walkthroughs"
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))[:2] == \
        [w.path.name for w in find_walkthroughs()[:2]]
    assert (folder / "figures.py").is_file()
    assert (folder / ".." / "configs" / "base.json").resolve() == \
        (REPO / "configs" / "base.json").resolve()


def test_lab_copies_keep_what_the_reader_edited(tmp_path, monkeypatch):
    """A second `make lab EDITION=ko` refreshes untouched copies but never overwrites one the
    reader edited in JupyterLab; it says which it kept."""
    monkeypatch.setattr(korean_edition, "find_walkthroughs", lambda: find_walkthroughs()[:2])
    korean_edition.write_lab_copies(tmp_path, draft=True, log=lambda *_: None)
    first, second = (tmp_path / "walkthroughs" / w.path.name for w in find_walkthroughs()[:2])
    edited = first.read_text(encoding="utf-8") + "\n# %%\nmy_own_cell = 1\n"
    first.write_text(edited, encoding="utf-8")
    second.write_text("stale copy from an older translation", encoding="utf-8")
    (second.parent / f".{second.name}.written").write_text("stale copy from an older "
                                                           "translation", encoding="utf-8")
    messages = []
    korean_edition.write_lab_copies(tmp_path, draft=True, log=messages.append)
    assert first.read_text(encoding="utf-8") == edited
    assert second.read_text(encoding="utf-8") != "stale copy from an older translation"
    assert any("Kept 1" in m and first.name in m for m in messages), messages


def test_notebooks_written_with_korean_markdown(tmp_path):
    walkthrough, nb = _toy_walkthrough(tmp_path)
    catalogs = _toy_catalogs(tmp_path)
    korean = korean_edition.translated_notebook(nb, walkthrough, catalogs)
    korean_edition.write_notebooks(tmp_path / "out", [walkthrough], {"01_toy": korean},
                                   catalogs)
    written = nbformat.read(tmp_path / "out" / "01_toy.ipynb", as_version=4)
    assert written.cells[0].source.startswith("# 장난감 제목")
    assert written.cells[1].outputs[0]["text"] == "2\n"
    assert "# # 장난감 제목" in (tmp_path / "out" / "01_toy.py").read_text(encoding="utf-8")


def test_topic_links_use_the_translated_titles(tmp_path):
    """`[](topic:T..)` becomes the walkthrough's title: in the Korean edition, its Korean one."""
    import json
    import os
    import subprocess

    walkthrough = next(w for w in find_walkthroughs() if w.covers)
    src = tmp_path / "chapters"
    (src / "walkthroughs").mkdir(parents=True)
    (src / walkthrough.page).write_text("# x\n", encoding="utf-8")
    titles = tmp_path / "titles.json"
    titles.write_text(json.dumps({walkthrough.slug: "번역된 제목"}, ensure_ascii=False),
                      encoding="utf-8")
    link = f"[](topic:{walkthrough.covers[0]})"
    book = {"items": [{"Chapter": {"name": "a", "content": f"See {link}.",
                                   "path": "a.md", "sub_items": []}}]}
    context = {"root": str(tmp_path), "config": {"book": {"src": "chapters"}}}
    for extra, expected in (({}, walkthrough.title),
                            ({"GLOW_TTS_TOPIC_TITLES": str(titles)}, "번역된 제목")):
        env = dict(os.environ, GLOW_TTS_WALKTHROUGHS_DIR=str(REPO / "walkthroughs"), **extra)
        result = subprocess.run([sys.executable, str(REPO / "tools" / "mdbook_topics.py")],
                                input=json.dumps([context, book]), capture_output=True,
                                text=True, env=env, check=True)
        content = json.loads(result.stdout)["items"][0]["Chapter"]["content"]
        assert content == f"See [{expected}]({walkthrough.page})."


# --------------------------------------------------------------------------- Try it messages

TOY_MODULE = """import x from "./x.mjs";
// messages:begin
const MESSAGES = {
  ready: "Ready.",
  unsupported: "Cannot read '{char}' (U+{codepoint}): " +
    "remove it.",
};
// messages:end
say("ready");
"""


def test_web_messages_read_the_module_block(tmp_path):
    path = tmp_path / "toy.mjs"
    path.write_text(TOY_MODULE, encoding="utf-8")
    assert i18n.web_messages(path) == {"ready": "Ready.",
                                       "unsupported": "Cannot read '{char}' (U+{codepoint}): "
                                                      "remove it."}
    bad = TOY_MODULE.replace('  ready: "Ready.",', '  ready: `Ready.`,')
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(i18n.TranslationError, match=r"toy\.mjs:4: not a `name: \"text\",`"):
        i18n.web_messages(path)
    path.write_text(TOY_MODULE.replace('"Ready."', '" Ready."'), encoding="utf-8")
    with pytest.raises(i18n.TranslationError, match=r"message 'ready' is not one catalog unit"):
        i18n.web_messages(path)
    path.write_text(TOY_MODULE.replace("// messages:end\n", ""), encoding="utf-8")
    with pytest.raises(i18n.TranslationError, match=r"no `// messages:begin`"):
        i18n.web_messages(path)


def test_tryit_messages_are_ui_catalog_entries():
    messages = i18n.web_messages()
    assert {"loading", "synthesizing", "unsupported", "run", "blank"} <= set(messages)
    assert "{char}" in messages["unsupported"] and "{codepoint}" in messages["unsupported"]
    keys = i18n.units(i18n.english_pages()["ui"])
    # the build's own strings keep their keys; each message is one more entry, as it is
    assert keys[:len(i18n.UI_STRINGS)] == list(i18n.UI_STRINGS)
    assert keys[len(i18n.UI_STRINGS):] == list(dict.fromkeys(messages.values()))
    source = (REPO / "web" / "tryit.mjs").read_text(encoding="utf-8")
    for name in messages:   # every message is used, none is left in the block unused
        assert f'say("{name}"' in source or f'"{name}"' in source.split("// messages:end")[1], name


def _ui_catalog_copy(tmp_path: Path, change) -> korean_edition.Catalogs:
    root = tmp_path / "po"
    root.mkdir(parents=True)
    po = polib.pofile(str(i18n.catalog_path("ui")), wrapwidth=0)
    change(po)
    po.save(str(root / "ui.po"))
    return korean_edition.Catalogs(root)


def test_korean_tryit_messages_come_from_the_ui_catalog(tmp_path):
    korean = korean_edition.tryit_messages(korean_edition.Catalogs())
    english = i18n.web_messages()
    assert set(korean) == set(english)
    assert korean["unsupported"].startswith("지원하지 않는 문자입니다")
    for name in english:
        assert korean[name] != english[name], f"{name}: the Korean edition shows English"
    out = korean_edition.write_tryit_messages(tmp_path, korean_edition.Catalogs())
    assert json.loads(out.read_text(encoding="utf-8"))["messages"] == korean


def test_a_missing_or_stale_korean_message_fails_the_build(tmp_path):
    unsupported = i18n.web_messages()["unsupported"]

    def drop(po):
        po.remove(po.find(unsupported))

    def empty(po):
        po.find(unsupported).msgstr = ""

    def stale(po):
        po.find(unsupported).flags.append("fuzzy")

    for n, change in enumerate((drop, empty, stale)):
        catalogs = _ui_catalog_copy(tmp_path / str(n), change)
        with pytest.raises(i18n.TranslationError, match=r"po/ko/ui\.po: (no Korean for|stale: the "
                                                        r"Korean for) \"Cannot read '\{char\}'"):
            korean_edition.tryit_messages(catalogs)
        found = i18n.check(catalogs.root, {"ui": i18n.english_pages()["ui"]})
        assert len(found) == 1 and "po/ko/ui.po" in found[0] and "Cannot read" in found[0]
    draft = korean_edition.Catalogs(catalogs.root, draft=True)
    assert korean_edition.tryit_messages(draft)["unsupported"] == unsupported
    assert len(draft.draft) == 1


def test_a_korean_message_must_keep_its_placeholders(tmp_path):
    unsupported = i18n.web_messages()["unsupported"]

    def lose(po):
        po.find(unsupported).msgstr = "지원하지 않는 문자입니다: '{char}'."
    catalogs = _ui_catalog_copy(tmp_path, lose)
    with pytest.raises(i18n.TranslationError, match=r"the placeholders "
                                                    r"\['char'\]"):
        korean_edition.tryit_messages(catalogs)
    found = i18n.lint([catalogs.root / "ui.po"])
    assert len(found) == 1 and "placeholders differ" in found[0] and "{codepoint}" in found[0]
