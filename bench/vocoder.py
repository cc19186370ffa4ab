"""Benchmark of the browser vocoder (web/griffin_lim.mjs): Griffin-Lim time for one sentence.

The mel is a real one (eSpeak NG speaking corpus sentence 178, 33 syllables, 577 frames),
cut to ``--frames`` frames (250 by default: about what the tiny model decodes for a
30-syllable sentence). ``griffinLim`` runs with the exported tables (32 iterations,
momentum 0.99) in

* ``node``     - Node (web/run_vocoder.mjs), tables read from the files;
* ``chromium`` - headless Chromium (Debian's, through Playwright), the module and the tables
                 served over HTTP from this machine and loaded with loadVocoderTables, as the
                 page does; skipped when no ``chromium`` is installed;
* ``python``   - glow_tts.audio.griffin_lim (torch, float32, one thread), for scale.

Each runs once untimed (the JavaScript JIT compiles the hot loops on the first call), then
``--runs`` timed runs; median and p90 of wall-clock milliseconds are printed with the load
average, which on this shared 2-core machine moves the figures more than anything else.

    python bench/vocoder.py [--frames 250] [--runs 10]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from glow_tts import audio  # noqa: E402
from glow_tts.corpus.build import load_sentences, synthesize_sentence  # noqa: E402
from glow_tts.hparams import get_hparams_from_file  # noqa: E402

CONFIG = os.path.join(REPO, "configs", "tiny.json")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def summary(times: list[float]) -> str:
    times = sorted(times)
    p90 = times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))]
    return f"median {statistics.median(times):7.1f} ms, p90 {p90:7.1f} ms, min {times[0]:7.1f} ms"


def real_mel(frames: int) -> torch.Tensor:
    hps = get_hparams_from_file(CONFIG)
    sentence = next(s for s in load_sentences() if s.index == 178)
    wav = torch.from_numpy(synthesize_sentence(sentence.expanded).astype(np.float32) / 32768.0)
    mel = audio.MelSpectrogram.from_hparams(hps.data)(wav)
    if frames > mel.shape[1]:
        raise SystemExit(f"--frames {frames}: the sentence's mel has only {mel.shape[1]} frames")
    return mel[:, :frames].contiguous()


def time_node(folder: str, mel: torch.Tensor, runs: int) -> list[float]:
    mel.numpy().astype("<f4").tofile(os.path.join(folder, "mel.f32"))
    jobs = [{"fn": "griffinLim", "mel": os.path.join(folder, "mel.f32"), "nMel": mel.shape[0],
             "nFrames": mel.shape[1], "options": {}, "out": os.path.join(folder, "out.f32"),
             "repeat": runs + 1}]
    with open(os.path.join(folder, "jobs.json"), "w", encoding="utf-8") as f:
        json.dump(jobs, f)
    run = subprocess.run([shutil.which("node"), os.path.join(REPO, "web", "run_vocoder.mjs"),
                          os.path.join(folder, "tables"), os.path.join(folder, "jobs.json")],
                         capture_output=True, text=True, check=True)
    return json.loads(run.stdout)[0]["ms"][1:]


PAGE = """<!doctype html><meta charset="utf-8"><script type="module">
import { griffinLim, loadVocoderTables } from "./web/griffin_lim.mjs";
const tables = await loadVocoderTables("./tables/");
const bytes = await (await fetch("./mel.f32")).arrayBuffer();
const mel = new Float32Array(bytes);
const times = [];
for (let r = 0; r <= RUNS; r++) {
  const start = performance.now();
  griffinLim(mel, NMEL, NFRAMES, tables);
  times.push(performance.now() - start);
}
window.benchTimes = times.slice(1);
</script>"""


def time_chromium(folder: str, mel: torch.Tensor, runs: int) -> list[float] | None:
    chromium = shutil.which("chromium")
    if chromium is None:
        return None
    from playwright.sync_api import sync_playwright

    os.symlink(os.path.join(REPO, "web"), os.path.join(folder, "web"))
    page_html = (PAGE.replace("RUNS", str(runs)).replace("NMEL", str(mel.shape[0]))
                 .replace("NFRAMES", str(mel.shape[1])))
    with open(os.path.join(folder, "bench.html"), "w", encoding="utf-8") as f:
        f.write(page_html)
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=folder))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                                 args=CHROMIUM_ARGS)
            page = browser.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/bench.html")
            page.wait_for_function("window.benchTimes !== undefined", timeout=300_000)
            times = page.evaluate("window.benchTimes")
            browser.close()
            if errors:
                raise RuntimeError(f"page errors: {errors}")
            return times
    finally:
        server.shutdown()
        server.server_close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    mel = real_mel(args.frames)
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, os.path.join(REPO, "tools", "export_web_tables.py"),
                        "--vocoder-config", CONFIG, "--vocoder-out", os.path.join(folder, "tables")],
                       check=True)
        mel.numpy().astype("<f4").tofile(os.path.join(folder, "mel.f32"))
        print(f"griffinLim, {args.frames} frames ({(args.frames - 1) * 256 / 22050:.2f} s of audio), "
              f"32 iterations; load average {os.getloadavg()[0]:.2f} at start")
        print(f"  node      {summary(time_node(folder, mel, args.runs))}")
        chromium_times = time_chromium(folder, mel, args.runs)
        print(f"  chromium  {summary(chromium_times)}" if chromium_times else "  chromium  (not installed)")
        audio.griffin_lim(mel)
        python_times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            audio.griffin_lim(mel)
            python_times.append(1000 * (time.perf_counter() - start))
        print(f"  python    {summary(python_times)}")
        print(f"load average {os.getloadavg()[0]:.2f} at end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
