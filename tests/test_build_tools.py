"""Fast tests of the book tooling in tools/ (no mdBook run, no browser).

The full build and the browser checks are in tests/test_site.py.
"""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import wave
import zlib
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

import build_book  # noqa: E402
import mdbook_math  # noqa: E402
import mdbook_topics  # noqa: E402
import render_walkthroughs as render  # noqa: E402
import search_index  # noqa: E402
from walkthrough_meta import Walkthrough, find_walkthroughs, read_walkthrough  # noqa: E402


# --------------------------------------------------------------------------- math

def test_inline_math_becomes_mathml():
    out, count = mdbook_math.convert_markdown("The square $a^2$ grows.")
    assert count == 1
    assert "<math" in out and "<msup>" in out and "$" not in out


def test_display_math_spanning_lines():
    out, count = mdbook_math.convert_markdown("Before\n$$\n\\frac{a}{b}\n$$\nafter")
    assert count == 1
    assert 'display="block"' in out and "<mfrac>" in out and "$$" not in out


def test_code_is_left_alone():
    source = ("Inline `$a^2$` code.\n\n```python\nprice = '$a^2$'\n```\n\n"
              "~~~\n$$x$$\n~~~\nand math $b$ after.\n")
    out, count = mdbook_math.convert_markdown(source)
    assert count == 1  # only $b$
    assert "`$a^2$`" in out
    assert "price = '$a^2$'" in out and "~~~\n$$x$$\n~~~" in out


def test_currency_and_escaped_dollars_are_not_math():
    for text in ("It costs $5 and $10 today.", r"Escaped \$x\$ stays.", "A lone $ sign."):
        out, count = mdbook_math.convert_markdown(text)
        assert count == 0 and out == text


def test_mathml_is_safe_inside_markdown_tables():
    out, _ = mdbook_math.convert_markdown("| a | $|x|_1$ |")
    # a raw | inside the cell would split the table; _ would start emphasis
    inner = out[out.index("<math"):out.index("</math>")]
    assert "|" not in inner and "_" not in inner.replace("&#95;", "")


def test_bad_tex_names_the_chapter():
    with pytest.raises(mdbook_math.MathError, match="chapter.md"):
        mdbook_math.convert_markdown(r"$a^$ and $b$", where="chapter.md")
    with pytest.raises(mdbook_math.MathError, match=r"\\unknowncmd"):
        mdbook_math.convert_markdown(r"$\unknowncmd x$", where="chapter.md")


def test_math_preprocessor_protocol():
    book = {"items": [{"Chapter": {"name": "A", "content": "$x_1$", "number": None,
                                   "sub_items": [{"Chapter": {"name": "B", "content": "$y$",
                                                              "sub_items": [], "path": "b.md"}}],
                                   "path": "a.md", "source_path": "a.md"}}, "Separator"]}
    script = REPO / "tools" / "mdbook_math.py"
    assert subprocess.run([sys.executable, script, "supports", "html"]).returncode == 0
    result = subprocess.run([sys.executable, script], input=json.dumps([{}, book]),
                            capture_output=True, text=True, check=True)
    items = json.loads(result.stdout)["items"]
    assert "<msub>" in items[0]["Chapter"]["content"]
    assert "<math" in items[0]["Chapter"]["sub_items"][0]["Chapter"]["content"]
    assert items[1] == "Separator"


# --------------------------------------------------------------------------- includes

def test_include_checker_fails_on_missing_file(tmp_path):
    (tmp_path / "page.md").write_text("# P\n\n{{#include missing.py}}\n")
    with pytest.raises(build_book.BuildError, match="page.md:3.*missing.py does not exist"):
        build_book.check_includes(tmp_path)


def test_include_checker_fails_on_unknown_anchor(tmp_path):
    (tmp_path / "code.py").write_text("# ANCHOR: setup\nx = 1\n# ANCHOR_END: setup\n")
    (tmp_path / "page.md").write_text("{{#include code.py:setup}}\n{{#include code.py:1:2}}\n")
    build_book.check_includes(tmp_path)  # a known anchor and a line range are fine
    (tmp_path / "page.md").write_text("{{#include code.py:teardown}}\n")
    with pytest.raises(build_book.BuildError, match="anchor `teardown` not found"):
        build_book.check_includes(tmp_path)


