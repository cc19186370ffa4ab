"""``python -m glow_tts demo``: the whole pipeline on a laptop CPU, in a few minutes.

1. **Corpus**: the embedded Korean sentences, synthesized by eSpeak NG into a KSS-like
   folder with train/val/test filelists (:func:`glow_tts.corpus.build_corpus`).
2. **DDI**: one forward pass that initialises the flow's ActNorm layers (``ddi_G.pth``).
3. **Training**: ``configs/tiny.json`` (about a million parameters) on the CPU, stopped at
   its ``train.max_steps``.
4. **Synthesis**: every held-out (test) sentence to a WAV (Griffin-Lim), with a PNG of the
   synthesized and the real mel and of the predicted alignment.
5. **Quality**: the two figures of :mod:`glow_tts.quality` on those sentences (duration
   error, and mel error against the mean-mel baseline), written to ``summary.json``.

``GLOW_TTS_QUICK=1`` shortens training (for tests and the book's quick runs); the
figures are then weaker but still far from an untrained model's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time

QUICK_STEPS = 200  # train.max_steps under GLOW_TTS_QUICK=1


def is_quick() -> bool:
    return os.environ.get("GLOW_TTS_QUICK", "") not in ("", "0")


def default_config() -> str:
    """``configs/tiny.json`` of the checkout this package sits in (or of the current folder)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for candidate in (os.path.join(here, "configs", "tiny.json"), os.path.join("configs", "tiny.json")):
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError("configs/tiny.json not found; pass --config")


def plot_sentence(path: str, text: str, synth_mel, real_mel, attn) -> None:
    """One PNG: synthesized mel, real mel and the predicted alignment of a sentence."""
    from glow_tts.fonts import register_hangul_font
    register_hangul_font()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(10, 7))
    axes = fig.subplots(3, 1, gridspec_kw={"height_ratios": [1, 1, 1.2]})
    for ax, mel, title in ((axes[0], synth_mel, "synthesized (noise 0.333)"),
                           (axes[1], real_mel, "real (eSpeak NG recording)")):
        im = ax.imshow(mel, aspect="auto", origin="lower", interpolation="none")
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("mel band")
        fig.colorbar(im, ax=ax)
    im = axes[2].imshow(attn, aspect="auto", origin="lower", interpolation="none", cmap="gray_r")
    axes[2].set_title("predicted alignment (token x frame)", fontsize=9)
    axes[2].set_xlabel("frame")
    axes[2].set_ylabel("token")
    fig.colorbar(im, ax=axes[2])
    fig.suptitle(text)
    fig.tight_layout()
    FigureCanvasAgg(fig).print_png(path)


