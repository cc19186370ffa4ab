"""The Try it page (chapters/try_it.md, web/tryit.mjs) in Chromium: Korean text to audio.

Uses the site the browser tests share (tests/conftest.py: one quick build, whose Try it
page carries the model walkthrough 15 trained in quick mode). Types a sentence, presses
Synthesize and waits for the audio, then checks what the page shows against Python: the
token ids against glow_tts.text, the durations against the same exported graphs run by
onnxruntime in Python (glow_tts.export.OnnxSynthesizer), and the audio's length against
the durations. Also: an unsupported character is named, not dropped; the page opened from
file:// says how to serve it; `python -m http.server` (make serve) serves the page's
modules and WebAssembly with types Chromium accepts.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from browser_support import BUILD_TIMEOUT_S

REPO = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(BUILD_TIMEOUT_S + 300)]

SENTENCE = "오늘 오후 3시에 친구 두 명과 KTX를 탔어요."
SYNTH_TIMEOUT_MS = 60_000

WAIT_FOR_AUDIO_JS = """
async ([timeout]) => {
  const audio = document.getElementById('tryit-audio');
  const button = document.getElementById('tryit-synthesize');
  const before = audio.src;
  button.click();
  const t0 = performance.now();
  while (audio.src === before || !(audio.readyState >= 1 && isFinite(audio.duration))) {
    if (!document.getElementById('tryit-error').hidden) {
      return {error: document.getElementById('tryit-error').textContent};
    }
    if (performance.now() - t0 > timeout) return {error: 'timed out'};
    await new Promise(r => setTimeout(r, 20));
  }
  const table = document.getElementById('tryit-tokens');
  return {duration: audio.duration, ids: table.dataset.ids, durations: table.dataset.durations,
          status: document.getElementById('tryit-status').textContent};
}
"""


@pytest.fixture(scope="module")
def model_files(site) -> Path:
    folder = site / "tryit" / "model"
    assert (folder / "encoder.onnx").is_file(), f"the build put no model into {folder}"
    return folder


def _open(server, browser_context, path: str):
    """A Try it page, loaded and ready, with what it logged and requested."""
    page = browser_context.new_page()
    record = {"console": [], "failed": [], "offsite": []}
    page.on("console", lambda msg: record["console"].append(msg.text)
            if msg.type == "error" else None)
    page.on("pageerror", lambda err: record["console"].append(str(err)))
    page.on("requestfailed", lambda req: record["failed"].append(f"{req.url} ({req.failure})"))
    page.on("response", lambda resp: record["failed"].append(f"{resp.url} (HTTP {resp.status})")
            if resp.status >= 400 else None)
    page.on("request", lambda req: record["offsite"].append(req.url)
            if not req.url.startswith((server, "data:", "blob:")) else None)
    page.goto(f"{server}/{path}", wait_until="load")
    page.wait_for_selector("#tryit-synthesize:not([disabled])", timeout=SYNTH_TIMEOUT_MS)
    return page, record


@pytest.fixture(scope="module")
def tryit(server, browser_context):
    """The Try it page, loaded and ready, with what it logged and requested."""
    page, record = _open(server, browser_context, "try_it.html")
    yield page, record
    page.close()


@pytest.fixture(scope="module")
def tryit_ko(server, browser_context):
    """The Korean edition's Try it page (ko/try_it.html), loaded and ready."""
    page, record = _open(server, browser_context, "ko/try_it.html")
    yield page, record
    page.close()


def _set_slider(page, element_id: str, value: float) -> None:
    page.evaluate("""([id, value]) => {
        const slider = document.getElementById(id);
        slider.value = String(value);
        slider.dispatchEvent(new Event('input'));
    }""", [element_id, value])


def _synthesize(page, text: str) -> dict:
    page.fill("#tryit-text", "")
    page.locator("#tryit-text").press_sequentially(text)
    return page.evaluate(WAIT_FOR_AUDIO_JS, [SYNTH_TIMEOUT_MS])


def test_page_synthesizes_what_python_computes(tryit, model_files):
    from glow_tts import commons
    from glow_tts.export import OnnxSynthesizer
    from glow_tts.text import BLANK_ID, text_to_sequence

    page, record = tryit
    run = json.loads((model_files / "run.json").read_text(encoding="utf-8"))
    data = run["data"]
    expected_ids = text_to_sequence(SENTENCE, data["text_cleaners"])
    if data["add_blank"]:
        expected_ids = commons.intersperse(expected_ids, BLANK_ID)
    onnx = OnnxSynthesizer(str(model_files), threads=1)
    hop, rate = data["hop_length"], data["sampling_rate"]
    shown_steps = page.locator("#tryit-run").get_attribute("data-steps")
    assert shown_steps == str(run["steps"]), "the page names another run than the model's"
    assert f"{run['steps']} steps" in page.locator("#tryit-run").inner_text()

    for length_scale in (1.0, 1.4):
        _set_slider(page, "tryit-length", length_scale)
        _set_slider(page, "tryit-noise", 0.5)
        result = _synthesize(page, SENTENCE)
        assert "error" not in result, result
        ids = [int(i) for i in result["ids"].split(",")]
        durations = [int(d) for d in result["durations"].split(",")]
        assert ids == expected_ids
        python = onnx.run(np.array([ids]), np.array([len(ids)]), noise_scale=0.0,
                          length_scale=length_scale)
        assert durations == python["durations"][0].tolist(), f"length_scale {length_scale}"
        frames = sum(durations)
        # (F - 1) * hop samples for F frames, as mel_to_wav; one frame of tolerance
        assert abs(result["duration"] - (frames - 1) * hop / rate) <= hop / rate, result
        assert result["duration"] > 0.5
    assert not record["console"], record["console"]
    assert not record["failed"], record["failed"]
    assert not record["offsite"], record["offsite"]