# --------------------------------------------------------------------------- SUMMARY, topics

def _walkthrough(tmp_path: Path, name: str, title: str, covers: str) -> Walkthrough:
    path = tmp_path / name
    path.write_text(f"# %% [markdown]\n# # {title}\n#\n# covers: {covers}\n\n# %%\nx = 1\n")
    return read_walkthrough(path)


def test_summary_lists_each_walkthrough(tmp_path):
    first = _walkthrough(tmp_path, "01_first.py", "The `first` one", "T01, T02")
    second = _walkthrough(tmp_path, "02_second.py", "Second", "T03")
    assert first.title == "The first one" and first.covers == ["T01", "T02"]
    summary = ("# Summary\n\n# Walkthroughs\n\n<!-- walkthroughs:begin x -->\n- [Old](old.md)\n"
               "<!-- walkthroughs:end -->\n\n- [Glossary](glossary.md)\n")
    updated = build_book.summary_with_walkthroughs(summary, [first, second])
    assert "- [The first one](walkthroughs/01_first.md)\n- [Second](walkthroughs/02_second.md)\n" \
        in updated
    assert "old.md" not in updated and "- [Glossary](glossary.md)" in updated
    with pytest.raises(build_book.BuildError, match="markers"):
        build_book.summary_with_walkthroughs("# Summary\n", [first])


def test_walkthroughs_may_share_a_number(tmp_path):
    # A split walkthrough keeps its number (links to the first part stay valid); the parts
    # are read in file-name order.
    for name in ("12_training_ranks.py", "12_training_loop.py", "11_x.py", "13_y.py"):
        _walkthrough(tmp_path, name, name[:-3], "T01")
    found = find_walkthroughs(tmp_path)
    assert [w.slug for w in found] == ["11_x", "12_training_loop", "12_training_ranks", "13_y"]
    assert [w.number for w in found] == ["11", "12", "12", "13"]


def test_topic_links_resolve_and_unknown_topics_fail(tmp_path):
    walkthroughs = [_walkthrough(tmp_path, "01_a.py", "Alpha", "T01, T17"),
                    _walkthrough(tmp_path, "02_b.py", "Beta", "T17, T18")]
    index = mdbook_topics.topic_index(walkthroughs)
    out = mdbook_topics.resolve_topic_links("See [](topic:T18) and [this](topic:T17).",
                                            "changes.md", index)
    assert out == "See [Beta](walkthroughs/02_b.md) and [this](walkthroughs/01_a.md)."
    nested = mdbook_topics.resolve_topic_links("[x](topic:T01)", "part/page.md", index)
    assert nested == "[x](../walkthroughs/01_a.md)"
    with pytest.raises(mdbook_topics.TopicLinkError, match="T05"):
        mdbook_topics.resolve_topic_links("[x](topic:T05)", "changes.md", index)


# --------------------------------------------------------------------------- renderer

def test_clean_text_strips_ansi_paths_and_shortens():
    ansi = "\x1b[31mred\x1b[0m and \x1b[1;32mgreen\x1b[0m"
    assert render.clean_text(ansi) == "red and green"
    paths = f"saved {REPO}/out/x.wav and /tmp/tmpq1w2e3/run/G_5.pth"
    cleaned = render.clean_text(paths)
    assert str(REPO) not in cleaned and "/tmp/" not in cleaned
    assert "<repo>/out/x.wav" in cleaned and "<tmp>/run/G_5.pth" in cleaned
    assert "/work/" not in render.clean_text("elsewhere: /work/other_checkout/glow_tts/x.py")
    long = "\n".join(f"line {i}" for i in range(500))
    short = render.clean_text(long)
    assert "line 0" in short and "line 499" in short and "line 250" not in short
    assert "lines omitted" in short and len(short.splitlines()) < 70
    assert render.clean_text("a\rb\rfinal") == "final"


def _png_bytes() -> bytes:
    """A valid 2x1 RGB PNG, built by hand (no image library needed)."""
    def chunk(kind, data):
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))
    header = (2).to_bytes(4, "big") + (1).to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    pixels = zlib.compress(b"\x00\xff\x00\x00\x00\x00\xff")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) \
        + chunk(b"IEND", b"")


