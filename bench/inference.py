"""Benchmark: acoustic-model real-time factor (text -> mel) of the base configuration.

RTF = seconds of compute / seconds of audio the mel stands for (frames x hop_length /
sampling_rate, 256 / 22050 s per frame). Batch 1, 80 tokens, about 400 frames: the
duration predictor's output layer is set so every token lasts exactly 5 frames (the
same in both models), since random weights would predict arbitrary lengths. Eval mode,
``store_inverse()`` called, sampling with ``noise_scale=0.667``; the first runs are
discarded as warm-up; median and p90 of the rest.

With ``--reference DIR`` (a checkout of the original jaywalnut310/glow-tts, not part of
this repository, with its Cython ``monotonic_align`` built: ``cd DIR/monotonic_align &&
mkdir -p monotonic_align && python setup.py build_ext --inplace``) the original
``FlowGenerator`` gets the same weights (our state dict renamed to its ``weight_g`` /
``weight_v`` layout), its output is checked against ours at ``noise_scale=0``, and both
are timed in alternation, round by round, so a busy machine slows both alike. CPU
seconds (all threads) are printed beside the wall time: on a shared machine the wall time
of a 2-thread run also measures other people's load.

With ``--onnxruntime`` the same weights are also exported with :mod:`glow_tts.export` and
timed in onnxruntime (encoder graph, the NumPy path expansion and noise, decoder graph), in
the same rounds; its mel is checked against ours at ``noise_scale=0``.

    python bench/inference.py --threads 2 --reference /work/scratch/orig_bench --onnxruntime
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone

# OpenMP's wait policy is left at the library default (libgomp: an idle thread spins a
# short while before it sleeps), which is what a user of the package gets. On a quiet
# machine that is the fast setting: with OMP_WAIT_POLICY=PASSIVE every one of the ~1000
# small operations of an inference pays a thread wake-up (measured here: RTF 0.033
# instead of 0.019). On a machine shared with other jobs, spinning threads steal the
# cores their partners need and 2-thread timings blow up; there, run with
# OMP_WAIT_POLICY=PASSIVE. The header line prints the policy in force.

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAMES_PER_TOKEN = 4.5   # exp(logw); ceil -> 5 frames per token, 80 tokens -> 400 frames


def header(title: str, threads: int) -> str:
    return (f"# {title}  {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  "
            f"{platform.machine()}, {os.cpu_count()} cores, threads={threads}, "
            f"torch {torch.__version__}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'default')}")


def base_model_config() -> dict:
    with open(os.path.join(REPO, "configs", "base.json"), encoding="utf-8") as f:
        return json.load(f)


def build_ours(seed: int = 1234):
    """Our FlowGenerator with the base config; durations pinned to 5 frames per token."""
    from glow_tts.models import FlowGenerator
    from glow_tts.text.symbols import symbols
    config = base_model_config()
    n_vocab = len(symbols) + int(config["data"].get("add_blank", False))
    torch.manual_seed(seed)
    model = FlowGenerator(n_vocab, out_channels=config["data"]["n_mel_channels"],
                          **config["model"])
    with torch.no_grad():
        # Give the (zero-initialised) coupling outputs some weight so the flow is not the
        # identity, and pin the predicted durations.
        for name, p in model.named_parameters():
            if name.endswith("end.weight") or name.endswith("end.bias"):
                p.normal_(0, 0.01)
        model.encoder.proj_w.proj.weight.zero_()
        model.encoder.proj_w.proj.bias.fill_(math.log(FRAMES_PER_TOKEN))
    return model, n_vocab, config


def load_reference_modules(reference_dir: str):
    """Import the original's ``models`` and ``commons`` from its checkout."""
    if not os.path.isfile(os.path.join(reference_dir, "models.py")):
        sys.exit(f"--reference {reference_dir}: no models.py there; give the original's checkout")
    sys.path.insert(0, os.path.abspath(reference_dir))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # its deprecated torch APIs warn on import
        try:
            import commons as original_commons
            import models as original_models
        except ImportError as e:
            sys.exit(f"--reference {reference_dir}: cannot import the original ({e}); build its "
                     f"monotonic_align extension first (see this script's docstring)")
    return original_models, original_commons


def build_reference_like(ours, n_vocab: int, config: dict, original_models):
    """The original FlowGenerator holding exactly our model's weights."""
    import warnings
    from glow_tts.models import to_original_state_dict
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # weight_norm deprecation
        reference = original_models.FlowGenerator(
            n_vocab, out_channels=config["data"]["n_mel_channels"], **config["model"])
    reference.load_state_dict(to_original_state_dict(ours.state_dict()), strict=True)
    return reference


