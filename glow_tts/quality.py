"""Two numbers that say whether a trained model learned something, without listening.

Both compare a model's output on held-out sentences with the real recordings:

* **Duration error** (:func:`duration_error`): the model predicts how many mel frames a
  sentence lasts (the sum of its per-token durations). The figure is the mean absolute
  error of that total, divided by the mean real frame count:
  ``mean_i |T_pred_i - T_real_i| / mean_i T_real_i``. An untrained duration predictor
  gives about one frame per token, far too short, so this is near 0.7-0.9 before training.
* **Mel error ratio** (:func:`mel_error_ratio`): the mean absolute log-mel error between
  the synthesized mel and the real one, after aligning their frames with dynamic time
  warping (DTW, so a slightly different speaking rate is not punished), divided by the
  same error of a trivial baseline that outputs the *mean training mel* (one 80-band
  vector, the average of every training frame) for every frame. For the baseline the
  alignment does not matter (all its frames are equal), so its error is simply frame-wise:
  ``mean_t mean_c |real[c, t] - mean_mel[c]|``. A ratio below 1 means the model's mels are
  closer to the truth than "always the average sound"; a model that learned the text's
  sounds reaches about 0.3.

DTW here: the cost of matching frame i of one mel with frame j of the other is the mean
absolute difference over the mel bands; a path goes from (0, 0) to (n-1, m-1) with steps
(1, 0), (0, 1) or (1, 1) and minimises the summed cost; the error is that sum divided by
the number of steps on the path (so it is a mean over matched frame pairs).
"""

from __future__ import annotations

import os

import numpy as np
from numba import njit
from scipy.spatial.distance import cdist


@njit(cache=True)
def _dtw(cost):  # cost [n, m] -> (total cost of the best path, its number of cells)
    n, m = cost.shape
    acc = np.full((n, m), np.inf)
    steps = np.zeros((n, m), dtype=np.int64)
    acc[0, 0] = cost[0, 0]
    steps[0, 0] = 1
    for i in range(n):
        for j in range(m):
            if i == 0 and j == 0:
                continue
            best, best_steps = np.inf, 0
            if i > 0 and acc[i - 1, j] < best:
                best, best_steps = acc[i - 1, j], steps[i - 1, j]
            if j > 0 and acc[i, j - 1] < best:
                best, best_steps = acc[i, j - 1], steps[i, j - 1]
            if i > 0 and j > 0 and acc[i - 1, j - 1] <= best:
                best, best_steps = acc[i - 1, j - 1], steps[i - 1, j - 1]
            acc[i, j] = best + cost[i, j]
            steps[i, j] = best_steps + 1
    return acc[n - 1, m - 1], steps[n - 1, m - 1]