def _wav_bytes() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(22050)
        out.writeframes(b"\x00\x10" * 2205)
    return buffer.getvalue()


def test_page_writer_writes_markdown_png_and_wav(tmp_path):
    png, wav = _png_bytes(), _wav_bytes()
    audio_html = ('<audio controls="controls"><source src="data:audio/wav;base64,'
                  + base64.b64encode(wav).decode() + '" type="audio/wav" /></audio>')
    nb = new_notebook(cells=[
        new_markdown_cell("# Tiny `walkthrough`\n\nSome prose with $x$."),
        new_code_cell("print('hi')", outputs=[
            new_output("stream", name="stdout", text="\x1b[1mhi\x1b[0m\n"),
            new_output("stream", name="stdout", text=f"{REPO}/data/a.wav\n")]),
        new_code_cell("plot()", outputs=[new_output(
            "display_data", data={"image/png": base64.b64encode(png).decode(),
                                  "text/plain": "<Figure size 640x480 with 1 Axes>"})]),
        new_code_cell("Audio(x, rate=22050)", outputs=[new_output(
            "execute_result", execution_count=3,
            data={"text/html": audio_html, "text/plain": "<IPython.lib.display.Audio object>"})]),
        new_code_cell("print(text)", outputs=[
            new_output("stream", name="stdout", text="x\n" * 400)]),
    ])
    walkthrough = Walkthrough(path=tmp_path / "07_tiny.py", number="07", slug="07_tiny",
                              title="Tiny walkthrough")
    writer = render.PageWriter(walkthrough, media_dir=tmp_path / "img" / "07_tiny",
                               media_link="img/07_tiny", source_link="../notebooks/07_tiny.py",
                               notebook_link="../notebooks/07_tiny.ipynb")
    page = writer.markdown(nb)
    assert page.startswith("# Tiny `walkthrough`\n")
    assert "../notebooks/07_tiny.ipynb" in page and "../notebooks/07_tiny.py" in page
    assert "```python\nprint('hi')\n```" in page
    assert "\x1b" not in page and "<repo>/data/a.wav" in page and str(REPO) not in page
    assert "<Figure size" not in page  # the PNG replaces the text fallback
    pngs = sorted((tmp_path / "img" / "07_tiny").glob("*.png"))
    wavs = sorted((tmp_path / "img" / "07_tiny").glob("*.wav"))
    assert len(pngs) == 1 and pngs[0].read_bytes() == png
    assert len(wavs) == 1 and wavs[0].read_bytes() == wav
    assert f"](img/07_tiny/{pngs[0].name})" in page
    assert f'<audio controls preload="metadata" src="img/07_tiny/{wavs[0].name}">' in page
    assert "base64" not in page
    assert "lines omitted" in page and page.count("\nx\n") < 60


def test_a_failing_cell_is_named(tmp_path):
    nb = new_notebook(cells=[new_code_cell("x = 1"),
                             new_code_cell("# check the sum\nassert x == 2, 'x is not two'")])
    with pytest.raises(render.WalkthroughFailed) as caught:
        render.execute_notebook(nb, tmp_path, "walkthroughs/99_fail.py", timeout=60, quick=True)
    message = str(caught.value)
    assert "walkthroughs/99_fail.py" in message and "cell 1" in message
    assert "# check the sum" in message and "AssertionError: x is not two" in message


def test_cache_hash_tracks_walkthrough_and_mode(tmp_path):
    walkthrough = _walkthrough(tmp_path, "01_a.py", "Alpha", "T01")
    package = render.package_digest()
    full = render.content_hash(walkthrough, False, package)
    assert full == render.content_hash(walkthrough, False, package)
    assert full != render.content_hash(walkthrough, True, package)
    assert full != render.content_hash(walkthrough, False, package + "changed")
    walkthrough.path.write_text(walkthrough.path.read_text() + "y = 2\n")
    assert full != render.content_hash(walkthrough, False, package)


# --------------------------------------------------------------------------- font

