"""Benchmark of the Try it page: from the click on Synthesize to playable audio, in
headless Chromium, for a 30-syllable Korean sentence.

What is timed, inside the page: ``performance.now()`` just before the button's click
event is dispatched, to the audio element's ``canplaythrough`` event for the new WAV: the
JS text frontend, the encoder graph, the expansion of durations, the noise, the decoder
graph (onnxruntime-web, WebAssembly, one thread), Griffin-Lim in JavaScript, the WAV
encoding and the browser's decoding of it, plus the drawing of the mel and the token
table. Not timed: loading the page, onnxruntime-web and the model (done once, before the
first click). Every run synthesizes the same sentence with the same sliders; the first
click is a warm-up, reported apart, then ``--runs`` timed clicks give the median and p90.

    python bench/tryit.py --site site            # a site built by `make book`
    python bench/tryit.py --site /tmp/site --runs 10

The site must hold try_it.html and tryit/ (tools/build_book.py writes them); it is served
on 127.0.0.1 by Python's http.server, as `make serve` does. Needs Debian's chromium and
Playwright (the browser tests' setup).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import http.server
import json
import os
import shutil
import statistics
import sys
import threading
from pathlib import Path

# 30 syllables (Hangul only, no digits), so the text frontend does no number reading
SENTENCE = "오늘은 날씨가 맑아서 친구와 함께 공원에 가서 천천히 산책을 하고 싶어요."
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

CLICK_TO_AUDIO_JS = """
async () => {
  const audio = document.getElementById('tryit-audio');
  const error = document.getElementById('tryit-error');
  const ready = new Promise((resolve, reject) => {
    audio.addEventListener('canplaythrough', resolve, {once: true});
    audio.addEventListener('error', () => reject(new Error('audio error')), {once: true});
  });
  const t0 = performance.now();
  document.getElementById('tryit-synthesize').click();
  const failed = new Promise((_, reject) => {
    const poll = setInterval(() => {
      if (!error.hidden) { clearInterval(poll); reject(new Error(error.textContent)); }
    }, 5);
    ready.then(() => clearInterval(poll));
  });
  await Promise.race([ready, failed]);
  const ms = performance.now() - t0;
  const table = document.getElementById('tryit-tokens');
  return {ms, tokens: table.dataset.ids.split(',').length,
          frames: table.dataset.durations.split(',').reduce((a, b) => a + Number(b), 0),
          seconds: audio.duration};
}
"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=Path("site"), help="a built site folder")
    parser.add_argument("--runs", type=int, default=10, help="timed clicks after the warm-up")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if not (args.site / "try_it.html").is_file() or not (args.site / "tryit").is_dir():
        print(f"error: {args.site} holds no Try it page (try_it.html, tryit/); build the book "
              f"first (make book, or python tools/build_book.py --dest {args.site})",
              file=sys.stderr)
        return 2
    chromium = shutil.which("chromium")
    if chromium is None:
        print("error: no `chromium` on PATH (apt-get install -y chromium)", file=sys.stderr)
        return 2
    syllables = sum(1 for c in SENTENCE if "\uac00" <= c <= "\ud7a3")

    from playwright.sync_api import sync_playwright

    handler = functools.partial(QuietHandler, directory=str(args.site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/try_it.html"
    run = json.loads((args.site / "tryit" / "model" / "run.json").read_text(encoding="utf-8"))
    errors: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                                 args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url, wait_until="load")
            page.wait_for_selector("#tryit-synthesize:not([disabled])", timeout=120_000)
            page.fill("#tryit-text", SENTENCE)
            warmup = page.evaluate(CLICK_TO_AUDIO_JS)
            runs = [page.evaluate(CLICK_TO_AUDIO_JS) for _ in range(args.runs)]
            browser.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    if errors:
        print("error: the page logged errors: " + "; ".join(errors[:5]), file=sys.stderr)
        return 1
    times = [r["ms"] for r in runs]
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(), "sentence": SENTENCE, "syllables": syllables,
        "tokens": runs[0]["tokens"], "frames": runs[0]["frames"],
        "audio_seconds": round(runs[0]["seconds"], 3),
        "model_steps": run["steps"], "quick_model": run.get("quick", False),
        "warmup_ms": round(warmup["ms"], 1), "runs_ms": [round(t, 1) for t in times],
        "median_ms": round(statistics.median(times), 1), "p90_ms": round(percentile(times, 0.9), 1),
    }
    print(f"{result['date']}, load average {result['load_average']}, {result['cpus']} CPUs")
    print(f"sentence: {SENTENCE} ({syllables} syllables, {result['tokens']} tokens, "
          f"{result['frames']} frames, {result['audio_seconds']} s of audio)")
    print(f"model: {run['steps']} steps{' (quick build)' if result['quick_model'] else ''}")
    print(f"click to playable audio: median {result['median_ms']:.0f} ms, "
          f"p90 {result['p90_ms']:.0f} ms over {len(times)} runs "
          f"(first click, a warm-up: {result['warmup_ms']:.0f} ms)")
    print("runs (ms): " + ", ".join(f"{t:.0f}" for t in times))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
