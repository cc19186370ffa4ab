"""Benchmark of the data frontend: mel extraction and the Korean text frontend.

Mel extraction, on the same batch (16 clips of 3 s at 22,050 Hz by default) in the same run,
timings interleaved round by round so a busy machine slows every contender alike:

* ``ours``         - ``glow_tts.audio.MelSpectrogram()`` as the data loader uses it
                     (float64 FFT and window: equal to the reference even on pure tones);
* ``ours-fp32``    - ``MelSpectrogram(fft_dtype=torch.float32)``, the fast option;
* ``ours-cuda``    - ``ours`` on the GPU, when there is one (input already on the device);
* ``librosa``      - ``librosa.feature.melspectrogram`` with the same settings (power 1,
                     reflect padding, Slaney filters, fmax 8 kHz) plus the same log clamp,
                     called once on the whole [16, T] batch (librosa accepts batches);
* ``librosa-per-clip`` - the same call once per clip, as a Tacotron-style
                     ``Dataset.__getitem__`` makes it (one utterance at a time; librosa then
                     rebuilds its mel filterbank on every call).

Each contender runs once before timing (warm-up: librosa's first call compiles numba
kernels; torch allocates its FFT plans). The reported figure is the best of ``--rounds``
rounds (the least disturbed), with the median beside it; the speed ratio is librosa's best
time over ours. Outputs are compared before timing, so a wrong fast path cannot win.

Text frontend: ``glow_tts.text.text_to_sequence(s, ["korean_cleaners"])`` over the
embedded corpus's sentences (the "original" column, with digits, so number reading is
included), in sentences per second.

    python bench/frontend.py                 # torch's default threads (all cores)
    python bench/frontend.py --threads 1     # one thread for torch, numpy and BLAS
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=16, help="clips per batch")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each clip")
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds per contender")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for torch and for numpy/BLAS (default: torch's default)")
    parser.add_argument("--text-repeats", type=int, default=20,
                        help="passes over the sentence list for the text timing")
    return parser.parse_args()


ARGS = parse_args()
if ARGS.threads is not None:
    # Must be set before numpy/torch load their thread pools.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402

if ARGS.threads is not None:
    torch.set_num_threads(ARGS.threads)

from glow_tts.audio import MelSpectrogram  # noqa: E402
from glow_tts.text import text_to_sequence  # noqa: E402

SR = 22050


def speech_like_batch(batch: int, seconds: float, seed: int = 0) -> np.ndarray:
    """Deterministic clips that look like voiced speech to an STFT: a harmonic series with
    a gliding pitch and a falling spectral tilt, amplitude bursts like syllables, a little
    noise. [batch, T] float32 in [-1, 1]."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    clips = []
    for _ in range(batch):
        f0 = rng.uniform(100, 250) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t))
        phase = 2 * np.pi * np.cumsum(f0) / SR
        voiced = sum(np.sin(k * phase) / k for k in range(1, 30))
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 5) * t) ** 2
        x = voiced * envelope + 0.01 * rng.standard_normal(n)
        clips.append(0.5 * x / np.abs(x).max())
    return np.stack(clips).astype(np.float32)


def librosa_log_mel(y: np.ndarray) -> np.ndarray:
    import librosa

    mel = librosa.feature.melspectrogram(
        y=y, sr=SR, n_fft=1024, hop_length=256, win_length=1024, window="hann", center=True,
        pad_mode="reflect", power=1.0, n_mels=80, fmin=0.0, fmax=8000.0)
    return np.log(np.maximum(mel, 1e-5))


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown"
    return ", ".join(f"{p['internal_api']}={p['num_threads']}" for p in threadpool_info()) or "none"


def time_interleaved(contenders: dict, rounds: int) -> dict[str, list[float]]:
    times = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def bench_mel() -> list[str]:
    wav = speech_like_batch(ARGS.batch, ARGS.seconds)
    wav_t = torch.from_numpy(wav)
    ours, ours_fp32 = MelSpectrogram(), MelSpectrogram(fft_dtype=torch.float32)

    def run_ours():
        with torch.no_grad():
            return ours(wav_t)

    def run_ours_fp32():
        with torch.no_grad():
            return ours_fp32(wav_t)

    contenders = {"ours": run_ours, "ours-fp32": run_ours_fp32, "librosa": lambda: librosa_log_mel(wav),
                  "librosa-per-clip": lambda: np.stack([librosa_log_mel(clip) for clip in wav])}
    if torch.cuda.is_available():
        wav_cuda, ours_cuda = wav_t.cuda(), MelSpectrogram().cuda()

        def run_ours_cuda():
            with torch.no_grad():
                out = ours_cuda(wav_cuda)
            torch.cuda.synchronize()  # time the work, not the launch
            return out.cpu()

        contenders["ours-cuda"] = run_ours_cuda
    start = time.perf_counter()
    reference = librosa_log_mel(wav)  # warm-up (numba compile on a fresh venv)
    warmup_librosa = time.perf_counter() - start
    ours_names = [name for name in contenders if not name.startswith("librosa")]
    for name in ours_names:
        out = contenders[name]().numpy()
        assert out.shape == reference.shape, (name, out.shape, reference.shape)
        diff = float(np.abs(out - reference).max())
        print(f"check {name:10s} max |log-mel - librosa| = {diff:.2e}")
    times = time_interleaved(contenders, ARGS.rounds)

    audio_seconds = ARGS.batch * ARGS.seconds
    best = {name: min(ts) for name, ts in times.items()}
    lines = [f"mel: batch {ARGS.batch} x {ARGS.seconds:g} s ({audio_seconds:g} s of audio), "
             f"{ARGS.rounds} interleaved rounds, librosa warm-up call {warmup_librosa:.2f} s"]
    for name, ts in times.items():
        lines.append(f"  {name:16s} best {best[name] * 1e3:7.1f} ms  median {statistics.median(ts) * 1e3:7.1f} ms"
                     f"  {ARGS.batch / best[name]:7.1f} clips/s  {audio_seconds / best[name]:7.0f}x real time")
    for baseline in ("librosa", "librosa-per-clip"):
        for name in ours_names:
            lines.append(f"  speed ratio {baseline}/{name}: {best[baseline] / best[name]:.2f}x "
                         f"(median {statistics.median(times[baseline]) / statistics.median(times[name]):.2f}x)")
    return lines


def bench_text() -> list[str]:
    from glow_tts.corpus.build import load_sentences

    sentences = [s.original for s in load_sentences()]
    for s in sentences:  # warm-up: regexes compiled, caches filled
        text_to_sequence(s, ["korean_cleaners"])
    times = []
    for _ in range(ARGS.text_repeats):
        start = time.perf_counter()
        for s in sentences:
            text_to_sequence(s, ["korean_cleaners"])
        times.append(time.perf_counter() - start)
    n = len(sentences)
    mean_chars = sum(map(len, sentences)) / n
    return [f"text: {n} corpus sentences (mean {mean_chars:.0f} characters), best of {ARGS.text_repeats} passes",
            f"  text_to_sequence  {n / min(times):8.0f} sentences/s  (median pass {n / statistics.median(times):.0f}/s)"]


def main() -> None:
    header = [
        f"date {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, torch {torch.__version__}",
        f"threads: torch {torch.get_num_threads()}, numpy/BLAS {blas_threads()}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}",
    ]
    for line in header + bench_mel() + bench_text():
        print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