NAME_IDS_THAT_NAME_THE_FONT = (1, 3, 4, 6, 16, 17, 18, 20, 21, 22)  # family ... WWS, CID


def _reserved_font_names() -> list[str]:
    """The Reserved Font Names, as the bundled licence lists them after its copyright line."""
    ofl = (REPO / "glow_tts" / "fonts" / "OFL.txt").read_text(encoding="utf-8")
    listed = re.search(r"with Reserved Font Name (.*?)\n\n", ofl, re.S).group(1)
    return [n.strip() for n in listed.replace("\n", " ").split(",") if n.strip()]


def test_site_font_is_the_original_minus_tsi_tables_and_renamed(tmp_path):
    from fontTools.ttLib import TTFont

    reserved = _reserved_font_names()
    assert "NanumGothic" in reserved and "Nanum" in reserved, reserved
    dest = tmp_path / "fonts" / build_book.FONT_DEST.name
    dest.parent.mkdir()
    (dest.parent / "NanumGothic.ttf").write_bytes(b"left by an earlier build")
    build_book.copy_font(dest)
    assert not (dest.parent / "NanumGothic.ttf").exists()  # mdBook would ship it otherwise

    original, shipped = TTFont(str(build_book.find_font())), TTFont(str(dest))
    assert any(tag.startswith("TSI") for tag in original.keys())  # else nothing was tested
    assert not [tag for tag in shipped.keys() if tag.startswith("TSI")]
    assert set(shipped.keys()) == {t for t in original.keys() if not t.startswith("TSI")}
    assert shipped.getGlyphOrder() == original.getGlyphOrder()
    assert shipped["maxp"].numGlyphs == original["maxp"].numGlyphs
    assert shipped.getBestCmap() == original.getBestCmap()
    for tag in set(shipped.reader.keys()) - {"name", "head"}:  # outlines, metrics, hints
        assert shipped.reader[tag] == original.reader[tag], tag

    names = shipped["name"].names
    for record in names:
        if record.nameID in NAME_IDS_THAT_NAME_THE_FONT:
            text = record.toUnicode().replace(" ", "").lower()
            assert "나눔" not in text, record
            for name in reserved:
                assert name.replace(" ", "").lower() not in text, (name, record)

    def values(name_id):
        return {(r.platformID, r.toUnicode()) for r in names if r.nameID == name_id}

    family, postscript = build_book.BOOK_FONT_FAMILY, build_book.BOOK_FONT_POSTSCRIPT
    assert values(1) == values(4) == {(1, family), (3, family)}
    assert values(6) == {(1, postscript), (3, postscript)}
    assert {text for _, text in values(3)} == {f"3.021;GLOW;{postscript}"}
    original_copyright = original["name"].getDebugName(0)
    assert shipped["name"].getDebugName(0) == original_copyright and "NHN" in original_copyright


def test_site_font_is_rewritten_only_when_stale(tmp_path):
    from fontTools.ttLib import TTFont

    dest = tmp_path / build_book.FONT_DEST.name
    build_book.copy_font(dest)
    written = dest.stat().st_mtime_ns
    build_book.copy_font(dest)
    assert dest.stat().st_mtime_ns == written  # up to date: left alone
    # newer than the source but still carrying the old name (an older build's output)
    dest.write_bytes(build_book.find_font().read_bytes())
    build_book.copy_font(dest)
    with TTFont(str(dest), lazy=True) as font:
        assert font["name"].getDebugName(1) == build_book.BOOK_FONT_FAMILY


def test_css_serves_the_renamed_font_under_its_new_name():
    css = (REPO / "chapters" / "assets" / "glow.css").read_text(encoding="utf-8")
    face = re.search(r"@font-face\s*{(.*?)}", css, re.S).group(1)
    assert f'font-family: "{build_book.BOOK_FONT_FAMILY}";' in face
    assert f'fonts/{build_book.FONT_DEST.name}")' in face
    stacks = re.findall(r"font-family:([^;]*);|--[\w-]+:([^;]*);", css)
    assert stacks and not [s for s in stacks if "nanum" in "".join(s).lower()], stacks
    assert (REPO / "chapters" / "assets" / "fonts" /
            f"LICENSE-{build_book.FONT_DEST.stem}.txt").is_file()