@pytest.mark.parametrize("char", ["😀", "漢"])
def test_unsupported_character_is_named(tryit, char):
    page, record = tryit
    result = _synthesize(page, f"안녕하세요 {char} 반가워요")
    assert "error" in result, f"{char!r} was not refused: {result}"
    message = result["error"]
    assert char in message and f"U+{ord(char):04X}" in message, message
    assert page.locator("#tryit-error").is_visible()
    assert not record["console"], record["console"]


def _korean_messages() -> dict[str, str]:
    """{name: Korean} of web/tryit.mjs's messages, read from po/ko/ui.po itself."""
    import polib
    sys.path.insert(0, str(REPO / "tools"))
    import i18n
    po = polib.pofile(str(i18n.catalog_path("ui")), wrapwidth=0)
    return {name: po.find(english).msgstr for name, english in i18n.web_messages().items()}


def test_korean_page_speaks_korean(tryit_ko, model_files):
    """The Korean edition's page writes its run-time messages in Korean, from the catalog:
    an unsupported character is named in Korean, and a sentence is synthesized."""
    page, record = tryit_ko
    korean = _korean_messages()
    assert page.evaluate("document.documentElement.lang") == "ko"
    assert page.locator("#tryit-status").inner_text() == korean["ready"]
    run_text = page.locator("#tryit-run").inner_text()
    assert run_text.startswith(korean["run"].split("{")[0]) and "steps" not in run_text, run_text

    result = _synthesize(page, "안녕하세요 漢 반가워요")
    expected = korean["unsupported"].replace("{char}", "漢").replace("{codepoint}", "6F22")
    assert result == {"error": expected}
    assert expected.startswith("지원하지 않는 문자입니다") and "漢" in expected

    result = _synthesize(page, "안녕하세요, 반가워요.")
    assert "error" not in result, result
    assert result["duration"] > 0.3 and result["ids"]
    done = re.escape(korean["done"])
    for name in ("tokens", "frames", "seconds", "ms"):
        done = done.replace(re.escape("{" + name + "}"), r"[0-9.]+")
    assert re.fullmatch(done, result["status"]), result["status"]
    run = json.loads((model_files / "run.json").read_text(encoding="utf-8"))
    if run["data"]["add_blank"]:   # the blanks' rows name them in Korean
        cells = page.locator("#tryit-tokens tbody td:nth-child(2)").all_inner_texts()
        assert korean["blank"] in cells and "(blank)" not in cells
    assert not record["console"], record["console"]
    assert not record["failed"], record["failed"]
    assert not record["offsite"], record["offsite"]


def test_file_url_says_how_to_serve(site, browser_context):
    page = browser_context.new_page()
    page.goto((site / "try_it.html").as_uri(), wait_until="load")
    warning = page.locator("#tryit-file-warning")
    assert warning.is_visible()
    assert "make serve" in warning.inner_text()
    page.close()


def test_make_serve_gives_module_and_wasm_types(site):
    """`make serve` is `python -m http.server --directory site`: its types for .mjs and
    .wasm must be ones Chromium takes for a module script and for WebAssembly streaming."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                               "--directory", str(site), str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for attempt in range(100):
            try:
                urllib.request.urlopen(f"{base}/try_it.html").close()
                break
            except OSError:
                time.sleep(0.1)
        types = {}
        for path in ["tryit/tryit.mjs", "tryit/ort/ort.wasm.min.mjs",
                     "tryit/ort/ort-wasm-simd-threaded.mjs",
                     "tryit/ort/ort-wasm-simd-threaded.wasm"]:
            with urllib.request.urlopen(f"{base}/{path}") as response:
                types[path] = response.headers.get_content_type()
    finally:
        server.terminate()
        server.wait(timeout=10)
    javascript = {"text/javascript", "application/javascript", "application/x-javascript"}
    for path, kind in types.items():
        wanted = {"application/wasm"} if path.endswith(".wasm") else javascript
        assert kind in wanted, f"{path} is served as {kind}"