def make_text(n_tokens: int, n_vocab: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(1, n_vocab, (1, n_tokens), generator=gen)
    return x, torch.tensor([n_tokens])


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", metavar="DIR", help="checkout of the original glow-tts")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=80)
    parser.add_argument("--onnxruntime", action="store_true",
                        help="also time the ONNX export of the same weights in onnxruntime")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    ours, n_vocab, config = build_ours()
    contenders = {}
    reference = None
    if args.reference:
        original_models, _ = load_reference_modules(args.reference)
        reference = build_reference_like(ours, n_vocab, config, original_models)
        reference.eval()
        reference.decoder.store_inverse()
    ours.eval()
    ours.store_inverse()

    x, x_lengths = make_text(args.tokens, n_vocab)
    hop, sr = config["data"]["hop_length"], config["data"]["sampling_rate"]

    def run_ours(noise_scale=0.667):
        return ours.infer(x, x_lengths, noise_scale=noise_scale).mel

    contenders["ours"] = run_ours
    if reference is not None:
        def run_reference(noise_scale=0.667):
            with torch.no_grad():
                (y, *_), *_ = reference(x, x_lengths, gen=True, noise_scale=noise_scale,
                                        length_scale=1.0)
            return y
        contenders["original"] = run_reference

    if args.onnxruntime:
        import tempfile
        import onnxruntime
        from glow_tts.export import OnnxSynthesizer, export_model
        from glow_tts.hparams import HParams
        with tempfile.TemporaryDirectory() as tmp:
            export_model(ours, HParams(**config), tmp)
            onnx = OnnxSynthesizer(tmp, threads=args.threads)
        x_np, x_lengths_np = x.numpy(), x_lengths.numpy()

        def run_onnx(noise_scale=0.667):
            return torch.from_numpy(onnx.run(x_np, x_lengths_np, noise_scale=noise_scale,
                                             seed=None)["mel"])
        contenders["onnxruntime"] = run_onnx

    print(header("Inference RTF benchmark", args.threads)
          + (f", onnxruntime {onnxruntime.__version__}" if args.onnxruntime else ""))
    mel = run_ours(0.0)
    frames = mel.shape[-1]
    audio_seconds = frames * hop / sr
    print(f"base config, batch 1, {args.tokens} tokens -> {frames} frames = "
          f"{audio_seconds:.3f} s of audio; {args.warmup} warm-up + {args.runs} timed runs each")
    if reference is not None:
        ref_mel = contenders["original"](0.0)
        diff = (mel - ref_mel).abs().max().item() if ref_mel.shape == mel.shape else float("nan")
        print(f"ours vs original at noise_scale=0: shapes {tuple(mel.shape)} / "
              f"{tuple(ref_mel.shape)}, max |diff| = {diff:.2e}")
    if args.onnxruntime:
        onnx_mel = run_onnx(0.0)
        diff = (mel - onnx_mel).abs().max().item() if onnx_mel.shape == mel.shape else float("nan")
        print(f"ours vs onnxruntime at noise_scale=0: max |diff| = {diff:.2e}")

    for _ in range(args.warmup):
        for fn in contenders.values():
            fn()
    times = {name: [] for name in contenders}
    cpu_times = {name: [] for name in contenders}
    for _ in range(args.runs):
        for name, fn in contenders.items():
            cpu_start, start = time.process_time(), time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
            cpu_times[name].append(time.process_time() - cpu_start)

    print(f"load average {os.getloadavg()[0]:.1f} (this machine has {os.cpu_count()} cores)")
    print(f"{'model':<11} {'median s':>9} {'p90 s':>8} {'RTF med':>8} {'RTF p90':>8} "
          f"{'cpu-s med':>10}")
    for name, ts in times.items():
        med, p90 = statistics.median(ts), percentile(ts, 0.9)
        print(f"{name:<11} {med:9.4f} {p90:8.4f} {med / audio_seconds:8.4f} "
              f"{p90 / audio_seconds:8.4f} {statistics.median(cpu_times[name]):10.4f}")
    if reference is not None:
        ratio = statistics.median(times["ours"]) / statistics.median(times["original"])
        cpu_ratio = (statistics.median(cpu_times["ours"])
                     / statistics.median(cpu_times["original"]))
        print(f"ours / original (median): wall {ratio:.3f}, cpu {cpu_ratio:.3f}")
        if args.onnxruntime:
            ratio = statistics.median(times["onnxruntime"]) / statistics.median(times["original"])
            cpu_ratio = (statistics.median(cpu_times["onnxruntime"])
                         / statistics.median(cpu_times["original"]))
            print(f"onnxruntime / original (median): wall {ratio:.3f}, cpu {cpu_ratio:.3f}")


if __name__ == "__main__":
    main()