# --------------------------------------------------------------------------- search index

def test_search_index_keeps_hangul(tmp_path):
    (tmp_path / "index.html").write_text(
        "<html><head><title>Intro - Book</title></head><body><main>"
        "<h1 id='intro'>Intro</h1><p>Batches are padded.</p>"
        "<h2 id='sort'>정렬 (sorting)</h2><p>TextMelCollate는 길이로 정렬합니다.</p>"
        "<math><mi>x</mi></math><script>var hidden = 1;</script></main></body></html>",
        encoding="utf-8")
    (tmp_path / "searchindex-abc.js").write_text("window.search = Object.assign(window.search, {});")
    count = search_index.add_search_index(tmp_path)
    docs = search_index.build_index(tmp_path)
    assert count == len(docs) == 2
    assert docs[1]["url"] == "index.html#sort" and docs[1]["title"] == "정렬 (sorting)"
    assert "길이로 정렬합니다" in docs[1]["body"] and "hidden" not in docs[1]["body"]
    script = (tmp_path / "searchindex-abc.js").read_text()
    assert script.count("glow:") == 1 and "\\uc815\\ub82c" in script  # 정렬, escaped
    search_index.add_search_index(tmp_path)  # idempotent: appended once only
    assert (tmp_path / "searchindex-abc.js").read_text().count("glow:") == 1


def test_site_link_checker_reports_missing_targets(tmp_path):
    (tmp_path / "a.html").write_text('<a href="b.html#there">b</a><img src="img/x.png">')
    (tmp_path / "b.html").write_text('<h1 id="here">b</h1>')
    with pytest.raises(build_book.BuildError) as caught:
        build_book.check_site_links(tmp_path)
    assert "img/x.png" in str(caught.value) and "'there'" in str(caught.value)
    (tmp_path / "a.html").write_text('<a href="b.html#here">b</a><img src="https://x.org/y.png">')
    with pytest.raises(build_book.BuildError, match="another host"):
        build_book.check_site_links(tmp_path)


def test_executed_notebook_returns_figures_cwd_and_quick_flag(tmp_path):
    nb = new_notebook(cells=[
        new_code_cell("import os\nprint(os.getcwd(), os.environ['GLOW_TTS_QUICK'])"),
        new_code_cell("import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()"),
    ])
    render.execute_notebook(nb, tmp_path, "walkthroughs/98_fig.py", timeout=120, quick=True)
    assert nb.cells[0].outputs[0]["text"].split() == [str(tmp_path), "1"]
    figures = [o for o in nb.cells[1].outputs if "image/png" in o.get("data", {})]
    assert len(figures) == 1  # the figure comes back as a PNG, not lost to a plain Agg backend


def test_search_index_lists_a_duplicated_first_chapter_once(tmp_path):
    page = "<html><head><title>Intro - Book</title></head><body><main><h1 id='i'>Intro</h1>" \
           "<p>collate 정렬</p></main></body></html>"
    (tmp_path / "index.html").write_text(page, encoding="utf-8")
    (tmp_path / "introduction.html").write_text(page, encoding="utf-8")
    docs = search_index.build_index(tmp_path)
    assert [d["url"] for d in docs] == ["index.html"]


def test_render_reuses_the_cache_until_the_walkthrough_changes(tmp_path, monkeypatch):
    monkeypatch.setattr(render, "CACHE_ROOT", tmp_path / "cache")
    walkthrough = _walkthrough(tmp_path, "01_a.py", "Alpha", "T01")
    package = render.package_digest()
    messages = []
    assert render.render_one(walkthrough, True, 60, package, log=messages.append) is True
    page = (tmp_path / "cache" / "quick" / "01_a.md").read_text()
    assert page.startswith("# Alpha") and "../notebooks/01_a.ipynb" in page
    assert render.render_one(walkthrough, True, 60, package, log=messages.append) is False
    assert "unchanged" in messages[-1]
    walkthrough.path.write_text(walkthrough.path.read_text() + "\n# %%\ny = 2\n")
    assert render.render_one(walkthrough, True, 60, package, log=messages.append) is True