def dtw_mel_error(mel_a, mel_b) -> float:
    """Mean absolute log-mel difference along the DTW path between ``mel_a [C, n]`` and
    ``mel_b [C, m]`` (numpy arrays or tensors)."""
    a = np.asarray(mel_a, dtype=np.float64)
    b = np.asarray(mel_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(f"dtw_mel_error needs two [channels, frames] mels with the same "
                         f"channels, got {a.shape} and {b.shape}")
    # Pairwise frame distance [n, m]: mean over channels of |a[:, i] - b[:, j]|.
    cost = cdist(a.T, b.T, metric="cityblock") / a.shape[0]
    total, n_steps = _dtw(cost)
    return float(total / n_steps)


def mean_mel(mels) -> np.ndarray:
    """The average frame ``[C]`` over a list of mels ``[C, T_i]`` (every frame counts once)."""
    total = sum(np.asarray(m, dtype=np.float64).sum(axis=1) for m in mels)
    n_frames = sum(np.asarray(m).shape[1] for m in mels)
    return total / n_frames


def baseline_mel_error(real_mel, mean_frame) -> float:
    """Error of outputting ``mean_frame [C]`` for every frame of ``real_mel [C, T]``."""
    real = np.asarray(real_mel, dtype=np.float64)
    return float(np.abs(real - np.asarray(mean_frame)[:, None]).mean())


def mel_error_ratio(synth_mels, real_mels, mean_frame) -> dict:
    """``{"model": mean DTW error, "baseline": mean baseline error, "ratio": model/baseline}``
    over paired lists of synthesized and real mels ``[C, T]``."""
    if len(synth_mels) != len(real_mels) or not real_mels:
        raise ValueError(f"need equally many synthesized and real mels (got {len(synth_mels)} "
                         f"and {len(real_mels)}), at least one")
    model = float(np.mean([dtw_mel_error(s, r) for s, r in zip(synth_mels, real_mels)]))
    baseline = float(np.mean([baseline_mel_error(r, mean_frame) for r in real_mels]))
    return {"model": model, "baseline": baseline, "ratio": model / baseline}


def duration_error(predicted_frames, real_frames) -> float:
    """``mean |T_pred - T_real| / mean T_real`` over sentences (a fraction, 0.1 = 10%)."""
    pred = np.asarray(predicted_frames, dtype=np.float64)
    real = np.asarray(real_frames, dtype=np.float64)
    if pred.shape != real.shape or pred.size == 0:
        raise ValueError(f"need equally many predicted and real frame counts, got {pred.shape} "
                         f"and {real.shape}")
    return float(np.abs(pred - real).mean() / real.mean())


# --- Evaluating a model on a filelist -----------------------------------------------------

def real_mel(path: str, hps_data):
    """Log-mel ``[n_mel, F]`` (numpy) of an audio file, without the training noise."""
    import torch
    from glow_tts.audio import MelSpectrogram, load_wav
    mel_fn = MelSpectrogram.from_hparams(hps_data)
    with torch.no_grad():
        return mel_fn(load_wav(path, hps_data.sampling_rate)).numpy()


def training_mean_mel(hps_data, filelist: str) -> np.ndarray:
    """The mean training frame ``[n_mel]`` of the baseline (every frame of every file)."""
    from glow_tts.data_utils import load_filepaths_and_text
    return mean_mel([real_mel(path, hps_data) for path, _ in load_filepaths_and_text(filelist)])


def evaluate_filelist(model, hps, filelist: str, mean_frame, noise_scale: float = 0.333,
                      seed: int = 0) -> dict:
    """Synthesize every sentence of ``filelist`` and compare with its recording.

    Returns ``{"duration_error", "mel_ratio", "mel_error", "baseline_error", "items":
    [{"path", "text", "real_frames", "pred_frames", "mel_error", "baseline_error",
    "synth": result of inference.synthesize, "real_mel"}]}``.
    """
    from glow_tts.data_utils import load_filepaths_and_text
    from glow_tts.inference import synthesize
    items = []
    for path, text in load_filepaths_and_text(filelist):
        out = synthesize(model, hps, text, noise_scale=noise_scale, vocode=False, seed=seed)
        real = real_mel(path, hps.data)
        synth = out["mel"].numpy()
        items.append({"path": path, "text": text, "real_frames": real.shape[1],
                      "pred_frames": synth.shape[1], "mel_error": dtw_mel_error(synth, real),
                      "baseline_error": baseline_mel_error(real, mean_frame),
                      "synth": out, "real_mel": real})
    model_error = float(np.mean([it["mel_error"] for it in items]))
    baseline = float(np.mean([it["baseline_error"] for it in items]))
    return {"duration_error": duration_error([it["pred_frames"] for it in items],
                                             [it["real_frames"] for it in items]),
            "mel_ratio": model_error / baseline, "mel_error": model_error,
            "baseline_error": baseline, "items": items}


def evaluate_checkpoint(model_dir: str, checkpoint: str, filelist: str | None = None,
                        noise_scale: float = 0.333) -> dict:
    """Both figures for ``checkpoint`` of a run (e.g. ``ddi_G.pth``: the untrained model)
    on ``filelist`` (default: ``test.txt`` beside the run's training filelist)."""
    import torch
    from glow_tts.inference import load_model

    model, hps = load_model(model_dir, checkpoint)
    mean_frame = training_mean_mel(hps.data, hps.data.training_files)
    filelist = filelist or os.path.join(os.path.dirname(hps.data.training_files), "test.txt")
    with torch.no_grad():
        report = evaluate_filelist(model, hps, filelist, mean_frame, noise_scale=noise_scale)
    return {"duration_error": report["duration_error"], "mel_ratio": report["mel_ratio"],
            "mel_error": report["mel_error"], "baseline_error": report["baseline_error"]}
