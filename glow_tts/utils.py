"""Run bookkeeping: the per-run logger and the git hash of the code that trained a model.

Unlike the original, importing this module configures nothing globally: the original called
``logging.basicConfig(stream=sys.stdout, level=DEBUG)`` at import time, which turned on DEBUG output for every
library (matplotlib, numba, PIL ...). Here only the logger returned by :func:`get_logger` logs.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

LOG_FORMAT = "%(asctime)s\t%(name)s\t%(levelname)s\t%(message)s"


def get_logger(model_dir: str, filename: str = "train.log") -> logging.Logger:
    """A logger named after ``model_dir`` that writes INFO lines to ``model_dir/filename``
    and to the console (stderr). Calling it twice for the same directory returns the same
    logger without duplicating its handlers."""
    os.makedirs(model_dir, exist_ok=True)
    name = "glow_tts." + os.path.basename(os.path.abspath(model_dir))
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # never reach the root logger, so no global configuration
    path = os.path.abspath(os.path.join(model_dir, filename))
    formatter = logging.Formatter(LOG_FORMAT)
    if not any(isinstance(h, logging.FileHandler) and h.baseFilename == path for h in logger.handlers):
        file_handler = logging.FileHandler(path, encoding="utf-8")
        file_handler.setFormatter(formatter)
        logger.addHandler(file_handler)
    if not any(type(h) is logging.StreamHandler for h in logger.handlers):
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(formatter)
        logger.addHandler(console)
    return logger


def git_hash(source_dir: str | None = None) -> str | None:
    """The commit of the checkout holding ``source_dir`` (default: this package), or None
    when it is not in a git checkout or git is not installed."""
    source_dir = source_dir or os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source_dir,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def check_git_hash(model_dir: str, logger: logging.Logger | None = None) -> str | None:
    """Record the code's commit in ``model_dir/githash`` and warn when it changed since.

    Outside a git checkout (an installed package, a tarball) it logs that and returns None
    instead of failing as the original did.
    """
    log = logger or logging.getLogger("glow_tts")
    current = git_hash()
    if current is None:
        log.warning("%s is not a git checkout; no git hash recorded", os.path.dirname(__file__))
        return None
    path = os.path.join(model_dir, "githash")
    if os.path.exists(path):
        with open(path) as f:
            saved = f.read().strip()
        if saved != current:
            log.warning("git hash values are different. %s(saved) != %s(current)", saved[:8], current[:8])
    else:
        with open(path, "w") as f:
            f.write(current)
    return current


# --- TensorBoard helpers (appended for the training loop) -------------------------------

def summarize(writer, global_step: int, scalars: dict | None = None, histograms: dict | None = None,
              images: dict | None = None, audios: dict | None = None,
              audio_sampling_rate: int = 22050) -> None:
    """Write scalars, histograms, ``[H, W, 3]`` uint8 images and ``[T]`` audio under their
    names at ``global_step``, as the original's ``utils.summarize`` (plus audio)."""
    for name, value in (scalars or {}).items():
        writer.add_scalar(name, value.item() if hasattr(value, "item") else float(value), global_step)
    for name, value in (histograms or {}).items():
        writer.add_histogram(name, value, global_step)
    for name, value in (images or {}).items():
        writer.add_image(name, value, global_step, dataformats="HWC")
    import torch
    for name, value in (audios or {}).items():
        writer.add_audio(name, torch.nan_to_num(value).clamp(-1, 1) if hasattr(value, "clamp") else value,
                         global_step, sample_rate=audio_sampling_rate)


def _figure_to_numpy(fig):
    """RGB ``[H, W, 3]`` uint8 of a figure. (The original used ``tostring_rgb``, removed in
    matplotlib 3.10; ``buffer_rgba`` is the supported way.) The figure is drawn on its own
    Agg canvas, without pyplot, so it works under any backend, a notebook's included."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def plot_spectrogram_to_numpy(spectrogram):
    """Image of a log-mel ``[n_mel, frames]`` (frames across, mel bands up)."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(10, 2))
    ax = fig.subplots()
    im = ax.imshow(spectrogram, aspect="auto", origin="lower", interpolation="none")
    fig.colorbar(im, ax=ax)
    ax.set_xlabel("Frames")
    ax.set_ylabel("Channels")
    fig.tight_layout()
    return _figure_to_numpy(fig)


def plot_alignment_to_numpy(alignment, info: str | None = None):
    """Image of an alignment ``[text tokens, frames]`` (frames across, tokens up)."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    im = ax.imshow(alignment, aspect="auto", origin="lower", interpolation="none")
    fig.colorbar(im, ax=ax)
    ax.set_xlabel("Decoder timestep" + (f"\n\n{info}" if info else ""))
    ax.set_ylabel("Encoder timestep")
    fig.tight_layout()
    return _figure_to_numpy(fig)