def test_a_plot_cell_renders_collapsed_with_its_figure_in_view(tmp_path):
    import jupytext
    from markdown_it import MarkdownIt

    # The tag as a walkthrough writes it in the percent file.
    text = ('# %% [markdown]\n# # Plots\n#\n# covers: T01\n\n'
            '# %%\nx = 1\n\n'
            '# %% tags=["plot"]\nimport matplotlib.pyplot as plt\nplt.plot([0, 1])\n')
    nb = jupytext.reads(text, fmt="py:percent")
    assert [sorted(render._tags(c)) for c in nb.cells] == [[], [], ["plot"]]
    nb.cells[2].outputs = [new_output("display_data", data={
        "image/png": base64.b64encode(_png_bytes()).decode(), "text/plain": "<Figure>"})]
    walkthrough = Walkthrough(path=tmp_path / "09_plots.py", number="09", slug="09_plots",
                              title="Plots")
    writer = render.PageWriter(walkthrough, media_dir=tmp_path / "img", media_link="img",
                               source_link="s.py", notebook_link="s.ipynb")
    page = writer.markdown(nb)
    details = page[page.index("<details"):page.index("</details>")]
    assert "plt.plot([0, 1])" in details and "x = 1" not in details   # only the plot cell
    assert "```python\nx = 1\n```" in page                             # others unchanged
    figure = page.index("](img/")
    assert figure > page.index("</details>")                          # figure outside, shown
    # CommonMark (mdBook's parser) reads the fence inside <details> as a code block.
    html = MarkdownIt("commonmark").render(page)
    folded = html[html.index("<details"):html.index("</details>")]
    assert '<code class="language-python">import matplotlib.pyplot as plt' in folded
    assert "<summary>" in folded and "<img" not in folded


# --------------------------------------------------------------------------- the Try it page

def _web_folder(tmp_path: Path) -> Path:
    web = tmp_path / "web"
    web.mkdir()
    (web / "package-lock.json").write_text("{}")
    return web


def test_web_packages_without_npm_name_the_command(tmp_path, monkeypatch):
    web = _web_folder(tmp_path)
    monkeypatch.setattr(build_book.shutil, "which", lambda name: None)
    with pytest.raises(build_book.BuildError, match=r"npm not found.*`npm ci` in web/"):
        build_book.ensure_web_packages(web)


def test_web_packages_are_reinstalled_when_older_than_the_lock(tmp_path, monkeypatch):
    import os

    web = _web_folder(tmp_path)
    installed = web / "node_modules" / ".package-lock.json"
    dist = web / "node_modules" / "onnxruntime-web" / "dist"
    dist.mkdir(parents=True)
    for name in build_book.ORT_FILES:
        (dist / name).write_text("x")
    installed.write_text("{}")
    calls = []
    monkeypatch.setattr(build_book.shutil, "which", lambda name: "/usr/bin/npm")
    monkeypatch.setattr(build_book.subprocess, "run", lambda command, **kw: calls.append(command)
                        or subprocess.CompletedProcess(command, 0, "", ""))
    lock_time = (web / "package-lock.json").stat().st_mtime
    os.utime(installed, (lock_time + 10, lock_time + 10))
    assert build_book.ensure_web_packages(web) == dist and calls == []   # up to date
    os.utime(installed, (lock_time - 10, lock_time - 10))
    build_book.ensure_web_packages(web)
    assert calls and calls[0][:2] == ["/usr/bin/npm", "ci"]               # older: npm ci
    (dist / build_book.ORT_FILES[-1]).unlink()
    with pytest.raises(build_book.BuildError, match="ort-wasm-simd-threaded.wasm"):
        build_book.ensure_web_packages(web)


def test_the_kernel_gets_its_artifacts_folder(tmp_path):
    """The folder a walkthrough writes build files into reaches the kernel's environment."""
    probe = "import os; print(os.environ['GLOW_TTS_BOOK_ARTIFACTS'])"
    nb = new_notebook(cells=[new_code_cell(probe)])
    folder = tmp_path / "artifacts"
    render.execute_notebook(nb, tmp_path, "probe", timeout=120, quick=True, artifacts=folder)
    assert nb.cells[0].outputs[0]["text"].strip() == str(folder)
