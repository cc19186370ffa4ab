"""Small pieces shared by the embedded corpus and KSS preparation: silence trimming,
deterministic 16-bit WAV writing, the train/val/test split rules and filelist writing.

Plain numpy and the standard library only (no torch), so worker processes start fast.
"""

from __future__ import annotations

import hashlib
import os
import wave

import numpy as np

SPLITS = ("train", "val", "test")


def trim_silence(
    samples: np.ndarray,
    sampling_rate: int,
    top_db: float = 30.0,
    pad_seconds: float = 0.05,
    frame_length: int = 256,
) -> np.ndarray:
    """Cut leading and trailing silence, keeping ``pad_seconds`` of it on each side.

    A frame of ``frame_length`` samples counts as sound when its RMS is within ``top_db``
    decibels of the loudest frame. Only the ends are cut; pauses inside are kept.
    Works on int or float mono arrays ``[T]`` and returns a view of the same dtype.
    All-silent (or empty) input is returned unchanged; callers decide what that means.
    """
    if samples.ndim != 1:
        raise ValueError(f"trim_silence expects mono samples [T], got shape {samples.shape}")
    n_frames = len(samples) // frame_length
    if n_frames == 0:
        return samples
    frames = samples[: n_frames * frame_length].astype(np.float64).reshape(n_frames, frame_length)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    peak = rms.max()
    if peak <= 0.0:
        return samples
    loud = np.flatnonzero(rms >= peak * 10.0 ** (-top_db / 20.0))
    pad = int(round(pad_seconds * sampling_rate))
    start = max(0, loud[0] * frame_length - pad)
    end = min(len(samples), (loud[-1] + 1) * frame_length + pad)
    return samples[start:end]


def write_wav(path: str, samples: np.ndarray, sampling_rate: int) -> None:
    """Write mono 16-bit PCM with the standard library's ``wave`` module.

    The header holds only the format and sizes (no dates, no tool names), so equal
    samples give byte-identical files.
    """
    if samples.dtype != np.int16:
        raise TypeError(f"write_wav wants int16 samples, got {samples.dtype} for {path}")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with wave.open(path, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sampling_rate)
        f.writeframes(samples.astype("<i2", copy=False).tobytes())


def split_by_index(index: int) -> str:
    """Split rule of the embedded corpus: of every 20 sentences, number 3 goes to val and
    number 7 to test (5 % each), the rest to train.

    Interleaving spreads short and long sentences over all three sets, and any prefix of
    8 or more sentences (``--limit``) already has a val and a test sentence.
    """
    position = index % 20
    if position == 3:
        return "val"
    if position == 7:
        return "test"
    return "train"


def split_by_hash(key: str, val_percent: float = 2.0, test_percent: float = 2.0) -> str:
    """Split rule for KSS: a stable hash of ``key`` (the transcript path, e.g.
    ``1/1_0000.wav``) picks the set, so an utterance stays in the same set whatever else
    is in the transcript or missing from disk. (Python's ``hash`` is salted per process,
    hence md5.)"""
    bucket = int.from_bytes(hashlib.md5(key.encode("utf-8")).digest()[:8], "big") % 10000
    percent = bucket / 100.0
    if percent < val_percent:
        return "val"
    if percent < val_percent + test_percent:
        return "test"
    return "train"


def write_filelists(out_dir: str, lines_by_split: dict[str, list[str]]) -> dict[str, str]:
    """Write ``out_dir/filelists/{train,val,test}.txt``, one ``path|text`` line each, and
    return the paths written.

    Each line's audio path is rewritten relative to the filelist's own folder
    (``../1/1_0000.wav``), so the filelists do not depend on where ``out_dir`` is: two builds
    into two folders are byte-identical, and the folder can be moved.
    ``TextMelLoader`` resolves such paths against the filelist's folder.
    """
    filelist_dir = os.path.join(out_dir, "filelists")
    os.makedirs(filelist_dir, exist_ok=True)
    paths = {}
    for split in SPLITS:
        path = os.path.join(filelist_dir, f"{split}.txt")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for line in lines_by_split.get(split, []):
                audio, text = line.split("|", 1)
                relative = os.path.relpath(audio, filelist_dir).replace(os.sep, "/")
                f.write(f"{relative}|{text}\n")
        paths[split] = path
    return paths
