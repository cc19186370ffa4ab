"""Did the demo's model learn? Held-out quality of ``python -m glow_tts demo``.

Runs the demo (or reads a finished one with ``--from DIR``) and reports, on the held-out
test sentences of the embedded corpus (see :mod:`glow_tts.quality` for the definitions):

* **duration error**: ``mean |T_pred - T_real| / mean T_real``, where ``T_pred`` is the
  number of mel frames the model generates for the sentence (sum of its predicted
  durations) and ``T_real`` the recording's. Target: at most 12 %.
* **mel ratio**: mean absolute log-mel difference between the synthesized mel (noise
  scale 0.333) and the real one after DTW alignment (cost of a frame pair = mean absolute
  difference over the 80 bands; error = path cost / path length), divided by the error of
  the **constant mean-mel baseline**: the average training frame (over every frame of
  every training file) output for every frame, compared frame-wise with the real mel
  (aligning a constant sequence changes nothing). Target: at most 0.45.

It also evaluates the data-dependent init (``ddi_G.pth``, the untrained model) on the
same sentences, which must fail both targets, and it reports the demo's wall-clock time
per stage and the machine's load (the demo must take under 8 minutes on 2 cores).

    python bench/quality.py                     # run the demo into out/bench_demo, then measure
    python bench/quality.py --from out/demo     # measure a finished demo
    python bench/quality.py --write             # also update bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "RESULTS.md")
BEGIN, END = "<!-- quality:begin -->", "<!-- quality:end -->"
DURATION_TARGET, MEL_TARGET, TIME_TARGET_S = 0.12, 0.45, 8 * 60


def untrained_figures(out_dir: str) -> dict:
    """Both figures for the model right after DDI (before any training step)."""
    from glow_tts.quality import evaluate_checkpoint
    model_dir = os.path.join(out_dir, "model")
    return evaluate_checkpoint(model_dir, os.path.join(model_dir, "ddi_G.pth"))


def section(summary: dict, untrained: dict, load: str, command: str) -> str:
    t = summary["timings"]
    ok = lambda value, target: "meets" if value <= target else "**misses**"
    lines = [
        BEGIN,
        "## Demo quality (`bench/quality.py`)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, no GPU, Python "
        f"{platform.python_version()}, torch {__import__('torch').__version__}; the demo "
        f"trains on {summary['threads']} thread(s). Date: "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. "
        f"Load average during the run: {load}.",
        f"Command: `{command}`. Config `{os.path.relpath(summary['config'])}`: "
        f"{summary['parameters']:,} parameters, {summary['steps']} steps of batch "
        f"{summary.get('batch_size', '?')} ({summary['epochs']} epochs over "
        f"{summary.get('n_train', '?')} training sentences); {len(summary['samples'])} "
        f"held-out test sentences.",
        "",
        "| figure (held-out test sentences) | trained | untrained (DDI only) | target |",
        "|---|---|---|---|",
        f"| duration error, mean \\|T_pred − T_real\\| / mean T_real | "
        f"{summary['duration_error']:.1%} ({ok(summary['duration_error'], DURATION_TARGET)}) | "
        f"{untrained['duration_error']:.1%} | ≤ 12 % |",
        f"| DTW log-mel error / mean-mel baseline | {summary['mel_ratio']:.3f} "
        f"({summary['mel_error']:.3f} / {summary['baseline_error']:.3f}; "
        f"{ok(summary['mel_ratio'], MEL_TARGET)}) | {untrained['mel_ratio']:.3f} | ≤ 0.45 |",
        f"| demo wall-clock time | {t['total_s']:.0f} s ({ok(t['total_s'], TIME_TARGET_S)}) | | < 480 s |",
        "",
        f"Stages: corpus {t['corpus_s']:.0f} s, DDI {t['ddi_s']:.0f} s, training "
        f"{t['train_s']:.0f} s, synthesis + figures {t['synthesis_s']:.0f} s; CPU time of "
        f"the process (all threads) {t.get('cpu_s', float('nan')):.0f} s.",
        "The wall-clock time is measured inside `run_demo` (Python start-up and imports, a "
        "few seconds, come on top). The demo trains on one thread by default: on this "
        "shared machine, with 2 threads, 400 steps took 647 s instead of about 200 s "
        "(the threads wait on each other while other jobs hold the cores).",
        "Definitions are in `glow_tts/quality.py`; the baseline outputs the mean training "
        "frame for every frame (compared frame-wise). `tests/test_demo.py` checks a "
        "shortened run (`GLOW_TTS_QUICK=1`) against looser thresholds that the untrained "
        "model fails.",
        END,
    ]
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    with open(RESULTS, encoding="utf-8") as f:
        content = f.read()
    if BEGIN in content and END in content:
        before, rest = content.split(BEGIN, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        content = before + text + ("\n" + after if after else "")
    else:
        content = content.rstrip("\n") + "\n\n" + text
    with open(RESULTS, "w", encoding="utf-8") as f:
        f.write(content)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--from", dest="from_dir", help="a finished demo output folder")
    parser.add_argument("--out", default="out/bench_demo", help="where to run the demo")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    if args.from_dir:
        out_dir = args.from_dir
        with open(os.path.join(out_dir, "summary.json"), encoding="utf-8") as f:
            summary = json.load(f)
        command = f"python -m glow_tts demo --out {out_dir}"
        la = summary.get("load_average")
        load = (f"{la['start_1min']:.1f} at the start, {la['end_1min']:.1f} / {la['end_15min']:.1f} "
                f"(1 / 15 min) at the end" if la else "not recorded")
    else:
        from glow_tts.demo import run_demo
        out_dir = args.out
        load_before = os.getloadavg()
        summary = run_demo(out_dir)
        load_after = os.getloadavg()
        command = f"python bench/quality.py --out {out_dir}"
        load = f"{load_before[0]:.1f} at the start, {load_after[0]:.1f} / {load_after[2]:.1f} (1 / 15 min) at the end"
    untrained = untrained_figures(out_dir)
    text = section(summary, untrained, load, command)
    print(text)
    if args.write:
        write_section(text)
        print(f"updated {RESULTS}")
    ok = (summary["duration_error"] <= DURATION_TARGET and summary["mel_ratio"] <= MEL_TARGET)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