def run_demo(out_dir: str = "out/demo", config: str | None = None, quick: bool | None = None,
             max_steps: int | None = None, threads: int | None = None, verbose: bool = True) -> dict:
    """Run the five stages into ``out_dir`` and return the summary (also ``summary.json``)."""
    import torch

    from glow_tts import utils
    from glow_tts.audio import save_wav
    from glow_tts.corpus import build_corpus
    from glow_tts.hparams import HParams, load_config_file, write_run_config
    from glow_tts.inference import mel_to_wav
    from glow_tts.init import run_ddi
    from glow_tts.quality import evaluate_filelist, training_mean_mel
    from glow_tts.train import train_and_eval

    say = print if verbose else (lambda *a, **k: None)
    quick = is_quick() if quick is None else quick
    # One thread by default: this model's operations are small, and with 2 threads on a
    # 2-core machine that is also running anything else, the threads spend their time
    # waiting for each other (measured here under load: 400 steps took 647 s with 2
    # threads, 185 s with 1).
    torch.set_num_threads(threads or 1)
    t_start, cpu_start, load_start = time.perf_counter(), time.process_time(), os.getloadavg()
    timings = {}

    # The config is read and checked before anything is written: a bad one must not leave
    # a freshly synthesized corpus behind.
    config_path = config or default_config()
    raw = load_config_file(config_path)

    corpus_dir = os.path.join(out_dir, "corpus")
    model_dir = os.path.join(out_dir, "model")
    samples_dir = os.path.join(out_dir, "samples")
    say(f"[1/5] corpus -> {corpus_dir}")
    t = time.perf_counter()
    corpus = build_corpus(corpus_dir, progress=verbose)
    timings["corpus_s"] = time.perf_counter() - t
    say(f"      {corpus}")

    raw["data"]["training_files"] = corpus.filelists["train"]
    raw["data"]["validation_files"] = corpus.filelists["val"]
    raw["train"]["use_cuda"] = False  # the demo is the CPU walk-through
    if quick:
        raw["train"]["max_steps"] = QUICK_STEPS
    if max_steps is not None:
        raw["train"]["max_steps"] = max_steps
    if os.path.isdir(model_dir):
        shutil.rmtree(model_dir)  # the demo always trains from scratch
    os.makedirs(model_dir)
    write_run_config(raw, os.path.join(model_dir, "config.json"))
    hps = HParams(**raw)
    hps.model_dir = model_dir
    logger = utils.get_logger(model_dir)

    say(f"[2/5] data-dependent init -> {model_dir}/ddi_G.pth")
    t = time.perf_counter()
    run_ddi(hps, logger)
    timings["ddi_s"] = time.perf_counter() - t

    say(f"[3/5] training {os.path.basename(config_path)} for {hps.train.max_steps} steps on "
        f"{torch.get_num_threads()} CPU thread(s) (TensorBoard: tensorboard --logdir {model_dir})")
    t = time.perf_counter()
    last_losses = {}
    result = train_and_eval(0, 1, hps, on_step=lambda step, losses, _: last_losses.update(
        mle=losses[0], duration=losses[1]))
    timings["train_s"] = time.perf_counter() - t
    model = result["generator"].eval()
    model.store_inverse()
    n_params = sum(p.numel() for p in model.parameters())

    say(f"[4/5] synthesizing the {corpus.counts['test']} held-out sentences -> {samples_dir}")
    t = time.perf_counter()
    mean_frame = training_mean_mel(hps.data, corpus.filelists["train"])
    report = evaluate_filelist(model, hps, corpus.filelists["test"], mean_frame, noise_scale=0.333)
    os.makedirs(samples_dir, exist_ok=True)
    items = []
    for i, item in enumerate(report["items"]):
        stem = os.path.join(samples_dir, f"test_{i:02d}")
        wav = mel_to_wav(item["synth"]["mel"], hps)
        save_wav(stem + ".wav", wav, hps.data.sampling_rate)
        plot_sentence(stem + ".png", item["text"], item["synth"]["mel"].numpy(), item["real_mel"],
                      item["synth"]["attn"].numpy())
        items.append({"text": item["text"], "wav": stem + ".wav", "png": stem + ".png",
                      "reference": item["path"], "real_frames": item["real_frames"],
                      "pred_frames": item["pred_frames"],
                      "mel_error": round(item["mel_error"], 4),
                      "baseline_error": round(item["baseline_error"], 4)})
    timings["synthesis_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - t_start
    timings["cpu_s"] = time.process_time() - cpu_start  # all threads of this process

    summary = {
        "config": config_path, "quick": quick, "steps": result["global_step"],
        "batch_size": hps.train.batch_size,
        "epochs": result["epoch"], "parameters": n_params, "threads": torch.get_num_threads(),
        "final_train_loss": last_losses or None,
        "duration_error": report["duration_error"], "mel_ratio": report["mel_ratio"],
        "mel_error": report["mel_error"], "baseline_error": report["baseline_error"],
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "load_average": {"start_1min": load_start[0], "end_1min": os.getloadavg()[0],
                         "end_15min": os.getloadavg()[2]},
        "n_train": corpus.counts["train"], "n_test": corpus.counts["test"],
        "out_dir": out_dir, "model_dir": model_dir, "samples": items,
    }
    with open(os.path.join(out_dir, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, ensure_ascii=False, indent=2)

    say("[5/5] summary")
    say(f"      model: {n_params:,} parameters, {summary['steps']} steps in "
        f"{timings['train_s']:.0f} s; total {timings['total_s']:.0f} s")
    say(f"      held-out duration error: {report['duration_error']:.1%} of the real length "
        f"(target <= 12%)")
    say(f"      held-out mel error: {report['mel_error']:.3f} vs mean-mel baseline "
        f"{report['baseline_error']:.3f} = {report['mel_ratio']:.2f}x (target <= 0.45x)")
    say(f"      WAVs and PNGs: {samples_dir}/test_NN.{{wav,png}}")
    say(f"      checkpoints, train.log, TensorBoard events: {model_dir}")
    say(f"      figures and timings: {os.path.join(out_dir, 'summary.json')}")
    return summary


def launch(args: argparse.Namespace) -> dict:
    return run_demo(args.out, config=args.config, quick=True if args.quick else None,
                    max_steps=args.max_steps, threads=getattr(args, "threads", None))


def main(argv: list[str] | None = None) -> dict:
    from glow_tts.args import parse
    return launch(parse("demo", argv))


if __name__ == "__main__":
    main()
